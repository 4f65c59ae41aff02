"""The built-in discoverers: gplearn, Operon, PySR (availability and table conversion) and
the paper's published programs."""

from __future__ import annotations

import math
import os
from pathlib import Path

import nsad_gplearn
import nsad_operon
import nsad_published
import nsad_pysr
import numpy as np
import pandas as pd
import pytest
import sympy

from nsad_bench.components import Budget, Candidate, DiscovererSpec
from nsad_bench.discovery import run_discoverer
from nsad_bench.formula import make_formula


def only_spec(plugin) -> DiscovererSpec:
    (spec,) = plugin.nsad_discoverers()
    return spec


@pytest.fixture(scope="module")
def breast_cancer_10pct() -> tuple[np.ndarray, np.ndarray]:
    """A real discovery subset: 10% of scikit-learn's bundled breast-cancer data (57 rows),
    stratified and standardized as the protocol does."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    X_disc, _, y_disc, _ = train_test_split(X, y, train_size=0.1, stratify=y, random_state=42)
    X_disc = (X_disc - X_disc.mean(axis=0)) / X_disc.std(axis=0)
    return X_disc.astype(np.float32), y_disc.astype(np.float32)


# ------------------------------------------------------------------------------- gplearn


def test_gplearn_returns_ranked_candidates(breast_cancer_10pct) -> None:
    X, y = breast_cancer_10pct
    discoverer = only_spec(nsad_gplearn).create(nsad_gplearn.DEFAULTS)
    candidates = discoverer.discover(X, y, seed=0, budget=Budget(seconds=60))

    assert 2 <= len(candidates) <= nsad_gplearn.DEFAULTS["max_candidates"]
    assert len({c.program for c in candidates}) == len(candidates)
    fitness = [c.fitness for c in candidates]
    assert all(f is not None and math.isfinite(f) for f in fitness)
    assert fitness == sorted(fitness)  # log loss: lower is better, best first
    assert all(isinstance(c.complexity, int) and c.complexity >= 1 for c in candidates)
    for c in candidates:
        make_formula(c.program)  # gplearn prefix parses


def test_gplearn_through_the_core_chooses_a_usable_formula(breast_cancer_10pct) -> None:
    X, y = breast_cancer_10pct
    found = run_discoverer(only_spec(nsad_gplearn), {}, X, y, seed=1, budget=Budget(seconds=60))
    assert found.ok, found.error
    assert found.formula is not None and found.formula.verdict == "ok"
    assert found.params["population_size"] == 500 and found.params["generations"] == 5


def test_gplearn_is_deterministic_for_a_seed(breast_cancer_10pct) -> None:
    X, y = breast_cancer_10pct
    params = {**nsad_gplearn.DEFAULTS, "population_size": 100, "generations": 2}
    first = nsad_gplearn.create(params).discover(X, y, seed=3, budget=Budget(seconds=60))
    again = nsad_gplearn.create(params).discover(X, y, seed=3, budget=Budget(seconds=None))
    assert first == again


def test_gplearn_regressor_option(breast_cancer_10pct) -> None:
    X, y = breast_cancer_10pct
    params = {"estimator": "regressor", "metric": "mean absolute error"}
    params.update(population_size=100, generations=2)
    candidates = nsad_gplearn.create(params).discover(X, y, seed=0, budget=Budget())
    assert len(candidates) >= 2
    with pytest.raises(ValueError, match="does not fit estimator 'regressor'"):
        nsad_gplearn.create({"estimator": "regressor"})


def test_gplearn_budget_evaluations_caps_population_times_generations() -> None:
    est = nsad_gplearn.create({})._estimator(0, Budget(evaluations=1200))
    assert est.population_size == 500 and est.generations == 2
    small = nsad_gplearn.create({})._estimator(0, Budget(evaluations=50))
    assert small.population_size == 50 and small.generations == 1
    assert small.tournament_size <= small.population_size


def test_gplearn_soft_deadline_stops_between_generations(breast_cancer_10pct) -> None:
    X, y = breast_cancer_10pct
    est = nsad_gplearn.create({"population_size": 50})._estimator(0, Budget())
    nsad_gplearn._fit_until(est, X.astype(float), y.astype(float), deadline=0.0)
    assert len(est._programs) == 1


class _Printable:
    """Stands in for a gplearn program: prints as its text, has raw_fitness_ and length_."""

    def __init__(self, text: str, fitness: float, length: int) -> None:
        self.text, self.raw_fitness_, self.length_ = text, fitness, length

    def __str__(self) -> str:
        return self.text


def test_ranked_candidates_orders_dedupes_and_respects_direction() -> None:
    population = [
        _Printable("X1", 0.5, 1),
        None,
        _Printable("mul(X0, X1)", 0.2, 3),
        _Printable("X0", 0.2, 1),
        _Printable("mul(X0, X1)", 0.2, 3),
        _Printable("sin(X0)", float("nan"), 2),
    ]
    lower = nsad_gplearn.ranked_candidates(population, greater_is_better=False)
    assert [c.program for c in lower] == ["X0", "mul(X0, X1)", "X1", "sin(X0)"]
    assert lower[0] == Candidate("X0", fitness=0.2, complexity=1)
    higher = nsad_gplearn.ranked_candidates(population, greater_is_better=True, limit=2)
    assert [c.program for c in higher] == ["X1", "X0"]


# -------------------------------------------------------------------------------- operon


def test_operon_returns_parseable_candidates(breast_cancer_10pct) -> None:
    X, y = breast_cancer_10pct
    spec = only_spec(nsad_operon)
    assert spec.unavailable_reason() is None
    params = {**spec.defaults, "max_candidates": 6}
    candidates = spec.create(params).discover(X, y, seed=0, budget=Budget(seconds=30))
    assert 2 <= len(candidates) <= 6
    for c in candidates:
        make_formula(c.program)
        assert c.fitness is not None and c.complexity is not None
    fitness = [c.fitness for c in candidates]
    assert fitness == sorted(fitness)  # minimum description length, best first


@pytest.mark.slow
def test_operon_through_the_core_chooses_a_usable_formula(breast_cancer_10pct) -> None:
    X, y = breast_cancer_10pct
    found = run_discoverer(only_spec(nsad_operon), {}, X, y, seed=0, budget=Budget(seconds=30))
    assert found.ok, found.error
    assert found.formula is not None and found.formula.verdict == "ok"
    assert all(row["error"] is None for row in found.candidates)


def test_operon_numbers_variables_from_x0() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 1))
    y = (np.cos(2 * X[:, 0]) > 0).astype(float)
    discoverer = nsad_operon.create({"generations": 10})
    candidates = discoverer.discover(X, y, seed=0, budget=Budget(seconds=30))
    programs = " ".join(c.program for c in candidates)
    assert "X0" in programs and "X1" not in programs


def test_operon_single_objective_ranks_the_population(breast_cancer_10pct) -> None:
    X, y = breast_cancer_10pct
    discoverer = nsad_operon.create({"objectives": "r2", "generations": 5})
    candidates = discoverer.discover(X, y, seed=0, budget=Budget(seconds=30))
    assert len(candidates) >= 2


def test_operon_reports_missing_package(monkeypatch) -> None:
    monkeypatch.setattr(nsad_operon.importlib.util, "find_spec", lambda name: None)
    assert "pip install nsad-bench[operon]" in (nsad_operon.requires() or "")


# ---------------------------------------------------------------------------------- pysr


@pytest.fixture
def no_julia(monkeypatch, tmp_path: Path) -> None:
    for var in (
        "PYTHON_JULIACALL_EXE",
        "PYTHON_JULIAPKG_EXE",
        "PYTHON_JULIACALL_BINDIR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHON_JULIAPKG_PROJECT", str(tmp_path / "julia_env"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


def test_pysr_is_unavailable_without_julia(no_julia) -> None:
    spec = only_spec(nsad_pysr)
    assert spec.start_method == "spawn"
    reason = spec.unavailable_reason()
    assert reason is not None and "Julia" in reason

    found = run_discoverer(
        spec, {}, np.zeros((4, 2)), np.array([0, 1, 0, 1]), seed=0, budget=Budget(seconds=5)
    )
    assert found.status == "failed"
    assert found.error is not None and found.error.startswith("unavailable: Julia runtime")


def test_pysr_is_unavailable_on_this_machine() -> None:
    """No Julia is installed here; the check must say so without importing pysr."""
    import sys

    if nsad_pysr.find_julia() is not None:
        pytest.skip("a Julia executable is installed on this machine")
    assert "Julia" in (only_spec(nsad_pysr).unavailable_reason() or "")
    assert "pysr" not in sys.modules and "juliacall" not in sys.modules


def test_pysr_finds_julia_through_juliacall_settings(no_julia, tmp_path: Path, monkeypatch) -> None:
    julia = tmp_path / "bin" / "julia"
    julia.parent.mkdir()
    julia.write_text("#!/bin/sh\n")
    julia.chmod(0o755)
    monkeypatch.setenv("PYTHON_JULIACALL_EXE", str(julia))
    assert nsad_pysr.find_julia() == str(julia)
    monkeypatch.delenv("PYTHON_JULIACALL_EXE")
    monkeypatch.setenv("PYTHON_JULIACALL_BINDIR", str(julia.parent))
    assert nsad_pysr.find_julia() == str(julia)
    monkeypatch.delenv("PYTHON_JULIACALL_BINDIR")
    monkeypatch.setenv("PATH", str(julia.parent) + os.pathsep + os.environ["PATH"])
    assert nsad_pysr.find_julia() == str(julia)
    if nsad_pysr.importlib.util.find_spec("pysr") is not None:
        assert nsad_pysr.requires() is None


def test_candidates_from_equations_follows_pysr_best_selection() -> None:
    x0, x1 = sympy.symbols("x0 x1")
    equations = pd.DataFrame(
        {
            "complexity": [1, 3, 4, 6, 8],
            "loss": [0.25, 0.20, 0.12, 0.10, 0.099],
            "score": [0.0, 0.11, 0.51, 0.09, 0.005],
            "equation": ["0.5", "x1 * 0.3", "cos(x0) * 0.4", "x0 * cos(x1)", "bad"],
            "sympy_format": [
                sympy.Float(0.5),
                0.3 * x1,
                0.4 * sympy.cos(x0),
                x0 * sympy.cos(x1),
                x0 * sympy.cos(x1) + sympy.Float(0.01),
            ],
        }
    )
    candidates = nsad_pysr.candidates_from_equations(equations)
    # within 1.5x of the lowest loss (0.099): by score; then the rest by loss
    assert [c.complexity for c in candidates] == [4, 6, 8, 3, 1]
    assert candidates[0].fitness == pytest.approx(0.12)
    assert candidates[1].program == str(x0 * sympy.cos(x1))
    verdicts = [make_formula(c.program).verdict for c in candidates]
    assert verdicts == ["ok", "ok", "ok", "linear", "constant"]
    assert len(nsad_pysr.candidates_from_equations(equations, limit=2)) == 2


def test_candidates_from_equations_without_sympy_or_score() -> None:
    equations = pd.DataFrame(
        {"complexity": [1, 4], "loss": [0.3, 0.1], "equation": ["x0", "x0 * cos(x0)"]}
    )
    candidates = nsad_pysr.candidates_from_equations(equations)
    assert [c.program for c in candidates] == ["x0 * cos(x0)", "x0"]
    assert nsad_pysr.candidates_from_equations(equations.iloc[:0]) == []


# ----------------------------------------------------------------------------- published


def test_published_higgs_program_collapses_and_the_generalized_form_is_taken() -> None:
    spec = only_spec(nsad_published)
    assert spec.start_method == "none"
    found = run_discoverer(
        spec,
        {"dataset": "HIGGS"},
        np.zeros((4, 2)),
        np.array([0, 1, 0, 1]),
        seed=0,
        budget=Budget(seconds=5),
    )
    assert [c["program"] for c in found.candidates] == [
        "mul(cos(X25), sub(X12, X3))",
        "x*cos(x)",
    ]
    assert [c["verdict"] for c in found.candidates] == ["constant", "ok"]
    assert found.ok and found.chosen == 1
    assert "winner 'mul(cos(X25), sub(X12, X3))' was constant" in found.note


def test_published_general_list_and_unknown_dataset() -> None:
    spec = only_spec(nsad_published)
    general = run_discoverer(
        spec, {}, np.zeros((4, 2)), np.array([0, 1, 0, 1]), seed=0, budget=Budget()
    )
    assert general.ok and general.candidates[0]["program"] == "x*cos(x)"

    spam = run_discoverer(
        spec,
        {"dataset": "spambase"},
        np.zeros((4, 2)),
        np.array([0, 1, 0, 1]),
        seed=0,
        budget=Budget(),
    )
    assert spam.status == "failed"
    assert "no published program encoded for dataset 'spambase'" in (spam.error or "")
    kinds = {p.kind for progs in nsad_published.PROGRAMS.values() for p in progs}
    assert kinds == {"paper text", "generalized form"}
