"""Shared machinery of the built-in datasets: find, read, verify, subsample, cache.

Every source module describes its table with a :class:`TableSpec` and reuses the reader
here, so a local copy, a cached download and a freshly downloaded file all pass the same
checks and fail with the same one-line :class:`~nsad_bench.components.DataError`.
pandas is imported inside the functions so that listing plugins never pays for it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import itertools
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.request import urlopen

import numpy as np

from nsad_bench.components import DataError, DataOptions, Dataset, one_line
from nsad_bench.settings import DATA_DIR_ENV

if TYPE_CHECKING:
    import pandas as pd

#: Seconds a download may wait on the socket before it counts as a network error.
DOWNLOAD_TIMEOUT = 60.0


# ------------------------------------------------------------------------------ locating


def search_dirs(options: DataOptions) -> list[Path]:
    """Where local copies may live, in order: the data directory, then the download cache."""
    dirs = [Path(options.data_dir).expanduser()] if options.data_dir else []
    dirs.append(Path(options.cache_dir).expanduser())
    return [d.absolute() for d in dirs]


def find_local(filenames: Sequence[str], options: DataOptions) -> Path | None:
    """The first existing file among ``filenames`` in the data directory, then the cache."""
    for directory in search_dirs(options):
        for filename in filenames:
            path = directory / filename
            if path.is_file():
                return path
    return None


def offline_error(name: str, filename: str, options: DataOptions) -> DataError:
    """The one line shown when a dataset is neither present locally nor allowed to download."""
    where = " or ".join(str(d) for d in search_dirs(options))
    return DataError(
        f"{name}: no local copy ({filename}) in {where} and offline "
        f"(set {DATA_DIR_ENV} or allow downloads)"
    )


# ------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class TableSpec:
    """The layout of one dataset's CSV table and how its label becomes 0/1."""

    name: str
    task: str
    #: Name of the local copy (gzip CSV with a header) in a data or cache directory.
    filename: str
    label: str
    features: tuple[str, ...]
    #: Every column in file order, for files without a header line (raw UCI downloads).
    raw_columns: tuple[str, ...] = ()
    #: Columns that may be present and are ignored (e.g. provenance notes).
    ignored: tuple[str, ...] = ()
    #: The codes the label column may hold.
    label_codes: tuple[int, ...] = (0, 1)
    #: When set, y = (label == positive); otherwise the label codes are already 0/1.
    positive: int | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.label, *self.features)


def _read_csv(spec: TableSpec, path: str, **kwargs: object) -> pd.DataFrame:
    """``pandas.read_csv`` whose every failure becomes one DataError naming the file."""
    import pandas as pd

    name = spec.name
    try:
        return pd.read_csv(path, engine="c", **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: {path} is empty") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{name}: {path} is truncated or corrupt ({one_line(exc)})") from exc
    except pd.errors.ParserError as exc:
        raise DataError(f"{name}: {path} is not a well-formed CSV ({one_line(exc)})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: {path} is not a text CSV ({one_line(exc)})") from exc
    except ValueError as exc:
        where = _first_non_numeric(path, kwargs) or one_line(exc)
        raise DataError(f"{name}: non-numeric value in {path} ({where})") from exc
    except OSError as exc:
        raise DataError(f"{name}: cannot read {path} ({one_line(exc)})") from exc


def _first_non_numeric(path: str, kwargs: dict[str, object]) -> str | None:
    """Column, line and text of the first value that is not a number (error path only)."""
    import pandas as pd

    kwargs = {k: v for k, v in kwargs.items() if k not in ("dtype", "index_col")}
    try:
        frame = pd.read_csv(path, engine="c", dtype=str, **kwargs)
    except (ValueError, OSError, EOFError, zlib.error):
        return None
    header_lines = 0 if kwargs.get("header", "infer") is None else 1
    for column in frame.columns:
        text = frame[column]
        bad = pd.to_numeric(text, errors="coerce").isna() & text.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            return f"column {column!r}, line {row + 1 + header_lines}: {text.iloc[row]!r}"
    return None


