"""Formula activations: a generalized formula tree compiled into a torch module.

The tree is compiled once, at construction, into nested Python closures over the torch
implementations in :data:`nsad_bench.operators.OPERATORS`; no text is ever executed. The
module has no parameters, so a hybrid network has exactly the parameter count of its
baseline twin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from nsad_bench.formula import Formula, FormulaError, Node, check, infix, make_formula
from nsad_bench.operators import OPERATORS

TensorFn = Callable[[torch.Tensor], torch.Tensor]


def _compile(node: Node) -> TensorFn:
    """Nested closures evaluating ``node`` elementwise; every variable is the input."""
    if node.op == "var":
        return _identity
    if node.op == "const":
        value = float(node.value or 0.0)

        def constant(x: torch.Tensor) -> torch.Tensor:
            return x.new_full((), value)  # a 0-d tensor broadcasts like a scalar

        return constant
    operation = OPERATORS[node.op].torch
    parts = [_compile(child) for child in node.children]
    if len(parts) == 1:
        (inner,) = parts

        def unary(x: torch.Tensor) -> torch.Tensor:
            return operation(inner(x))

        return unary
    left, right = parts

    def binary(x: torch.Tensor) -> torch.Tensor:
        return operation(left(x), right(x))

    return binary


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


class FormulaActivation(nn.Module):
    """An elementwise activation computing a formula with the protected torch semantics.

    Accepts a :class:`~nsad_bench.formula.Formula`, a checked
    :class:`~nsad_bench.formula.Node`, or program text (parsed by the restricted parser, so
    an injection attempt raises :class:`~nsad_bench.formula.FormulaError`). Pickling keeps
    only the tree; the closures are rebuilt on unpickling, so models travel between processes.
    """

    def __init__(self, formula: Formula | Node | str) -> None:
        super().__init__()
        if isinstance(formula, str):
            formula = make_formula(formula)
        if isinstance(formula, Formula):
            tree, text = formula.tree, formula.infix
        elif isinstance(formula, Node):
            tree, text = check(formula), infix(formula)
        else:
            raise FormulaError(f"cannot compile {type(formula).__name__} into an activation")
        self.tree = tree
        self.text = text
        self._fn = _compile(tree)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._fn(x)
        return out if out.shape == x.shape else out.expand(x.shape).clone()

    def extra_repr(self) -> str:
        return self.text

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_fn", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._fn = _compile(self.tree)


def compile_formula(formula: Formula | Node | str) -> nn.Module:
    """The built-in compiler: a :class:`FormulaActivation` for ``formula``."""
    return FormulaActivation(formula)
