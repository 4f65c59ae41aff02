"""The Dask executor against a real LocalCluster on loopback: same rows as the local one."""

from __future__ import annotations

import importlib.util
import sqlite3

import nsad_dask
import pytest

from nsad_bench.cli import main
from nsad_bench.plugins import load_registry

RUN = ["run", "--dataset", "breast_cancer", "--architecture", "light,heavy",
       "--activation", "relu,silu", "--seeds", "42", "43", "--epochs", "2", "--quiet"]  # fmt: skip
METRICS = "run_id, status, accuracy, auc, params, e_param, diverged_epoch"


def runs(path) -> dict[str, tuple]:
    with sqlite3.connect(path) as conn:
        return {row[0]: row[1:] for row in conn.execute(f"SELECT {METRICS} FROM runs")}


def test_dask_executor_is_registered_and_says_how_to_install(monkeypatch):
    spec = load_registry().get("executor", "dask")
    assert spec.unavailable_reason() is None
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert "pip install nsad-bench[dask]" in spec.unavailable_reason()


@pytest.mark.slow
def test_dask_rows_equal_the_local_executors(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    local, remote, own = (tmp_path / f"{name}.sqlite" for name in ("local", "remote", "own"))
    assert main([*RUN, "--results", str(local)]) == 0
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        argv = [*RUN, "--executor", "dask", "--scheduler", cluster.scheduler_address]
        assert main([*argv, "--results", str(remote)]) == 0
    assert main([*RUN, "--executor", "dask", "--jobs", "2", "--results", str(own)]) == 0
    capsys.readouterr()
    expected = runs(local)
    assert len(expected) == 8 and all(v[0] == "ok" for v in expected.values())
    assert runs(remote) == expected
    assert runs(own) == expected


def test_dask_executor_module_is_the_entry_point():
    assert load_registry().plugin_of("executor", "dask") == "dask"
    assert nsad_dask.DaskExecutor