def _check_columns(spec: TableSpec, path: str, found: Sequence[str]) -> None:
    expected = set(spec.columns)
    present = [c for c in found if c not in spec.ignored]
    missing = [c for c in spec.columns if c not in present]
    unexpected = [c for c in present if c not in expected]
    if not missing and not unexpected and len(present) == len(expected):
        return
    parts = [f"expected {len(expected)} columns ({spec.label!r} and {len(spec.features)} features)"]
    parts.append(f"found {len(present)}")
    if missing:
        parts.append(f"missing {_preview(missing)}")
    if unexpected:
        parts.append(f"unexpected {_preview(unexpected)}")
    raise DataError(f"{spec.name}: wrong columns in {path}: {'; '.join(parts)}")


def _preview(items: Sequence[object], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in items[:limit])
    return f"{shown}, … (+{len(items) - limit})" if len(items) > limit else shown


def labels_from_codes(spec: TableSpec, path: str, raw: np.ndarray) -> np.ndarray:
    """0/1 int64 labels from the raw label column, which must hold only ``label_codes``."""
    missing = int(np.isnan(raw).sum())
    if missing:
        raise DataError(
            f"{spec.name}: label column {spec.label!r} has {missing} missing values in {path}"
        )
    valid = np.isin(raw, spec.label_codes)
    if not valid.all():
        found = np.unique(raw[~valid])
        codes = "/".join(str(c) for c in spec.label_codes)
        shown = [int(v) if float(v).is_integer() else float(v) for v in found[:5]]
        raise DataError(
            f"{spec.name}: label column {spec.label!r} must hold {codes}, found {shown} in {path}"
        )
    codes_int = raw.astype(np.int64)
    if spec.positive is None:
        return codes_int
    return (codes_int == spec.positive).astype(np.int64)


def _field_counts(spec: TableSpec, path: str, lines: int) -> list[int]:
    """Fields on each of the first ``lines`` lines, read as text.

    pandas silently shifts (index inference) or drops fields when the first data line is
    longer than the header, so that line is checked here before the real parse; longer
    lines further down make the parser itself fail.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            head = list(itertools.islice(handle, lines))
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{spec.name}: {path} is truncated or corrupt ({one_line(exc)})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{spec.name}: {path} is not a text CSV ({one_line(exc)})") from exc
    except OSError as exc:
        raise DataError(f"{spec.name}: cannot read {path} ({one_line(exc)})") from exc
    return [line.count(",") + 1 for line in head if line.strip()]


def read_table(spec: TableSpec, path: str | Path, *, header: bool = True) -> Dataset:
    """Read and verify one CSV table; a headerless file is read in ``spec.raw_columns`` order.

    Every column is parsed straight to float32 by the C parser (ignored columns as text);
    the label column is checked against ``spec.label_codes``. Empty tables, NaN features
    and a single class are caught by :class:`Dataset` itself, whose messages name
    ``source``, i.e. this file.
    """
    path = str(path)
    if header:
        columns = [str(c) for c in _read_csv(spec, path, nrows=0).columns]
        names: dict[str, object] = {}
        counts = _field_counts(spec, path, 2)[1:]
    else:
        columns = list(spec.raw_columns)
        names = {"header": None, "names": columns}
        counts = _field_counts(spec, path, 1)
        if not counts:
            raise DataError(f"{spec.name}: {path} is empty")
    _check_columns(spec, path, columns)
    if counts and counts[0] != len(columns):
        line = 2 if header else 1
        raise DataError(
            f"{spec.name}: {path} is not a well-formed CSV (line {line} has {counts[0]} "
            f"fields, expected {len(columns)})"
        )
    dtype = {c: (str if c in spec.ignored else np.float32) for c in columns}
    frame = _read_csv(spec, path, dtype=dtype, index_col=False, **names)
    X = np.ascontiguousarray(frame.loc[:, list(spec.features)].to_numpy(dtype=np.float32))
    y = labels_from_codes(spec, path, frame[spec.label].to_numpy())
    return freeze(
        Dataset(
            name=spec.name,
            X=X,
            y=y,
            task=spec.task,
            source=path,
            feature_names=spec.features,
        )
    )


# ------------------------------------------------------------------ subsampling, caching


def freeze(dataset: Dataset) -> Dataset:
    """Make the arrays read-only: cached datasets are shared by every caller in the process."""
    dataset.X.flags.writeable = False
    dataset.y.flags.writeable = False
    return dataset


def subsample(dataset: Dataset, max_rows: int | None, seed: int) -> Dataset:
    """At most ``max_rows`` rows, drawn without replacement by ``default_rng(seed)``.

    The rows keep their file order (sorted indices), so the same seed gives the same rows
    whatever the caller does next. All rows are returned when there are not more than
    ``max_rows`` of them.
    """
    if max_rows is None or max_rows >= len(dataset.y):
        return dataset
    if max_rows < 1:
        raise DataError(f"{dataset.name}: max_rows must be at least 1, got {max_rows}")
    rows = np.sort(np.random.default_rng(seed).choice(len(dataset.y), max_rows, replace=False))
    if len(np.unique(dataset.y[rows])) < 2:
        raise DataError(
            f"{dataset.name}: a subsample of {max_rows} rows of {dataset.source} "
            f"(seed {seed}) holds one class only; raise max_rows"
        )
    return freeze(
        Dataset(
            name=dataset.name,
            X=np.ascontiguousarray(dataset.X[rows]),
            y=dataset.y[rows],
            task=dataset.task,
            source=dataset.source,
            feature_names=dataset.feature_names,
        )
    )


Reader = Callable[[str], Dataset]


@functools.lru_cache(maxsize=6)
def _full(reader: Reader, name: str, source: str, stamp: tuple[int, ...]) -> Dataset:
    return reader(source)


@functools.lru_cache(maxsize=24)
def _rows(
    reader: Reader,
    name: str,
    source: str,
    stamp: tuple[int, ...],
    max_rows: int | None,
    seed: int,
) -> Dataset:
    return subsample(_full(reader, name, source, stamp), max_rows, seed)


def file_stamp(path: Path) -> tuple[int, ...]:
    """What identifies a file's version for the in-process cache: mtime and size."""
    stat = path.stat()
    return (stat.st_mtime_ns, stat.st_size)


