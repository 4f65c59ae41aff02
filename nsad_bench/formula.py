"""Formulas: from a discoverer's program text to a checked, generalized expression tree.

A program comes from any plugin or user, so its text is read by a small hand-written parser
and never executed. One grammar covers the three styles backends print:

* gplearn prefix programs: ``mul(cos(X25), sub(X12, X3))``
* infix as PySR and Operon print it: ``x0*cos(x1)``, ``(X1 * 1.25) - 3e-2``, ``x0^2``
* sympy's ``str()``: ``-0.5*x0**2 + sin(x3)``, ``Abs(x)``, ``Max(x, 0)``

Every variable is then renamed to the layer input ``x`` (Eq. 1 of the paper), which can
collapse a program (``cos(x) * (x - x) = 0``); :func:`judge` says so openly, and the caller
takes the next candidate instead of silently falling back to the identity.

Grammar (``**`` and ``^`` are the same, right-associative; unary minus binds looser than
``**``, so ``-x**2`` is ``-(x**2)``)::

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/") unary)*
    unary := ("-" | "+") unary | power
    power := atom (("**" | "^") unary)?
    atom  := number | variable | "pi" | "E" | name "(" expr ("," expr)* ")" | "(" expr ")"

Variables are ``x``, ``X``, ``x<digits>``, ``X<digits>`` and ``x_<digits>``; function names
are the operators of :mod:`nsad_bench.operators` and their aliases. Everything else is a
:class:`FormulaError`.
"""

from __future__ import annotations

import math
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import sympy

from nsad_bench.operators import ATOM, OPERATORS, UNARY, VARIADIC, lookup

#: Longest program text accepted; GP output is far shorter.
MAX_TEXT = 4000
#: Most nodes in a tree.
MAX_NODES = 500
#: Deepest tree (and deepest nesting in the text); keeps every recursive walk far from
#: Python's recursion limit.
MAX_DEPTH = 60
#: Trees larger than this are shown unsimplified: sympy.simplify grows too slow on them.
SIMPLIFY_MAX_NODES = 60
#: Wall-clock budget for one sympy.simplify call (enforced where a timer signal is usable).
SIMPLIFY_SECONDS = 1.0
#: A value beyond this magnitude on the probe grid makes a formula "non-finite": an
#: activation that large saturates or overflows a float32 network.
NON_FINITE_LIMIT = 1e6

VERDICTS = ("ok", "constant", "linear", "non-finite")

_VARIABLE = re.compile(r"x|X|x[0-9]+|X[0-9]+|x_[0-9]+")
_NAMED_CONSTANTS = {"pi": math.pi, "E": math.e}


class FormulaError(ValueError):
    """A program that is not a valid formula; the message is one line saying what and where."""


@dataclass(frozen=True)
class Node:
    """One node of a formula tree.

    ``op`` is "var" (``name`` set), "const" (``value`` set) or an operator name from
    :data:`nsad_bench.operators.OPERATORS`. ``pow`` always has a "const" exponent.
    """

    op: str
    children: tuple[Node, ...] = ()
    value: float | None = None
    name: str | None = None

    def __str__(self) -> str:
        return infix(self)


def _var(name: str) -> Node:
    return Node("var", name=name)


def _const(value: float) -> Node:
    return Node("const", value=float(value))


# ---------------------------------------------------------------------------- checking


def check(node: Node) -> Node:
    """Validate a tree built by hand or by a plugin; return it unchanged.

    Walks iteratively, so even a pathologically deep tree gives a FormulaError, never a
    RecursionError.
    """
    if not isinstance(node, Node):
        raise FormulaError(f"expected a formula Node, got {type(node).__name__}")
    count = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise FormulaError(f"formula has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula is nested deeper than {MAX_DEPTH} levels")
        if not isinstance(current, Node) or not isinstance(current.children, tuple):
            raise FormulaError(f"malformed formula node of type {type(current).__name__}")
        _check_one(current)
        stack.extend((child, depth + 1) for child in current.children)
    return node


