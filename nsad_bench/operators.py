"""The whitelisted operators of a formula, each with one meaning in numpy, torch and sympy.

A formula found by a discoverer is scored on a probe grid (numpy), trained as an activation
(torch) and shown to people (sympy). The three must agree, so every operator carries its
three implementations side by side in :data:`OPERATORS`, and nothing outside this table can
appear in a formula.

Protected operators behave exactly as in gplearn 0.4.3, because gplearn's programs were
selected under those semantics::

    div(a, b) = a / b       if |b| > 0.001 else 1.0
    log(a)    = log |a|     if |a| > 0.001 else 0.0
    sqrt(a)   = sqrt |a|
    inv(a)    = 1 / a       if |a| > 0.001 else 0.0

``exp(a)`` is ``exp(min(a, 50))``: one exp stays finite (at most e**50, about 5.2e21), but
compositions are deliberately left untamed (``exp(exp(x))`` reaches e**50 for x > 3.9,
``mul(exp(x), exp(x))`` overflows float32). Such formulas are not fit to be activations and
:func:`nsad_bench.formula.judge` reports them as "non-finite" rather than hiding the blow-up.
``tan`` is plain. ``pow`` takes a constant exponent and is plain too (NaN for a negative base
with a non-integer exponent, as in numpy and PySR).

The torch implementations are written with tensor methods only, so importing this module does
not import torch. Where a branch is masked they feed it a safe value (``torch.where`` on the
input, then on the output), so the untaken branch never produces a NaN gradient. Their
threshold tests give the float64 answer in every dtype, so a float32 network protects exactly
the values numpy protects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

#: Magnitude at or below which gplearn treats a denominator or log argument as zero.
PROTECT = 0.001
#: exp's argument is clipped to this value before exponentiating.
EXP_CLIP = 50.0

# Binding strength of each printed form, loosest first; the parser and printer share them.
ADD, MUL, UNARY, POW, ATOM = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Operator:
    """One operator: its arity, its three implementations and how it is printed."""

    name: str
    arity: int
    #: Elementwise on float64 arrays or scalars; call inside ``np.errstate(all="ignore")``.
    numpy: Callable[..., Any]
    #: Elementwise on tensors (0-d tensors broadcast); differentiable.
    torch: Callable[..., Any]
    #: Builds the plain-math sympy twin (protected operators lose their protection).
    sympy: Callable[..., Any]
    #: Infix symbol ("+", "**", "-" for unary minus), or None to print as ``name(args)``.
    symbol: str | None = None
    #: Binding strength of the printed form (ADD, MUL, UNARY, POW or ATOM).
    precedence: int = ATOM


# ----------------------------------------------------------------------------- numpy


def _np_div(a: Any, b: Any) -> Any:
    return np.where(np.abs(b) > PROTECT, np.divide(a, b), 1.0)


def _np_log(a: Any) -> Any:
    return np.where(np.abs(a) > PROTECT, np.log(np.abs(a)), 0.0)


def _np_sqrt(a: Any) -> Any:
    return np.sqrt(np.abs(a))


def _np_inv(a: Any) -> Any:
    return np.where(np.abs(a) > PROTECT, np.divide(1.0, a), 0.0)


def _np_exp(a: Any) -> Any:
    return np.exp(np.minimum(a, EXP_CLIP))


def _np_sigmoid(a: Any) -> Any:
    return 1.0 / (1.0 + np.exp(np.negative(a)))


def _np_square(a: Any) -> Any:
    return a * a


def _np_cube(a: Any) -> Any:
    return a * a * a


# ----------------------------------------------------------------------------- torch


_LIMITS: dict[Any, float] = {}


def _limit(t: Any) -> float:
    """PROTECT rounded down into ``t``'s dtype, so that ``|t| > _limit(t)`` is exactly the
    float64 test ``|t| > 0.001`` (float32 rounds 0.001 up, which would protect 0.001f)."""
    limit = _LIMITS.get(t.dtype)
    if limit is None:
        rounded = t.new_tensor(PROTECT)
        if float(rounded) > PROTECT:
            rounded = rounded.nextafter(t.new_zeros(()))
        limit = _LIMITS[t.dtype] = float(rounded)
    return limit


def _t_div(a: Any, b: Any) -> Any:
    keep = b.abs() > _limit(b)
    return (a / b.where(keep, 1.0)).where(keep, 1.0)


def _t_log(a: Any) -> Any:
    size = a.abs()
    keep = size > _limit(a)
    return size.where(keep, 1.0).log().where(keep, 0.0)


def _t_sqrt(a: Any) -> Any:
    # sqrt has an infinite slope at 0; route 0 through sqrt(1) so its gradient is 0, not NaN.
    size = a.abs()
    keep = size != 0  # NaN stays NaN, as in numpy
    return size.where(keep, 1.0).sqrt().where(keep, 0.0)


def _t_inv(a: Any) -> Any:
    keep = a.abs() > _limit(a)
    return a.where(keep, 1.0).reciprocal().where(keep, 0.0)


def _t_exp(a: Any) -> Any:
    return a.clamp(max=EXP_CLIP).exp()


def _t_pow(a: Any, b: Any) -> Any:
    # 0 ** b has an infinite slope for b < 1: take its value (and sign) from a detached copy,
    # so that its gradient is 0 rather than NaN.
    zero = a == 0
    return a.where(~zero, 1.0).pow(b).where(~zero, a.detach().pow(b))


# ----------------------------------------------------------------------------- sympy


def _sympy_sigmoid(a: Any) -> Any:
    return 1 / (1 + sympy.exp(-a))


def _sympy_lattice(kind: Any) -> Callable[[Any, Any], Any]:
    """Max/Min that accept any argument: sympy refuses to compare non-real ones (e.g.
    ``log`` of a negative constant), and the twin is then left unevaluated."""

    def build(a: Any, b: Any) -> Any:
        try:
            return kind(a, b)
        except (TypeError, ValueError):
            return kind(a, b, evaluate=False)

    return build


# ----------------------------------------------------------------------------- table


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("add", 2, np.add, lambda a, b: a + b, lambda a, b: a + b, "+", ADD),
        Operator("sub", 2, np.subtract, lambda a, b: a - b, lambda a, b: a - b, "-", ADD),
        Operator("mul", 2, np.multiply, lambda a, b: a * b, lambda a, b: a * b, "*", MUL),
        Operator("div", 2, _np_div, _t_div, lambda a, b: a / b, "/", MUL),
        Operator("neg", 1, np.negative, lambda a: -a, lambda a: -a, "-", UNARY),
        Operator("pow", 2, np.power, _t_pow, lambda a, b: a**b, "**", POW),
        Operator("abs", 1, np.abs, lambda a: a.abs(), sympy.Abs),
        Operator("sin", 1, np.sin, lambda a: a.sin(), sympy.sin),
        Operator("cos", 1, np.cos, lambda a: a.cos(), sympy.cos),
        Operator("tan", 1, np.tan, lambda a: a.tan(), sympy.tan),
        Operator("inv", 1, _np_inv, _t_inv, lambda a: 1 / a),
        Operator("log", 1, _np_log, _t_log, sympy.log),
        Operator("sqrt", 1, _np_sqrt, _t_sqrt, sympy.sqrt),
        Operator("exp", 1, _np_exp, _t_exp, sympy.exp),
        Operator("tanh", 1, np.tanh, lambda a: a.tanh(), sympy.tanh),
        Operator("sigmoid", 1, _np_sigmoid, lambda a: a.sigmoid(), _sympy_sigmoid),
        Operator("max", 2, np.maximum, lambda a, b: a.maximum(b), _sympy_lattice(sympy.Max)),
        Operator("min", 2, np.minimum, lambda a, b: a.minimum(b), _sympy_lattice(sympy.Min)),
        Operator("square", 1, _np_square, lambda a: a * a, lambda a: a**2),
        Operator("cube", 1, _np_cube, lambda a: a * a * a, lambda a: a**3),
    )
}

#: Other spellings discoverers and sympy use, mapped to the canonical operator name.
ALIASES: dict[str, str] = {
    "plus": "add",
    "+": "add",
    "minus": "sub",
    "-": "sub",
    "times": "mul",
    "*": "mul",
    "/": "div",
    "^": "pow",
    "**": "pow",
    "Abs": "abs",
    "negative": "neg",
    "Max": "max",
    "Min": "min",
    "sig": "sigmoid",
}

#: Operators that take two or more arguments when called by name (sympy prints ``Max(a, b, c)``).
VARIADIC = frozenset({"max", "min"})


def lookup(name: str) -> Operator | None:
    """The operator called ``name`` (canonical or alias), or None when it is not whitelisted."""
    return OPERATORS.get(ALIASES.get(name, name))
