"""Executing runs wherever an executor puts them: the worker side of a benchmark.

Jobs are plain picklable values and :func:`execute_group` never raises, so any executor
(in-process, worker processes, Dask) can run them, and a crash inside one run becomes a
``failed`` row with the error text. Workers only compute; the driver writes the results.

Runs that share a dataset, protocol, training settings and architecture train together in
one pass (:mod:`nsad_bench.batched`); :func:`group_jobs` forms those groups and
:func:`execute` still runs a single job the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import numpy as np

from nsad_bench import protocol
from nsad_bench.components import DataOptions, Dataset, one_line
from nsad_bench.plan import ActivationChoice
from nsad_bench.plugins import Registry, load_registry
from nsad_bench.provenance import package_versions
from nsad_bench.training import Outcome, TrainConfig, train_and_evaluate

_registry: Registry | None = None

#: Most runs trained in one pass; beyond this a stack gains nothing and only costs memory.
MAX_GROUP = 16
#: A group's widest layer output (models × width × batch floats) should fit in a core's L2
#: cache: a stack of four Light models takes about 40% less time per run than one alone,
#: larger Light stacks gain no more, and Heavy models (one layer output is 0.8 MiB) run
#: fastest alone.
STACK_BYTES = 1 << 20
#: Groups are split so that none costs more than 1/GROUP_PARTS of the plan, whatever --jobs
#: is, so that the runs can be spread over several workers and the grouping (hence every
#: floating-point result) does not depend on how many workers there are.
GROUP_PARTS = 8


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


@dataclass(frozen=True)
class SeedSplit:
    """One seed's rows of a dataset and the standardisation its training rows imply."""

    train: np.ndarray
    test: np.ndarray
    mean: np.ndarray
    std: np.ndarray


@lru_cache(maxsize=64)
def _split(
    name: str, options: DataOptions, seed: int, config: protocol.ProtocolConfig
) -> SeedSplit:
    """Row indices and scaling of one seed: small, so every seed of a plan stays cached."""
    data = load_dataset(name, options)
    parts = protocol.split(data.y, seed, config)
    mean, std = mean_std(data.X, parts.train)
    return SeedSplit(parts.train, parts.test, mean, std)


