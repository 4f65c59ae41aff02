"""Built-in plugin: baseline activations, the paper's architectures, the formula compiler and
the local executors. It registers through the same entry point a third party would use."""

from __future__ import annotations

from functools import partial

from nsad_bench import hookimpl
from nsad_bench.components import (
    ActivationSpec,
    ArchitectureSpec,
    CompilerSpec,
    ExecutorSpec,
)


def _torch_activation(name: str):
    from torch import nn

    return getattr(nn, name)()


def _build_mlp(hidden: tuple[int, ...], n_features: int, make_activation):
    from nsad_bench.models import mlp

    return mlp(n_features, hidden, make_activation)


def _compile(formula):
    from nsad_bench.activation import compile_formula

    return compile_formula(formula)


def _local_executor(options):
    from nsad_bench.executors import LocalExecutor

    return LocalExecutor(options)


@hookimpl
def nsad_activations() -> list[ActivationSpec]:
    return [
        ActivationSpec(
            name="relu", factory=partial(_torch_activation, "ReLU"), description="max(0, x)"
        ),
        ActivationSpec(
            name="gelu",
            factory=partial(_torch_activation, "GELU"),
            description="x·Φ(x), exact erf form",
        ),
        ActivationSpec(
            name="silu",
            factory=partial(_torch_activation, "SiLU"),
            description="x·sigmoid(x) (Swish)",
        ),
        ActivationSpec(
            name="tanh", factory=partial(_torch_activation, "Tanh"), description="tanh(x)"
        ),
    ]


@hookimpl
def nsad_architectures() -> list[ArchitectureSpec]:
    return [
        ArchitectureSpec(
            name="heavy",
            hidden=(200, 100),
            build=partial(_build_mlp, (200, 100)),
            description="Linear-BN-σ 200 → 100 → 1 (paper Table 1)",
        ),
        ArchitectureSpec(
            name="light",
            hidden=(64, 32),
            build=partial(_build_mlp, (64, 32)),
            description="Linear-BN-σ 64 → 32 → 1 (paper Table 1)",
        ),
    ]


@hookimpl
def nsad_compilers() -> list[CompilerSpec]:
    return [
        CompilerSpec(
            name="torch",
            compile=_compile,
            description="walks the formula tree over the protected torch operator table",
        ),
    ]


@hookimpl
def nsad_executors() -> list[ExecutorSpec]:
    return [
        ExecutorSpec(
            name="local",
            create=_local_executor,
            description="this machine: in-process for --jobs 1, else worker processes",
        ),
    ]
