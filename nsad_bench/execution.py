"""Executing one run wherever an executor puts it: the worker side of a benchmark.

Jobs are plain picklable values and :func:`execute` never raises, so any executor
(in-process, worker processes, Dask) can run them, and a crash inside one run becomes a
``failed`` row with the error text. Workers only compute; the driver writes the results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from nsad_bench import protocol
from nsad_bench.components import DataOptions, Dataset
from nsad_bench.plan import ActivationChoice
from nsad_bench.plugins import Registry, load_registry
from nsad_bench.provenance import package_versions
from nsad_bench.training import TrainConfig, train_and_evaluate

_registry: Registry | None = None


def use_registry(registry: Registry) -> None:
    """Make this process (and the workers it forks) resolve names through ``registry``."""
    global _registry
    _registry = registry


def registry() -> Registry:
    """The registry of this process; a fresh worker (e.g. on a Dask cluster) loads its own."""
    global _registry
    if _registry is None:
        _registry = load_registry()
    return _registry


@dataclass(frozen=True)
class Job:
    """One training run, self-contained so that any process can execute it."""

    run_id: str
    dataset: str
    architecture: str
    activation: ActivationChoice
    seed: int
    #: Program text of a hybrid's formula (parsed again in the worker, never executed).
    formula: str | None
    train: TrainConfig
    protocol: protocol.ProtocolConfig
    data_options: DataOptions
    compiler: str


@lru_cache(maxsize=8)
def load_dataset(name: str, options: DataOptions) -> Dataset:
    """A dataset, loaded once per process."""
    return registry().get("dataset", name).load(options)


@lru_cache(maxsize=16)
def _arrays(name: str, options: DataOptions, seed: int, config: protocol.ProtocolConfig):
    data = load_dataset(name, options)
    parts = protocol.split(data.y, seed, config)
    X_train, X_test = protocol.standardize(data.X[parts.train], data.X[parts.test])
    return data, X_train, data.y[parts.train], X_test, data.y[parts.test]


def _activation_factory(reg: Registry, job: Job) -> Callable[[], Any]:
    if job.activation.kind == "baseline":
        spec = reg.get("activation", job.activation.label)
        if spec.factory is not None:
            return spec.factory
        program = spec.formula
    else:
        program = job.formula
    from nsad_bench.formula import make_formula

    formula = make_formula(program)
    compiler = reg.get("compiler", job.compiler)
    return lambda: compiler.compile(formula)


def execute(job: Job) -> dict[str, Any]:
    """Train and score one run; return its results row (failures included, never raised)."""
    import torch

    row: dict[str, Any] = {
        "run_id": job.run_id,
        "dataset": job.dataset,
        "architecture": job.architecture,
        "activation": job.activation.label,
        "activation_kind": job.activation.kind,
        "discoverer": job.activation.discoverer,
        "source_dataset": job.activation.source,
        "formula": job.formula,
        "seed": job.seed,
        "config": {
            "train": asdict(job.train),
            "protocol": asdict(job.protocol),
            "max_rows": job.data_options.max_rows,
            "compiler": job.compiler,
        },
        "versions": package_versions(),
    }
    try:
        reg = registry()
        data, X_train, y_train, X_test, y_test = _arrays(
            job.dataset, job.data_options, job.seed, job.protocol
        )
        row.update(task=data.task, n_rows=len(data.y))
        make_activation = _activation_factory(reg, job)
        torch.manual_seed(job.seed)
        model = reg.get("architecture", job.architecture).build(data.n_features, make_activation)
        outcome = train_and_evaluate(model, X_train, y_train, X_test, y_test, job.train, job.seed)
        row.update(asdict(outcome))
    except Exception as exc:
        row.update(status="failed", error=f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return row
