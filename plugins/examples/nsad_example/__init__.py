"""An example third-party nsad-bench plugin: a new domain and two new activations.

Installed, it is found through the ``nsad_bench`` entry-point group (see this package's
``pyproject.toml``) and adds:

* dataset ``pendulum``: simulated damped pendulums, will each swing over the top?
  (:mod:`nsad_example.pendulum`);
* activation ``xsinx``: ``x*sin(x)``, given as formula text and compiled by nsad-bench's
  safe formula compiler;
* activation ``snake``: ``x + sin²(x)``, given as a factory of a torch module
  (:class:`nsad_example.snake.Snake`).

Hooks return descriptions only. Nothing here imports torch or generates data: that
happens in the callables, when a benchmark actually needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nsad_bench import hookimpl
from nsad_bench.components import ActivationSpec, DatasetProvider

from nsad_example import pendulum

if TYPE_CHECKING:  # for the annotation only: loading the plugin must not import torch
    from torch import nn


def make_snake() -> nn.Module:
    """A fresh Snake module; torch is imported here, not when the plugin loads."""
    from nsad_example.snake import Snake

    return Snake(a=1.0)


@hookimpl
def nsad_datasets() -> list[DatasetProvider]:
    return [pendulum.provider()]


@hookimpl
def nsad_activations() -> list[ActivationSpec]:
    return [
        ActivationSpec(name="xsinx", formula="x*sin(x)", description="x·sin x (formula)"),
        ActivationSpec(
            name="snake",
            factory=make_snake,
            description="x + sin²(x), Snake with a = 1 (torch module)",
        ),
    ]
