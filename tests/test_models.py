"""The paper's architectures must have exactly the paper's parameter counts (Table 1)."""

import pytest
import torch

from nsad_bench.models import count_parameters
from nsad_bench.plugins import load_registry


@pytest.mark.parametrize(
    ("n_features", "heavy", "light"),
    [(28, 26_601, 4_161), (54, 31_801, 5_825), (57, 32_401, 6_017)],
)
def test_parameter_counts_match_the_paper(n_features, heavy, light):
    registry = load_registry()
    for name, expected in (("heavy", heavy), ("light", light)):
        model = registry.get("architecture", name).build(n_features, torch.nn.ReLU)
        assert count_parameters(model) == expected


def test_architecture_calls_activation_once_per_hidden_layer():
    calls = []

    def make():
        calls.append(1)
        return torch.nn.SiLU()

    model = load_registry().get("architecture", "light").build(10, make)
    assert len(calls) == 2
    assert model(torch.randn(7, 10)).shape == (7, 1)
