"""The ``search`` discoverer: its search space, screening, budgets and ranking, and that its
fitness sees only the discovery subset.

Most tests replace the network training (``nsad_search.fitness.train_batch``, the one place
the search trains) by a cheap deterministic score, so they check the search itself in
milliseconds; the tests marked ``real`` train real networks.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import nsad_search
import numpy as np
import pytest
from nsad_search import fitness as fitness_module
from nsad_search import variation
from nsad_search.search import ActivationSearch, fingerprint
from nsad_search.space import SearchSpace, depth
from nsad_search.tidy import tidy

from nsad_bench import protocol
from nsad_bench.components import Budget, DataOptions, Dataset
from nsad_bench.discovery import run_discoverer
from nsad_bench.formula import (
    Node,
    check,
    evaluate,
    generalize,
    infix,
    judge,
    parse,
)
from nsad_bench.plugins import load_registry

GRID = np.linspace(-5.0, 5.0, 201)
DEGENERATE = {"sub(x, x)": "constant", "x": "linear", "exp(exp(exp(x)))": "non-finite"}


def fake_scores(trees, fold, config):
    """A stand-in for training: closer to ReLU on [-5, 5] scores higher, deterministically."""
    relu = np.maximum(GRID, 0.0)
    return [
        float(0.5 + 0.4 / (1.0 + np.mean((np.tanh(evaluate(t, GRID)) - np.tanh(relu)) ** 2)))
        for t in trees
    ]


class Recorder:
    """Wraps a trainer and keeps every tree (and fold) that reached it."""

    def __init__(self, trainer=fake_scores) -> None:
        self.trainer = trainer
        self.trees: list[Node] = []
        self.calls = 0

    def __call__(self, trees, fold, config):
        self.calls += 1
        self.trees += list(trees)
        return self.trainer(trees, fold, config)


@pytest.fixture()
def recorder(monkeypatch) -> Recorder:
    recording = Recorder()
    monkeypatch.setattr(fitness_module, "train_batch", recording)
    return recording


@pytest.fixture(scope="module")
def small_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.standard_normal(120) > 0).astype(np.float32)
    return X, y


def search(**params) -> ActivationSearch:
    quick = {"evaluations": 40, "population_size": 8, "n_per_batch": 4, "final_top": 3,
             "final_repeats": 2}  # fmt: skip
    return nsad_search.create({**quick, **params})


# ------------------------------------------------------------------------ the plugin


def test_registered_by_name_with_every_parameter() -> None:
    spec = load_registry().get("discoverer", "search")
    assert spec.start_method == "fork"
    assert spec.defaults["evaluations"] == 300 and spec.defaults["epochs"] == 5
    assert spec.defaults["hidden"] == (64, 32)
    assert isinstance(spec.create(spec.defaults), ActivationSearch)


def test_bad_parameters_fail_at_creation() -> None:
    with pytest.raises(ValueError, match="not a 1-ary operator"):
        nsad_search.create({"unary": ("add",)})
    with pytest.raises(ValueError, match="validation_fraction"):
        nsad_search.create({"validation_fraction": 1.5})
    with pytest.raises(ValueError, match="cannot parse|unknown|unexpected"):
        nsad_search.create({"initial_programs": ("__import__('os')",)})


# ---------------------------------------------------------------------- the space


def test_core_unit_is_binary_of_two_unary_operands() -> None:
    space, rng = SearchSpace(), np.random.default_rng(1)
    for _ in range(200):
        unit = space.core_unit(rng)
        assert unit.op in space.binary and depth(unit) <= 3
        assert not all(child.op == "const" for child in unit.children)
        for operand in unit.children:
            assert operand.op in (*space.unary, "var", "const")
            if operand.op in space.unary:
                assert operand.children == (Node("var", name="x"),)


def test_swish_is_in_the_core_unit_form() -> None:
    space, rng = SearchSpace(), np.random.default_rng(0)
    found = {infix(space.core_unit(rng)) for _ in range(20_000)}
    assert "x * sigmoid(x)" in found


def test_random_trees_and_offspring_respect_the_depth_limit() -> None:
    space, rng = SearchSpace(max_depth=4), np.random.default_rng(2)
    trees = [space.initial(rng, p_core_unit=0.5) for _ in range(100)]
    assert all(depth(t) <= 4 for t in trees)
    for a, b in zip(trees, trees[1:], strict=False):
        children = [
            variation.crossover(a, b, space, rng),
            variation.subtree_mutation(a, space, rng),
            variation.point_mutation(a, space, rng),
            variation.hoist_mutation(a, space, rng),
        ]
        for child in children:
            assert depth(child) <= 4
            check(child)  # a valid tree the formula layer accepts


def test_point_mutation_keeps_the_shape() -> None:
    space, rng = SearchSpace(), np.random.default_rng(3)
    tree = parse("max(sin(x), 0.5)")
    for _ in range(50):
        child = variation.point_mutation(tree, space, rng)
        shape = [len(get.children) for get in _nodes(child)]
        assert shape[: len(_nodes(tree))] == [len(n.children) for n in _nodes(tree)] or (
            len(_nodes(child)) == len(_nodes(tree)) + 1  # x became u(x)
        )


def _nodes(tree: Node) -> list[Node]:
    return [variation.get(tree, p) for p in variation.paths(tree)]


def test_tidy_folds_constants_and_removes_dead_weight() -> None:
    cases = {
        "max(x, x) + sigmoid(0.22)": "x + 0.5548",
        "sin(x - x)": "0",
        "abs(abs(x)) * -(-x)": "abs(x) * x",
        "x / x + cos(x)": "1 + cos(x)",
        "abs(tanh(x) + 0) * 1 - 0": "abs(tanh(x))",
        "0 - x": "0 - x",
        "1 / x": "1 / x",
    }
    for text, expected in cases.items():
        assert infix(tidy(parse(text))) == expected


def test_fingerprint_identifies_functions_not_texts() -> None:
    assert fingerprint(parse("x + x")) == fingerprint(parse("2 * x"))
    assert fingerprint(parse("sin(x)")) != fingerprint(parse("cos(x)"))


# ------------------------------------------------------------------ screening


def test_degenerate_candidates_are_rejected_without_training(recorder, small_data) -> None:
    X, y = small_data
    discoverer = search(initial_programs=tuple(DEGENERATE))
    candidates = discoverer.discover(X, y, seed=0, budget=Budget(seconds=None))

    stats = discoverer.last_stats
    for verdict in DEGENERATE.values():
        assert stats.rejected.get(verdict, 0) >= 1
    trained = {fingerprint(t) for t in recorder.trees}
    for text in DEGENERATE:
        tree = generalize(parse(text))
        assert judge(tree) == DEGENERATE[text]
        assert infix(tree) not in {infix(t) for t in recorder.trees}
    assert all(judge(t) == "ok" for t in recorder.trees)
    assert len(trained) == stats.trained - stats.rescored  # each function trained once
    assert all(judge(parse(c.program)) == "ok" for c in candidates)


@pytest.mark.parametrize("text", sorted(DEGENERATE))
def test_fitness_refuses_a_degenerate_tree_before_training(recorder, small_data, text) -> None:
    X, y = small_data
    scorer = fitness_module.Fitness(X, y, fitness_module.FitnessConfig(), seed=0)
    with pytest.raises(ValueError, match=DEGENERATE[text]):
        scorer.score([generalize(parse(text))], replicate=0)
    assert recorder.calls == 0 and scorer.trained == 0


# --------------------------------------------------------------------- budgets


def test_evaluations_budget_counts_every_network(recorder, small_data) -> None:
    X, y = small_data
    discoverer = search(evaluations=30)
    discoverer.discover(X, y, seed=0, budget=Budget(seconds=None))
    assert discoverer.last_stats.trained == len(recorder.trees) == 30
    assert discoverer.last_stats.stopped_by == "evaluations"

    capped = search(evaluations=30)
    capped.discover(X, y, seed=0, budget=Budget(seconds=None, evaluations=12))
    assert capped.last_stats.trained <= 12


def test_time_budget_returns_the_best_so_far_before_the_limit(monkeypatch, small_data) -> None:
    def slow(trees, fold, config):
        time.sleep(0.02 * len(trees))
        return fake_scores(trees, fold, config)

    monkeypatch.setattr(fitness_module, "train_batch", slow)
    X, y = small_data
    discoverer = search(evaluations=10_000)
    started = time.monotonic()
    candidates = discoverer.discover(X, y, seed=0, budget=Budget(seconds=1.5))
    elapsed = time.monotonic() - started

    assert elapsed < 1.5  # the core's hard limit
    assert discoverer.last_stats.stopped_by == "time"
    assert candidates and discoverer.last_stats.rescored > 0


def test_a_slow_first_network_does_not_end_the_search(monkeypatch, small_data) -> None:
    """The first network pays one-off costs; holding back time for re-scoring at that price
    must not stop the search after one candidate."""
    calls = []

    def warming_up(trees, fold, config):
        time.sleep(0.4 if not calls else 0.002 * len(trees))
        calls.append(len(trees))
        return fake_scores(trees, fold, config)

    monkeypatch.setattr(fitness_module, "train_batch", warming_up)
    X, y = small_data
    discoverer = search(evaluations=10_000, final_top=8, final_repeats=3)
    discoverer.discover(X, y, seed=0, budget=Budget(seconds=2.0))
    assert discoverer.last_stats.trained > 50
    assert discoverer.last_stats.rescored == 8 * 3


# --------------------------------------------------------------------- ranking


def test_rescored_candidates_come_first_ranked_by_fresh_folds(recorder, small_data) -> None:
    X, y = small_data
    discoverer = search(final_top=3, final_repeats=2, max_candidates=7)
    candidates = discoverer.discover(X, y, seed=0, budget=Budget(seconds=None))

    assert len(candidates) == 7
    assert len({c.program for c in candidates}) == 7
    assert discoverer.last_stats.rescored == 3 * 2
    top = [c.fitness for c in candidates[:3]]
    assert top == sorted(top, reverse=True)
    for c in candidates:
        assert c.complexity == _size(parse(c.program))
        assert c.fitness is not None and 0.5 <= c.fitness <= 0.9


def _size(tree: Node) -> int:
    return len(_nodes(tree))


def test_same_seed_same_candidates(recorder, small_data) -> None:
    X, y = small_data
    first = search().discover(X, y, seed=7, budget=Budget(seconds=None))
    again = search().discover(X, y, seed=7, budget=Budget(seconds=None))
    other = search().discover(X, y, seed=8, budget=Budget(seconds=None))
    restarted = search(restart=1).discover(X, y, seed=7, budget=Budget(seconds=None))
    assert first == again
    assert [c.program for c in first] != [c.program for c in other]
    assert [c.program for c in first] != [c.program for c in restarted]


# ---------------------------------------------------------------------- real training


@pytest.fixture(scope="module")
def breast_cancer_discovery() -> tuple[np.ndarray, np.ndarray]:
    """The protocol's discovery subset of scikit-learn's bundled breast-cancer data."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    y = y.astype(np.float32)
    disc, _ = protocol.discovery_split(y, protocol.ProtocolConfig())
    (X_disc,) = protocol.standardize(X[disc])
    return X_disc, y[disc]


