"""Hostile and random programs: a Formula or a FormulaError, never anything else.

Program text comes from any plugin or user. These tests throw arbitrary text, injection
attempts and random operator trees at the formula layer, with ``eval``, ``exec``,
``compile`` and sympy's string parsers booby-trapped so that any use of them is caught.
"""

from __future__ import annotations

import builtins
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import sympy
import sympy.parsing.sympy_parser as sympy_parser
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nsad_bench.activation import compile_formula
from nsad_bench.formula import (
    VERDICTS,
    Formula,
    FormulaError,
    Node,
    evaluate,
    generalize,
    infix,
    make_formula,
    parse,
)
from nsad_bench.operators import OPERATORS

IMPORT_MACHINERY = {
    "importlib._bootstrap",
    "importlib._bootstrap_external",
    "_frozen_importlib",
    "_frozen_importlib_external",
}
#: sympy.polys builds its monomial arithmetic with exec from fixed templates and integer
#: sizes (never from an expression), the first time a polynomial ring needs it.
SYMPY_CODEGEN = {"sympy.polys.monomials"}


def innocent(frame) -> bool:
    """Whether a trapped call is sympy's own code generation or runs inside an import
    (Python executes module code with exec, and sympy's unit modules sympify fixed strings
    when they are first imported); neither sees formula text."""
    if frame.f_globals.get("__name__") in SYMPY_CODEGEN:
        return True
    while frame is not None:
        if frame.f_globals.get("__name__") in IMPORT_MACHINERY:
            return True
        frame = frame.f_back
    return False


#: Generous: the parser answers in milliseconds and simplification is cut off at a second.
TIME_LIMIT = 5.0


@contextmanager
def forbid_dynamic_code() -> Iterator[list[str]]:
    """Replace eval/exec/compile and sympy's text parsers with traps that record each call.

    The traps also raise, but a caller may swallow that, so the test checks the record.
    Calls that :func:`innocent` clears pass through to the real function.
    """
    calls: list[str] = []
    targets = [(builtins, "eval"), (builtins, "exec"), (builtins, "compile")]
    targets += [(sympy, "sympify"), (sympy, "parse_expr"), (sympy_parser, "parse_expr")]
    saved = [(owner, name, getattr(owner, name)) for owner, name in targets]

    def trap(name: str, original):
        def refuse(*args, **kwargs):
            if innocent(sys._getframe(1)):
                return original(*args, **kwargs)
            calls.append(name)
            raise RuntimeError(f"forbidden dynamic code: {name}")

        return refuse

    for owner, name, original in saved:
        setattr(owner, name, trap(name, original))
    try:
        yield calls
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def outcome(program: str) -> Formula | FormulaError:
    """make_formula's result or FormulaError; any other exception propagates and fails."""
    with forbid_dynamic_code() as calls:
        start = time.perf_counter()
        try:
            result: Formula | FormulaError = make_formula(program)
        except FormulaError as error:
            result = error
        elapsed = time.perf_counter() - start
    assert calls == [], f"dynamic code used: {calls}"
    assert elapsed < TIME_LIMIT, f"took {elapsed:.1f}s"
    if isinstance(result, Formula):
        assert result.verdict in VERDICTS
    else:
        assert "\n" not in str(result)
    return result


def test_the_traps_catch_dynamic_code() -> None:
    with forbid_dynamic_code() as calls:
        for use in (
            lambda: eval("1"),
            lambda: sympy.sympify("x"),
            lambda: sympy_parser.parse_expr("x"),
        ):
            with pytest.raises(RuntimeError):
                use()
    assert calls == ["eval", "sympify", "parse_expr"]
    assert eval("1") == 1  # restored


HOSTILE = [
    '__import__("os").system("x")',
    "().__class__.__bases__",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 1",
    "[x for x in ()]",
    "x.real",
    "open('f')",
    'eval("1")',
    "exec('import os')",
    "compile('1', 'f', 'eval')",
    "globals()",
    "__builtins__",
    "getattr(x, '__class__')",
    "x.__class__",
    "cos(x).__globals__",
    "x if x else x",
    "x; x",
    "\\x78",
    "\uff58",  # fullwidth x
    "x\u0663",  # arabic-indic digit three
    "\u0445",  # cyrillic x
    "cos(" * 10_000,
    "cos(" * 900 + "x" + ")" * 900,
    "-" * 3999 + "x",
    "(" * 100_000,
    "x" * 100_000,
    "x+" * 50_000 + "x",
    "1" * 5000,
]


@pytest.mark.parametrize("program", HOSTILE, ids=lambda p: f"{p[:24]!r}..{len(p)}")
def test_hostile_programs_are_formula_errors(program: str) -> None:
    assert isinstance(outcome(program), FormulaError)


FRAGMENTS = [
    "x",
    "X3",
    "x_1",
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "**",
    "^",
    " ",
    "\n",
    "cos",
    "add",
    "Max",
    "pow",
    "sqrt",
    "div",
    "inv",
    "exp",
    "1.5",
    "2",
    "0",
    "1e309",
    "3e-2",
    ".",
    "'",
    '"',
    "[",
    "]",
    ":",
    ";",
    "=",
    "__import__",
    "os",
    "system",
    "lambda",
    "for",
    "in",
    "__class__",
    "__bases__",
    "eval",
    "open",
    "\x00",
    "\uff58",
    "\u0663",
    "\u03c0",
    "E",
    "pi",
    "nan",
    "inf",
    "zoo",
]
GRAMMAR_TEXT = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), GRAMMAR_TEXT, st.sampled_from(HOSTILE)))
def test_arbitrary_text_gives_a_formula_or_a_formula_error(program: str) -> None:
    outcome(program)


# ------------------------------------------------------------------------- random trees

UNARY = sorted(name for name, op in OPERATORS.items() if op.arity == 1)
BINARY = sorted(name for name, op in OPERATORS.items() if op.arity == 2 and name != "pow")
VARIABLES = st.sampled_from(["x", "X", "x0", "X12", "x_3"]).map(lambda n: Node("var", name=n))
CONSTANTS = st.one_of(
    st.floats(-10, 10, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 0.001, -0.001, 1.0, -1.0, 50.0]),
).map(lambda v: Node("const", value=v))
EXPONENT = st.sampled_from([0.0, 2.0, 3.0, 0.5, -1.0, 1.5, -2.0]).map(
    lambda v: Node("const", value=v)
)


def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(lambda name, a: Node(name, (a,)), st.sampled_from(UNARY), children),
        st.builds(
            lambda name, a, b: Node(name, (a, b)), st.sampled_from(BINARY), children, children
        ),
        st.builds(lambda a, e: Node("pow", (a, e)), children, EXPONENT),
    )


TREES = st.recursive(st.one_of(VARIABLES, CONSTANTS), extend, max_leaves=12)
PROBE = np.concatenate([np.linspace(-4.0, 4.0, 81), [0.0, 0.001, -0.001, 0.0011, 60.0]])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_random_trees_print_parse_compile_and_agree(tree: Node) -> None:
    text = infix(tree)
    assert parse(text) == tree
    result = outcome(text)
    if isinstance(result, FormulaError):
        return
    assert result.tree == generalize(tree)
    module = compile_formula(result)
    with torch.no_grad():
        out = module(torch.tensor(PROBE, dtype=torch.float64)).numpy()
    expected = evaluate(result.tree, PROBE)
    close = np.isclose(out, expected, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert close.all(), f"{text}: {out[~close]} vs {expected[~close]} at {PROBE[~close]}"
