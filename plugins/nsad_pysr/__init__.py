"""PySR as a discovery backend.

PySR runs its search in Julia (SymbolicRegression.jl), reached through juliacall. It needs a
Julia executable and, on first use, Julia's package server to install its packages; where
either is missing the discoverer registers but reports itself unavailable. The check never
imports pysr: importing it starts (and, without Julia, tries to download) the Julia runtime.

``PySRRegressor`` is fitted to the 0/1 labels, as the paper fits its features to the target,
with the operators + - * and sin, cos, abs (the paper's gplearn function set), a serial and
deterministic search seeded by ``seed``, and ``timeout_in_seconds`` / ``max_evals`` taken
from the budget. Julia's start-up and compilation count against ``budget.seconds`` too, so
give PySR a budget of minutes, not seconds.

The search runs in a spawned interpreter because juliacall must be imported before torch;
this module and the core modules the child imports do not import torch.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nsad_bench import hookimpl
from nsad_bench.components import Budget, Candidate, DiscovererSpec

NAME = "pysr"
#: Fraction of ``budget.seconds`` given to PySR's own timeout, leaving room to return.
SOFT_DEADLINE = 0.8
#: PySR's "best" model selection: among equations within this factor of the lowest loss,
#: the highest score wins.
BEST_LOSS_FACTOR = 1.5

DEFAULTS: dict[str, Any] = {
    "niterations": 40,
    "populations": 15,
    "population_size": 33,
    "maxsize": 20,
    "binary_operators": ("+", "-", "*"),
    "unary_operators": ("sin", "cos", "abs"),
    "parallelism": "serial",
    "deterministic": True,
    "max_candidates": 20,
}


def find_julia() -> str | None:
    """The Julia executable juliacall would use, found without starting Julia.

    Mirrors the places juliacall and juliapkg look: ``PYTHON_JULIACALL_EXE``,
    ``PYTHON_JULIACALL_BINDIR``, ``PYTHON_JULIAPKG_EXE``, the copy juliapkg installs into
    its project (``PYTHON_JULIAPKG_PROJECT``, else ``<venv>/julia_env``), and ``julia`` on
    the PATH.
    """
    for var in ("PYTHON_JULIACALL_EXE", "PYTHON_JULIAPKG_EXE"):
        value = os.environ.get(var)
        if value and (exe := shutil.which(value)):
            return exe
    places: list[Path] = []
    if bindir := os.environ.get("PYTHON_JULIACALL_BINDIR"):
        places.append(Path(bindir) / "julia")
    places.append(_juliapkg_project() / "pyjuliapkg" / "install" / "bin" / "julia")
    for place in places:
        if place.is_file() and os.access(place, os.X_OK):
            return str(place)
    return shutil.which("julia")


def _juliapkg_project() -> Path:
    if project := os.environ.get("PYTHON_JULIAPKG_PROJECT"):
        return Path(project)
    prefix = sys.prefix if sys.prefix != sys.base_prefix else os.environ.get("CONDA_PREFIX")
    if prefix:
        return Path(prefix) / "julia_env"
    depot = os.environ.get("JULIA_DEPOT_PATH", "").split(os.pathsep)[0]
    return Path(depot or Path.home() / ".julia") / "environments" / "pyjuliapkg"


def requires() -> str | None:
    if importlib.util.find_spec("pysr") is None:
        return "pysr is not installed (pip install nsad-bench[pysr])"
    if find_julia() is None:
        return (
            "Julia runtime not found (PySR needs Julia and access to its package server); "
            "put julia on the PATH or set PYTHON_JULIACALL_EXE"
        )
    return None


class PySRDiscoverer:
    """Runs PySR with plain parameters (see :data:`DEFAULTS`) and ranks its hall of fame."""

    def __init__(self, **params: Any) -> None:
        self.params = {**DEFAULTS, **params}

    def discover(
        self, X: np.ndarray, y: np.ndarray, *, seed: int, budget: Budget
    ) -> list[Candidate]:
        import pysr  # first: it loads juliacall, which must precede torch

        p = self.params
        timeout = None if budget.seconds is None else max(1.0, SOFT_DEADLINE * budget.seconds)
        model = pysr.PySRRegressor(
            niterations=p["niterations"],
            populations=p["populations"],
            population_size=p["population_size"],
            maxsize=p["maxsize"],
            binary_operators=list(p["binary_operators"]),
            unary_operators=list(p["unary_operators"]),
            parallelism=p["parallelism"],
            deterministic=p["deterministic"],
            random_state=seed,
            timeout_in_seconds=timeout,
            max_evals=budget.evaluations,
            verbosity=0,
            progress=False,
            temp_equation_file=True,
        )
        model.fit(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return candidates_from_equations(model.equations_, limit=p["max_candidates"])


def candidates_from_equations(equations: Any, *, limit: int | None = None) -> list[Candidate]:
    """PySR's ``equations_`` table as ranked candidates.

    The order follows PySR's own "best" model selection, so its pick comes first: equations
    whose loss is within 1.5x of the lowest, by score (highest first), then the rest by loss.
    Without a score column, all are ranked by loss. The program is the ``sympy_format``
    expression where present (variables ``x0, x1, ...``), else the ``equation`` text;
    ``fitness`` is the loss and ``complexity`` PySR's complexity.
    """
    rows = list(equations.to_dict("records"))
    if not rows:
        return []
    losses = [_finite(row.get("loss")) for row in rows]
    best = min(losses)
    has_score = "score" in equations.columns

    def key(i: int) -> tuple[int, float, float]:
        loss = losses[i]
        if has_score and math.isfinite(best) and loss <= BEST_LOSS_FACTOR * best:
            return (0, -_finite(rows[i].get("score"), default=-math.inf), loss)
        return (1, loss, 0.0)

    ranked: list[Candidate] = []
    seen: set[str] = set()
    for i in sorted(range(len(rows)), key=key):
        row = rows[i]
        text = _program_text(row)
        if text in seen:
            continue
        seen.add(text)
        complexity = row.get("complexity")
        ranked.append(
            Candidate(
                program=text,
                fitness=losses[i] if math.isfinite(losses[i]) else None,
                complexity=None if complexity is None else int(complexity),
            )
        )
        if limit is not None and len(ranked) >= limit:
            break
    return ranked


def _program_text(row: Mapping[str, Any]) -> str:
    expr = row.get("sympy_format")
    if expr is not None and not (isinstance(expr, float) and math.isnan(expr)):
        return str(expr)
    return str(row["equation"])


def _finite(value: Any, *, default: float = math.inf) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def create(params: Mapping[str, Any]) -> PySRDiscoverer:
    return PySRDiscoverer(**params)


@hookimpl
def nsad_discoverers() -> list[DiscovererSpec]:
    return [
        DiscovererSpec(
            name=NAME,
            description="PySR (Julia SymbolicRegression.jl) with + - * sin cos abs",
            requires=requires,
            create=create,
            defaults=DEFAULTS,
            start_method="spawn",
        )
    ]
