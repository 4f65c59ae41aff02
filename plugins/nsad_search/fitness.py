"""Fitness of a candidate activation: the validation AUC of the small network it serves.

A candidate is scored by training a Light network (Linear-BN-σ 64 → 32 → 1, the benchmark's
own :func:`nsad_bench.models.mlp` and trainer: Adam on binary cross-entropy) for a few
epochs with the candidate as σ, then measuring AUC on held-out rows. Every row it uses
comes from the discovery subset the core hands to the discoverer, split here into a
*fold*: a stratified train/validation split with its own seed. The benchmark's train and
test rows never reach this module.

Within one fold every candidate starts from the same initial weights and sees the same
mini-batches in the same order (common random numbers), so differences in fitness come
from the activation rather than from the draw.

Degenerate candidates (constant, linear or non-finite on the formula layer's probe grid)
are rejected by the search before they get here; :meth:`Fitness.score` refuses them too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nsad_bench.formula import Node, infix, judge

#: Fitness given to a network whose training diverged when averaging replicates: chance AUC.
DIVERGED_AUC = 0.5


@dataclass(frozen=True)
class FitnessConfig:
    """How one candidate's network is trained (the benchmark's trainer, briefly)."""

    hidden: tuple[int, ...] = (64, 32)
    epochs: int = 3
    batch_size: int = 256
    lr: float = 1e-3
    validation_fraction: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 < self.validation_fraction < 1.0:
            fraction = self.validation_fraction
            raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be at least 1 and batch_size at least 2")


@dataclass(frozen=True)
class Fold:
    """One train/validation split of the discovery subset, standardized by its train part.

    ``X`` and ``y`` are the discovery subset as the discoverer received it; ``train_rows``
    and ``val_rows`` index it, and ``mean``/``std`` are those of ``X[train_rows]``.
    """

    X: np.ndarray
    y: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    #: Seeds the initial weights and the mini-batch order of every network in this fold.
    seed: int

    def standardized(self, rows: np.ndarray) -> np.ndarray:
        return ((self.X[rows] - self.mean) / self.std).astype(np.float32)


def make_fold(X: np.ndarray, y: np.ndarray, validation_fraction: float, seed: int) -> Fold:
    """A stratified split of ``X, y`` (stratification keeps both classes in a small
    validation part), scaled by the mean and std of its train part only."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    train_rows, val_rows = train_test_split(
        rows, test_size=validation_fraction, stratify=y, random_state=seed
    )
    train_rows, val_rows = np.sort(train_rows), np.sort(val_rows)
    mean = X[train_rows].mean(axis=0, dtype=np.float64)
    std = X[train_rows].std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0
    return Fold(
        X=np.asarray(X, dtype=np.float32),
        y=np.asarray(y, dtype=np.float32),
        train_rows=train_rows,
        val_rows=val_rows,
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
        seed=seed,
    )


def train_batch(trees: Sequence[Node], fold: Fold, config: FitnessConfig) -> list[float | None]:
    """Validation AUC of one freshly initialized network per tree; None where it diverged.

    This is the only place the search trains networks: all of them in one stacked pass of
    the core's many-models trainer (:func:`_train_stacked`, which the benchmark's own runs
    use too), or one at a time with the single-model loop (:func:`_train_each`). The two agree
    to float rounding (about 1e-4 AUC for smooth activations; discontinuous ones such as
    ``inv`` can amplify the rounding into larger differences).
    """
    with one_torch_thread():
        outcomes = _train_stacked(trees, fold, config)
    return [outcome.auc if outcome.status == "ok" else None for outcome in outcomes]


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread: these networks are far too small to gain from more,
    and on a busy machine a second thread waiting for a core makes every step many times
    slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _networks(trees: Sequence[Node], fold: Fold, config: FitnessConfig) -> list[Any]:
    """One Light network per tree, each starting from the same weights (seeded by the fold)."""
    import torch

    from nsad_bench.activation import compile_formula
    from nsad_bench.models import mlp

    n_features = fold.X.shape[1]
    models = []
    for tree in trees:
        torch.manual_seed(fold.seed)
        models.append(mlp(n_features, config.hidden, lambda tree=tree: compile_formula(tree)))
    return models


def _train_config(config: FitnessConfig) -> Any:
    from nsad_bench.training import TrainConfig

    return TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr)


def _train_stacked(trees: Sequence[Node], fold: Fold, config: FitnessConfig) -> list[Any]:
    """Every tree's network trained in one pass of :func:`nsad_bench.batched.train_group`."""
    from nsad_bench.batched import Member, train_group

    members = [
        Member(model, fold.seed, fold.train_rows, fold.val_rows, fold.mean, fold.std, i)
        for i, model in enumerate(_networks(trees, fold, config))
    ]
    return train_group(fold.X, fold.y, members, _train_config(config))


def _train_each(trees: Sequence[Node], fold: Fold, config: FitnessConfig) -> list[Any]:
    """Every tree's network trained on its own by :func:`nsad_bench.training.train_and_evaluate`."""
    from nsad_bench.training import train_and_evaluate

    X_train, X_val = fold.standardized(fold.train_rows), fold.standardized(fold.val_rows)
    y_train, y_val = fold.y[fold.train_rows], fold.y[fold.val_rows]
    train = _train_config(config)
    return [
        train_and_evaluate(model, X_train, y_train, X_val, y_val, train, fold.seed)
        for model in _networks(trees, fold, config)
    ]


class Fitness:
    """Scores candidate trees on folds of one discovery subset and counts the networks trained.

    Replicate ``r`` is a fold with its own split and seed, derived from ``seed`` and ``r``;
    the search scores every candidate on replicate 0 and re-scores its best on fresh ones.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, config: FitnessConfig, seed: int) -> None:
        self.X = np.asarray(X, dtype=np.float32)
        self.y = np.asarray(y)
        self.config = config
        self.seed = seed
        self.trained = 0
        self._folds: dict[int, Fold] = {}

    def fold(self, replicate: int) -> Fold:
        if replicate not in self._folds:
            state = np.random.SeedSequence([self.seed, replicate]).generate_state(1)[0]
            self._folds[replicate] = make_fold(
                self.X, self.y, self.config.validation_fraction, int(state % 2**31)
            )
        return self._folds[replicate]

    def score(self, trees: Sequence[Node], replicate: int) -> list[float | None]:
        """Validation AUC per tree on ``replicate`` (None: diverged). A degenerate tree is a
        ValueError: the search must have rejected it without training."""
        for tree in trees:
            verdict = judge(tree)
            if verdict != "ok":
                raise ValueError(f"refusing to train a {verdict} candidate: {infix(tree)}")
        if not trees:
            return []
        scores = train_batch(trees, self.fold(replicate), self.config)
        self.trained += len(trees)
        return scores
