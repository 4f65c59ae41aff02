"""Settings read from the environment, in one place so every entry point agrees."""

from __future__ import annotations

import os
from pathlib import Path

from nsad_bench.components import DataOptions

DATA_DIR_ENV = "NSAD_BENCH_DATA_DIR"
CACHE_DIR_ENV = "NSAD_BENCH_CACHE_DIR"
OFFLINE_ENV = "NSAD_BENCH_OFFLINE"
RESULTS_ENV = "NSAD_BENCH_RESULTS"

DEFAULT_RESULTS = Path("results/nsad-bench.sqlite")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def data_options(
    data_dir: str | Path | None = None,
    max_rows: int | None = None,
    offline: bool | None = None,
) -> DataOptions:
    """DataOptions from explicit values, falling back to the environment."""
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV) or None
    cache = os.environ.get(CACHE_DIR_ENV) or "~/.cache/nsad-bench"
    return DataOptions(
        data_dir=Path(data_dir).expanduser() if data_dir else None,
        cache_dir=Path(cache).expanduser(),
        max_rows=max_rows,
        offline=_flag(OFFLINE_ENV) if offline is None else offline,
    )


def results_path(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get(RESULTS_ENV) or DEFAULT_RESULTS)