def load_cached(
    reader: Reader,
    name: str,
    source: str,
    stamp: tuple[int, ...],
    options: DataOptions,
) -> Dataset:
    """``reader(source)``, subsampled per ``options``, memoised for this process.

    The runner loads the same dataset once per job, so the parse happens once per file
    version (``stamp``) and each (max_rows, seed) subsample once. ``reader`` must be a
    module-level function, which keeps the cache key stable. Errors are not cached.
    """
    return _rows(reader, name, source, stamp, options.max_rows, options.seed)


def clear_cache() -> None:
    """Forget every parsed dataset (tests; a long-lived process that wants memory back)."""
    _rows.cache_clear()
    _full.cache_clear()


# ----------------------------------------------------------------------------- writing


def temp_path(name: str, dest: Path) -> Path:
    """A fresh hidden file beside ``dest`` that keeps its suffixes (so pandas sees .gz)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=f"-{dest.name}", dir=dest.parent)
    except OSError as exc:
        raise DataError(f"{name}: cannot write to {dest.parent} ({one_line(exc)})") from exc
    os.close(fd)
    return Path(tmp)


def sha256_of_text(data: bytes) -> str:
    """sha256 of a text file with LF line endings and exactly one final newline.

    Copies of the same UCI file differ only in line endings (CRLF vs LF) and the final
    newline; hashing this normal form accepts all of them and nothing else.
    """
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    while lines and not lines[-1]:
        lines.pop()
    return hashlib.sha256(b"\n".join(lines) + b"\n").hexdigest()


def download(
    name: str,
    url: str,
    dest: Path,
    verify: Callable[[Path], str | None],
) -> Path:
    """Download ``url`` to ``dest`` through a temporary name; only a verified file is renamed.

    ``verify(path)`` returns what is wrong with the downloaded bytes, or None. A file that
    fails is kept as ``<dest>.corrupt`` for inspection and never read as data.
    """
    tmp = temp_path(name, dest)
    try:
        with urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, tmp.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
            expected = response.headers.get("Content-Length")
        written = tmp.stat().st_size
    except (OSError, http.client.HTTPException) as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{name}: download of {url} failed ({one_line(exc)})") from exc
    problem = None
    if expected is not None and expected.isdigit() and int(expected) != written:
        problem = f"got {written} of {expected} bytes"
    problem = problem or verify(tmp)
    if problem:
        corrupt = dest.with_name(dest.name + ".corrupt")
        os.replace(tmp, corrupt)
        raise DataError(
            f"{name}: download of {url} is incomplete or corrupt ({problem}); "
            f"kept at {corrupt}, not used"
        )
    os.replace(tmp, dest)
    return dest
