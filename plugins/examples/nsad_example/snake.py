"""The Snake activation, ``x + sin²(a·x) / a`` (Liu Ziyin et al., NeurIPS 2020).

Snake is monotone-ish like ReLU for large ``|x|`` yet periodic in its residual, so it is a
natural hand-made rival to the periodic formulas genetic programming tends to find
(``x·cos x``). This module imports torch, so the plugin imports it only when a network is
built, never while nsad-bench merely lists what is registered.
"""

from __future__ import annotations

import torch
from torch import nn


class Snake(nn.Module):
    """``x + sin(a x)**2 / a`` with a fixed frequency ``a`` (1 by default)."""

    def __init__(self, a: float = 1.0) -> None:
        super().__init__()
        if a <= 0:
            raise ValueError(f"Snake frequency must be positive, got {a}")
        self.a = float(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.sin(self.a * x).pow(2) / self.a

    def extra_repr(self) -> str:
        return f"a={self.a}"
