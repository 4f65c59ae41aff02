"""Network shapes: the paper's MLPs (Table 1, §3.2.2) and parameter counting."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn


def mlp(
    n_features: int, hidden: Sequence[int], make_activation: Callable[[], nn.Module]
) -> nn.Module:
    """Linear → BatchNorm1d → σ per hidden layer, then Linear(1) giving one logit.

    Heavy (200, 100) on 28 features has 26,601 parameters and Light (64, 32) has 4,161, as in
    the paper; BatchNorm's affine weights count, its running statistics do not.
    """
    layers: list[nn.Module] = []
    width = n_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.BatchNorm1d(size), make_activation()]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, computed from the model itself (never from a table)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
