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
from nsad_bench.plugins import KINDS, Registry, UnknownName, load_registry

EXIT_BAD_INPUT = 2
EXIT_STRICT = 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed is not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed must be non-negative: {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


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

    parser = _Parser(prog="nsad-bench", description=__doc__.splitlines()[0].rstrip("."))
    parser.add_argument("--version", action="version", version=f"nsad-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", parents=[common], help="every registered component")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--kind", choices=sorted(KINDS), help="only this kind")

    p = sub.add_parser("plugins", parents=[common], help="loaded plugins and their hooks")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("run", parents=[common, results], help="run a benchmark plan")
    p.add_argument("--all", action="store_true", help="every registered combination")
    p.add_argument("--preset", choices=["paper"], help="the paper's protocol (Table 4)")
    p.add_argument("-d", "--dataset", action="append", help="dataset name(s), comma-separated")
    p.add_argument("-a", "--architecture", action="append", help="architecture name(s)")
    p.add_argument(
        "--activation",
        action="append",
        help="baseline names, 'specialist', 'transfer', 'hybrid' or DISCOVERER@SOURCE",
    )
    p.add_argument("--discoverer", action="append", help="discoverer name(s)")
    p.add_argument(
        "--transfer-from",
        action="append",
        metavar="DATASET",
        help="use only these datasets' formulas for transfer runs",
    )
    p.add_argument("--seeds", nargs="+", type=_seed, metavar="SEED", help="default: 42 43 44")
    p.add_argument("--data-dir", help=f"local dataset copies (default ${settings.DATA_DIR_ENV})")
    p.add_argument("--offline", action="store_true", help="never download")
    p.add_argument("--max-rows", type=_positive_int, help="subsample datasets to this many rows")
    p.add_argument("--epochs", type=_positive_int, default=15)
    p.add_argument("--batch-size", type=_positive_int, default=1024)
    p.add_argument("--lr", type=_positive_float, default=1e-3)
    p.add_argument(
        "--discovery-seconds",
        type=_positive_float,
        default=300.0,
        help="hard time limit of one discovery (default 300)",
    )
    p.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="DISCOVERER.PARAM=VALUE",
        help="discoverer parameter, e.g. gplearn.generations=10",
    )
    p.add_argument("--rediscover", action="store_true", help="ignore cached formulas")
    p.add_argument("--jobs", type=_positive_int, default=1, help="worker processes")
    p.add_argument("--executor", default="local", help="executor plugin (local, dask, …)")
    p.add_argument("--scheduler", help="address of an existing cluster for the executor")
    p.add_argument("--quiet", action="store_true", help="no leaderboard at the end")

    p = sub.add_parser("leaderboard", parents=[common, results], help="aggregate stored runs")
    p.add_argument("--json", action="store_true", help="print JSON, write no files")
    p.add_argument("-d", "--dataset", action="append", help="only these datasets")
    p.add_argument(
        "--output-dir",
        default="leaderboards",
        help="where Markdown and CSV go (default ./leaderboards)",
    )
    p.add_argument("--no-write", action="store_true", help="print only")

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
    from nsad_bench.plan import make_plan, paper_plan
    from nsad_bench.training import TrainConfig

    params: dict[str, dict[str, Any]] = {}
    for discoverer, key, value in args.param:
        registry.get("discoverer", discoverer)
        params.setdefault(discoverer, {})[key] = value
    options: dict[str, Any] = {
        "train": TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr),
        "budget": Budget(seconds=args.discovery_seconds),
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


def cmd_run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from nsad_bench import leaderboard
    from nsad_bench.components import ExecutorOptions
    from nsad_bench.runner import Runner, finished_runs
    from nsad_bench.store import ResultsStore

    registry = _registry(args, err)
    plan = _plan(args, registry)
    registry.get("executor", args.executor)
    path = settings.results_path(args.results)
    with ResultsStore(path) as store:
        runner = Runner(
            registry,
            store,
            settings.data_options(args.data_dir, offline=args.offline or None),
            console=err,
            executor=args.executor,
            rediscover=args.rediscover,
            executor_options=ExecutorOptions(jobs=args.jobs, scheduler=args.scheduler),
        )
        report = runner.run(plan)
        if report.interrupted:
            err.print(
                f"interrupted: {finished_runs(report)} runs finished and saved in {path}; "
                "run the same command again to resume",
                highlight=False,
            )
            return EXIT_INTERRUPTED
        if not args.quiet:
            runs = store.runs()
            runs = runs[runs.dataset.isin(plan.datasets)]
            leaderboard.render(leaderboard.summarize(runs), out)
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items() if k != "seconds")
    err.print(
        f"{report.planned} runs planned, {report.skipped} already done"
        f"{', ' + counts if counts else ''}; results in {path}",
        highlight=False,
    )
    if args.strict and (report.problems or report.counts.get("failed")):
        return EXIT_STRICT
    return 0


def cmd_leaderboard(args: argparse.Namespace, out: Console, err: Console) -> int:
    from nsad_bench import leaderboard
    from nsad_bench.provenance import command_line, package_versions
    from nsad_bench.store import ResultsStore

    path = settings.results_path(args.results)
    if not path.exists():
        raise UsageError(f"no results database at {path}; run `nsad-bench run` first")
    with ResultsStore(path) as store:
        runs = store.runs()
    datasets = None
    if args.dataset:
        from nsad_bench.plan import split_names

        datasets = split_names(args.dataset)
        unknown = sorted(set(datasets) - set(runs.dataset))
        if unknown:
            raise UsageError(
                f"no results for dataset(s) {', '.join(unknown)} in {path}; "
                f"have: {', '.join(sorted(set(runs.dataset))) or 'none'}"
            )
        runs = runs[runs.dataset.isin(datasets)]
    summary = leaderboard.summarize(runs)
    if args.json:
        print(leaderboard.to_json(summary))
        return 0
    leaderboard.render(summary, out)
    if not args.no_write and not summary.empty:
        header = {
            "command": command_line(),
            "results": str(path),
            "seeds": sorted(int(s) for s in runs.seed.unique()),
            "rows": {d: int(n) for d, n in runs.groupby("dataset").n_rows.first().items()},
            "versions": package_versions(),
        }
        for written in leaderboard.write(summary, Path(args.output_dir), header=header):
            err.print(f"wrote {written}", highlight=False)
    return 0


COMMANDS = {
    "list": cmd_list,
    "plugins": cmd_plugins,
    "run": cmd_run,
    "leaderboard": cmd_leaderboard,
    "formula": cmd_formula,
}


def main(argv: Sequence[str] | None = None) -> int:
    out, err = Console(), Console(stderr=True)
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
