"""Running a plan: load data, discover formulas (cached), train every run, store each row.

This is the driver side: it alone talks to the results database, writing each row as its
run finishes. The runs themselves are executed by :mod:`nsad_bench.execution`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nsad_bench import execution, protocol
from nsad_bench.components import DataError, DataOptions, Dataset, ExecutorOptions
from nsad_bench.execution import Job
from nsad_bench.plan import Plan
from nsad_bench.plugins import Registry
from nsad_bench.store import ResultsStore


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass
class Report:
    planned: int = 0
    skipped: int = 0
    #: Finished runs by status ("ok", "diverged", "failed").
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    interrupted: bool = False


# --------------------------------------------------------------------------- the driver


class Runner:
    """Runs plans against one results store, printing progress on ``console``."""

    def __init__(
        self,
        registry: Registry,
        store: ResultsStore,
        data_options: DataOptions,
        *,
        console: Console | None = None,
        executor: str = "local",
        executor_options: ExecutorOptions | None = None,
        rediscover: bool = False,
    ) -> None:
        self.registry = registry
        execution.use_registry(registry)
        self.store = store
        self.data_options = data_options
        self.console = console or Console(stderr=True)
        self.executor = executor
        self.executor_options = executor_options or ExecutorOptions()
        self.rediscover = rediscover

    def _say(self, report: Report, message: str) -> None:
        report.problems.append(message)
        self.console.print(f"[yellow]skip[/yellow] {message}", highlight=False)

    def load_datasets(self, names: list[str], plan: Plan, report: Report) -> dict[str, Dataset]:
        options = DataOptions(**{**asdict(self.data_options), "max_rows": plan.max_rows})
        loaded = {}
        for name in names:
            provider = self.registry.get("dataset", name)
            reason = provider.unavailable_reason()
            if reason:
                self._say(report, f"dataset {name}: unavailable: {reason}")
                continue
            try:
                with self.console.status(f"loading {name}…"):
                    data = loaded[name] = execution.load_dataset(name, options)
                self.store.save_dataset({
                    "name": name, "task": data.task, "n_rows": len(data.y),
                    "n_features": data.n_features, "positive_rate": float(data.y.mean()),
                    "source": data.source,
                    "loaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                })  # fmt: skip
            except DataError as exc:  # its message already names the dataset and file
                message = str(exc)
                prefix = "" if message.startswith(f"{name}:") else f"{name}: "
                self._say(report, f"dataset {prefix}{message}")
            except Exception as exc:
                self._say(report, f"dataset {name}: {type(exc).__name__}: {exc}")
        return loaded

    def discover(self, plan: Plan, data: Dataset, name: str, report: Report) -> str | None:
        """The program of the formula ``name`` finds on ``data`` (from the cache when known)."""
        from nsad_bench.discovery import run_discoverer

        spec = self.registry.get("discoverer", name)
        reason = spec.unavailable_reason()
        if reason:
            self._say(report, f"discoverer {name}: unavailable: {reason}")
            return None
        params = dict(plan.discoverer_params.get(name, {}))
        if "dataset" in spec.defaults:
            params.setdefault("dataset", data.name)
        key = digest(
            {
                "dataset": data.name,
                "task": data.task,
                "rows": len(data.y),
                "discoverer": name,
                "params": {**spec.defaults, **params},
                "protocol": asdict(plan.protocol),
                "budget": asdict(plan.budget),
            }
        )
        cached = None if self.rediscover else self.store.formula(key)
        if cached is not None and cached["status"] == "ok":
            self.console.print(
                f"[dim]cached[/dim] {name}@{data.name}: {cached['infix']}", highlight=False
            )
            return cached["program"]
        disc_rows, _ = protocol.discovery_split(data.y, plan.protocol)
        (X_disc,) = protocol.standardize(data.X[disc_rows])
        with self.console.status(f"discovering {name}@{data.name} on {len(disc_rows)} rows…"):
            found = run_discoverer(
                spec,
                params,
                X_disc,
                data.y[disc_rows],
                seed=plan.protocol.discovery_seed,
                budget=plan.budget,
            )
        formula = found.formula
        self.store.save_formula(
            {
                "key": key,
                "dataset": data.name,
                "task": data.task,
                "discoverer": name,
                "params": {**spec.defaults, **params},
                "seed": plan.protocol.discovery_seed,
                "status": found.status,
                "error": found.error,
                "program": formula.original if formula else None,
                "infix": formula.infix if formula else None,
                "simplified": formula.simplified if formula else None,
                "latex": formula.latex if formula else None,
                "verdict": formula.verdict if formula else None,
                "chosen": found.chosen,
                "note": found.note,
                "candidates": found.candidates,
                "wall_seconds": found.wall_seconds,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        )
        if formula is None:
            self._say(report, f"discoverer {name}@{data.name} failed: {found.error}")
            return None
        note = f" ({found.note})" if found.note else ""
        self.console.print(
            f"[green]found[/green] {name}@{data.name}: {formula.infix}{note} "
            f"in {found.wall_seconds:.1f} s",
            highlight=False,
        )
        return formula.original

    def jobs(self, plan: Plan, report: Report) -> list[Job]:
        """Every run of ``plan`` whose data and formula could be had, in a stable order."""
        needed = list(dict.fromkeys(plan.datasets + [s for s, _ in plan.discovery_jobs()]))
        loaded = self.load_datasets(needed, plan, report)
        formulas: dict[tuple[str, str], str] = {}
        for source, discoverer in plan.discovery_jobs():
            if source in loaded:
                program = self.discover(plan, loaded[source], discoverer, report)
                if program is not None:
                    formulas[(source, discoverer)] = program
        options = DataOptions(**{**asdict(self.data_options), "max_rows": plan.max_rows})
        jobs = []
        for dataset in plan.datasets:
            if dataset not in loaded:
                continue
            data = loaded[dataset]
            for architecture in plan.architectures:
                for choice in plan.activations_for(dataset, formulas):
                    if not plan.keeps(architecture, choice):
                        continue
                    program = formulas.get((choice.source, choice.discoverer))
                    for seed in plan.seeds:
                        run_id = digest(
                            {
                                "dataset": dataset,
                                "task": data.task,
                                "rows": len(data.y),
                                "architecture": architecture,
                                "activation": choice.label,
                                "formula": program,
                                "seed": seed,
                                "train": asdict(plan.train),
                                "protocol": asdict(plan.protocol),
                                "compiler": plan.compiler,
                            }
                        )
                        jobs.append(
                            Job(
                                run_id,
                                dataset,
                                architecture,
                                choice,
                                seed,
                                program,
                                plan.train,
                                plan.protocol,
                                options,
                                plan.compiler,
                            )
                        )
        return jobs

    def run(self, plan: Plan) -> Report:
        report = Report()
        jobs = self.jobs(plan, report)
        report.planned = len(jobs)
        done = self.store.done_ids(j.run_id for j in jobs)
        todo = [j for j in jobs if j.run_id not in done]
        report.skipped = len(jobs) - len(todo)
        if report.skipped:
            self.console.print(f"[dim]{report.skipped} of {len(jobs)} runs already done[/dim]")
        if not todo:
            return report
        executor = self.registry.get("executor", self.executor).create(self.executor_options)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        started = time.perf_counter()
        try:
            with Progress(*columns, console=self.console, transient=False) as progress:
                bar = progress.add_task("training", total=len(todo))
                groups = execution.group_jobs(todo)
                for _, rows in executor.run(execution.execute_group, groups):
                    for row in rows:
                        self.store.save_run(row)
                        report.counts[row["status"]] = report.counts.get(row["status"], 0) + 1
                        if row["status"] == "failed":
                            progress.console.print(
                                f"[red]failed[/red] {row['dataset']} {row['architecture']} "
                                f"{row['activation']} seed {row['seed']}: {row['error']}",
                                highlight=False,
                            )
                        progress.update(bar, advance=1, description=f"{row['dataset']}")
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            executor.close()
        report.seconds = time.perf_counter() - started
        return report


def finished_runs(report: Report) -> int:
    return sum(report.counts.values())


__all__ = ["Report", "Runner", "finished_runs"]
