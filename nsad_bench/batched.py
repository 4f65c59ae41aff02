"""Training many MLPs in one pass: the seeds and activations of one dataset and architecture.

A Light step at batch 1024 is a few dozen small kernels, each with a fixed cost, so M models
run as one stack (each layer one batched matrix product, one batch norm over all M·width
channels, one fused optimizer step over stacked tensors) do each step's bookkeeping once.
On one core here a stack of four Light models takes about 0.8 ms per model and step, one
model alone about 1.4 ms. Heavy models are already arithmetic-bound and gain nothing.

Each model keeps everything that makes it *its* run: its initialisation (built by the
architecture plugin after ``torch.manual_seed(seed)``), its batch order (a generator seeded
by its seed), its own train/test rows and standardisation, its own metrics, parameter count
and divergence status. Every product and normalisation works on one model's slice only, so
a model's numbers are the ones it gets alone, up to floating-point rounding (the kernels
torch picks can differ with the size of the stack).

Features are standardised per batch from the raw float32 matrix (one copy shared by every
model and seed) instead of materialising a standardised copy per seed, so memory stays near
the size of the data however many seeds train together.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nsad_bench.models import count_parameters
from nsad_bench.training import Outcome, TrainConfig, adam, epoch_order, score

#: Rows scored per forward pass, over all models of a stack. Scoring stays a small part of a
#: run, and its buffers stay near 1 MiB: larger ones push glibc's malloc to keep freed
#: blocks in the heap, and the process's RSS then grows with the size of the test split.
EVAL_ROWS = 4096


@dataclass(frozen=True)
class Shape:
    """What models must share to be stacked: widths and batch-norm settings."""

    widths: tuple[int, ...]  # n_features, hidden..., 1
    eps: float
    momentum: float


@dataclass
class Member:
    """One run of a group: a freshly built model and the rows its seed selects.

    ``train_rows`` and ``test_rows`` index the group's feature matrix; ``mean`` and ``std``
    standardise it as the training rows dictate. ``activation`` says which members share an
    activation function (their activation modules are interchangeable).
    """

    model: nn.Module
    seed: int
    train_rows: np.ndarray
    test_rows: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    activation: Hashable = None


_Block = tuple[nn.Linear, nn.BatchNorm1d, nn.Module]


def _layers(model: nn.Module) -> tuple[list[_Block], nn.Linear]:
    """The hidden blocks and output layer of a Linear→BatchNorm1d→σ MLP, or ValueError."""
    if type(model) is not nn.Sequential:
        raise ValueError("not an nn.Sequential")
    mods = list(model.children())
    if len(mods) % 3 != 1:
        raise ValueError("not Linear-BatchNorm1d-activation blocks plus an output layer")
    blocks = []
    for i in range(0, len(mods) - 1, 3):
        linear, norm, act = mods[i : i + 3]
        if type(linear) is not nn.Linear or linear.bias is None:
            raise ValueError(f"layer {i} is not a Linear with bias")
        if type(norm) is not nn.BatchNorm1d or not (
            norm.affine and norm.track_running_stats and norm.momentum is not None
        ):
            raise ValueError(f"layer {i + 1} is not an affine, tracking BatchNorm1d")
        if any(True for _ in act.parameters()) or any(True for _ in act.buffers()):
            raise ValueError(f"activation at layer {i + 2} has parameters or buffers")
        if norm.num_features != linear.out_features:
            raise ValueError(f"layer {i + 1} does not match the width of layer {i}")
        blocks.append((linear, norm, act))
    out = mods[-1]
    if type(out) is not nn.Linear or out.bias is None or out.out_features != 1:
        raise ValueError("the last layer is not a Linear with one output")
    return blocks, out


def shape_of(model: nn.Module) -> Shape | None:
    """The stacking shape of ``model``, or None when it is not a plain MLP this module trains."""
    try:
        blocks, out = _layers(model)
    except ValueError:
        return None
    norms = {(n.eps, n.momentum) for _, n, _ in blocks}
    if len(norms) > 1:
        return None
    eps, momentum = norms.pop() if norms else (1e-5, 0.1)
    widths = tuple(lin.in_features for lin, _, _ in blocks) + (out.in_features, 1)
    return Shape(widths, float(eps), float(momentum))


class _Stack:
    """The parameters, batch-norm statistics and activations of M models, stacked.

    Weights are (M, out, in) so a layer maps (M, in, B) to (M, out, B) with one ``baddbmm``,
    and each layer's M·out channels are one contiguous batch-norm input of shape
    (1, M·out, B).
    """

    def __init__(self, models: Sequence[nn.Module], activations: Sequence[Hashable]) -> None:
        layers = [_layers(m) for m in models]
        first_norm = layers[0][0][0][1] if layers[0][0] else None
        self.eps = float(first_norm.eps) if first_norm else 1e-5
        self.momentum = float(first_norm.momentum) if first_norm else 0.1
        n_hidden = len(layers[0][0])

        def stacked(tensors) -> torch.Tensor:
            return torch.stack([t.detach() for t in tensors]).clone()

        self.weights, self.biases = [], []
        self.gammas, self.betas, self.means, self.vars = [], [], [], []
        for k in range(n_hidden):
            linears = [blocks[k][0] for blocks, _ in layers]
            norms = [blocks[k][1] for blocks, _ in layers]
            self.weights.append(stacked(lin.weight for lin in linears))
            self.biases.append(stacked(lin.bias for lin in linears).unsqueeze(2))
            self.gammas.append(stacked(bn.weight for bn in norms).flatten())
            self.betas.append(stacked(bn.bias for bn in norms).flatten())
            self.means.append(stacked(bn.running_mean for bn in norms).flatten())
            self.vars.append(stacked(bn.running_var for bn in norms).flatten())
        self.weights.append(stacked(out.weight for _, out in layers))
        self.biases.append(stacked(out.bias for _, out in layers).unsqueeze(2))
        for p in self.parameters():
            p.requires_grad_(True)
        # Runs of members sharing an activation: (start, stop, one module per hidden layer).
        self.segments: list[tuple[int, int, list[nn.Module]]] = []
        start = 0
        for i in range(1, len(models) + 1):
            if i == len(models) or activations[i] != activations[start]:
                acts = [layers[start][0][k][2] for k in range(n_hidden)]
                self.segments.append((start, i, acts))
                start = i
        self.size = len(models)

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases, *self.gammas, *self.betas]

    def _activate(self, h: torch.Tensor, k: int) -> torch.Tensor:
        if len(self.segments) == 1:
            return self.segments[0][2][k](h)
        parts = h.split([b - a for a, b, _ in self.segments])
        pairs = zip(parts, self.segments, strict=True)
        return torch.cat([acts[k](part) for part, (_, _, acts) in pairs])

    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        """Logits (M, B) of inputs ``x`` (M, in, B)."""
        h = x
        m = self.size
        for k in range(len(self.gammas)):
            h = torch.baddbmm(self.biases[k], self.weights[k], h)
            width, rows = h.shape[1], h.shape[2]
            h = F.batch_norm(
                h.view(1, m * width, rows),
                self.means[k],
                self.vars[k],
                self.gammas[k],
                self.betas[k],
                training=training,
                momentum=self.momentum,
                eps=self.eps,
            ).view(m, width, rows)
            h = self._activate(h, k)
        return torch.baddbmm(self.biases[-1], self.weights[-1], h).squeeze(1)

    def select(self, keep: list[int], optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """Keep only members ``keep`` (sorted), carrying their optimizer state over exactly."""
        index = torch.tensor(keep)
        old = self.parameters()
        widths = [w.shape[1] for w in self.weights[:-1]]

        def rows(t: torch.Tensor, width: int | None) -> torch.Tensor:
            if width is None:
                return t.detach()[index].clone()
            return t.detach().view(self.size, width)[index].flatten().clone()

        per_param = [None] * (2 * len(self.weights)) + widths + widths
        new = [rows(p, w).requires_grad_(True) for p, w in zip(old, per_param, strict=True)]
        n = len(self.weights)
        self.weights, self.biases = new[:n], new[n : 2 * n]
        self.gammas, self.betas = new[2 * n : 2 * n + len(widths)], new[2 * n + len(widths) :]
        self.means = [rows(t, w) for t, w in zip(self.means, widths, strict=True)]
        self.vars = [rows(t, w) for t, w in zip(self.vars, widths, strict=True)]
        replacement = type(optimizer)(new, **optimizer.defaults)
        for p, q, w in zip(old, new, per_param, strict=True):
            state = optimizer.state.get(p)
            if state:
                replacement.state[q] = {
                    key: rows(v, w) if v.ndim else v.clone() for key, v in state.items()
                }
        segments, start = [], 0
        for a, b, acts in self.segments:
            count = sum(1 for i in keep if a <= i < b)
            if count:
                segments.append((start, start + count, acts))
                start += count
        self.segments = segments
        self.size = len(keep)
        return replacement


def tensor_of(array: np.ndarray) -> torch.Tensor:
    """A torch view of a float32 array, read-only arrays included (it is never written)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _standardized(
    X: torch.Tensor, rows: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """Rows ``rows`` (M, B) of ``X``, standardised per member, as (M, features, B)."""
    m, b = rows.shape
    x = torch.index_select(X, 0, rows.reshape(-1)).view(m, b, -1)
    return x.sub_(mean).div_(std).transpose(1, 2)


def train_group(
    X: np.ndarray, y: np.ndarray, members: Sequence[Member], config: TrainConfig
) -> list[Outcome]:
    """Train every member on its own rows of ``X, y`` in one pass; one Outcome per member.

    Members must share a :class:`Shape` and their split sizes (same dataset and protocol).
    Divergence is checked once per epoch: a member whose epoch loss is non-finite leaves the
    pass with status "diverged" and that 1-based epoch; the others go on unchanged.
    ``train_seconds`` is the pass's wall time shared equally among the members in it.
    """
    if not members:
        return []
    shapes = {shape_of(m.model) for m in members}
    if None in shapes or len(shapes) != 1:
        raise ValueError("members must be MLPs of one shape")
    if (
        len({len(m.train_rows) for m in members}) != 1
        or len({len(m.test_rows) for m in members}) != 1
    ):
        raise ValueError("members must have equally many train and test rows")

    order = sorted(range(len(members)), key=lambda i: str(members[i].activation))
    group = [members[i] for i in order]
    params = [count_parameters(m.model) for m in group]
    for m in group:
        m.model.train()
    stack = _Stack([m.model for m in group], [m.activation for m in group])
    Xt = tensor_of(X)
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32))
    # Row indices are int32: with one index row per member and epoch they are the largest
    # arrays a group holds besides the data itself.
    train_rows = torch.stack([torch.from_numpy(np.asarray(m.train_rows, np.int32)) for m in group])
    test_rows = torch.stack([torch.from_numpy(np.asarray(m.test_rows, np.int32)) for m in group])
    mean = torch.stack([torch.from_numpy(np.asarray(m.mean, np.float32)) for m in group])
    std = torch.stack([torch.from_numpy(np.asarray(m.std, np.float32)) for m in group])
    mean, std = mean.unsqueeze(1), std.unsqueeze(1)
    generators = [torch.Generator().manual_seed(m.seed) for m in group]
    optimizer = adam(stack.parameters(), config)

    alive = list(range(len(group)))  # positions in ``group`` of the members still training
    results: dict[int, Outcome] = {}
    seconds = [0.0] * len(group)
    n = train_rows.shape[1]
    for epoch in range(1, config.epochs + 1):
        tick = time.perf_counter()
        batches = torch.stack(
            [train_rows[j][epoch_order(n, generators[j])] for j in range(len(alive))]
        )
        epoch_loss = torch.zeros(len(alive))
        for i in range(0, n, config.batch_size):
            rows = batches[:, i : i + config.batch_size]
            if rows.shape[1] < 2:  # BatchNorm cannot train on a single row
                continue
            x = _standardized(Xt, rows, mean, std)
            logits = stack.forward(x, training=True)
            targets = torch.index_select(yt, 0, rows.reshape(-1)).view(rows.shape)
            loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(1)
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimizer.step()
            epoch_loss += loss.detach()
        share = (time.perf_counter() - tick) / len(alive)
        for i in alive:
            seconds[i] += share
        finite = torch.isfinite(epoch_loss).tolist()
        if all(finite):
            continue
        for pos, ok in zip(alive, finite, strict=True):
            if not ok:
                results[pos] = Outcome(
                    "diverged", params[pos], diverged_epoch=epoch, train_seconds=seconds[pos]
                )
        keep = [j for j, ok in enumerate(finite) if ok]
        alive = [alive[j] for j in keep]
        if not alive:
            break
        optimizer = stack.select(keep, optimizer)
        index = torch.tensor(keep)
        train_rows, test_rows = train_rows[index], test_rows[index]
        mean, std = mean[index], std[index]
        generators = [generators[j] for j in keep]

    if alive:
        logits = _predict(stack, Xt, test_rows, mean, std, config.eval_batch_size).numpy()
        for j, pos in enumerate(alive):
            results[pos] = score(
                np.asarray(y)[group[pos].test_rows], logits[j], params[pos], seconds[pos], config
            )
    outcomes: list[Outcome | None] = [None] * len(members)
    for pos, original in enumerate(order):
        outcomes[original] = results[pos]
    return outcomes  # type: ignore[return-value]


def _predict(
    stack: _Stack,
    X: torch.Tensor,
    rows: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    eval_batch_size: int,
) -> torch.Tensor:
    """Test logits (M, n_test), in passes of at most ``eval_batch_size`` and
    :data:`EVAL_ROWS` rows over all models (what bounds the memory of scoring)."""
    chunk = max(1, min(eval_batch_size, EVAL_ROWS) // stack.size)
    with torch.inference_mode():
        return torch.cat(
            [
                stack.forward(_standardized(X, rows[:, i : i + chunk], mean, std), training=False)
                for i in range(0, rows.shape[1], chunk)
            ],
            dim=1,
        )


__all__ = ["Member", "Shape", "shape_of", "train_group"]
