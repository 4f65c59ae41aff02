"""The lean and the stacked training paths give the straightforward loop's results."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nsad_bench import execution, hookimpl, protocol
from nsad_bench.batched import Member, shape_of, train_group
from nsad_bench.components import (
    ActivationSpec,
    ArchitectureSpec,
    DataOptions,
    Dataset,
    DatasetProvider,
)
from nsad_bench.executors import torch_threads
from nsad_bench.metrics import auc
from nsad_bench.models import count_parameters, mlp
from nsad_bench.plan import ActivationChoice
from nsad_bench.plugins import load_registry
from nsad_bench.training import TrainConfig, epoch_order, train_and_evaluate

CONFIG = TrainConfig(epochs=3, batch_size=256)


@pytest.fixture(autouse=True)
def one_thread():
    """Train as every nsad-bench worker does: one torch thread."""
    with torch_threads(1):
        yield


PROTOCOL = protocol.ProtocolConfig()


def synthetic(rows: int = 3000, features: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32) * 3 + 1
    y = (X[:, 0] - X[:, 1] + rng.standard_normal(rows) > 1).astype(np.int64)
    return X, y


class ExpExpExp(nn.Module):
    """An activation that overflows to inf within the first steps."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(torch.exp(torch.exp(x)))


def member(X, y, seed, hidden, make_activation, key) -> Member:
    split = protocol.split(y, seed, PROTOCOL)
    mean, std = execution.mean_std(X, split.train)
    torch.manual_seed(seed)
    model = mlp(X.shape[1], hidden, make_activation)
    return Member(model, seed, split.train, split.test, mean, std, key)


def single(X, y, seed, hidden, make_activation, config=CONFIG):
    """The one-model lean loop on materialised standardised arrays."""
    split = protocol.split(y, seed, PROTOCOL)
    X_train, X_test = protocol.standardize(X[split.train], X[split.test])
    torch.manual_seed(seed)
    model = mlp(X.shape[1], hidden, make_activation)
    return train_and_evaluate(model, X_train, y[split.train], X_test, y[split.test], config, seed)


def straightforward(X, y, seed, hidden, make_activation, config=CONFIG) -> float:
    """The plain PyTorch loop the lean one replaces: DataLoader, default Adam, item() per step."""
    split = protocol.split(y, seed, PROTOCOL)
    X_train, X_test = protocol.standardize(X[split.train], X[split.test])
    torch.manual_seed(seed)
    model = mlp(X.shape[1], hidden, make_activation)
    data = TensorDataset(torch.tensor(X_train), torch.tensor(y[split.train], dtype=torch.float32))
    loader = DataLoader(
        data,
        batch_size=config.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        drop_last=len(data) % config.batch_size == 1,  # BatchNorm cannot train on one row
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(config.epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)
            loss.backward()
            optimizer.step()
            assert np.isfinite(loss.item())
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor(X_test)).squeeze(1).numpy()
    return auc(y[split.test], logits)


def test_epoch_order_is_the_shuffling_dataloaders():
    data = TensorDataset(torch.arange(1000))
    loader = DataLoader(
        data, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(7)
    )
    generator = torch.Generator().manual_seed(7)
    for _ in range(3):
        assert torch.equal(torch.cat([b for (b,) in loader]), epoch_order(1000, generator))


@pytest.mark.parametrize("make_activation", [nn.ReLU, nn.GELU])
def test_lean_loop_reproduces_the_straightforward_loop(make_activation):
    X, y = synthetic()
    for seed in (42, 43):
        reference = straightforward(X, y, seed, (64, 32), make_activation)
        lean = single(X, y, seed, (64, 32), make_activation)
        assert lean.status == "ok"
        assert lean.auc == pytest.approx(reference, abs=2e-4)


def test_stacked_group_equals_single_runs_with_exact_parameter_counts():
    X, y = synthetic()
    acts = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}
    chosen = [(key, seed) for key in acts for seed in (42, 43)]
    for hidden, params in (((64, 32), 4_161), ((200, 100), 26_601)):
        group = [member(X, y, seed, hidden, acts[key], key) for key, seed in chosen]
        outcomes = train_group(X, y, group, CONFIG)
        for (key, seed), outcome in zip(chosen, outcomes, strict=True):
            alone = single(X, y, seed, hidden, acts[key])
            assert outcome.status == alone.status == "ok"
            assert outcome.params == alone.params == params
            assert outcome.auc == pytest.approx(alone.auc, abs=2e-4)
            assert outcome.accuracy == pytest.approx(alone.accuracy, abs=2e-3)


def test_a_diverging_model_leaves_its_group_without_touching_the_others():
    X, y = synthetic()
    config = replace(CONFIG, epochs=2)
    healthy = [("relu", nn.ReLU, 42), ("gelu", nn.GELU, 43)]
    alone = train_group(X, y, [member(X, y, s, (64, 32), a, k) for k, a, s in healthy], config)
    mixed = [("relu", nn.ReLU, 42), ("exp3", ExpExpExp, 42), ("gelu", nn.GELU, 43)]
    outcomes = train_group(X, y, [member(X, y, s, (64, 32), a, k) for k, a, s in mixed], config)
    relu, exp3, gelu = outcomes
    assert exp3.status == "diverged" and exp3.diverged_epoch == 1 and exp3.auc is None
    assert exp3.params == 4_161
    assert relu.status == gelu.status == "ok"
    assert relu.auc == pytest.approx(alone[0].auc, abs=2e-4)
    assert gelu.auc == pytest.approx(alone[1].auc, abs=2e-4)


