"""Leaderboards: runs aggregated over seeds, with paired differences to a size-matched ReLU.

E_param = AUC / log10(params) rewards small networks whatever their activation, so every
row also carries its AUC and accuracy difference to ReLU on the *same* dataset and
architecture, paired by seed, with a 95% t interval. A mark (``*``) flags intervals that
exclude zero.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from nsad_bench.metrics import paired_interval

KEYS = ["dataset", "architecture", "activation"]
REFERENCE = "relu"
KIND_ORDER = {"baseline": 0, "specialist": 1, "transfer": 2}


def _status(group: pd.DataFrame) -> str:
    counts = group["status"].value_counts()
    if list(counts.index) == ["ok"]:
        return "ok"
    parts = []
    for status, count in counts.items():
        text = f"{count} {status}"
        if status == "diverged":
            epochs = sorted(
                {int(e) for e in group.loc[group.status == "diverged", "diverged_epoch"]}
            )
            text += f" (epoch {', '.join(map(str, epochs))})"
        parts.append(text)
    return ", ".join(parts)


def _paired(group: pd.DataFrame, reference: pd.DataFrame, metric: str) -> tuple[float, float]:
    mine = group[group.status == "ok"].set_index("seed")[metric]
    ref = reference[reference.status == "ok"].set_index("seed")[metric]
    common = mine.index.intersection(ref.index)
    if len(common) == 0:
        return math.nan, math.nan
    return paired_interval((mine[common] - ref[common]).to_numpy())


def summarize(runs: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """One row per dataset × architecture × activation (the ``leaderboard --json`` contract)."""
    if runs.empty:
        return pd.DataFrame(columns=[*KEYS, "n_runs", "status"])
    rows: list[dict[str, Any]] = []
    for (dataset, architecture, activation), group in runs.groupby(KEYS, sort=False):
        ok = group[group.status == "ok"]
        ref = runs[
            (runs.dataset == dataset)
            & (runs.architecture == architecture)
            & (runs.activation == reference)
        ]
        if activation == reference:  # the reference's difference to itself says nothing
            d_auc = d_auc_ci = d_acc = d_acc_ci = math.nan
        else:
            d_auc, d_auc_ci = _paired(group, ref, "auc")
            d_acc, d_acc_ci = _paired(group, ref, "accuracy")
        first = group.iloc[0]
        rows.append(
            {
                "dataset": dataset,
                "architecture": architecture,
                "activation": activation,
                "kind": first["activation_kind"],
                "formula": first["formula"],
                "n_runs": int(len(ok)),
                "seeds": int(group["seed"].nunique()),
                "accuracy_mean": _mean(ok.accuracy),
                "accuracy_std": _std(ok.accuracy),
                "auc_mean": _mean(ok.auc),
                "auc_std": _std(ok.auc),
                "params": int(group["params"].dropna().iloc[0])
                if group["params"].notna().any()
                else None,
                "e_param": _mean(ok.e_param),
                "d_auc": d_auc,
                "d_auc_ci95": d_auc_ci,
                "d_accuracy": d_acc,
                "d_accuracy_ci95": d_acc_ci,
                "status": _status(group),
                "reference": reference,
            }
        )
    frame = pd.DataFrame(rows)
    # The reference first, then other baselines, specialists and transfers, in a stable order.
    rank = (
        frame["kind"]
        .map(KIND_ORDER)
        .fillna(len(KIND_ORDER))
        .where(frame["activation"] != reference, -1)
    )
    order = frame.assign(_rank=rank).sort_values(
        ["dataset", "architecture", "_rank", "activation"], kind="stable"
    )
    return order.drop(columns="_rank").reset_index(drop=True)


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else math.nan


def _std(values: pd.Series) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else math.nan


def _pm(mean: float, std: float, digits: int = 4) -> str:
    if mean is None or math.isnan(mean):
        return "—"
    return f"{mean:.{digits}f}" + ("" if std is None or math.isnan(std) else f" ± {std:.{digits}f}")


def _delta(mean: float, half: float) -> str:
    if mean is None or math.isnan(mean):
        return "—"
    if half is None or math.isnan(half):
        return f"{mean:+.4f}"
    mark = "*" if abs(mean) > half else ""
    return f"{mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}]{mark}"


def display_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The human-readable columns of a summary, as rendered in Markdown and the terminal."""
    return pd.DataFrame(
        {
            "dataset": summary.dataset,
            "architecture": summary.architecture,
            "activation": summary.activation,
            "kind": summary.kind,
            "seeds": summary.n_runs,
            "accuracy": [
                _pm(m, s) for m, s in zip(summary.accuracy_mean, summary.accuracy_std, strict=True)
            ],
            "AUC": [_pm(m, s) for m, s in zip(summary.auc_mean, summary.auc_std, strict=True)],
            f"ΔAUC vs {_reference(summary)} (95% CI)": [
                _delta(m, h) for m, h in zip(summary.d_auc, summary.d_auc_ci95, strict=True)
            ],
            "params": [f"{int(p):,}" if p == p and p is not None else "—" for p in summary.params],
            "E_param": [_pm(e, math.nan) for e in summary.e_param],
            "status": summary.status,
        }
    )


