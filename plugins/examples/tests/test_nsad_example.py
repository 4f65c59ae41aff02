"""How a plugin author tests a plugin: call the hooks, load the data, and register the
plugin in a real nsad-bench registry without installing anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from nsad_bench.components import ActivationSpec, DataOptions, DatasetProvider
from nsad_bench.plugins import load_registry

import nsad_example
from nsad_example import pendulum


@pytest.fixture
def registry(monkeypatch):
    """Built-ins plus this plugin from the source tree; an installed copy stays out."""
    monkeypatch.setenv("NSAD_BENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    return load_registry(extra_plugins=[("example", nsad_example)])


def test_hooks_return_component_objects():
    assert all(isinstance(p, DatasetProvider) for p in nsad_example.nsad_datasets())
    assert all(isinstance(a, ActivationSpec) for a in nsad_example.nsad_activations())


def test_registers_without_collisions(registry):
    assert registry.plugin_of("dataset", "pendulum") == "example"
    assert registry.plugin_of("activation", "xsinx") == "example"
    assert registry.plugin_of("activation", "snake") == "example"
    assert not [p for p in registry.problems if "example" in p]


def test_dataset_is_deterministic_and_valid():
    first, second = pendulum.load(DataOptions()), pendulum.load(DataOptions())
    assert first.X.shape == (pendulum.N_ROWS, len(pendulum.FEATURES))
    assert first.X.dtype == np.float32 and set(np.unique(first.y)) == {0, 1}
    np.testing.assert_array_equal(first.X, second.X)
    assert 0.3 < first.y.mean() < 0.6  # both classes well represented


def test_max_rows_subsample_follows_the_seed():
    a = pendulum.load(DataOptions(max_rows=500, seed=1))
    b = pendulum.load(DataOptions(max_rows=500, seed=1))
    c = pendulum.load(DataOptions(max_rows=500, seed=2))
    assert len(a.y) == 500
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def test_simulation_matches_energy_intuition():
    # Hanging still never goes over; a fast push on a short, undamped pendulum does.
    over = pendulum.simulate(
        np.array([0.0, 0.0]), np.array([0.0, 12.0]), np.array([1.0, 0.5]), np.zeros(2)
    )
    assert over.tolist() == [False, True]


def test_activations_build_and_compute(registry):
    torch = pytest.importorskip("torch")
    from nsad_bench.formula import make_formula

    x = torch.linspace(-3, 3, 7)
    snake = registry.get("activation", "snake").factory()
    torch.testing.assert_close(snake(x), x + torch.sin(x) ** 2)

    formula = make_formula(registry.get("activation", "xsinx").formula)
    assert formula.verdict == "ok"
    compiled = registry.get("compiler", "torch").compile(formula)
    torch.testing.assert_close(compiled(x), x * torch.sin(x))


def test_loading_the_plugin_does_not_import_torch():
    # `nsad-bench list` calls every hook; torch belongs in the factories, not at import time.
    code = (
        "import sys, nsad_example; nsad_example.nsad_datasets(); "
        "nsad_example.nsad_activations(); print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"
