"""Fixtures shared by the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Directory of real local dataset copies: ``NSAD_BENCH_DATA_DIR`` or ``../shared/data``.

    Tests that need real data skip when it is absent; the files are read in place.
    """
    configured = os.environ.get("NSAD_BENCH_DATA_DIR")
    path = Path(configured).expanduser() if configured else REPO.parent / "shared" / "data"
    path = path.resolve()
    if not path.is_dir():
        pytest.skip(f"no local data directory at {path}")
    return path
