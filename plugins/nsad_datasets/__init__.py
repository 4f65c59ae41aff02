"""Built-in datasets of nsad-bench: breast_cancer (embedded), higgs, covtype, spambase.

Each loader looks for a local copy in ``DataOptions.data_dir`` (``NSAD_BENCH_DATA_DIR``),
then in ``DataOptions.cache_dir``, and only then downloads, unless ``offline``. Everything
that can go wrong (no copy, network, a truncated or malformed file) is a one-line
:class:`~nsad_bench.components.DataError` naming the dataset and the file or URL.
Parsed datasets are cached per process with read-only arrays.
"""

from __future__ import annotations

from nsad_bench import hookimpl
from nsad_bench.components import DatasetProvider
from nsad_datasets import breast_cancer, covtype, higgs, spambase
from nsad_datasets._core import clear_cache

__all__ = ["clear_cache", "nsad_datasets"]


@hookimpl
def nsad_datasets() -> list[DatasetProvider]:
    """The embedded default first, then the three datasets of the paper."""
    return [
        breast_cancer.provider(),
        higgs.provider(),
        covtype.provider(),
        spambase.provider(),
    ]
