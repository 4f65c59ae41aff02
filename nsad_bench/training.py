"""Training one network and measuring it (paper §4.2: Adam 1e-3, batch 1024, 15 epochs, BCE).

The loop gathers batches from tensors already in memory: a Light step at batch 1024 is
mostly framework overhead, so a per-sample DataLoader (1024 ``__getitem__`` calls and a
collate per batch) would dominate the run time. The batch order is the one
``DataLoader(data, shuffle=True, generator=torch.Generator().manual_seed(seed))`` draws
(:func:`epoch_order`), so a run gives that straightforward loop's results up to
floating-point noise. Many runs at once: :mod:`nsad_bench.batched`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nsad_bench.metrics import accuracy, auc, e_param
from nsad_bench.models import count_parameters


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.0
    #: Rows per forward pass when predicting the test split.
    eval_batch_size: int = 65536


@dataclass(frozen=True)
class Outcome:
    """What one run measured. ``status`` is "ok" or "diverged" (non-finite loss or output).

    ``train_seconds`` is wall time; for runs trained together in one pass it is that pass's
    time shared equally among them.
    """

    status: str
    params: int
    accuracy: float | None = None
    auc: float | None = None
    e_param: float | None = None
    diverged_epoch: int | None = None
    train_seconds: float = 0.0


def epoch_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """This epoch's row order, drawn exactly as a shuffling ``DataLoader`` draws it.

    Per epoch the loader takes one int64 from the generator (its workers' base seed), then
    its ``RandomSampler`` draws a permutation of the rows and, at the end of the pass, a
    second one it throws away. Drawing the same keeps the straightforward loop's batches.
    """
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    order = torch.randperm(n, generator=generator)
    torch.randperm(n, generator=generator)
    return order


def adam(params: Iterable[torch.Tensor], config: TrainConfig) -> torch.optim.Optimizer:
    """Adam with one fused kernel per tensor where torch has it (CPU since 2.4): the
    optimizer's per-tensor bookkeeping is a visible share of a small network's step."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def predict(model: nn.Module, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    model.eval()
    with torch.inference_mode():
        return torch.cat(
            [model(X[i : i + batch_size]).squeeze(1) for i in range(0, len(X), batch_size)]
        )


def train_and_evaluate(
    model: nn.Module,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    config: TrainConfig,
    seed: int,
) -> Outcome:
    """Train ``model`` on the training rows, then score it on the test rows.

    Divergence is checked once per epoch (one host sync per epoch, not per step): a
    non-finite epoch loss stops the run and records the 1-based epoch it happened in.
    """
    params = count_parameters(model)
    generator = torch.Generator().manual_seed(seed)
    Xt = torch.from_numpy(np.ascontiguousarray(X_train, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.float32))
    optimizer = adam(model.parameters(), config)
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(Xt)
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = epoch_order(n, generator)
        epoch_loss = torch.zeros(())
        for i in range(0, n, config.batch_size):
            rows = order[i : i + config.batch_size]
            if len(rows) < 2:  # BatchNorm cannot train on a single row
                continue
            optimizer.zero_grad(set_to_none=True)
            xb, yb = torch.index_select(Xt, 0, rows), torch.index_select(yt, 0, rows)
            loss = loss_fn(model(xb).squeeze(1), yb)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.detach()
        if not torch.isfinite(epoch_loss):
            return Outcome(
                "diverged",
                params,
                diverged_epoch=epoch,
                train_seconds=time.perf_counter() - started,
            )
    train_seconds = time.perf_counter() - started

    logits = predict(
        model,
        torch.from_numpy(np.ascontiguousarray(X_test, dtype=np.float32)),
        config.eval_batch_size,
    ).numpy()
    return score(np.asarray(y_test), logits, params, train_seconds, config)


def score(
    y_test: np.ndarray, logits: np.ndarray, params: int, seconds: float, config: TrainConfig
) -> Outcome:
    """The outcome of a trained network from its test logits; non-finite ones mean diverged."""
    if not np.isfinite(logits).all():
        return Outcome("diverged", params, diverged_epoch=config.epochs, train_seconds=seconds)
    auc_value = auc(y_test, logits)
    return Outcome(
        "ok",
        params,
        accuracy=accuracy(y_test, logits),
        auc=auc_value,
        e_param=e_param(auc_value, params),
        train_seconds=seconds,
    )
