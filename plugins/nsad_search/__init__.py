"""A discoverer that searches activation functions directly, judged by the network they serve.

Where the GP backends fit a formula of the features to the labels and then rename every
feature to ``x``, this one searches expressions in ``x`` itself (Ramachandran et al. 2017,
"Searching for Activation Functions"): it starts from their core unit ``b(u1(x), u2(x))``
and random trees over the formula layer's operators, evolves them by crossover and
mutation, and scores each candidate by the validation AUC of a Light network trained for a
few epochs with it, on a split of the discovery subset only. Constant, linear and
non-finite candidates are rejected before any training.

Modules: :mod:`.space` (what an expression may be), :mod:`.variation` (crossover and
mutations), :mod:`.fitness` (scoring by training), :mod:`.search` (the loop and budgets).

Parameters (``--param search.NAME=VALUE``):

* budget: ``evaluations`` (networks trained, re-scoring included; ``budget.evaluations`` caps
  it), ``time_fraction`` (stop starting work at this fraction of ``budget.seconds``),
  ``restart`` (0 searches with the core's seed; 1, 2, … are independent restarts on the same
  discovery subset, with their own draws and folds);
* search: ``population_size``, ``tournament_size``, ``n_per_batch`` (candidates trained per
  batch), ``p_core_unit`` (share of core units in the first population), ``p_crossover``,
  ``p_subtree_mutation``, ``p_point_mutation``, ``p_hoist_mutation``, ``parsimony`` (AUC
  per node subtracted in tournaments), ``initial_programs`` (expressions to start from);
* space: ``unary``, ``binary``, ``const_range``, ``p_constant``, ``max_depth``;
* fitness: ``hidden``, ``epochs``, ``batch_size``, ``lr``, ``validation_fraction``. The
  defaults (5 epochs at batch 128) rank 16 assorted activations much as the full benchmark
  does on HIGGS and Covertype (Spearman 0.76 and 0.97 against Light AUC after 15 epochs at
  batch 1024; 3 epochs at batch 256 gave 0.56 and 0.72), at 0.04-0.08 s per candidate there.
  On Spambase's 460 discovery rows the ranking is weak (0.51; 0.72 with 3 epochs at batch
  256). Measured by ``leaderboards/search/proxy_fidelity.py``;
* ranking: ``final_top`` candidates re-scored on ``final_repeats`` fresh folds, then
  ``max_candidates`` returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nsad_bench import hookimpl
from nsad_bench.components import DiscovererSpec

NAME = "search"

#: Unary operators searched by default: the paper's function set (sin, cos, abs), the
#: protected ones (sqrt, log, inv), simple powers, and the smooth tanh, clamped exp, sigmoid.
#: (Defined here rather than in :mod:`.space` so that listing plugins imports no sympy.)
UNARY = (
    "neg",
    "abs",
    "square",
    "cube",
    "sqrt",
    "log",
    "inv",
    "exp",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
)
#: Binary operators searched by default (div is the protected one).
BINARY = ("add", "sub", "mul", "div", "max", "min")

DEFAULTS: dict[str, Any] = {
    # budget
    "evaluations": 300,
    "time_fraction": 0.9,
    "restart": 0,
    # search
    "population_size": 40,
    "tournament_size": 5,
    "n_per_batch": 20,
    "p_core_unit": 0.5,
    "p_crossover": 0.4,
    "p_subtree_mutation": 0.3,
    "p_point_mutation": 0.2,
    "p_hoist_mutation": 0.1,
    "parsimony": 0.0,
    "initial_programs": (),
    # space
    "unary": UNARY,
    "binary": BINARY,
    "const_range": (-2.0, 2.0),
    "p_constant": 0.2,
    "max_depth": 5,
    # fitness
    "hidden": (64, 32),
    "epochs": 5,
    "batch_size": 128,
    "lr": 1e-3,
    "validation_fraction": 0.3,
    # ranking
    "final_top": 8,
    "final_repeats": 3,
    "max_candidates": 20,
}


def create(params: Mapping[str, Any]) -> Any:
    """The configured discoverer; imports torch only when it is built (in the child)."""
    from .search import ActivationSearch

    return ActivationSearch({**DEFAULTS, **params})


@hookimpl
def nsad_discoverers() -> list[DiscovererSpec]:
    return [
        DiscovererSpec(
            name=NAME,
            description="evolves activations in x (core unit b(u1(x), u2(x)) and beyond), "
            "scored by the validation AUC of a briefly trained Light network",
            create=create,
            defaults=DEFAULTS,
            start_method="fork",
        )
    ]
