"""Compiled formula activations: agreement with numpy, finite gradients, pickling, safety."""

from __future__ import annotations

import builtins
import copy
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from nsad_bench.activation import FormulaActivation, compile_formula
from nsad_bench.formula import FormulaError, Node, evaluate, make_formula, parse
from nsad_bench.operators import OPERATORS, PROTECT

_rng = np.random.default_rng(0)
EDGES = np.array(
    [0.0, 1e-300, -1e-300, 1e-12, -1e-12, 0.0009999, -0.0009999, PROTECT, -PROTECT]
    + [0.0010001, -0.0010001, 1.0, -1.0, 49.9, 50.0, 60.0, -60.0]
)
INPUTS = np.concatenate([EDGES, _rng.normal(0.0, 3.0, 300)])
EXPONENTS = [0, 2, 3, 0.5, 1.5, -1, -2]


def x() -> Node:
    return Node("var", name="x")


def const(value: float) -> Node:
    return Node("const", value=float(value))


def trees_for(name: str) -> list[Node]:
    """Trees that use operator ``name`` with the input hitting its thresholds."""
    if name == "pow":
        return [Node("pow", (x(), const(e))) for e in EXPONENTS] + [
            Node("pow", (Node("abs", (x(),)), const(e))) for e in EXPONENTS
        ]
    if OPERATORS[name].arity == 1:
        return [Node(name, (x(),))]
    cosine = Node("cos", (x(),))
    return [Node(name, (cosine, x())), Node(name, (x(), cosine)), Node(name, (const(1.5), x()))]


def run(tree: Node, values: np.ndarray, dtype: torch.dtype = torch.float64) -> np.ndarray:
    module = compile_formula(make_formula(tree))
    with torch.no_grad():
        return module(torch.tensor(values, dtype=dtype)).double().numpy()


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_every_operator_matches_numpy_evaluate(name: str) -> None:
    for tree in trees_for(name):
        np.testing.assert_allclose(
            run(tree, INPUTS),
            evaluate(tree, INPUTS),
            rtol=1e-12,
            atol=1e-300,
            equal_nan=True,
            err_msg=str(tree),
        )


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_every_operator_matches_numpy_in_float32(name: str) -> None:
    # Away from the thresholds: there float32 rounds 0.001 and the input differently.
    values = _rng.normal(0.0, 3.0, 300).astype(np.float32).astype(np.float64)
    for tree in trees_for(name):
        np.testing.assert_allclose(
            run(tree, values, torch.float32),
            evaluate(tree, values),
            rtol=2e-5,
            atol=2e-5,
            equal_nan=True,
            err_msg=str(tree),
        )


@pytest.mark.parametrize("text", ["div(1, x)", "log(x)", "inv(x)", "sqrt(x)", "div(x, x)"])
def test_protected_torch_semantics_at_thresholds(text: str) -> None:
    for dtype in (torch.float64, torch.float32):
        values = torch.tensor(EDGES[:11], dtype=dtype)
        expected = evaluate(parse(text), values.double().numpy())
        got = compile_formula(make_formula(text))(values).double().numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=f"{text} {dtype}")


def gradient_trees(name: str) -> list[Node]:
    if name == "pow":  # non-integer powers of a negative base are NaN already forward
        return [Node("pow", (x(), const(e))) for e in (2, 3)] + [
            Node("pow", (Node("abs", (x(),)), const(e))) for e in (0.5, 1.5, 2, 3)
        ]
    return trees_for(name) + ([Node(name, (x(), x()))] if OPERATORS[name].arity == 2 else [])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_gradients_are_finite_near_thresholds(name: str, dtype: torch.dtype) -> None:
    finite = EDGES if dtype == torch.float64 else EDGES[np.abs(EDGES) != 1e-300]
    for tree in gradient_trees(name):
        inputs = torch.tensor(finite, dtype=dtype, requires_grad=True)
        compile_formula(make_formula(tree))(inputs).sum().backward()
        assert inputs.grad is not None
        assert torch.isfinite(inputs.grad).all(), f"{tree}: {inputs.grad}"


def test_module_has_no_parameters_and_shows_its_formula() -> None:
    module = compile_formula(make_formula("mul(X1, cos(X2))"))
    assert isinstance(module, FormulaActivation)
    assert list(module.parameters()) == [] and list(module.buffers()) == []
    assert repr(module) == "FormulaActivation(x * cos(x))"


def test_output_has_the_input_shape_even_for_constants() -> None:
    batch = torch.randn(4, 7)
    for text in ["2.5", "div(x, sub(x, x))", "x*cos(x)"]:
        out = compile_formula(make_formula(text))(batch)
        assert out.shape == batch.shape and out.dtype == batch.dtype
    constant = compile_formula(make_formula("2.5"))(batch)
    constant.add_(1.0)  # a real tensor, not a broadcast view
    assert (constant == 3.5).all()


def test_pickle_and_deepcopy_rebuild_the_closures() -> None:
    model = nn.Sequential(nn.Linear(3, 5), compile_formula(make_formula("x*cos(x)")))
    batch = torch.randn(8, 3)
    expected = model(batch)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        torch.testing.assert_close(clone(batch), expected)
        assert repr(clone[1]) == "FormulaActivation(x * cos(x))"


def test_trains_inside_a_network_with_finite_gradients() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 16), compile_formula(make_formula("div(sin(x), x)")), nn.Linear(16, 1)
    )
    batch = torch.randn(64, 4)
    batch[0] = 0.0
    loss = nn.functional.binary_cross_entropy_with_logits(
        model(batch).squeeze(1), torch.randint(0, 2, (64,)).float()
    )
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_compiles_without_dynamic_code(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("dynamic code was used")

    formula = make_formula("add(mul(x, cos(x)), log(x))")
    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, refuse)
    module = compile_formula(formula)
    np.testing.assert_allclose(
        module(torch.tensor(INPUTS)).numpy(), evaluate(formula.tree, INPUTS), rtol=1e-12
    )
    assert compile_formula("sigmoid(x) * x")(torch.zeros(3)).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "program",
    [
        "__import__('os').system('echo hacked')",
        "().__class__.__bases__[0].__subclasses__()",
        "lambda: 1",
        "x.real",
        "open('f')",
        "eval('1')",
        "exec('x = 1')",
        "getattr(x, 'real')",
        "x; import os",
    ],
)
def test_compiler_refuses_injection_strings(program: str) -> None:
    with pytest.raises(FormulaError):
        compile_formula(program)
    with pytest.raises(FormulaError):
        FormulaActivation(program)


@pytest.mark.parametrize("bad", [Node("system", (Node("var", name="x"),)), 42, None])
def test_compiler_refuses_invalid_trees_and_types(bad) -> None:
    with pytest.raises(FormulaError):
        FormulaActivation(bad)