def _check_one(node: Node) -> None:
    if node.op == "var":
        if node.children or not isinstance(node.name, str) or not _VARIABLE.fullmatch(node.name):
            raise FormulaError(f"invalid variable node {node.name!r:.40}")
        return
    if node.op == "const":
        value = node.value
        if node.children or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FormulaError(f"invalid constant node {value!r:.40}")
        if not math.isfinite(value):
            raise FormulaError(f"constant {value!r} is not finite")
        return
    operator = OPERATORS.get(node.op) if isinstance(node.op, str) else None
    if operator is None:
        raise FormulaError(f"unknown operator {node.op!r:.40}")
    if len(node.children) != operator.arity:
        raise FormulaError(
            f"{node.op} takes {operator.arity} argument(s), got {len(node.children)}"
        )
    if node.op == "pow" and node.children[1].op != "const":
        raise FormulaError("the exponent of pow must be a constant")


# ----------------------------------------------------------------------------- parsing


class _Token(NamedTuple):
    kind: str  # "num", "name", "op" or "end"
    text: str
    pos: int


_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\n]+)"
    r"|(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^(),])",
    re.ASCII,
)


def _where(text: str, pos: int) -> str:
    """Column and surrounding text, for one-line error messages."""
    if pos >= len(text):
        return f"at the end of {text[-30:]!r}"
    return f"at column {pos + 1} ({text[max(0, pos - 20) : pos + 20]!r})"


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FormulaError(f"unexpected character {text[pos]!r} {_where(text, pos)}")
        if match.lastgroup != "ws":
            tokens.append(_Token(match.lastgroup or "", match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent over the grammar in the module docstring, with hard limits."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.nodes = 0

    # -- helpers
    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def error(self, what: str, token: _Token | None = None) -> FormulaError:
        token = token or self.peek()
        return FormulaError(f"{what} {_where(self.text, token.pos)}")

    def expect(self, text: str) -> None:
        token = self.peek()
        if token.text != text or token.kind == "end":
            found = "end of formula" if token.kind == "end" else repr(token.text)
            raise self.error(f"expected {text!r}, found {found}")
        self.take()

    def node(self, op: str, children: tuple[Node, ...] = (), **fields: Any) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(f"formula has more than {MAX_NODES} nodes")
        return Node(op, children, **fields)

    # -- grammar
    def parse(self) -> Node:
        tree = self.expr()
        token = self.peek()
        if token.kind != "end":
            raise self.error(f"unexpected {token.text!r}", token)
        return tree

    def expr(self) -> Node:
        left = self.term()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            op = "add" if self.take().text == "+" else "sub"
            left = self.node(op, (left, self.term()))
        return left

    def term(self) -> Node:
        left = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/"):
            op = "mul" if self.take().text == "*" else "div"
            left = self.node(op, (left, self.unary()))
        return left

    def unary(self) -> Node:
        # Every cycle of the grammar passes through here, so this bounds Python's recursion.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.error(f"formula is nested deeper than {MAX_DEPTH} levels")
            token = self.peek()
            if token.kind == "op" and token.text in ("+", "-"):
                self.take()
                after = self.peek(1)
                is_power = after.kind == "op" and after.text in ("**", "^")
                if token.text == "-" and self.peek().kind == "num" and not is_power:
                    return self.node("const", value=-self.number(self.take()))
                operand = self.unary()
                return operand if token.text == "+" else self.node("neg", (operand,))
            return self.power()
        finally:
            self.depth -= 1

    def power(self) -> Node:
        base = self.atom()
        if self.peek().kind == "op" and self.peek().text in ("**", "^"):
            token = self.take()
            exponent = self.constant_exponent(self.unary(), token)
            return self.node("pow", (base, exponent))
        return base

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "num":
            return self.node("const", value=self.number(token))
        if token.kind == "name":
            if self.peek().text == "(" and self.peek().kind == "op":
                return self.call(token)
            if _VARIABLE.fullmatch(token.text):
                return self.node("var", name=token.text)
            if token.text in _NAMED_CONSTANTS:
                return self.node("const", value=_NAMED_CONSTANTS[token.text])
            if lookup(token.text) is not None:
                raise self.error(f"function {token.text!r} is used without arguments", token)
            raise self.error(f"unknown name {token.text!r}", token)
        if token.kind == "op" and token.text == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        if token.kind == "end":
            raise self.error("unexpected end of formula", token)
        raise self.error(f"unexpected {token.text!r}", token)

    def call(self, name: _Token) -> Node:
        operator = lookup(name.text)
        if operator is None:
            raise self.error(f"unknown function {name.text!r}", name)
        self.expect("(")
        args = [] if self.peek().text == ")" else [self.expr()]
        while self.peek().kind == "op" and self.peek().text == ",":
            self.take()
            args.append(self.expr())
        self.expect(")")
        if operator.name in VARIADIC and len(args) >= 2:
            tree = args[0]
            for arg in args[1:]:
                tree = self.node(operator.name, (tree, arg))
            return tree
        if len(args) != operator.arity:
            raise self.error(
                f"{name.text} takes {operator.arity} argument(s), got {len(args)}", name
            )
        if operator.name == "pow":
            args[1] = self.constant_exponent(args[1], name)
        return self.node(operator.name, tuple(args))

    def number(self, token: _Token) -> float:
        value = float(token.text)
        if not math.isfinite(value):
            raise self.error(f"constant {token.text[:30]!r} is not finite", token)
        return value

    def constant_exponent(self, exponent: Node, token: _Token) -> Node:
        """Fold a variable-free exponent like ``(1/2)`` into one constant."""
        if exponent.op == "const":
            return exponent
        if _has_variable(exponent):
            raise self.error("the exponent of a power must be a constant", token)
        value = float(_evaluate(exponent, np.zeros(())))
        if not math.isfinite(value):
            raise self.error("the exponent of a power is not finite", token)
        return self.node("const", value=value)


def parse(text: str) -> Node:
    """Parse program text into a tree (variables keep their names); FormulaError if invalid."""
    if not isinstance(text, str):
        raise FormulaError(f"formula text must be a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise FormulaError(f"formula text is {len(text)} characters, more than {MAX_TEXT}")
    if not text.strip():
        raise FormulaError("formula text is empty")
    return check(_Parser(text).parse())


# ------------------------------------------------------------------------------- sympy


def from_sympy(expr: Any) -> Node:
    """Convert a sympy expression (e.g. PySR's ``sympy_format``) to a tree.

    Negative powers become protected reciprocals (``x/y`` → ``div``, ``x**-1`` → ``inv``),
    ``x**(1/2)`` becomes the protected ``sqrt``, and ``x**2``/``x**3`` become
    ``square``/``cube``; other constant exponents stay ``pow``.
    """
    if not isinstance(expr, sympy.Basic):
        raise FormulaError(f"expected a sympy expression, got {type(expr).__name__}")
    return check(_SympyReader().read(expr, 1))


_SYMPY_UNARY: dict[Any, str] = {
    sympy.sin: "sin",
    sympy.cos: "cos",
    sympy.tan: "tan",
    sympy.exp: "exp",
    sympy.log: "log",
    sympy.Abs: "abs",
    sympy.tanh: "tanh",
}
_SYMPY_VARIADIC: dict[Any, str] = {sympy.Max: "max", sympy.Min: "min"}


class _SympyReader:
    def __init__(self) -> None:
        self.nodes = 0

    def node(self, op: str, children: tuple[Node, ...]) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FormulaError(f"formula has more than {MAX_NODES} nodes")
        return Node(op, children)

    def fold(self, op: str, nodes: list[Node]) -> Node:
        tree = nodes[0]
        for other in nodes[1:]:
            tree = self.node(op, (tree, other))
        return tree

    def read(self, expr: Any, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula is nested deeper than {MAX_DEPTH} levels")
        depth += 1
        if isinstance(expr, sympy.Symbol):
            if not _VARIABLE.fullmatch(expr.name):
                raise FormulaError(f"unknown variable {expr.name!r:.40} in sympy expression")
            return _var(expr.name)
        if expr.is_Number or expr.is_NumberSymbol:
            return self.number(expr)
        if expr.is_Add:
            terms = list(expr.as_ordered_terms())
            tree = self.read(terms[0], depth)
            for term in terms[1:]:
                if term.could_extract_minus_sign():
                    tree = self.node("sub", (tree, self.read(-term, depth)))
                else:
                    tree = self.node("add", (tree, self.read(term, depth)))
            return tree
        if expr.is_Mul:
            return self.product(expr, depth)
        if expr.is_Pow:
            base, exponent = expr.args
            return self.power(self.read(base, depth), exponent)
        if expr.func in _SYMPY_UNARY and len(expr.args) == 1:
            return self.node(_SYMPY_UNARY[expr.func], (self.read(expr.args[0], depth),))
        if expr.func in _SYMPY_VARIADIC:
            return self.fold(_SYMPY_VARIADIC[expr.func], [self.read(a, depth) for a in expr.args])
        raise FormulaError(f"unsupported sympy expression {type(expr).__name__} in {expr!s:.60}")

    def number(self, expr: Any) -> Node:
        try:
            value = float(expr)
        except (TypeError, ValueError, OverflowError):
            raise FormulaError(f"sympy constant {expr!s:.40} is not a real number") from None
        if not math.isfinite(value):
            raise FormulaError(f"sympy constant {expr!s:.40} is not finite")
        return _const(value)

    def product(self, expr: Any, depth: int) -> Node:
        number, rest = expr.as_coeff_Mul()
        coefficient = float(self.number(number).value or 0.0)
        numerator: list[Node] = []
        denominator: list[Node] = []
        for factor in sympy.Mul.make_args(rest):
            if factor.is_Pow and factor.exp.is_number and factor.exp.is_negative:
                exponent = self.number(-factor.exp).value or 0.0
                denominator.append(self.power_of(self.read(factor.base, depth), exponent))
            else:
                numerator.append(self.read(factor, depth))
        negate = coefficient == -1 and bool(numerator)
        if not negate and (coefficient != 1 or not numerator):
            numerator.insert(0, _const(coefficient))
        tree = self.fold("mul", numerator)
        if denominator:
            tree = self.node("div", (tree, self.fold("mul", denominator)))
        return self.node("neg", (tree,)) if negate else tree

    def power(self, base: Node, exponent: Any) -> Node:
        if exponent.free_symbols:
            raise FormulaError(f"the exponent {exponent!s:.40} of a power must be a constant")
        return self.power_of(base, self.number(exponent).value or 0.0)

    def power_of(self, base: Node, exponent: float) -> Node:
        if exponent == 1:
            return base
        named = {2.0: "square", 3.0: "cube", 0.5: "sqrt", -1.0: "inv"}.get(exponent)
        if named:
            return self.node(named, (base,))
        if exponent < 0:
            return self.node("inv", (self.power_of(base, -exponent),))
        return self.node("pow", (base, _const(exponent)))


def to_sympy(node: Node) -> sympy.Expr:
    """The plain-math sympy twin of a tree, for display and simplification.

    Protected operators are rendered with their ordinary meaning (``div`` → ``a/b``,
    ``log`` → ``log(a)``, ``sqrt`` → ``sqrt(a)``, ``exp`` without its clip), so the twin can
    differ from the tree where the protection acts. Variable-free subtrees are folded to one
    number first (with the protected semantics), which keeps sympy away from huge exact
    integers such as ``pow(pow(10, 64), 64)``. Variables are real symbols.
    """
    return _to_sympy(check(node))


def _to_sympy(node: Node) -> Any:
    if node.op == "var":
        return sympy.Symbol(node.name or "x", real=True)
    if node.op == "const" or not _has_variable(node):
        return _sympy_number(float(_evaluate(node, np.zeros(()))))
    operator = OPERATORS[node.op]
    if node.op == "pow":
        exponent = float(node.children[1].value or 0.0)
        small_integer = exponent.is_integer() and abs(exponent) <= 16
        power = sympy.Integer(int(exponent)) if small_integer else sympy.Float(exponent)
        return _to_sympy(node.children[0]) ** power
    return operator.sympy(*(_to_sympy(child) for child in node.children))


def _sympy_number(value: float) -> Any:
    if math.isnan(value):
        return sympy.nan
    if math.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    if value.is_integer() and abs(value) <= 1e6:
        return sympy.Integer(int(value))
    return sympy.Float(value)


# ------------------------------------------------------------------------ tree helpers


def _has_variable(node: Node) -> bool:
    return node.op == "var" or any(_has_variable(child) for child in node.children)


def _size(node: Node) -> int:
    return 1 + sum(_size(child) for child in node.children)


def generalize(node: Node) -> Node:
    """Rename every variable to ``x``: the activation sees one input (the paper's Eq. 1)."""
    return _generalize(check(node))


def _generalize(node: Node) -> Node:
    if node.op == "var":
        return _var("x")
    if not node.children:
        return node
    return Node(node.op, tuple(_generalize(child) for child in node.children))


def evaluate(node: Node, x: np.ndarray) -> np.ndarray:
    """Evaluate with the protected numpy semantics; every variable reads ``x``.

    Returns a float64 array of ``x``'s shape (constants broadcast). Floating-point warnings
    are silenced: overflow and NaN show up in the values, and :func:`judge` looks at them.
    """
    values = np.asarray(x, dtype=np.float64)
    result = _evaluate(check(node), values)
    return np.array(np.broadcast_to(result, values.shape), dtype=np.float64)


def _evaluate(node: Node, x: np.ndarray) -> Any:
    with np.errstate(all="ignore"):
        return _walk(node, x)


def _walk(node: Node, x: np.ndarray) -> Any:
    if node.op == "var":
        return x
    if node.op == "const":
        return np.float64(node.value)
    return OPERATORS[node.op].numpy(*(_walk(child, x) for child in node.children))


# ---------------------------------------------------------------------------- printing


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def infix(node: Node) -> str:
    """Readable infix text with as few parentheses as keep the tree exact.

    ``parse(infix(tree)) == tree``: operators print as ``+ - * / **`` and unary ``-``, the
    rest as calls (``cos(x)``, ``inv(x)``, ``square(x)``).
    """
    return _infix(check(node))[0]


def _infix(node: Node) -> tuple[str, int]:
    """Text of ``node`` and how tightly it binds."""
    if node.op == "var":
        return node.name or "x", ATOM
    if node.op == "const":
        value = float(node.value or 0.0)
        return _format_number(value), UNARY if value < 0 else ATOM
    operator = OPERATORS[node.op]
    parts = [_infix(child) for child in node.children]
    if operator.symbol is None:
        return f"{node.op}({', '.join(text for text, _ in parts)})", ATOM
    prec = operator.precedence
    if operator.arity == 1:
        (text, child_prec), child = parts[0], node.children[0]
        if child_prec <= UNARY or child.op == "const":
            text = f"({text})"
        return f"-{text}", UNARY
    (left, left_prec), (right, right_prec) = parts
    if left_prec < prec or (node.op == "pow" and left_prec == prec):
        left = f"({left})"
    if right_prec <= prec and node.op != "pow":
        right = f"({right})"
    if node.op == "pow":
        return f"{left}**{right}", prec
    return f"{left} {operator.symbol} {right}", prec


# ------------------------------------------------------------------------------ verdicts


def judge(node: Node, grid: np.ndarray | None = None) -> str:
    """Classify the generalized formula on a probe grid over ``x`` (default [-10, 10]).

    * "non-finite": a NaN or infinity, or a value beyond :data:`NON_FINITE_LIMIT` (1e6);
    * "constant": the values do not vary (max - min <= 1e-9 * (1 + max|v|)), like the paper's
      HIGGS program ``cos(x) * (x - x)``;
    * "linear": a least-squares ``a*x + b`` fit leaves at most 1e-6 * (1 + max|v|) error,
      so the activation adds nothing a linear layer has not;
    * "ok": anything else.
    """
    probe = np.linspace(-10.0, 10.0, 2001) if grid is None else np.asarray(grid, np.float64)
    if probe.ndim != 1 or probe.size == 0:
        raise ValueError("the probe grid must be a non-empty 1-D array")
    values = evaluate(node, probe)
    if not np.isfinite(values).all():
        return "non-finite"
    largest = float(np.max(np.abs(values)))
    if largest > NON_FINITE_LIMIT:
        return "non-finite"
    scale = 1.0 + largest
    if float(np.ptp(values)) <= 1e-9 * scale:
        return "constant"
    design = np.column_stack([probe, np.ones_like(probe)])
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    if float(np.max(np.abs(values - design @ coefficients))) <= 1e-6 * scale:
        return "linear"
    return "ok"


# ------------------------------------------------------------------------------ formula


@dataclass(frozen=True)
class Formula:
    """A discovered program, generalized to one input and checked.

    ``tree`` is the generalized tree: it is what gets compiled and judged. ``simplified`` and
    ``latex`` are for display only: they come from sympy, where protected operators have their
    plain math meaning (``div`` is ``/``, ``log`` is ``log``, ``sqrt`` is ``sqrt``, exp is not
    clipped), so they can differ from ``tree`` where the protection acts.
    """

    original: str
    tree: Node
    infix: str
    simplified: str
    latex: str
    verdict: str
    complexity: int

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


def make_formula(program: str | sympy.Expr | Node) -> Formula:
    """Parse (or convert) a program, generalize it, simplify it for display, and judge it."""
    if isinstance(program, Node):
        tree = check(program)
        original = infix(tree)
    elif isinstance(program, sympy.Basic):
        tree = from_sympy(program)
        original = sympy.sstr(program)
    elif isinstance(program, str):
        tree = parse(program)
        original = program
    else:
        raise FormulaError(f"cannot make a formula from {type(program).__name__}")
    general = _generalize(tree)
    size = _size(general)
    simplified, latex = _display(general, size)
    return Formula(
        original=original,
        tree=general,
        infix=infix(general),
        simplified=simplified,
        latex=latex,
        verdict=judge(general),
        complexity=size,
    )


def _display(tree: Node, size: int) -> tuple[str, str]:
    """Simplified text and LaTeX of the sympy twin; the infix text if sympy refuses it."""
    try:
        shown = _simplify(_to_sympy(tree), size)
        return sympy.sstr(shown, full_prec=False), sympy.latex(shown, full_prec=False)
    except Exception:  # e.g. sympy cannot order non-real Max arguments; display only
        text = infix(tree)
        return text, text


class _OutOfTime(BaseException):
    """Raised by the timer; a BaseException so that sympy's own ``except Exception`` lets it
    through."""


def _simplify(expr: Any, size: int) -> Any:
    """sympy.simplify within the budget; the unsimplified form when over it or on failure.

    sympy.simplify is fast on most GP output (milliseconds) but can take minutes on a rare
    20-node program, so it runs only on trees of at most :data:`SIMPLIFY_MAX_NODES` nodes and
    under a :data:`SIMPLIFY_SECONDS` timer. Where no timer signal is usable (a worker thread,
    or SIGALRM already taken by e.g. pytest-timeout) it is skipped: the twin sympy builds
    is already canonical (``x - x`` is 0, ``x + x`` is ``2*x``).
    """
    if size > SIMPLIFY_MAX_NODES or not _timer_usable():
        return expr
    try:
        with _time_limit(SIMPLIFY_SECONDS):
            return sympy.simplify(expr)
    except _OutOfTime:
        return expr
    except Exception:  # a sympy failure only costs the nicer display
        return expr


def _timer_usable() -> bool:
    """Only the main thread receives signals, and another user of SIGALRM must not be
    disturbed."""
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None)
    )


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_OutOfTime` inside the block after ``seconds`` (main thread only).

    The timer repeats every 0.1 s: an exception raised while Python runs a garbage-collection
    or ``__del__`` callback is swallowed, and the next tick must still stop the block.
    """

    def on_alarm(signum: int, frame: Any) -> None:
        raise _OutOfTime

    previous: Callable[..., Any] | int | None = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
        finally:
            signal.signal(signal.SIGALRM, previous)