def render(summary: pd.DataFrame, console: Console) -> None:
    """A rich table per dataset; the best mean AUC of each dataset is highlighted."""
    if summary.empty:
        console.print("no results yet: run `nsad-bench run` first")
        return
    shown = display_frame(summary)
    for dataset, rows in shown.groupby("dataset", sort=False):
        aucs = summary.loc[rows.index, "auc_mean"]
        best = aucs.idxmax() if aucs.notna().any() else None
        table = Table(title=f"{dataset}", title_justify="left")
        for column in rows.columns.drop("dataset"):
            justify = (
                "left" if column in ("architecture", "activation", "kind", "status") else "right"
            )
            table.add_column(column, justify=justify)
        for index, row in rows.iterrows():
            style = "bold green" if index == best else ("red" if row.status != "ok" else None)
            table.add_row(*[str(v) for v in row.drop("dataset")], style=style)
        console.print(table)
    console.print(note(_reference(summary)).replace("`", ""), style="dim")


def to_json(summary: pd.DataFrame) -> str:
    records = json.loads(summary.to_json(orient="records"))  # NaN → null
    return json.dumps(records, indent=2)


def note(reference: str = REFERENCE) -> str:
    return (
        f"ΔAUC: mean paired difference to {reference} of the same dataset and architecture over "
        "the same seeds, with its 95% t interval; `*` marks intervals that exclude zero. "
        "E_param = AUC / log10(params) rewards size alone: compare it only at equal params."
    )


def _reference(summary: pd.DataFrame) -> str:
    return (
        str(summary["reference"].iloc[0]) if "reference" in summary and len(summary) else REFERENCE
    )


def write_report(
    directory: Path,
    name: str,
    *,
    display: pd.DataFrame,
    data: pd.DataFrame,
    header: dict[str, Any] | None = None,
    note: str = "",
    group_by: str | None = "dataset",
) -> list[Path]:
    """``name.md`` (provenance header, one table per ``group_by`` value) and ``name.csv``."""
    from tabulate import tabulate

    directory.mkdir(parents=True, exist_ok=True)
    md_path, csv_path = directory / f"{name}.md", directory / f"{name}.csv"
    header = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(header or {}),
    }
    lines = [f"# nsad-bench: {name.replace('_', ' ')}", ""]
    lines += [f"- **{key}**: {_text(value)}" for key, value in header.items()]
    lines += ["", note, ""] if note else [""]
    groups = display.groupby(group_by, sort=False) if group_by else [(None, display)]
    for group, rows in groups:
        if group is not None:
            lines += [f"## {group}", ""]
            rows = rows.drop(columns=group_by)
        lines += [tabulate(rows, headers="keys", tablefmt="github", showindex=False), ""]
    md_path.write_text("\n".join(lines))
    data.to_csv(csv_path, index=False, float_format="%.6g")
    return [md_path, csv_path]


def write(
    summary: pd.DataFrame,
    directory: Path,
    *,
    name: str = "leaderboard",
    header: dict[str, Any] | None = None,
) -> list[Path]:
    """The leaderboard as Markdown (with a provenance header) and CSV under ``directory``."""
    return write_report(
        directory,
        name,
        display=display_frame(summary),
        data=summary,
        header=header,
        note=note(_reference(summary)),
    )


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(map(str, value))
    return str(value)
