"""The ``nsad-bench`` command line.

Bad input (unknown names, malformed numbers, unparsable formulas) ends with one line on
stderr and exit code 2. Ctrl-C keeps every finished run and says how to resume (exit 130).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from nsad_bench import __version__, settings
from nsad_bench.executors import default_jobs
from nsad_bench.plugins import KINDS, Registry, UnknownName, load_registry

EXIT_BAD_INPUT = 2
EXIT_STRICT = 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _bounded(cast: type, low: float, name: str, *, strict: bool = False):
    """An argparse type: ``cast(text)``, at least ``low`` (above it when ``strict``)."""
    kind = "a whole number" if cast is int else "a number"

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} is not {kind}: {text!r}") from None
        if not (value > low if strict else value >= low):  # also rejects NaN
            bound = f"above {low}" if strict else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{name} must be {bound}: {text!r}")
        return value

    return parse


_positive_int = _bounded(int, 1, "value")
_seed = _bounded(int, 0, "seed")
_positive_float = _bounded(float, 0, "value", strict=True)


def _param(text: str) -> tuple[str, str, Any]:
    """``gplearn.generations=10`` → ("gplearn", "generations", 10); values are JSON or text."""
    target, sep, raw = text.partition("=")
    discoverer, dot, key = target.partition(".")
    if not (sep and dot and discoverer and key):
        raise argparse.ArgumentTypeError(f"expected DISCOVERER.PARAM=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return discoverer, key, value


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--strict",
        action="store_true",
        help="exit non-zero when a plugin fails to load or a run fails",
    )
    results = _Parser(add_help=False)
    results.add_argument(
        "--results",
        metavar="PATH",
        help=f"results database (default ${settings.RESULTS_ENV} or {settings.DEFAULT_RESULTS})",
    )

    parser = _Parser(
        prog="nsad-bench",
        description="Benchmark activation functions discovered by symbolic regression.",
    )
    parser.add_argument("--version", action="version", version=f"nsad-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", parents=[common], help="every registered component")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--kind", choices=sorted(KINDS), help="only this kind")

    p = sub.add_parser("plugins", parents=[common], help="loaded plugins and their hooks")
    p.add_argument("--json", action="store_true")

    planning = _Parser(add_help=False)
    planning.add_argument(
        "-d", "--dataset", action="append", help="dataset name(s), comma-separated"
    )
    planning.add_argument("-a", "--architecture", action="append", help="architecture name(s)")
    planning.add_argument(
        "--activation",
        action="append",
        help="baseline names, 'specialist', 'transfer', 'hybrid' or DISCOVERER@SOURCE",
    )
    planning.add_argument("--discoverer", action="append", help="discoverer name(s)")
    planning.add_argument(
        "--seeds", nargs="+", type=_seed, metavar="SEED", help="default: 42 43 44"
    )
    planning.add_argument(
        "--data-dir", help=f"local dataset copies (default ${settings.DATA_DIR_ENV})"
    )
    planning.add_argument("--offline", action="store_true", help="never download")
    planning.add_argument(
        "--max-rows", type=_positive_int, help="subsample datasets to this many rows"
    )
    planning.add_argument("--epochs", type=_positive_int, default=15)
    planning.add_argument("--batch-size", type=_positive_int, default=1024)
    planning.add_argument("--lr", type=_positive_float, default=1e-3)
    planning.add_argument(
        "--discovery-seconds",
        type=_positive_float,
        default=300.0,
        help="hard time limit of one discovery (default 300)",
    )
    planning.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="DISCOVERER.PARAM=VALUE",
        help="discoverer parameter, e.g. gplearn.generations=10",
    )
    planning.add_argument(
        "--discovery-evaluations",
        type=_positive_int,
        help="cap on the programs (or networks) one discovery may evaluate",
    )
    planning.add_argument("--rediscover", action="store_true", help="ignore cached formulas")
    planning.add_argument(
        "--jobs",
        type=_positive_int,
        default=default_jobs(),
        help="worker processes (default: the number of cores)",
    )
    planning.add_argument("--executor", default="local", help="executor plugin (local, dask, …)")
    planning.add_argument("--scheduler", help="address of an existing cluster for the executor")

    p = sub.add_parser("run", parents=[common, results, planning], help="run a benchmark plan")
    p.add_argument("--all", action="store_true", help="every registered combination")
    p.add_argument("--preset", choices=["paper"], help="the paper's protocol (Table 4)")
    p.add_argument(
        "--transfer-from",
        action="append",
        metavar="DATASET",
        help="use only these datasets' formulas for transfer runs",
    )
    p.add_argument("--quiet", action="store_true", help="no leaderboard at the end")

    p = sub.add_parser(
        "compare-discoverers",
        parents=[common, results, planning],
        help="discoverers side by side: time, formula, verdict, downstream Light AUC",
    )
    p.add_argument("--output-dir", default="leaderboards", help="where Markdown and CSV go")
    p.add_argument("--no-write", action="store_true", help="print only")

    p = sub.add_parser("plot", parents=[common, results], help="figures from stored runs")
    p.add_argument("--output-dir", default="leaderboards", help="where PNG and SVG go")

    p = sub.add_parser("leaderboard", parents=[common, results], help="aggregate stored runs")
    p.add_argument("--json", action="store_true", help="print JSON, write no files")
    p.add_argument("-d", "--dataset", action="append", help="only these datasets")
    p.add_argument(
        "--output-dir",
        default="leaderboards",
        help="where Markdown and CSV go (default ./leaderboards)",
    )
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument(
        "--reference",
        default="relu",
        help="the activation every row is paired with (default relu)",
    )
    p.add_argument(
        "--view",
        choices=["runs", "paper", "transfer"],
        default="runs",
        help="runs (default), paper: ours beside the paper's Table 4, transfer: source × target",
    )

    p = sub.add_parser("formula", parents=[common], help="parse and judge one formula")
    p.add_argument("program", help="e.g. 'mul(cos(X25), sub(X12, X3))' or 'x0*cos(x1)'")
    p.add_argument("--json", action="store_true")
    return parser


# ---------------------------------------------------------------------------- commands


def _registry(args: argparse.Namespace, err: Console) -> Registry:
    registry = load_registry()
    for problem in registry.problems:
        err.print(f"[yellow]plugin problem[/yellow] {problem}", highlight=False)
    if registry.problems and args.strict:
        raise SystemExit(EXIT_STRICT)
    return registry


def cmd_list(args: argparse.Namespace, out: Console, err: Console) -> int:
    registry = _registry(args, err)
    items = []
    for kind in KINDS:
        if args.kind and kind != args.kind:
            continue
        for name in registry.names(kind):
            component = registry.get(kind, name)
            reason = component.unavailable_reason()
            items.append(
                {
                    "kind": kind,
                    "name": name,
                    "plugin": registry.plugin_of(kind, name),
                    "available": reason is None,
                    "reason": reason,
                    "description": component.description,
                }
            )
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    table = Table("kind", "name", "plugin", "available", "description")
    for item in items:
        available = "yes" if item["available"] else f"[red]no[/red]: {item['reason']}"
        table.add_row(item["kind"], item["name"], item["plugin"], available, item["description"])
    out.print(table)
    return 0


def cmd_plugins(args: argparse.Namespace, out: Console, err: Console) -> int:
    registry = _registry(args, err)
    if args.json:
        print(json.dumps([vars(p) | {"hooks": list(p.hooks)} for p in registry.plugins], indent=2))
        return 0
    table = Table("plugin", "version", "built-in", "hooks")
    for p in registry.plugins:
        table.add_row(p.name, p.version, "yes" if p.builtin else "no", ", ".join(p.hooks))
    out.print(table)
    return 0


def cmd_formula(args: argparse.Namespace, out: Console, err: Console) -> int:
    from nsad_bench.formula import FormulaError, make_formula

    try:
        formula = make_formula(args.program)
    except FormulaError as exc:
        raise UsageError(f"cannot parse formula: {exc}") from None
    info = {
        "original": formula.original,
        "generalized": formula.infix,
        "simplified": formula.simplified,
        "latex": formula.latex,
        "verdict": formula.verdict,
        "complexity": formula.complexity,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            out.print(f"[bold]{key:>12}[/bold]  {value}", highlight=False)
    return 0


def _plan(args: argparse.Namespace, registry: Registry):
    from nsad_bench.components import Budget
    from nsad_bench.discovery import resolve_params
    from nsad_bench.plan import make_plan, paper_plan
    from nsad_bench.training import TrainConfig

    params: dict[str, dict[str, Any]] = {}
    for discoverer, key, value in args.param:
        params.setdefault(discoverer, {})[key] = value
    for discoverer, given in params.items():
        try:
            resolve_params(registry.get("discoverer", discoverer), given)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    options: dict[str, Any] = {
        "train": TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr),
        "budget": Budget(seconds=args.discovery_seconds, evaluations=args.discovery_evaluations),
        "discoverer_params": params,
    }
    if args.seeds:
        options["seeds"] = list(dict.fromkeys(args.seeds))
    if args.max_rows:
        options["max_rows"] = args.max_rows
    filters = {
        "datasets": args.dataset,
        "architectures": args.architecture,
        "activations": args.activation,
        "discoverers": args.discoverer,
    }
    if args.preset == "paper":
        return paper_plan(registry, **{k: v for k, v in filters.items() if v}, **options)
    if args.transfer_from:
        from nsad_bench.plan import split_names

        options["transfer_sources"] = split_names(args.transfer_from)
    return make_plan(registry, everything=args.all, **filters, **options)


def _execute(args: argparse.Namespace, registry: Registry, plan, store, err: Console):
    from nsad_bench.components import ExecutorOptions
    from nsad_bench.provenance import command_line
    from nsad_bench.runner import Runner

    reason = registry.get("executor", args.executor).unavailable_reason()
    if reason:
        raise UsageError(f"executor {args.executor!r} is unavailable: {reason}")
    store.save_invocation(command_line())
    runner = Runner(
        registry,
        store,
        settings.data_options(args.data_dir, offline=args.offline or None),
        console=err,
        executor=args.executor,
        rediscover=args.rediscover,
        executor_options=ExecutorOptions(jobs=args.jobs, scheduler=args.scheduler),
    )
    return runner.run(plan)


def _finish(args: argparse.Namespace, report, path: Path, err: Console) -> int:
    """The closing line of a run, and its exit code."""
    from nsad_bench.runner import finished_runs

    if report.interrupted:
        err.print(
            f"interrupted: {finished_runs(report)} runs finished and saved in {path}; "
            "run the same command again to resume",
            highlight=False,
        )
        return EXIT_INTERRUPTED
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
    err.print(
        f"{report.planned} runs planned, {report.skipped} already done"
        f"{', ' + counts if counts else ''}; results in {path}",
        highlight=False,
    )
    if args.strict and (report.problems or report.counts.get("failed")):
        return EXIT_STRICT
    return 0


def cmd_run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from nsad_bench import leaderboard
    from nsad_bench.store import ResultsStore

    registry = _registry(args, err)
    plan = _plan(args, registry)
    path = settings.results_path(args.results)
    with ResultsStore(path) as store:
        report = _execute(args, registry, plan, store, err)
        if not report.interrupted and not args.quiet:
            runs = store.runs()
            leaderboard.render(leaderboard.summarize(runs[runs.dataset.isin(plan.datasets)]), out)
    return _finish(args, report, path, err)


def _header(store, runs) -> dict[str, Any]:
    """Provenance of a report: command, date (added on writing), versions, data, seeds."""
    from nsad_bench.provenance import command_line, package_versions

    data = store.datasets()
    data = data[data.name.isin(set(runs.dataset))] if len(runs) else data
    commands = list(dict.fromkeys(store.invocations().command))
    return {
        "command": command_line(),
        "runs written by": "; ".join(f"`{c}`" for c in commands) or "unknown",
        "results": str(store.path),
        "seeds": sorted(int(s) for s in runs.seed.unique()) if len(runs) else [],
        "data": "; ".join(
            f"{r['name']}: {int(r['n_rows']):,} rows × {int(r['n_features'])} features, "
            f"{r['task']}, from {r['source']}"
            for _, r in data.iterrows()
        ),
        "versions": package_versions(),
    }


def _write(args, err: Console, written: list[Path]) -> None:
    for path in written:
        err.print(f"wrote {path}", highlight=False)


def _open_results(args: argparse.Namespace):
    from nsad_bench.store import ResultsStore

    path = settings.results_path(args.results)
    if not path.exists():
        raise UsageError(f"no results database at {path}; run `nsad-bench run` first")
    return ResultsStore(path)


def cmd_leaderboard(args: argparse.Namespace, out: Console, err: Console) -> int:
    from nsad_bench import comparisons, leaderboard

    with _open_results(args) as store:
        runs = store.runs()
        if args.dataset:
            from nsad_bench.plan import split_names

            datasets = split_names(args.dataset)
            unknown = sorted(set(datasets) - set(runs.dataset))
            if unknown:
                raise UsageError(
                    f"no results for dataset(s) {', '.join(unknown)} in {store.path}; "
                    f"have: {', '.join(sorted(set(runs.dataset))) or 'none'}"
                )
            runs = runs[runs.dataset.isin(datasets)]
        header = _header(store, runs)
    if len(runs) and args.reference not in set(runs.activation):
        raise UsageError(
            f"no runs of reference activation {args.reference!r}; "
            f"have: {', '.join(sorted(set(runs.activation)))}"
        )
    summary = leaderboard.summarize(runs, reference=args.reference)
    if args.view == "paper":
        table = comparisons.compare_with_paper(summary)
        name, note = (
            "paper_comparison",
            (
                "Ours beside the paper's Table 4 (nsad_bench/reference/paper_table4.csv); "
                "d_* = ours − paper. Hybrids: our gplearn specialist and gplearn@higgs transfer."
            ),
        )
    elif args.view == "transfer":
        table = comparisons.transfer_matrix(runs).reset_index()
        name, note = (
            "transfer_matrix",
            (
                "Mean paired ΔAUC of the Light network against Light ReLU: rows are the formula's "
                "discoverer@source dataset, columns the target dataset (diagonal = specialist)."
            ),
        )
    else:
        if args.json:
            print(leaderboard.to_json(summary))
            return 0
        leaderboard.render(summary, out)
        if not args.no_write and not summary.empty:
            _write(args, err, leaderboard.write(summary, Path(args.output_dir), header=header))
        return 0
    if args.json:
        print(leaderboard.to_json(table))
        return 0
    _print_frame(table, out, title=name.replace("_", " "))
    if not args.no_write and not table.empty:
        written = leaderboard.write_report(
            Path(args.output_dir), name, display=table.round(4), data=table,
            header=header, note=note, group_by=None,
        )  # fmt: skip
        _write(args, err, written)
    return 0


def _print_frame(frame, out: Console, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(str(column))
    for _, row in frame.iterrows():
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    out.print(table)


def cmd_compare_discoverers(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Run each discoverer on each dataset, then a Light network with each formula."""
    import pandas as pd

    from nsad_bench import comparisons, leaderboard
    from nsad_bench.store import ResultsStore

    registry = _registry(args, err)
    if args.architecture or args.activation:
        raise UsageError("compare-discoverers trains Light ReLU and each specialist formula; "
                         "drop --architecture/--activation")  # fmt: skip
    args.architecture, args.activation = ["light"], ["relu", "specialist"]
    args.preset, args.transfer_from, args.all = None, None, False
    if not args.dataset:
        args.dataset = ["breast_cancer"]
    if not args.discoverer:
        args.discoverer = registry.names("discoverer")
    plan = _plan(args, registry)
    path = settings.results_path(args.results)
    with ResultsStore(path) as store:
        report = _execute(args, registry, plan, store, err)
        formulas = store.formulas()
        runs = store.runs()
        header = _header(store, runs[runs.dataset.isin(plan.datasets)])
    formulas = formulas[formulas.dataset.isin(plan.datasets)
                        & formulas.discoverer.isin(plan.discoverers)]  # fmt: skip
    formulas = formulas.drop_duplicates(["dataset", "discoverer"], keep="last")
    table = comparisons.compare_discoverers(formulas, runs[runs.dataset.isin(plan.datasets)])
    unavailable = [
        {"dataset": d, "discoverer": name, "status": "unavailable", "program": reason}
        for name in plan.discoverers
        if (reason := registry.get("discoverer", name).unavailable_reason())
        for d in plan.datasets
    ]
    table = pd.concat([table, pd.DataFrame(unavailable)], ignore_index=True)
    if not table.empty:
        order = {name: i for i, name in enumerate(plan.datasets + plan.discoverers)}
        table = table.sort_values(
            ["dataset", "discoverer"], key=lambda c: c.map(order), kind="stable"
        ).reset_index(drop=True)
    if not table.empty:
        display = comparisons.discoverers_display(table)
        _print_frame(display, out, title="discoverers")
        if not args.no_write:
            written = leaderboard.write_report(
                Path(args.output_dir), "discoverers", display=display, data=table,
                header=header, note=(
                    "Each discoverer on the 10% discovery subset (seed 42); `fitness` is the "
                    "backend's own score of the chosen program (gplearn: log loss, lower is "
                    "better; Operon: its MDL score); `Light AUC` is the Light network using the "
                    "generalized formula on the test split and `ΔAUC vs Light ReLU` its paired "
                    "difference with the 95% CI. The CSV has every field, incl. the program."
                ),
            )  # fmt: skip
            _write(args, err, written)
    return _finish(args, report, path, err)


def cmd_plot(args: argparse.Namespace, out: Console, err: Console) -> int:
    from nsad_bench import plots

    with _open_results(args) as store:
        runs, formulas = store.runs(), store.formulas()
    skipped = lambda why: err.print(f"[yellow]skip[/yellow] {why}", highlight=False)  # noqa: E731
    _write(args, err, plots.write_all(runs, formulas, Path(args.output_dir), on_skip=skipped))
    return 0


COMMANDS = {
    "list": cmd_list,
    "plugins": cmd_plugins,
    "run": cmd_run,
    "leaderboard": cmd_leaderboard,
    "compare-discoverers": cmd_compare_discoverers,
    "plot": cmd_plot,
    "formula": cmd_formula,
}


def main(argv: Sequence[str] | None = None) -> int:
    # Piped output gets a width that fits the leaderboard instead of rich's 80 columns.
    out = Console(width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args, out, err)
    except (UsageError, UnknownName) as exc:
        print(f"nsad-bench: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(
            "interrupted; finished runs are saved, run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