def mean_std(X: np.ndarray, rows: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Float32 mean and std of ``X[rows]`` (computed in float64, in chunks of rows).

    Chunking keeps the peak memory of a large dataset at its own size: no float64 copy of
    the training rows is ever made. A zero std becomes 1, as in
    :func:`nsad_bench.protocol.standardize`.
    """
    total = np.zeros(X.shape[1])
    for i in range(0, len(rows), chunk):
        total += X[rows[i : i + chunk]].sum(axis=0, dtype=np.float64)
    mean = total / len(rows)
    squares = np.zeros(X.shape[1])
    for i in range(0, len(rows), chunk):
        squares += np.square(X[rows[i : i + chunk]] - mean).sum(axis=0)
    std = np.sqrt(squares / len(rows))
    std[std == 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


@lru_cache(maxsize=64)
def _formula(program: str) -> Any:
    """A parsed formula, once per process (parsing runs sympy: about 0.1 s a program)."""
    from nsad_bench.formula import make_formula

    return make_formula(program)


def _activation_factory(reg: Registry, job: Job) -> Callable[[], Any]:
    if job.activation.kind == "baseline":
        spec = reg.get("activation", job.activation.label)
        if spec.factory is not None:
            return spec.factory
        program = spec.formula
    else:
        program = job.formula
    formula = _formula(program)
    compiler = reg.get("compiler", job.compiler)
    return lambda: compiler.compile(formula)


# -------------------------------------------------------------------------------- groups


def _group_key(job: Job) -> tuple:
    return (job.dataset, job.data_options, job.protocol, job.train, job.architecture)


def _hidden(job: Job) -> tuple[int, ...]:
    """Hidden widths as the architecture declares them (a guess where it declares none)."""
    try:
        return tuple(registry().get("architecture", job.architecture).hidden) or (64,)
    except LookupError:  # an unknown name fails in the worker, as a row
        return (64,)


def _cost(job: Job) -> float:
    """Rough training cost of a run (multiply-adds per row × rows × epochs), for balancing."""
    try:
        data = load_dataset(job.dataset, job.data_options)
        rows, features = len(data.y), data.n_features
    except Exception:  # a dataset that cannot load fails fast in the worker
        return 0.0
    hidden = _hidden(job)
    widths = (features, *hidden, 1)
    macs = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    # Batch norm, activation and optimizer work per hidden unit and a fixed cost per row, in
    # multiply-adds (fitted to Light and Heavy steps on 28 and 54 features, one thread).
    per_row = macs + 18 * sum(hidden) + 5000
    train_rows = rows * (1 - job.protocol.discovery_fraction) * (1 - job.protocol.test_fraction)
    return per_row * train_rows * job.train.epochs


def group_jobs(
    jobs: Sequence[Job], max_group: int = MAX_GROUP, parts: int = GROUP_PARTS
) -> list[list[Job]]:
    """Jobs that can train in one pass, grouped; the costliest groups first.

    Jobs group by dataset, data options, protocol, training settings and architecture
    (seeds and activations stack). A group is split into near-equal consecutive chunks
    when it has more than ``max_group`` jobs, when its stack would outgrow
    :data:`STACK_BYTES`, or when it costs more than ``1/parts`` of the plan. The result
    depends only on ``jobs``, never on the number of workers.
    """
    by_key: dict[tuple, list[Job]] = {}
    for job in jobs:
        by_key.setdefault(_group_key(job), []).append(job)
    costs = {job.run_id: _cost(job) for job in jobs}
    budget = sum(costs.values()) / max(1, parts)
    groups: list[list[Job]] = []
    for members in by_key.values():
        cost = sum(costs[j.run_id] for j in members)
        first = members[0]
        fits = STACK_BYTES // (4 * first.train.batch_size * max(_hidden(first)))
        count = max(math.ceil(len(members) / max(1, min(max_group, fits))), 1)
        if budget > 0:
            count = max(count, math.ceil(cost / budget - 1e-9))
        count = min(count, len(members))
        size, extra = divmod(len(members), count)
        start = 0
        for k in range(count):
            stop = start + size + (k < extra)
            groups.append(members[start:stop])
            start = stop
    order = sorted(range(len(groups)), key=lambda g: -sum(costs[j.run_id] for j in groups[g]))
    return [groups[g] for g in order]


# ----------------------------------------------------------------------------- execution


def _base_row(job: Job) -> dict[str, Any]:
    return {
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


def _activation_key(job: Job) -> tuple:
    return (job.activation.kind, job.activation.label, job.formula, job.compiler)


def execute_group(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """Train and score ``jobs`` (one pass where they stack); one results row per job.

    Never raises: a run that cannot be built or trained becomes a ``failed`` row and the
    others go on. Rows come back in the order of ``jobs``.
    """
    import torch

    from nsad_bench.batched import Member, shape_of, train_group

    rows = [_base_row(job) for job in jobs]
    stacks: dict[tuple, list[tuple[int, Member]]] = {}
    singles: list[tuple[int, Any, SeedSplit]] = []
    for i, job in enumerate(jobs):
        try:
            reg = registry()
            data = load_dataset(job.dataset, job.data_options)
            rows[i].update(task=data.task, n_rows=len(data.y))
            split = _split(job.dataset, job.data_options, job.seed, job.protocol)
            make_activation = _activation_factory(reg, job)
            torch.manual_seed(job.seed)
            model = reg.get("architecture", job.architecture).build(
                data.n_features, make_activation
            )
        except Exception as exc:
            rows[i].update(status="failed", error=one_line(exc))
            continue
        shape = shape_of(model)
        if shape is None:
            singles.append((i, model, split))
            continue
        member = Member(
            model, job.seed, split.train, split.test, split.mean, split.std, _activation_key(job)
        )
        key = (job.dataset, job.data_options, shape, len(split.train), len(split.test))
        stacks.setdefault(key, []).append((i, member))

    for (dataset, options, *_), entries in stacks.items():
        try:
            data = load_dataset(dataset, options)
            outcomes = train_group(
                data.X, data.y, [m for _, m in entries], jobs[entries[0][0]].train
            )
        except Exception as exc:
            for i, _ in entries:
                rows[i].update(status="failed", error=one_line(exc))
            continue
        for (i, _), outcome in zip(entries, outcomes, strict=True):
            rows[i].update(asdict(outcome))

    for i, model, split in singles:
        try:
            rows[i].update(asdict(_train_single(jobs[i], model, split)))
        except Exception as exc:
            rows[i].update(status="failed", error=one_line(exc))

    for row in rows:
        row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return rows


def _train_single(job: Job, model: Any, split: SeedSplit) -> Outcome:
    """The one-model loop, for architectures that are not plain stackable MLPs."""
    data = load_dataset(job.dataset, job.data_options)
    X_train = (data.X[split.train] - split.mean) / split.std
    X_test = (data.X[split.test] - split.mean) / split.std
    return train_and_evaluate(
        model, X_train, data.y[split.train], X_test, data.y[split.test], job.train, job.seed
    )


def execute(job: Job) -> dict[str, Any]:
    """Train and score one run; return its results row (failures included, never raised)."""
    return execute_group([job])[0]
