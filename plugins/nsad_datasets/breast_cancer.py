"""Wisconsin diagnostic breast cancer (569 × 30), bundled with scikit-learn.

The embedded default dataset: it ships inside scikit-learn, so it loads offline, never
touches the network and ignores the data and cache directories. Labels are scikit-learn's:
0 = malignant, 1 = benign.
"""

from __future__ import annotations

import numpy as np

from nsad_bench.components import DataOptions, Dataset, DatasetProvider
from nsad_datasets import _core

NAME = "breast_cancer"
TASK = "binary: malignant(0) vs benign(1)"
SOURCE = "scikit-learn bundled (sklearn.datasets.load_breast_cancer)"


def _read(source: str) -> Dataset:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return _core.freeze(
        Dataset(
            name=NAME,
            X=np.ascontiguousarray(bunch.data, dtype=np.float32),
            y=np.asarray(bunch.target, dtype=np.int64),
            task=TASK,
            source=source,
            feature_names=tuple(str(n) for n in bunch.feature_names),
        )
    )


def load(options: DataOptions) -> Dataset:
    """All 569 rows, or a seeded subsample of ``options.max_rows``."""
    return _core.load_cached(_read, NAME, SOURCE, (), options)


def provider() -> DatasetProvider:
    return DatasetProvider(
        name=NAME,
        task=TASK,
        description="Wisconsin breast cancer (569 x 30), bundled with scikit-learn; offline",
        load=load,
    )