def test_real_search_through_the_core_on_breast_cancer(breast_cancer_discovery) -> None:
    """Real networks, the core's child process and candidate choice, on real (bundled) data."""
    X_disc, y_disc = breast_cancer_discovery
    spec = load_registry().get("discoverer", "search")
    params = {"evaluations": 16, "population_size": 6, "n_per_batch": 6, "epochs": 2,
              "batch_size": 16, "final_top": 2, "final_repeats": 2,
              "max_candidates": 3}  # fmt: skip
    found = run_discoverer(spec, params, X_disc, y_disc, seed=42, budget=Budget(seconds=60))

    assert found.ok, found.error
    assert found.formula.verdict == "ok" and found.chosen == 0
    assert all(row["verdict"] == "ok" for row in found.candidates)
    assert all(0.0 <= row["fitness"] <= 1.0 for row in found.candidates)


@pytest.mark.slow
def test_real_search_returns_before_the_cores_hard_limit(breast_cancer_discovery) -> None:
    """With more evaluations than the time allows, the search stops itself at 90% of
    ``budget.seconds`` and hands back its best so far; the core never has to kill it."""
    X, y = breast_cancer_discovery
    spec = load_registry().get("discoverer", "search")
    params = {"evaluations": 1_000_000, "max_candidates": 3}
    found = run_discoverer(spec, params, X, y, seed=1, budget=Budget(seconds=5))
    assert found.ok, found.error
    assert found.wall_seconds < 5 + 2  # the child answered; parsing 3 candidates follows


