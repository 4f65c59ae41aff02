"""Tidying a proposed tree before it is screened, so candidates read as what they compute.

Crossover and mutation produce dead weight such as ``sigmoid(0.22)`` or ``max(x, x)``. A
tidied tree is what gets screened, trained and reported, so nothing shown differs from what
was scored. Only rewrites that are exact (or exact up to rounding a folded constant to
:data:`FOLD_DIGITS` decimals) are made; other redundancy is left to the duplicate check,
which keeps the smallest tree seen for each function.
"""

from __future__ import annotations

import math

import numpy as np

from nsad_bench.formula import Node, evaluate

#: Decimals kept when a variable-free subtree is folded into one constant.
FOLD_DIGITS = 4
#: Operators whose argument pair ``(a, a)`` is just ``a``.
IDEMPOTENT = frozenset({"max", "min"})
#: Operators whose argument pair ``(a, a)`` is a constant (protected ``div`` included: it
#: gives 1 where the denominator is near zero).
SELF_CANCELLING = {"sub": 0.0, "div": 1.0}
#: Operators with an identity constant: ``(operator, constant, sides)``, sides being the
#: argument positions where the constant may stand (``0 - a`` is not ``a``).
IDENTITIES = (("add", 0.0, (0, 1)), ("sub", 0.0, (1,)), ("mul", 1.0, (0, 1)), ("div", 1.0, (1,)))
#: Unary operators ``u`` with ``u(u(a)) == u(a)``.
IDEMPOTENT_UNARY = frozenset({"abs"})


def tidy(node: Node) -> Node:
    """``node`` with constant subtrees folded, ``max(a, a)``/``min(a, a)`` → ``a``,
    ``a - a`` → 0, ``a / a`` → 1, ``a + 0``, ``a - 0``, ``a * 1``, ``a / 1`` → ``a``,
    ``abs(abs(a))`` → ``abs(a)`` and ``-(-a)`` → ``a``, bottom-up (so ``sin(x - x)`` becomes
    the constant ``0``)."""
    if not node.children:
        return node
    children = tuple(tidy(child) for child in node.children)
    if all(child.op == "const" for child in children):
        value = float(evaluate(Node(node.op, children), np.zeros(1))[0])
        if math.isfinite(value):
            return Node("const", value=round(value, FOLD_DIGITS) + 0.0)
    if node.op in IDEMPOTENT and children[0] == children[1]:
        return children[0]
    if node.op in SELF_CANCELLING and children[0] == children[1]:
        return Node("const", value=SELF_CANCELLING[node.op])
    for op, unit, sides in IDENTITIES:
        if node.op == op:
            for side in sides:
                if children[side] == Node("const", value=unit):
                    return children[1 - side]
    (first, *_) = children
    if node.op in IDEMPOTENT_UNARY and first.op == node.op:
        return first
    if node.op == "neg" and first.op == "neg":
        return first.children[0]
    return Node(node.op, children)
