"""The search space: expressions in one variable ``x`` over the formula layer's operators.

Every expression is a :class:`nsad_bench.formula.Node` tree, so a candidate is judged,
compiled and printed by exactly the code that later turns the winner into an activation.

Two ways to draw a fresh expression:

* the *core unit* of Ramachandran et al. 2017 ("Searching for Activation Functions"),
  ``b(u1(x), u2(x))`` with a binary operator ``b`` and unary operands ``u``, where an operand
  may also be ``x`` itself or a small constant (their ``x`` and ``beta``); Swish is
  ``mul(x, sigmoid(x))`` in this form;
* a random tree of bounded depth, grown or full (ramped half-and-half, as in gplearn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nsad_bench.formula import Node
from nsad_bench.operators import OPERATORS

from . import BINARY, UNARY

#: Chance that a node below the root of a grown tree is a leaf; keeps grown trees small
#: (gplearn's grow picks leaves in proportion to the terminal count, which for one variable
#: would make almost every tree as deep as allowed).
P_GROW_LEAF = 0.3

X = Node("var", name="x")


def constant(value: float) -> Node:
    return Node("const", value=float(value))


def depth(node: Node) -> int:
    """Levels in the tree: ``x`` is 1, ``sin(x)`` is 2, the core unit is 3."""
    return 1 + max((depth(child) for child in node.children), default=0)


def size(node: Node) -> int:
    """Nodes in the tree; reported as a candidate's complexity."""
    return 1 + sum(size(child) for child in node.children)


@dataclass(frozen=True)
class SearchSpace:
    """Which operators, constants and depths an expression may use."""

    unary: tuple[str, ...] = UNARY
    binary: tuple[str, ...] = BINARY
    #: Constants are drawn uniformly from this range and rounded to ``const_digits``.
    const_range: tuple[float, float] = (-2.0, 2.0)
    const_digits: int = 2
    #: Chance that a leaf of a random tree is a constant rather than ``x``.
    p_constant: float = 0.2
    #: Deepest tree allowed anywhere in the search.
    max_depth: int = 5

    def __post_init__(self) -> None:
        for name, arity in [(n, 1) for n in self.unary] + [(n, 2) for n in self.binary]:
            operator = OPERATORS.get(name)
            if operator is None or operator.arity != arity or name == "pow":
                raise ValueError(f"{name!r} is not a {arity}-ary operator of the formula layer")
        if not self.unary or not self.binary:
            raise ValueError("the search space needs at least one unary and one binary operator")
        low, high = self.const_range
        if not low < high:
            raise ValueError(f"const_range must be (low, high) with low < high, got {low, high}")
        if self.max_depth < 3:
            raise ValueError("max_depth must be at least 3, the depth of the core unit")

    # ------------------------------------------------------------------------- leaves

    def random_constant(self, rng: np.random.Generator) -> Node:
        low, high = self.const_range
        return constant(round(float(rng.uniform(low, high)), self.const_digits))

    def random_leaf(self, rng: np.random.Generator) -> Node:
        return self.random_constant(rng) if rng.random() < self.p_constant else X

    # -------------------------------------------------------------------------- trees

    def core_unit(self, rng: np.random.Generator) -> Node:
        """``b(u1(x), u2(x))``; each operand is ``u(x)``, ``x`` or a constant, and at most
        one of the two is a constant (two would make the unit constant)."""
        first = self._unit_operand(rng, allow_constant=True)
        second = self._unit_operand(rng, allow_constant=first.op != "const")
        op = self.binary[rng.integers(len(self.binary))]
        return Node(op, (first, second))

    def _unit_operand(self, rng: np.random.Generator, *, allow_constant: bool) -> Node:
        choices = len(self.unary) + 1 + int(allow_constant)
        pick = int(rng.integers(choices))
        if pick < len(self.unary):
            return Node(self.unary[pick], (X,))
        if pick == len(self.unary):
            return X
        return self.random_constant(rng)

    def random_tree(self, rng: np.random.Generator, max_depth: int, *, full: bool) -> Node:
        """A tree at most ``max_depth`` deep: every branch that deep when ``full``, else
        grown (below the root, each node is a leaf with chance :data:`P_GROW_LEAF`)."""
        return self._tree(rng, max_depth, full=full, root=True)

    def _tree(self, rng: np.random.Generator, max_depth: int, *, full: bool, root: bool) -> Node:
        if max_depth <= 1:
            return self.random_leaf(rng)
        if not (full or root) and rng.random() < P_GROW_LEAF:
            return self.random_leaf(rng)
        n_ops = len(self.unary) + len(self.binary)
        pick = int(rng.integers(n_ops))
        if pick < len(self.unary):
            return Node(self.unary[pick], (self._tree(rng, max_depth - 1, full=full, root=False),))
        op = self.binary[pick - len(self.unary)]
        children = tuple(self._tree(rng, max_depth - 1, full=full, root=False) for _ in range(2))
        return Node(op, children)

    def initial(self, rng: np.random.Generator, p_core_unit: float) -> Node:
        """One member of the first population: a core unit with chance ``p_core_unit``,
        else a ramped half-and-half tree between depth 2 and ``max_depth``."""
        if rng.random() < p_core_unit:
            return self.core_unit(rng)
        tree_depth = int(rng.integers(2, self.max_depth + 1))
        return self.random_tree(rng, tree_depth, full=bool(rng.random() < 0.5))
