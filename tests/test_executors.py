"""Local executors: --jobs N changes the speed, never a result."""

from __future__ import annotations

import sqlite3

import torch

from nsad_bench.cli import main
from nsad_bench.components import ExecutorOptions
from nsad_bench.executors import LocalExecutor, default_jobs, threads_per_worker, torch_threads

RUN = ["run", "--dataset", "breast_cancer", "--architecture", "light,heavy",
       "--activation", "relu,gelu", "--seeds", "42", "43", "--epochs", "2", "--quiet"]  # fmt: skip
METRICS = "run_id, status, accuracy, auc, params, e_param, diverged_epoch"


def runs(path) -> dict[str, tuple]:
    with sqlite3.connect(path) as conn:
        return {row[0]: row[1:] for row in conn.execute(f"SELECT {METRICS} FROM runs")}


def _square(x: int) -> int:
    return x * x


def test_jobs_2_gives_the_rows_of_jobs_1(tmp_path, capsys):
    one, two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    assert main([*RUN, "--jobs", "1", "--results", str(one)]) == 0
    assert main([*RUN, "--jobs", "2", "--results", str(two)]) == 0
    capsys.readouterr()
    first, second = runs(one), runs(two)
    assert len(first) == 8 and all(v[0] == "ok" for v in first.values())
    assert first == second  # bit for bit, matched by run id


def test_local_executor_yields_every_index_once():
    for jobs in (1, 2):
        executor = LocalExecutor(ExecutorOptions(jobs=jobs))
        try:
            results = dict(executor.run(_square, list(range(7))))
        finally:
            executor.close()
        assert results == {i: i * i for i in range(7)}


def test_training_threads_are_fixed_and_restored():
    assert threads_per_worker(1) == threads_per_worker(default_jobs()) == 1
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
