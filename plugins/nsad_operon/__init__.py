"""Operon (pyoperon) as a discovery backend.

Operon does symbolic regression only, so ``pyoperon.sklearn.SymbolicRegressor`` is fitted to
the 0/1 labels, as the paper fits its features to the target. With the default objectives
("r2", "length") Operon runs NSGA-II and keeps a Pareto front of accuracy against size; every
model on that front becomes a candidate, ranked by Operon's own model-selection criterion
(minimum description length by default, lower is better; that value is the candidate's
``fitness``). With a single objective there is no front: the best model comes first, then
the final population, all ranked by that objective (lower is better; it is their
``fitness``).

The symbols add, sub, mul, sin, cos, abs mirror the paper's gplearn function set; constants
are on because Operon tunes them (``optimizer_iterations``) and scales every model linearly.
Operon names variables from X1; candidates are renamed to gplearn's X0-based numbering.
Defaults are small so a run takes about a second on a few thousand rows.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from nsad_bench import hookimpl
from nsad_bench.components import Budget, Candidate, DiscovererSpec

NAME = "operon"
#: Fraction of ``budget.seconds`` given to Operon's own time limit, leaving room to return.
SOFT_DEADLINE = 0.8
#: Digits of the constants in candidate programs.
PRECISION = 6

DEFAULTS: dict[str, Any] = {
    "allowed_symbols": "add,sub,mul,sin,cos,abs,constant,variable",
    "objectives": ("r2", "length"),
    "population_size": 500,
    "generations": 50,
    "max_evaluations": 100_000,
    "max_length": 20,
    "max_depth": 10,
    "optimizer_iterations": 1,
    "model_selection_criterion": "minimum_description_length",
    "n_threads": 1,
    "max_candidates": 20,
}


def requires() -> str | None:
    if importlib.util.find_spec("pyoperon") is None:
        return "pyoperon is not installed (pip install nsad-bench[operon])"
    return None


class OperonDiscoverer:
    """Runs Operon with plain parameters (see :data:`DEFAULTS`) and ranks its models."""

    def __init__(self, **params: Any) -> None:
        self.params = {**DEFAULTS, **params}
        objectives = self.params["objectives"]
        self.objectives = [objectives] if isinstance(objectives, str) else list(objectives)

    def _estimator(self, seed: int, budget: Budget) -> Any:
        from pyoperon.sklearn import SymbolicRegressor

        p = self.params
        evaluations = p["max_evaluations"]
        if budget.evaluations is not None:
            evaluations = min(evaluations, budget.evaluations)
        max_time = None
        if budget.seconds is not None:
            max_time = max(1, math.floor(SOFT_DEADLINE * budget.seconds))
        return SymbolicRegressor(
            allowed_symbols=p["allowed_symbols"],
            objectives=self.objectives,
            population_size=p["population_size"],
            generations=p["generations"],
            max_evaluations=evaluations,
            max_length=p["max_length"],
            max_depth=p["max_depth"],
            optimizer_iterations=p["optimizer_iterations"],
            model_selection_criterion=p["model_selection_criterion"],
            n_threads=p["n_threads"],
            max_time=max_time,
            random_state=seed,
        )

    def discover(
        self, X: np.ndarray, y: np.ndarray, *, seed: int, budget: Budget
    ) -> list[Candidate]:
        est = self._estimator(seed, budget)
        X = np.asarray(X, dtype=np.float64)
        est.fit(X, np.asarray(y, dtype=np.float64))
        names = [f"X{i}" for i in range(X.shape[1])]
        criterion = self.params["model_selection_criterion"]

        ranked: list[Candidate] = []
        seen: set[str] = set()

        def add(tree: Any, fitness: float | None, complexity: int) -> None:
            text = est.get_model_string(tree, PRECISION, names)
            if text not in seen:
                seen.add(text)
                ranked.append(Candidate(program=text, fitness=fitness, complexity=complexity))

        with warnings.catch_warnings():  # constant models are candidates like any other
            warnings.filterwarnings("ignore", message="Model contains no variables")
            if len(self.objectives) > 1:
                front = sorted(est.pareto_front_, key=lambda m: _sort_value(m[criterion]))
                for model in front:
                    add(model["tree"], float(model[criterion]), int(model["length"]))
            else:  # no front: the best model, then the final population by the objective
                (best,) = est.pareto_front_
                add(best["tree"], float(best["objective_values"][0]), int(best["length"]))
                population = sorted(
                    est.individuals_, key=lambda ind: _sort_value(ind.GetFitness(0))
                )
                for ind in population:
                    add(ind.Genotype, float(ind.GetFitness(0)), int(ind.Genotype.Length))
        return ranked[: self.params["max_candidates"]]


def _sort_value(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else math.inf


def create(params: Mapping[str, Any]) -> OperonDiscoverer:
    return OperonDiscoverer(**params)


@hookimpl
def nsad_discoverers() -> list[DiscovererSpec]:
    return [
        DiscovererSpec(
            name=NAME,
            description="Operon symbolic regression (NSGA-II over accuracy and size)",
            requires=requires,
            create=create,
            defaults=DEFAULTS,
            start_method="fork",
        )
    ]
