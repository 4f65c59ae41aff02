"""gplearn as a discovery backend, configured as in the paper.

Estimator. The paper's reference code (github.com/ana55e/NeuroSymbolic_Activation,
``src/discovery.py``) fits ``gplearn.genetic.SymbolicClassifier`` to the 0/1 labels, so that
is the default here: the evolved program is a logit, scored by log loss after a sigmoid.
``estimator="regressor"`` fits ``SymbolicRegressor`` to the same labels instead (the paper's
text describes fitting features to the target; the regressor scores the raw program by mean
absolute error, which on 0/1 labels often rewards a constant).

Configuration. Population 500, 5 generations, parsimony 0.01 and the function set
add, sub, mul, sin, cos, abs are the paper's stated settings (the reference code leaves
parsimony at gplearn's 0.001). Everything else is gplearn 0.4.3's default, written out so an
upgrade cannot change it silently. The discovery subset is used as given; standardize it
beforehand as the paper does.

Candidates. gplearn keeps the whole final generation; the unique programs of it, sorted by
raw fitness (the score gplearn itself picks its winner by, so the winner comes first) and
then by length, are returned with ``fitness = raw_fitness_`` and ``complexity = length_``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nsad_bench import hookimpl
from nsad_bench.components import Budget, Candidate, DiscovererSpec

NAME = "gplearn"
ESTIMATORS = ("classifier", "regressor")
#: gplearn's metrics for each estimator (the classifier knows only log loss).
METRICS = {
    "classifier": ("log loss",),
    "regressor": ("mean absolute error", "mse", "rmse", "pearson", "spearman"),
}
#: Fraction of ``budget.seconds`` after which no new generation is started, so the results
#: come back before the core's hard limit stops the process.
SOFT_DEADLINE = 0.8

DEFAULTS: dict[str, Any] = {
    "estimator": "classifier",
    "metric": "log loss",
    "population_size": 500,
    "generations": 5,
    "parsimony_coefficient": 0.01,
    "function_set": ("add", "sub", "mul", "sin", "cos", "abs"),
    "tournament_size": 20,
    "init_depth": (2, 6),
    "init_method": "half and half",
    "const_range": (-1.0, 1.0),
    "p_crossover": 0.9,
    "p_subtree_mutation": 0.01,
    "p_hoist_mutation": 0.01,
    "p_point_mutation": 0.01,
    "p_point_replace": 0.05,
    "max_samples": 1.0,
    "stopping_criteria": 0.0,
    "n_jobs": 1,
    "max_candidates": 20,
}


class GplearnDiscoverer:
    """Runs gplearn with plain parameters (see :data:`DEFAULTS`) and ranks its final
    generation."""

    def __init__(self, **params: Any) -> None:
        self.params = {**DEFAULTS, **params}
        estimator, metric = self.params["estimator"], self.params["metric"]
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
        if metric not in METRICS[estimator]:
            raise ValueError(
                f"metric {metric!r} does not fit estimator {estimator!r}; "
                f"use one of {METRICS[estimator]}"
            )

    def _estimator(self, seed: int, budget: Budget) -> Any:
        from gplearn.genetic import SymbolicClassifier, SymbolicRegressor

        p = self.params
        population, generations = p["population_size"], p["generations"]
        if budget.evaluations is not None:  # population x generations programs at most
            population = max(1, min(population, budget.evaluations))
            generations = max(1, min(generations, budget.evaluations // population))
        cls = SymbolicClassifier if p["estimator"] == "classifier" else SymbolicRegressor
        return cls(
            population_size=population,
            generations=generations,
            tournament_size=min(p["tournament_size"], population),
            stopping_criteria=p["stopping_criteria"],
            const_range=tuple(p["const_range"]) if p["const_range"] is not None else None,
            init_depth=tuple(p["init_depth"]),
            init_method=p["init_method"],
            function_set=tuple(p["function_set"]),
            metric=p["metric"],
            parsimony_coefficient=p["parsimony_coefficient"],
            p_crossover=p["p_crossover"],
            p_subtree_mutation=p["p_subtree_mutation"],
            p_hoist_mutation=p["p_hoist_mutation"],
            p_point_mutation=p["p_point_mutation"],
            p_point_replace=p["p_point_replace"],
            max_samples=p["max_samples"],
            n_jobs=p["n_jobs"],
            random_state=seed,
        )

    def discover(
        self, X: np.ndarray, y: np.ndarray, *, seed: int, budget: Budget
    ) -> list[Candidate]:
        est = self._estimator(seed, budget)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if budget.seconds is None:
            est.fit(X, y)
        else:
            _fit_until(est, X, y, deadline=time.monotonic() + SOFT_DEADLINE * budget.seconds)
        return ranked_candidates(
            est._programs[-1],
            greater_is_better=est._metric.greater_is_better,
            limit=self.params["max_candidates"],
        )


def _fit_until(est: Any, X: np.ndarray, y: np.ndarray, *, deadline: float) -> None:
    """Fit one generation at a time (warm start), starting none that would end past
    ``deadline``. gplearn re-derives its seeds on every warm-start fit, so a run that is not
    cut short evolves exactly the same programs as a single ``fit``."""
    total = est.generations
    est.set_params(warm_start=True)
    started = time.monotonic()
    for done in range(1, total + 1):
        est.set_params(generations=done)
        est.fit(X, y)
        per_generation = (time.monotonic() - started) / done
        if time.monotonic() + per_generation > deadline:
            break


def ranked_candidates(
    programs: Sequence[Any], *, greater_is_better: bool, limit: int | None = None
) -> list[Candidate]:
    """Unique gplearn programs, best raw fitness first (ties: shorter first).

    Programs with a non-finite fitness go last; ``None`` entries (gplearn frees programs
    that left no offspring) are skipped.
    """

    def key(program: Any) -> tuple[int, float, int]:
        fitness = float(program.raw_fitness_)
        if not math.isfinite(fitness):
            return (1, 0.0, program.length_)
        return (0, -fitness if greater_is_better else fitness, program.length_)

    seen: set[str] = set()
    ranked: list[Candidate] = []
    for program in sorted((p for p in programs if p is not None), key=key):
        text = str(program)
        if text in seen:
            continue
        seen.add(text)
        ranked.append(
            Candidate(
                program=text,
                fitness=float(program.raw_fitness_),
                complexity=int(program.length_),
            )
        )
        if limit is not None and len(ranked) >= limit:
            break
    return ranked


def create(params: Mapping[str, Any]) -> GplearnDiscoverer:
    return GplearnDiscoverer(**params)


@hookimpl
def nsad_discoverers() -> list[DiscovererSpec]:
    return [
        DiscovererSpec(
            name=NAME,
            description="gplearn genetic programming with the paper's settings "
            "(population 500, 5 generations, parsimony 0.01)",
            create=create,
            defaults=DEFAULTS,
            start_method="fork",
        )
    ]
