"""The plugin contract of nsad-bench: every hook a plugin may implement.

A plugin is an importable module (or object) with functions named like the hooks below,
decorated with :data:`hookimpl`. Publish it through the entry-point group ``nsad_bench``::

    # pyproject.toml of your package
    [project.entry-points.nsad_bench]
    my_domain = "my_package.nsad_plugin"

    # my_package/nsad_plugin.py
    from nsad_bench import hookimpl
    from nsad_bench.components import DatasetProvider

    @hookimpl
    def nsad_datasets():
        return [DatasetProvider(name="my_domain", load=load_my_domain, task="binary: a vs b")]

Rules every hook shares:

* A hook takes no arguments and returns a list of component objects from
  :mod:`nsad_bench.components`. Return descriptions, not data: put expensive work (imports
  of heavy backends, downloads) inside the callables, so ``nsad-bench list`` stays fast.
* Names are global per kind. Two plugins giving the same name is an error naming both;
  the one loaded first (built-ins load before third-party plugins) keeps the name.
* A plugin that fails to import, raises inside a hook, or returns the wrong type is reported
  by its name and skipped; the rest of the benchmark goes on (``--strict`` makes it fatal).
* A component that cannot run here (missing optional package, no Julia, …) still registers
  and reports why through ``requires``; the runner skips it with one line.

Environment switches: ``NSAD_BENCH_DISABLE_PLUGIN_AUTOLOAD=1`` loads built-ins only;
``NSAD_BENCH_PLUGINS=a,b`` loads only those third-party entry points;
``NSAD_BENCH_TRACE=1`` prints every hook call.
"""

from __future__ import annotations

import pluggy

from nsad_bench.components import (
    ActivationSpec,
    ArchitectureSpec,
    CompilerSpec,
    DatasetProvider,
    DiscovererSpec,
    ExecutorSpec,
)

PROJECT = "nsad_bench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def nsad_datasets() -> list[DatasetProvider]:
    """Datasets (domains) this plugin provides.

    ``DatasetProvider.load(options)`` gets :class:`~nsad_bench.components.DataOptions` and
    returns a :class:`~nsad_bench.components.Dataset` with float32 features and 0/1 labels.
    Look in ``options.data_dir`` for a local copy first; download into ``options.cache_dir``
    only when ``options.offline`` is false; verify what you read. On any problem raise
    :class:`~nsad_bench.components.DataError` with one line naming the dataset and the file.
    Honour ``options.max_rows`` with a subsample seeded by ``options.seed``.
    The ``task`` string (e.g. ``"binary: class 2 vs rest"``) is stored in every result row.
    """


@hookspec
def nsad_discoverers() -> list[DiscovererSpec]:
    """Formula discovery backends (gplearn, PySR, Operon, …).

    ``DiscovererSpec.create(params)`` returns an object with
    ``discover(X, y, *, seed, budget) -> list[Candidate]``: ranked candidate programs, best
    first, each with its fitness and complexity where the backend knows them. Return several
    candidates, not only the winner: the core rejects degenerate ones (constant, linear,
    non-finite once every feature becomes ``x``) and takes the best remaining, openly.
    Program text may be gplearn prefix (``mul(X0, cos(X1))``) or infix (``x0*cos(x1)``);
    it is parsed by a restricted parser, never executed.
    ``defaults`` holds every parameter with its default; the parameters are part of the
    formula-cache key. The core enforces ``budget.seconds`` by running ``discover`` in a child
    process started with ``start_method``; honour ``budget`` yourself too where you can.
    """


@hookspec
def nsad_activations() -> list[ActivationSpec]:
    """Fixed activation functions that every architecture is trained with (the baselines).

    Give either ``factory`` (returns a fresh ``torch.nn.Module``, e.g. ``torch.nn.ReLU``) or
    ``formula`` (text over the formula operators, e.g. ``"x*cos(x)"``, compiled safely).
    """


@hookspec
def nsad_architectures() -> list[ArchitectureSpec]:
    """Network shapes. ``build(n_features, make_activation)`` returns a model mapping a float32
    batch ``(n, n_features)`` to one logit per row; call ``make_activation()`` once per hidden
    layer. The parameter count reported is computed from the returned model.
    """


@hookspec
def nsad_compilers() -> list[CompilerSpec]:
    """Ways to turn a parsed :class:`~nsad_bench.formula.Formula` into a torch module.

    ``compile(formula)`` must evaluate the formula's tree with the semantics of
    :mod:`nsad_bench.operators` (protected division, log, sqrt, inverse) and must not call
    ``exec``/``eval`` on any text.
    """


@hookspec
def nsad_executors() -> list[ExecutorSpec]:
    """Places to run independent training jobs (local processes, a Dask cluster, …).

    ``create(options)`` returns an :class:`~nsad_bench.components.Executor`. Executors only
    compute; the driver process alone writes the results database.
    """
