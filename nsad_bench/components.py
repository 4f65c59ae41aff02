"""The objects plugins hand to nsad-bench.

Each hook in :mod:`nsad_bench.hookspecs` returns a list of these. They are small, frozen
descriptions: the heavy work (loading data, importing a backend, building a network) sits
behind a callable, so listing what is registered stays fast and never touches the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from torch import nn

    from nsad_bench.formula import Formula


class DataError(Exception):
    """A dataset could not be loaded; the message is one line naming the dataset and file."""


def one_line(exc: BaseException) -> str:
    """An exception as one line with its type, e.g. for a DataError naming a parse failure."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


@dataclass(frozen=True, kw_only=True)
class Component:
    """What every registered thing has: a unique name and a way to say it cannot run here."""

    name: str
    description: str = ""
    #: Returns why the component cannot run on this machine, or None when it can.
    #: Keep it cheap: it runs for ``nsad-bench list``.
    requires: Callable[[], str | None] | None = None

    def unavailable_reason(self) -> str | None:
        if self.requires is None:
            return None
        try:
            return self.requires()
        except Exception as exc:  # a broken check must not break listing
            return f"availability check failed: {exc}"


# ----------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class DataOptions:
    """Where and how much data to load. Passed to every dataset loader."""

    #: Directory of local copies (``NSAD_BENCH_DATA_DIR``); used before any download.
    data_dir: Path | None = None
    #: Where downloads are cached (``NSAD_BENCH_CACHE_DIR``).
    cache_dir: Path = Path("~/.cache/nsad-bench").expanduser()
    #: Keep at most this many rows (a seeded random subsample); None keeps all.
    max_rows: int | None = None
    #: Seed of that subsample.
    seed: int = 42
    #: Never touch the network.
    offline: bool = False


@dataclass(frozen=True)
class Dataset:
    """A binary classification task: float32 features and 0/1 labels."""

    name: str
    X: np.ndarray
    y: np.ndarray
    #: The task is part of the dataset's identity, e.g. "binary: class 2 vs rest".
    task: str
    #: Where the rows came from (a path, a URL, "scikit-learn bundled").
    source: str
    feature_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or len(self.X) != len(self.y):
            raise DataError(f"{self.name}: X must be 2-D with one label per row")
        if len(self.X) == 0:
            raise DataError(f"{self.name}: no rows in {self.source}")
        if not np.isfinite(self.X).all():
            raise DataError(f"{self.name}: non-finite feature values in {self.source}")
        labels = np.unique(self.y)
        if not (len(labels) == 2 and set(labels.tolist()) == {0, 1}):
            raise DataError(
                f"{self.name}: labels must be two classes 0/1, found {labels[:5].tolist()} "
                f"in {self.source}"
            )

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])


@dataclass(frozen=True, kw_only=True)
class DatasetProvider(Component):
    """A named dataset. ``load`` raises :class:`DataError` with a one-line reason."""

    load: Callable[[DataOptions], Dataset]
    task: str = ""


# -------------------------------------------------------------------------- discoverers


@dataclass(frozen=True)
class Budget:
    """How much a discoverer may spend. ``seconds`` is a hard limit enforced by the core."""

    seconds: float | None = 300.0
    evaluations: int | None = None


@dataclass(frozen=True)
class Candidate:
    """One program a discoverer proposes, best first in the list it returns."""

    #: The program as the backend prints it: gplearn prefix, infix, or sympy text.
    program: str
    fitness: float | None = None
    complexity: int | None = None


class Discoverer(Protocol):
    """A configured discovery backend (scikit-learn style: plain parameters, no globals)."""

    def discover(
        self, X: np.ndarray, y: np.ndarray, *, seed: int, budget: Budget
    ) -> Sequence[Candidate]:
        """Return ranked candidate programs for the discovery subset ``X, y``."""
        ...


@dataclass(frozen=True, kw_only=True)
class DiscovererSpec(Component):
    """A named discovery backend.

    ``create(params)`` builds a :class:`Discoverer` from ``defaults`` updated by the user's
    parameters. ``start_method`` is how the core isolates it to enforce the time limit:
    "fork" (fast), "spawn" (a fresh interpreter, e.g. for juliacall, which must be imported
    before torch), or "none" (run inline, no hard limit).
    """

    create: Callable[[Mapping[str, Any]], Discoverer]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    start_method: str = "fork"


# ---------------------------------------------------------------- activations & networks


@dataclass(frozen=True, kw_only=True)
class ActivationSpec(Component):
    """A fixed activation: either a module factory (ReLU) or a formula text (x*cos(x))."""

    factory: Callable[[], nn.Module] | None = None
    formula: str | None = None

    def __post_init__(self) -> None:
        if (self.factory is None) == (self.formula is None):
            raise ValueError(f"activation {self.name!r}: give exactly one of factory, formula")


@dataclass(frozen=True, kw_only=True)
class ArchitectureSpec(Component):
    """A network shape. ``build(n_features, make_activation)`` returns a logit model."""

    build: Callable[[int, Callable[[], nn.Module]], nn.Module]
    #: Hidden widths, for reports and for size matching (e.g. (64, 32)).
    hidden: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CompilerSpec(Component):
    """Turns a :class:`~nsad_bench.formula.Formula` into a torch activation module."""

    compile: Callable[[Formula], nn.Module]


# ----------------------------------------------------------------------------- executors


class Executor(Protocol):
    """Runs independent jobs and yields ``(index, result)`` pairs as they finish.

    ``fn`` and the jobs are picklable; ``fn`` never raises (errors come back as results).
    Only the driver writes the results database, so executors just compute.
    """

    def run(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ExecutorOptions:
    jobs: int = 1
    #: Address of an existing cluster, for executors that use one.
    scheduler: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutorSpec(Component):
    create: Callable[[ExecutorOptions], Executor]
