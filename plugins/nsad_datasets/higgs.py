"""HIGGS (Baldi, Sadowski & Whiteson 2014): signal vs background events, 28 features.

Local copy: ``higgs.csv.gz`` with a header, ``label`` first, then the 28 UCI features in UCI
order; an extra ``source`` column (provenance of each row, as in the shared copy) is
ignored. The shared copy holds 51,015 real events, 4,773 of them rounded to 3 decimals.

Download: OpenML dataset 23512 ("higgs", the first 98,050 rows of UCI ``HIGGS.csv``)
through ``sklearn.datasets.fetch_openml``, which caches the ARFF file under
``<cache_dir>/openml`` and checks its md5 against OpenML's dataset description. It is a
small fraction of the 2.6 GB UCI file and about the size of the paper's 100,000-row
setting. Its rows with missing values are dropped; the rest are written once, verified,
as ``<cache_dir>/higgs.csv.gz`` in the local-copy layout and read from there on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nsad_bench.components import DataError, DataOptions, Dataset, DatasetProvider
from nsad_datasets import _core

NAME = "higgs"
TASK = "binary: signal vs background"
OPENML_ID = 23512
OPENML_URL = f"https://www.openml.org/d/{OPENML_ID}"
#: Rows and columns (target included) of OpenML 23512 as published.
OPENML_SHAPE = (98050, 29)

FEATURES = (
    "lepton_pT",
    "lepton_eta",
    "lepton_phi",
    "missing_energy_magnitude",
    "missing_energy_phi",
    *(f"jet{j}_{part}" for j in range(1, 5) for part in ("pt", "eta", "phi", "btag")),
    "m_jj",
    "m_jjj",
    "m_lv",
    "m_jlv",
    "m_bb",
    "m_wbb",
    "m_wwbb",
)

SPEC = _core.TableSpec(
    name=NAME,
    task=TASK,
    filename="higgs.csv.gz",
    label="label",
    features=FEATURES,
    ignored=("source",),
)


def _read(path: str) -> Dataset:
    return _core.read_table(SPEC, path)


def _fetch_openml(**kwargs: Any) -> Any:
    """``sklearn.datasets.fetch_openml``, imported only when a download is needed."""
    from sklearn.datasets import fetch_openml

    return fetch_openml(**kwargs)


def download(options: DataOptions) -> str:
    """Fetch OpenML 23512 and store it, verified, as ``<cache_dir>/higgs.csv.gz``."""
    import pandas as pd

    cache_dir = _core.search_dirs(options)[-1]
    try:
        bunch = _fetch_openml(
            data_id=OPENML_ID,
            data_home=str(cache_dir),
            as_frame=True,
            parser="auto",
            n_retries=2,
            delay=1.0,
        )
    except (OSError, TimeoutError) as exc:
        raise DataError(f"{NAME}: download of {OPENML_URL} failed ({_core.one_line(exc)})") from exc
    except ValueError as exc:  # sklearn's md5 mismatch names the cached file
        raise DataError(
            f"{NAME}: download of {OPENML_URL} is corrupt, not used ({_core.one_line(exc)})"
        ) from exc

    features, target = bunch.data, bunch.target
    shape = (len(features), features.shape[1] + 1)
    if shape != OPENML_SHAPE or target is None or len(target) != len(features):
        raise DataError(
            f"{NAME}: OpenML {OPENML_ID} in {cache_dir / 'openml'} has shape {shape}, "
            f"expected {OPENML_SHAPE}; not used"
        )
    features = features.apply(pd.to_numeric, errors="coerce").astype(np.float32)
    features.columns = list(FEATURES)
    label = pd.to_numeric(pd.Series(np.asarray(target, dtype=object)), errors="coerce")
    frame = pd.concat([label.rename("label"), features.reset_index(drop=True)], axis=1)
    frame = frame.dropna().astype({"label": np.int64})

    dest = cache_dir / SPEC.filename
    tmp = _core.temp_path(NAME, dest)
    try:
        try:
            frame.to_csv(
                tmp, index=False, float_format="%.9g", compression={"method": "gzip", "mtime": 0}
            )
        except OSError as exc:
            raise DataError(f"{NAME}: cannot write {tmp} ({_core.one_line(exc)})") from exc
        written = _core.read_table(SPEC, tmp)
        if len(written.y) != len(frame):
            raise DataError(f"{NAME}: {tmp} holds {len(written.y)} rows, wrote {len(frame)}")
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return str(dest)


def load(options: DataOptions) -> Dataset:
    """The local copy if there is one, else the cached or freshly downloaded OpenML copy."""
    path = _core.find_local([SPEC.filename], options)
    if path is None:
        if options.offline:
            raise _core.offline_error(NAME, SPEC.filename, options)
        path = Path(download(options))
    return _core.load_cached(_read, NAME, str(path), _core.file_stamp(path), options)


def provider() -> DatasetProvider:
    return DatasetProvider(
        name=NAME,
        task=TASK,
        description="UCI HIGGS, 28 kinematic features; local copy or OpenML 23512",
        load=load,
    )