def test_stacked_and_single_model_training_agree(small_data) -> None:
    """The fitness trains candidates in one stacked pass; one at a time gives the same AUCs."""
    X, y = small_data
    fold = fitness_module.make_fold(X, y, 0.3, seed=5)
    config = fitness_module.FitnessConfig(epochs=2, batch_size=16)
    trees = [parse(t) for t in ("max(x, 0)", "tanh(x)", "x * sigmoid(x)", "sin(x) + x")]
    with fitness_module.one_torch_thread():
        stacked = fitness_module._train_stacked(trees, fold, config)
        each = fitness_module._train_each(trees, fold, config)
    for a, b in zip(stacked, each, strict=True):
        assert a.status == b.status == "ok"
        assert a.auc == pytest.approx(b.auc, abs=2e-3)


@pytest.mark.slow
def test_fitness_sees_only_the_discovery_subset(data_dir: Path, tmp_path, monkeypatch) -> None:
    """Through the runner's discovery path on real Spambase: every row reaching the trainer is
    a discovery row, and poisoning all benchmark train/test rows changes nothing."""
    from nsad_bench.plan import make_plan
    from nsad_bench.runner import Report, Runner
    from nsad_bench.store import ResultsStore

    registry = load_registry()
    options = DataOptions(data_dir=data_dir, offline=True)
    clean = registry.get("dataset", "spambase").load(options)
    disc_rows, rest_rows = protocol.discovery_split(clean.y, protocol.ProtocolConfig())
    poisoned_X = clean.X.copy()
    poisoned_X[rest_rows] = 1e9  # every row any seed's train or test split can draw
    poisoned = dataclasses.replace(clean, X=poisoned_X)
    (X_disc,) = protocol.standardize(clean.X[disc_rows])

    # The search runs in a forked child: the trainer saves each fold it gets to a file.
    saved_dir = tmp_path / "folds"
    monkeypatch.setattr(
        fitness_module, "train_batch", _saving(fitness_module.train_batch, saved_dir)
    )
    params = {"evaluations": 12, "population_size": 6, "n_per_batch": 6, "epochs": 1,
              "final_top": 2, "final_repeats": 1, "max_candidates": 3}  # fmt: skip
    plan = make_plan(registry, datasets=["spambase"], discoverers=["search"],
                     discoverer_params={"search": params}, budget=Budget(seconds=120))  # fmt: skip

    def discover(data: Dataset, name: str) -> dict:
        with ResultsStore(tmp_path / f"{name}.sqlite") as store:
            Runner(registry, store, options).discover(plan, data, "search", Report())
            (row,) = store.formulas().to_dict("records")
        return row

    clean_row = discover(clean, "clean")
    poisoned_row = discover(poisoned, "poisoned")

    assert clean_row["status"] == poisoned_row["status"] == "ok"
    assert clean_row["candidates"] == poisoned_row["candidates"]
    saved = sorted(saved_dir.glob("*.npz"))
    assert len(saved) >= 4  # search and re-scoring batches of both runs
    for path in saved:
        fold = np.load(path)
        np.testing.assert_array_equal(fold["X"], X_disc)  # the matrix the trainer indexes
        np.testing.assert_array_equal(fold["y"], clean.y[disc_rows])
        train_rows, val_rows = fold["train_rows"], fold["val_rows"]
        assert len(np.intersect1d(train_rows, val_rows)) == 0
        assert len(train_rows) + len(val_rows) == len(disc_rows)


def _saving(trainer, directory: Path):
    """A trainer that also saves each fold it is given to ``directory`` (works across fork)."""
    directory.mkdir()

    def save(trees, fold, config):
        name = f"{time.monotonic_ns()}.npz"
        np.savez(directory / name, X=fold.X, y=fold.y, train_rows=fold.train_rows,
                 val_rows=fold.val_rows)  # fmt: skip
        return trainer(trees, fold, config)

    return save
