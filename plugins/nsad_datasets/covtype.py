"""Covertype (Blackard & Dean 1999): class 2 (Lodgepole Pine) vs the rest, 54 features.

The binary task is LIBSVM's ``covtype.binary``: y = 1 where ``Cover_Type`` is 2 (≈48.8 %
of the rows). Local copy: ``covtype.csv.gz`` with a header in the UCI column order and
``Cover_Type`` (1..7) last. Download: ``sklearn.datasets.fetch_covtype``, which fetches
the full 581,012 rows, checks the archive's sha256 and caches them under
``<cache_dir>/covertype``. Either way the features carry the UCI names
(``Wilderness_Area1..4``, ``Soil_Type1..40``), not scikit-learn's 0-based ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nsad_bench.components import DataError, DataOptions, Dataset, DatasetProvider
from nsad_datasets import _core

NAME = "covtype"
TASK = "binary: class 2 (Lodgepole Pine) vs rest"
#: Where scikit-learn downloads the UCI ``covtype.data.gz`` from.
ARCHIVE_URL = "https://ndownloader.figshare.com/files/5976039"
SKLEARN_SHAPE = (581012, 54)
SKLEARN_SUBDIR = "covertype"

FEATURES = (
    "Elevation",
    "Aspect",
    "Slope",
    "Horizontal_Distance_To_Hydrology",
    "Vertical_Distance_To_Hydrology",
    "Horizontal_Distance_To_Roadways",
    "Hillshade_9am",
    "Hillshade_Noon",
    "Hillshade_3pm",
    "Horizontal_Distance_To_Fire_Points",
    *(f"Wilderness_Area{i}" for i in range(1, 5)),
    *(f"Soil_Type{i}" for i in range(1, 41)),
)

SPEC = _core.TableSpec(
    name=NAME,
    task=TASK,
    filename="covtype.csv.gz",
    label="Cover_Type",
    features=FEATURES,
    label_codes=(1, 2, 3, 4, 5, 6, 7),
    positive=2,
)


def _read(path: str) -> Dataset:
    return _core.read_table(SPEC, path)


def _fetch_covtype(**kwargs: Any) -> Any:
    """``sklearn.datasets.fetch_covtype``, imported only when the local copy is missing."""
    from sklearn.datasets import fetch_covtype

    return fetch_covtype(**kwargs)


def _sklearn_cache(options: DataOptions) -> Path:
    return _core.search_dirs(options)[-1] / SKLEARN_SUBDIR


def _cache_present(directory: Path) -> bool:
    return any(directory.glob("samples*")) and any(directory.glob("targets*"))


def _dir_stamp(directory: Path) -> tuple[int, ...]:
    files = sorted(p for p in directory.iterdir() if p.name.startswith(("samples", "targets")))
    return tuple(n for p in files for n in _core.file_stamp(p))


def fetch(options: DataOptions, *, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """X (float64) and Cover_Type from scikit-learn's cache, downloading when allowed."""
    directory = _sklearn_cache(options)
    try:
        X, codes = _fetch_covtype(
            data_home=str(directory.parent),
            download_if_missing=download,
            return_X_y=True,
            n_retries=2,
            delay=1.0,
        )
    except (TimeoutError, OSError) as exc:
        if "checksum" in str(exc).lower():
            raise DataError(
                f"{NAME}: download of {ARCHIVE_URL} is corrupt, not used ({_core.one_line(exc)})"
            ) from exc
        raise DataError(
            f"{NAME}: download of {ARCHIVE_URL} failed ({_core.one_line(exc)})"
        ) from exc
    except Exception as exc:  # joblib/pickle errors of a damaged cache take many forms
        raise DataError(
            f"{NAME}: cannot read scikit-learn's cache in {directory} ({_core.one_line(exc)}); "
            "delete it to download again"
        ) from exc
    if X.shape != SKLEARN_SHAPE or codes.shape != (len(X),):
        raise DataError(
            f"{NAME}: scikit-learn's cache in {directory} has shape {X.shape}, "
            f"expected {SKLEARN_SHAPE}; delete it to download again"
        )
    return X, codes


def _read_sklearn_cache(directory: str) -> Dataset:
    """The Dataset from scikit-learn's cache (already present) in ``directory``."""
    options = DataOptions(cache_dir=Path(directory).parent, offline=True)
    X, codes = fetch(options, download=False)
    y = _core.labels_from_codes(SPEC, directory, np.asarray(codes, dtype=np.float64))
    return _core.freeze(
        Dataset(
            name=NAME,
            X=np.ascontiguousarray(X, dtype=np.float32),
            y=y,
            task=TASK,
            source=directory,
            feature_names=FEATURES,
        )
    )


def load(options: DataOptions) -> Dataset:
    """The local copy, else scikit-learn's cached copy, else scikit-learn's download."""
    path = _core.find_local([SPEC.filename], options)
    if path is not None:
        return _core.load_cached(_read, NAME, str(path), _core.file_stamp(path), options)
    directory = _sklearn_cache(options)
    if not _cache_present(directory):
        if options.offline:
            raise _core.offline_error(NAME, SPEC.filename, options)
        fetch(options, download=True)
    return _core.load_cached(
        _read_sklearn_cache, NAME, str(directory), _dir_stamp(directory), options
    )


def provider() -> DatasetProvider:
    return DatasetProvider(
        name=NAME,
        task=TASK,
        description="UCI Covertype as covtype.binary, 54 features; local copy or scikit-learn",
        load=load,
    )
