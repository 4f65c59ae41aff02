"""The formula layer: parsing the three program styles, sympy twins, printing, verdicts."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
import sympy

from nsad_bench import formula as fm
from nsad_bench.formula import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_TEXT,
    SIMPLIFY_MAX_NODES,
    VERDICTS,
    Formula,
    FormulaError,
    Node,
    evaluate,
    from_sympy,
    generalize,
    infix,
    judge,
    make_formula,
    parse,
    to_sympy,
)
from nsad_bench.operators import ALIASES, OPERATORS, PROTECT

HIGGS = "mul(cos(X25), sub(X12, X3))"
# Away from the protected thresholds, where protected and plain math agree.
POINTS = np.array([-3.0, -1.7, -0.4, 0.3, 1.1, 2.9])
# At and around the protected thresholds.
EDGES = np.array(
    [0.0, 1e-12, -1e-12, 0.0009999, -0.0009999, PROTECT, -PROTECT, 0.0010001, -0.0010001, -2.0]
)


def var(name: str = "x") -> Node:
    return Node("var", name=name)


def const(value: float) -> Node:
    return Node("const", value=float(value))


def op(name: str, *children: Node) -> Node:
    return Node(name, children)


# ------------------------------------------------------------------------------ parsing


def test_parses_gplearn_prefix_program() -> None:
    expected = op("mul", op("cos", var("X25")), op("sub", var("X12"), var("X3")))
    assert parse(HIGGS) == expected


def test_gplearn_negative_constants_are_constants() -> None:
    assert parse("add(X0, -0.123)") == op("add", var("X0"), const(-0.123))


@pytest.mark.parametrize(("alias", "canonical"), sorted(ALIASES.items()))
def test_aliases_resolve_to_canonical_operators(alias: str, canonical: str) -> None:
    if alias.isidentifier():
        args = ", ".join(["x"] * OPERATORS[canonical].arity)
        text = f"{alias}({args})" if canonical != "pow" else f"{alias}(x, 2)"
    else:
        text = f"x {alias} 2"
    assert parse(text).op == canonical


INFIX_CASES = [
    ("x0*cos(x1)", lambda x: x * np.cos(x)),
    ("X1 * cos(X2)", lambda x: x * np.cos(x)),
    ("-0.5*x0^2 + sin(x3)", lambda x: -0.5 * x**2 + np.sin(x)),
    ("(X1 * 1.25) - 3e-2", lambda x: x * 1.25 - 0.03),
    ("x**2", lambda x: x**2),
    ("((x0 * 0.5) + cos(x_1))", lambda x: x * 0.5 + np.cos(x)),
    ("x ^ 2.0 - X", lambda x: x**2 - x),
    ("2**3**2 + 0*x", lambda x: 512 + 0 * x),
    ("-2**2 + 0*x", lambda x: -4 + 0 * x),
    ("-x**2", lambda x: -(x**2)),
    ("x**-1", lambda x: 1 / x),
    ("x ** (3/2)", lambda x: x**1.5),
    ("2*x/3", lambda x: 2 * x / 3),
    ("x - -0.5", lambda x: x + 0.5),
    ("+x", lambda x: x),
    ("--x", lambda x: x),
    ("1.5e+2 * x + .5 + 1.", lambda x: 150 * x + 1.5),
    ("pi*x + E", lambda x: math.pi * x + math.e),
    ("Max(x, 0, -1)", lambda x: np.maximum(x, 0)),
    ("Abs(x)**3 / exp(x)", lambda x: np.abs(x) ** 3 / np.exp(x)),
    ("\tx\n+ 1 ", lambda x: x + 1),
    ("sqrt(Abs(x)) + log(x)", lambda x: np.sqrt(np.abs(x)) + np.log(np.abs(x))),
]


@pytest.mark.parametrize(("text", "reference"), INFIX_CASES)
def test_parses_pysr_operon_and_sympy_infix(text: str, reference) -> None:
    with np.errstate(all="ignore"):
        expected = reference(POINTS)
    np.testing.assert_allclose(evaluate(parse(text), POINTS), expected, rtol=1e-12, equal_nan=True)


def test_power_is_right_associative_and_binds_tighter_than_unary_minus() -> None:
    assert parse("-x**2") == op("neg", op("pow", var(), const(2)))
    assert parse("x**2**3") == op("pow", var(), const(8))
    assert parse("(-x)**2") == op("pow", op("neg", var()), const(2))
    assert parse("-2*x") == op("mul", const(-2), var())


def test_variadic_max_folds_left() -> None:
    assert parse("Max(x, X1, 2)") == op("max", op("max", var(), var("X1")), const(2))


# ------------------------------------------------------------------------------- sympy

x0 = sympy.Symbol("x0")
SYMPY_CASES = [
    (x0 * sympy.cos(x0), lambda x: x * np.cos(x)),
    (-sympy.Rational(1, 2) * x0**2 + sympy.sin(x0), lambda x: -0.5 * x**2 + np.sin(x)),
    (x0 / (x0 + 5), lambda x: x / (x + 5)),
    (1 / x0, lambda x: 1 / x),
    (-1 / x0, lambda x: -1 / x),
    (sympy.sqrt(sympy.Abs(x0)), lambda x: np.sqrt(np.abs(x))),
    (sympy.exp(-(x0**2)), lambda x: np.exp(-(x**2))),
    (sympy.Max(x0, 0), lambda x: np.maximum(x, 0)),
    (sympy.Min(x0, 1, -x0), lambda x: np.minimum(np.minimum(x, 1), -x)),
    (sympy.tanh(x0) * sympy.tan(x0), lambda x: np.tanh(x) * np.tan(x)),
    (sympy.log(sympy.Abs(x0)), lambda x: np.log(np.abs(x))),
    (x0**3 - 2 * x0, lambda x: x**3 - 2 * x),
    (3 * x0 ** (-2), lambda x: 3 / x**2),
    (sympy.Abs(x0) ** sympy.Rational(3, 2), lambda x: np.abs(x) ** 1.5),
    (sympy.Float(0.25) * x0 + sympy.pi, lambda x: 0.25 * x + math.pi),
]


@pytest.mark.parametrize(("expr", "reference"), SYMPY_CASES, ids=[str(e) for e, _ in SYMPY_CASES])
def test_sympy_objects_and_their_str_agree(expr, reference) -> None:
    expected = reference(POINTS)
    np.testing.assert_allclose(evaluate(from_sympy(expr), POINTS), expected, rtol=1e-12)
    np.testing.assert_allclose(evaluate(parse(str(expr)), POINTS), expected, rtol=1e-12)


def test_from_sympy_maps_powers_to_protected_operators() -> None:
    y = sympy.Symbol("X1")
    assert from_sympy(x0**2) == op("square", var("x0"))
    assert from_sympy(x0**3) == op("cube", var("x0"))
    assert from_sympy(sympy.sqrt(x0)) == op("sqrt", var("x0"))
    assert from_sympy(1 / x0) == op("inv", var("x0"))
    assert from_sympy(x0**-2) == op("inv", op("square", var("x0")))
    assert from_sympy(x0**1.5) == op("pow", var("x0"), const(1.5))
    assert from_sympy(x0 / y) == op("div", var("x0"), var("X1"))


@pytest.mark.parametrize(
    "expr",
    [
        sympy.sinh(x0),
        sympy.Symbol("y"),
        x0**x0,
        2**x0,
        sympy.I * x0,
        sympy.zoo,
        sympy.nan,
        sympy.oo * x0,
        sympy.Integer(10) ** 400 * x0,
        sympy.Piecewise((x0, x0 > 0), (0, True)),
        sympy.Function("f")(x0),
        "x0",
    ],
    ids=str,
)
def test_from_sympy_rejects_what_the_operators_cannot_express(expr) -> None:
    with pytest.raises(FormulaError):
        from_sympy(expr)


def test_to_sympy_gives_the_plain_math_twin() -> None:
    x = sympy.Symbol("x", real=True)
    assert to_sympy(parse("x*cos(x) - 0.5")) == x * sympy.cos(x) - sympy.Float(0.5)
    assert to_sympy(parse("div(x, 2)")) == x / 2
    assert to_sympy(parse("log(x) + sqrt(x) + inv(x)")) == sympy.log(x) + sympy.sqrt(x) + 1 / x
    assert to_sympy(parse("Max(x, 0)")) == sympy.Max(x, 0)


def test_to_sympy_folds_constant_subtrees_with_protected_semantics() -> None:
    x = sympy.Symbol("x", real=True)
    assert to_sympy(parse("mul(div(1, sub(2, 2)), x)")) == x  # protected: 1 / 0 is 1
    start = time.perf_counter()
    huge = to_sympy(parse("pow(pow(pow(10, 64), 64), 64) * x"))
    assert time.perf_counter() - start < 1.0  # no exact 10**262144 integer is ever built
    assert huge.has(sympy.oo)


def test_sympy_round_trip_keeps_the_values() -> None:
    tree = parse("-0.5*x^2 + sin(x) * cube(x) - exp(tanh(x))")
    back = from_sympy(to_sympy(tree))
    np.testing.assert_allclose(evaluate(back, POINTS), evaluate(tree, POINTS), rtol=1e-12)


# ----------------------------------------------------------------------------- printing


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("mul(add(x, 1), x)", "(x + 1) * x"),
        ("add(mul(x, 2), 1)", "x * 2 + 1"),
        ("sub(x, sub(x, 1))", "x - (x - 1)"),
        ("sub(sub(x, 1), x)", "x - 1 - x"),
        ("div(x, mul(x, x))", "x / (x * x)"),
        ("pow(neg(x), 2)", "(-x)**2"),
        ("neg(pow(x, 2))", "-x**2"),
        ("pow(pow(x, 2), 3)", "(x**2)**3"),
        ("pow(x, -2)", "x**-2"),
        ("mul(x, -0.5)", "x * -0.5"),
        ("neg(0.5)", "-(0.5)"),
        ("neg(neg(x))", "-(-x)"),
        ("neg(mul(x, x))", "-(x * x)"),
        ("mul(X1, cos(X2))", "X1 * cos(X2)"),
        ("square(inv(x))", "square(inv(x))"),
        ("add(x, 1e-05)", "x + 1e-05"),
    ],
)
def test_infix_uses_minimal_parentheses(text: str, printed: str) -> None:
    assert infix(parse(text)) == printed


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_every_operator_prints_and_parses_back(name: str) -> None:
    arity = OPERATORS[name].arity
    children = (var("X1"), const(2.5)) if arity == 2 else (op("add", var("x_0"), const(-3)),)
    tree = Node(name, children)
    assert parse(infix(tree)) == tree


@pytest.mark.parametrize("text", [HIGGS] + [text for text, _ in INFIX_CASES])
def test_parse_of_infix_is_the_same_tree(text: str) -> None:
    tree = parse(text)
    assert parse(infix(tree)) == tree


# --------------------------------------------------------------------- generalize, eval


def test_generalize_renames_every_variable_to_x() -> None:
    assert generalize(parse(HIGGS)) == parse("mul(cos(x), sub(x, x))")
    assert infix(generalize(parse("X1 * x_2 + x7 - X"))) == "x * x + x - x"


def test_evaluate_broadcasts_constants_to_float64() -> None:
    values = evaluate(parse("2.5"), np.zeros((3, 4), dtype=np.float32))
    assert values.shape == (3, 4) and values.dtype == np.float64
    assert (values == 2.5).all()


def test_protected_numpy_semantics_at_thresholds() -> None:
    big = np.abs(EDGES) > PROTECT
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(
            evaluate(parse("div(1.5, x)"), EDGES), np.where(big, 1.5 / EDGES, 1.0)
        )
        np.testing.assert_array_equal(
            evaluate(parse("log(x)"), EDGES), np.where(big, np.log(np.abs(EDGES)), 0.0)
        )
        np.testing.assert_array_equal(
            evaluate(parse("inv(x)"), EDGES), np.where(big, 1.0 / EDGES, 0.0)
        )
    assert evaluate(parse("div(1, x)"), np.array([PROTECT, -PROTECT, 0.0])).tolist() == [1, 1, 1]
    assert evaluate(parse("log(x)"), np.array([PROTECT, -PROTECT])).tolist() == [0, 0]
    assert evaluate(parse("inv(x)"), np.array([PROTECT, -PROTECT])).tolist() == [0, 0]
    assert evaluate(parse("inv(x)"), np.array([0.0010001]))[0] == pytest.approx(1 / 0.0010001)
    assert evaluate(parse("sqrt(x)"), np.array([-4.0]))[0] == 2.0
    assert evaluate(parse("log(x)"), np.array([-math.e]))[0] == pytest.approx(1.0)
    assert evaluate(parse("exp(x)"), np.array([60.0]))[0] == math.exp(50.0)
    assert evaluate(parse("exp(x)"), np.array([49.0]))[0] == math.exp(49.0)


def test_numpy_operators_equal_gplearns_own() -> None:
    functions = pytest.importorskip("gplearn.functions")
    rng = np.random.default_rng(0)
    a = np.concatenate([EDGES, np.linspace(-0.002, 0.002, 401), rng.normal(0, 3, 200)])
    b = np.roll(a, 7)
    gp = {name: f.function for name, f in functions._function_map.items()}
    gp["sigmoid"] = functions._sigmoid
    for name, reference in gp.items():
        ours = OPERATORS[name]
        args = (a, b) if ours.arity == 2 else (a,)
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(ours.numpy(*args), reference(*args), err_msg=name)


# ------------------------------------------------------------------------------ verdicts


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        (HIGGS, "constant"),
        ("add(X0, X1)", "linear"),
        ("x*cos(x)", "ok"),
        ("mul(X1, cos(X2))", "ok"),
        ("div(x, sub(x, x))", "constant"),
        ("exp(exp(exp(x)))", "non-finite"),
        ("X7", "linear"),
        ("3.5", "constant"),
        ("abs(x)", "ok"),
        ("inv(x)", "ok"),
        ("log(x)", "ok"),
        ("pow(x, 0.5)", "non-finite"),
        ("mul(1000, cube(x))", "ok"),  # reaches exactly 1e6 at x = 10
        ("mul(1000.1, cube(x))", "non-finite"),
        ("add(x, mul(1e-12, sin(x)))", "linear"),
        ("add(x, mul(0.001, sin(x)))", "ok"),
        ("add(3, mul(1e-12, sin(x)))", "constant"),
        ("add(3, mul(1e-6, sin(x)))", "linear"),
    ],
)
def test_verdicts(text: str, verdict: str) -> None:
    assert judge(parse(text)) == verdict
    assert make_formula(text).verdict == verdict
    assert verdict in VERDICTS


def test_protected_division_by_collapsed_denominator_is_one() -> None:
    assert (evaluate(parse("div(x, sub(x, x))"), np.linspace(-10, 10, 101)) == 1.0).all()


def test_judge_uses_the_given_grid() -> None:
    assert judge(parse("abs(x)"), grid=np.linspace(0.5, 10, 50)) == "linear"
    assert judge(parse("abs(x)")) == "ok"


# ------------------------------------------------------------------------------ formula


def test_make_formula_fields() -> None:
    formula = make_formula("mul(X1, cos(X2))")
    assert formula == Formula(
        original="mul(X1, cos(X2))",
        tree=parse("mul(x, cos(x))"),
        infix="x * cos(x)",
        simplified="x*cos(x)",
        latex=r"x \cos{\left(x \right)}",
        verdict="ok",
        complexity=4,
    )
    assert formula.ok


def test_make_formula_accepts_text_sympy_and_trees_alike() -> None:
    text = make_formula("-0.5*x0**2 + sin(x3)")
    from_expr = make_formula(-sympy.Float(0.5) * x0**2 + sympy.sin(sympy.Symbol("x3")))
    from_tree = make_formula(parse("-0.5*x0**2 + sin(x3)"))
    assert text.simplified == from_expr.simplified == from_tree.simplified
    assert from_tree.tree == text.tree


def test_collapsed_higgs_program_simplifies_to_zero() -> None:
    formula = make_formula(HIGGS)
    assert formula.simplified == "0" and formula.verdict == "constant"


@pytest.mark.parametrize("program", [3, None, b"x", ["x"]])
def test_make_formula_rejects_other_types(program) -> None:
    with pytest.raises(FormulaError):
        make_formula(program)


class _Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    def __call__(self, expr, *args, **kwargs):
        self.calls += 1
        time.sleep(self.delay)
        return expr


def test_big_trees_are_not_simplified(monkeypatch) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(sympy, "simplify", recorder)
    text = " + ".join(f"sin(x * {i})" for i in range(2, 18))
    formula = make_formula(text)
    assert formula.complexity > SIMPLIFY_MAX_NODES
    assert recorder.calls == 0
    assert formula.simplified == sympy.sstr(to_sympy(formula.tree), full_prec=False)


def test_slow_simplification_is_cut_off(monkeypatch) -> None:
    recorder = _Recorder(delay=30.0)
    monkeypatch.setattr(sympy, "simplify", recorder)
    monkeypatch.setattr(fm, "SIMPLIFY_SECONDS", 0.2)
    start = time.perf_counter()
    formula = make_formula("add(x, x)")
    assert time.perf_counter() - start < 1.0
    assert recorder.calls == 1
    assert formula.simplified == "2*x"  # the unsimplified (but canonical) twin


def test_simplification_is_skipped_off_the_main_thread(monkeypatch) -> None:
    recorder = _Recorder(delay=30.0)
    monkeypatch.setattr(sympy, "simplify", recorder)
    results: list[Formula] = []
    worker = threading.Thread(target=lambda: results.append(make_formula("x*cos(x)")))
    worker.start()
    worker.join(timeout=10)
    assert results and results[0].simplified == "x*cos(x)"
    assert recorder.calls == 0


# ------------------------------------------------------------------------ errors, limits


def test_error_messages_are_one_line_and_say_where() -> None:
    with pytest.raises(FormulaError, match=r"unknown function 'foo' at column 10") as caught:
        parse("cos(x) + foo(x)")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(FormulaError) as caught:
        parse("x +\n y")
    assert "\n" not in str(caught.value) and "'y'" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "y",
        "xx",
        "x1a",
        "_x",
        "x__1",
        "cos",
        "cos()",
        "sin(x, x)",
        "add(x)",
        "pow(x, x)",
        "x**x",
        "2**x",
        "x +",
        "(x",
        "x)",
        "x, x",
        "(x, x)",
        "1e999",
        "x..1",
        "2x",
        "x y",
        "foo(x)",
        "x[0]",
        "'x'",
        "x; x",
        "x = 1",
        "x if x else x",
        "nan",
        "inf",
        "zoo",
        "I*x",
        "\uff58",
        "x\u0663",
        "\U0001d465",
    ],
)
def test_invalid_text_is_a_formula_error(text: str) -> None:
    with pytest.raises(FormulaError):
        parse(text)


def test_valid_variable_spellings() -> None:
    for name in ["x", "X", "x0", "X25", "x_3"]:
        assert parse(name) == var(name)


def test_length_limit() -> None:
    text = "x" + "+x" * (MAX_TEXT // 2)
    assert len(text) > MAX_TEXT
    with pytest.raises(FormulaError, match="characters"):
        parse(text)


def test_node_limit() -> None:
    with pytest.raises(FormulaError, match="nodes"):
        parse("max(" + ", ".join(["x"] * (MAX_NODES // 2 + 1)) + ")")


def test_depth_limit_at_the_edge() -> None:
    nested = MAX_DEPTH - 1
    assert parse("cos(" * nested + "x" + ")" * nested) is not None
    with pytest.raises(FormulaError, match="deeper"):
        parse("cos(" * (nested + 1) + "x" + ")" * (nested + 1))


@pytest.mark.parametrize(
    "text",
    [
        "-" * 3000 + "x",
        "x**" * 1000 + "2",
        "(" * 3999,
        "+".join(["x"] * (MAX_DEPTH + 5)),
        "cos(" * 10000,
    ],
    ids=["unary", "power", "parens", "left-chain", "long"],
)
def test_deep_input_is_a_formula_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(FormulaError):
        parse(text)


def deep_chain(length: int) -> Node:
    tree = var()
    for _ in range(length):
        tree = Node("neg", (tree,))
    return tree


@pytest.mark.parametrize(
    "tree",
    [
        Node("bogus", (var(),)),
        Node("__class__"),
        Node("var", name="y"),
        Node("var"),
        Node("const", value=math.inf),
        Node("const", value=True),
        Node("const"),
        Node("add", (var(),)),
        Node("pow", (var(), var())),
        Node("cos", [var()]),  # type: ignore[arg-type]
        deep_chain(10_000),
    ],
    ids=lambda tree: f"{tree.op}-{len(tree.children) if isinstance(tree, Node) else ''}",
)
def test_hand_built_trees_are_checked(tree: Node) -> None:
    for use in (evaluate, infix, make_formula, generalize, to_sympy):
        with pytest.raises(FormulaError):
            use(tree) if use is not evaluate else use(tree, POINTS)