def test_a_group_whose_models_all_diverge_reports_each():
    X, y = synthetic(rows=800)
    group = [member(X, y, s, (64, 32), ExpExpExp, "exp3") for s in (1, 2)]
    assert [o.diverged_epoch for o in train_group(X, y, group, CONFIG)] == [1, 1]


def test_only_plain_mlps_stack():
    assert shape_of(mlp(5, (4, 3), nn.ReLU)).widths == (5, 4, 3, 1)
    assert shape_of(nn.Sequential(nn.Linear(5, 1))).widths == (5, 1)
    assert shape_of(nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1))) is None
    assert shape_of(mlp(5, (4,), lambda: nn.PReLU())) is None  # a learnable activation


def test_mean_std_matches_the_protocol_standardisation():
    X, y = synthetic()
    X[:, 3] = 2.0  # a constant feature: std 0 becomes 1
    rows = protocol.split(y, 42, PROTOCOL).train
    mean, std = execution.mean_std(X, rows, chunk=333)
    (expected,) = protocol.standardize(X[rows])
    np.testing.assert_allclose((X[rows] - mean) / std, expected, atol=1e-5)
    assert std[3] == 1.0


# ---------------------------------------------------------------- jobs through execution


class _TestPlugin:
    """A synthetic dataset, the diverging activation and an unstackable architecture."""

    @hookimpl
    def nsad_datasets(self):
        def load(options: DataOptions) -> Dataset:
            X, y = synthetic(rows=2000)
            return Dataset("synthetic", X, y, task="binary: synthetic", source="tests")

        return [DatasetProvider(name="synthetic", load=load, task="binary: synthetic")]

    @hookimpl
    def nsad_activations(self):
        return [ActivationSpec(name="exp3", factory=ExpExpExp, description="overflows")]

    @hookimpl
    def nsad_architectures(self):
        def build(n_features, make_activation):
            return nn.Sequential(nn.Linear(n_features, 8), make_activation(), nn.Linear(8, 1))

        return [ArchitectureSpec(name="nobn", build=build, hidden=(8,))]


@pytest.fixture
def test_registry():
    registry = load_registry([("tests", _TestPlugin())])
    execution.use_registry(registry)
    execution.load_dataset.cache_clear()
    yield registry
    execution.use_registry(load_registry())
    execution.load_dataset.cache_clear()


def job(architecture: str, activation: str, seed: int, epochs: int = 2) -> execution.Job:
    return execution.Job(
        run_id=f"{architecture}-{activation}-{seed}",
        dataset="synthetic",
        architecture=architecture,
        activation=ActivationChoice(activation, "baseline"),
        seed=seed,
        formula=None,
        train=TrainConfig(epochs=epochs, batch_size=256),
        protocol=PROTOCOL,
        data_options=DataOptions(offline=True),
        compiler="torch",
    )


def test_execute_group_rows_match_execute_one_by_one(test_registry):
    jobs = [job("light", "relu", 42), job("light", "exp3", 42), job("light", "gelu", 43),
            job("heavy", "relu", 42), job("nobn", "relu", 42), job("light", "nope", 1)]  # fmt: skip
    rows = execution.execute_group(jobs)
    assert [r["run_id"] for r in rows] == [j.run_id for j in jobs]
    status = {r["run_id"]: r["status"] for r in rows}
    assert status == {
        "light-relu-42": "ok", "light-exp3-42": "diverged", "light-gelu-43": "ok",
        "heavy-relu-42": "ok", "nobn-relu-42": "ok", "light-nope-1": "failed",
    }  # fmt: skip
    assert rows[1]["diverged_epoch"] == 1
    assert "unknown activation 'nope'" in rows[5]["error"]
    assert rows[0]["params"] == count_parameters(mlp(28, (64, 32), nn.ReLU))
    for one, row in zip(jobs[:5], rows[:5], strict=True):
        alone = execution.execute(one)
        assert alone["status"] == row["status"]
        if row["status"] == "ok":
            assert alone["auc"] == pytest.approx(row["auc"], abs=2e-4)
            assert alone["params"] == row["params"]


def test_groups_stack_seeds_and_activations_but_not_architectures(test_registry):
    jobs = [job(a, act, s) for a in ("light", "heavy") for act in ("relu", "gelu", "silu")
            for s in (42, 43, 44)]  # fmt: skip
    groups = execution.group_jobs(jobs)
    assert sorted(j.run_id for g in groups for j in g) == sorted(j.run_id for j in jobs)
    for group in groups:
        assert len({j.architecture for j in group}) == 1
        width = 64 if group[0].architecture == "light" else 200
        limit = execution.STACK_BYTES // (4 * 256 * width)  # the stack fits in L2
        assert 1 <= len(group) <= limit
    costs = [sum(execution._cost(j) for j in g) for g in groups]
    assert costs == sorted(costs, reverse=True)
    assert execution.group_jobs(jobs) == groups  # a function of the jobs alone


def test_stacked_runs_match_single_runs_on_real_spambase(data_dir):
    data = load_registry().get("dataset", "spambase").load(DataOptions(data_dir=data_dir))
    X, y = data.X, data.y
    config = TrainConfig(epochs=5)
    acts = {"relu": nn.ReLU, "silu": nn.SiLU}
    chosen = [(k, s) for k in acts for s in (42, 43)]
    outcomes = train_group(X, y, [member(X, y, s, (64, 32), acts[k], k) for k, s in chosen], config)
    for (key, seed), outcome in zip(chosen, outcomes, strict=True):
        alone = single(X, y, seed, (64, 32), acts[key], config)
        assert outcome.params == alone.params == 6_017
        assert outcome.auc == pytest.approx(alone.auc, abs=2e-4)
        assert outcome.auc == pytest.approx(
            straightforward(X, y, seed, (64, 32), acts[key], config), abs=2e-4
        )
