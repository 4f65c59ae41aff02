"""A Python API for notebooks: the same plans, plugins and results store as the CLI.

from nsad_bench import api

plan = api.plan(datasets=["breast_cancer"], architectures=["light"],
                activations=["relu", "silu", "specialist"], seeds=[1, 2], epochs=3)
runs = api.run(plan, results="results/notebook.sqlite")   # a pandas DataFrame
board = api.leaderboard(runs)                              # one row per configuration
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from nsad_bench import leaderboard as _leaderboard
from nsad_bench import settings
from nsad_bench.components import Budget, ExecutorOptions
from nsad_bench.executors import default_jobs
from nsad_bench.plan import Plan, make_plan, paper_plan
from nsad_bench.plugins import Registry, load_registry
from nsad_bench.runner import Report, Runner
from nsad_bench.store import ResultsStore
from nsad_bench.training import TrainConfig


def registry(extra_plugins: Iterable[tuple[str, object]] = ()) -> Registry:
    """Every installed plugin, plus ``(name, module)`` pairs defined in the notebook itself."""
    return load_registry(extra_plugins)


def plan(
    *,
    datasets: list[str] | None = None,
    architectures: list[str] | None = None,
    activations: list[str] | None = None,
    discoverers: list[str] | None = None,
    seeds: list[int] | None = None,
    epochs: int = 15,
    batch_size: int = 1024,
    lr: float = 1e-3,
    max_rows: int | None = None,
    discovery_seconds: float = 300.0,
    discovery_evaluations: int | None = None,
    discoverer_params: dict[str, dict[str, Any]] | None = None,
    preset: str | None = None,
    everything: bool = False,
    registry: Registry | None = None,
) -> Plan:
    """A plan, with the CLI's filters and defaults (unknown names raise ``UnknownName``)."""
    reg = registry or load_registry()
    options: dict[str, Any] = {
        "train": TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr),
        "budget": Budget(seconds=discovery_seconds, evaluations=discovery_evaluations),
        "discoverer_params": discoverer_params or {},
    }
    if seeds:
        options["seeds"] = list(seeds)
    if max_rows:
        options["max_rows"] = max_rows
    filters = {"datasets": datasets, "architectures": architectures,
               "activations": activations, "discoverers": discoverers}  # fmt: skip
    if preset == "paper":
        return paper_plan(reg, **{k: v for k, v in filters.items() if v}, **options)
    if preset is not None:
        raise ValueError(f"unknown preset {preset!r}; valid: paper")
    return make_plan(reg, everything=everything, **filters, **options)


def run(
    plan: Plan,
    *,
    results: str | Path | None = None,
    data_dir: str | Path | None = None,
    jobs: int | None = None,
    executor: str = "local",
    rediscover: bool = False,
    registry: Registry | None = None,
    verbose: bool = False,
) -> pd.DataFrame:
    """Run ``plan`` (skipping runs already in ``results``) and return its runs' rows.

    ``jobs`` defaults to one worker process per core, as on the command line.
    """
    reg = registry or load_registry()
    path = settings.results_path(results)
    console = Console(stderr=True, quiet=not verbose)
    with ResultsStore(path) as store:
        store.save_invocation(
            f"nsad_bench.api.run(datasets={plan.datasets}, architectures={plan.architectures}, "
            f"baselines={plan.baselines}, discoverers={plan.discoverers}, seeds={plan.seeds}, "
            f"epochs={plan.train.epochs})"
        )
        runner = Runner(
            reg, store, settings.data_options(data_dir), console=console, executor=executor,
            executor_options=ExecutorOptions(jobs=jobs or default_jobs()), rediscover=rediscover,
        )  # fmt: skip
        report: Report = runner.run(plan)
        if report.interrupted:
            raise KeyboardInterrupt
        planned = {job.run_id for job in runner.jobs(plan, Report())}  # cached: no new work
        runs = store.runs()
    return runs[runs.run_id.isin(planned)].reset_index(drop=True)


def results(path: str | Path | None = None) -> pd.DataFrame:
    """Every stored run of a results database."""
    with ResultsStore(settings.results_path(path)) as store:
        return store.runs()


def leaderboard(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs aggregated over seeds, with paired differences to the size-matched ReLU."""
    return _leaderboard.summarize(runs)
