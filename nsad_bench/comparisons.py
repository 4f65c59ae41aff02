"""Views across runs: ours beside the paper, the transfer matrix, and discoverers side by side."""

from __future__ import annotations

import json
import math
from importlib import resources

import pandas as pd

from nsad_bench.leaderboard import REFERENCE, summarize


def paper_reference() -> pd.DataFrame:
    """The paper's Table 4 (see ``nsad_bench/reference/README.md`` for its source)."""
    with resources.files("nsad_bench").joinpath("reference/paper_table4.csv").open() as f:
        return pd.read_csv(f)


def _paper_activation(row: pd.Series) -> str:
    return row["kind"] if row["kind"] in ("specialist", "transfer") else row["activation"]


def compare_with_paper(summary: pd.DataFrame, discoverer: str = "gplearn") -> pd.DataFrame:
    """Our mean accuracy and AUC beside the paper's, row by row, with the differences.

    Hybrids are matched by kind: our ``<discoverer>@<dataset>`` specialist and
    ``<discoverer>@higgs`` transfer rows stand for the paper's Hybrid Specialist / Transfer.
    """
    paper = paper_reference()
    ours = summary.copy()
    hybrid = ours["kind"].isin(["specialist", "transfer"])
    keep = ~hybrid | ours["activation"].str.startswith(f"{discoverer}@")
    keep &= ~(ours["kind"] == "transfer") | ours["activation"].str.endswith("@higgs")
    ours = ours[keep].copy()
    ours["paper_activation"] = ours.apply(_paper_activation, axis=1) if len(ours) else []
    merged = paper.merge(
        ours,
        left_on=["dataset", "architecture", "activation"],
        right_on=["dataset", "architecture", "paper_activation"],
        how="left",
        suffixes=("_paper", ""),
    )
    return pd.DataFrame({
        "dataset": merged["dataset"],
        "architecture": merged["architecture"],
        "activation": merged["activation_paper"],
        "ours": merged["activation"],
        "seeds": merged["n_runs"],
        "accuracy": merged["accuracy_mean"],
        "accuracy_paper": merged["accuracy_mean_paper"],
        "d_accuracy": merged["accuracy_mean"] - merged["accuracy_mean_paper"],
        "auc": merged["auc_mean"],
        "auc_paper": merged["auc_mean_paper"],
        "d_auc": merged["auc_mean"] - merged["auc_mean_paper"],
        "params": merged["params"],
        "params_paper": merged["params_paper"],
        "e_param": merged["e_param"],
        "e_param_paper": merged["e_param_paper"],
    })  # fmt: skip


def transfer_matrix(runs: pd.DataFrame, architecture: str = "light") -> pd.DataFrame:
    """Rows: discoverer@source; columns: target dataset; cells: mean paired ΔAUC to ReLU."""
    summary = summarize(runs[runs.architecture == architecture])
    hybrids = summary[summary["kind"].isin(["specialist", "transfer"])]
    if hybrids.empty:
        return pd.DataFrame()
    return hybrids.pivot_table(
        index="activation", columns="dataset", values="d_auc", aggfunc="first", sort=False
    )


def compare_discoverers(formulas: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and discoverer: time, formula, verdict, fitness, and the downstream AUC of
    the Light network using the formula (specialist runs), beside Light ReLU."""
    summary = summarize(runs[runs.architecture == "light"]) if not runs.empty else runs
    rows = []
    for _, f in formulas.iterrows():
        candidates = json.loads(f["candidates"]) if isinstance(f["candidates"], str) else []
        chosen = candidates[int(f["chosen"])] if f["chosen"] == f["chosen"] and candidates else {}
        label = f"{f['discoverer']}@{f['dataset']}"
        mine = summary[(summary.dataset == f["dataset"]) & (summary.activation == label)]
        ref = summary[(summary.dataset == f["dataset"]) & (summary.activation == REFERENCE)]
        rows.append({
            "dataset": f["dataset"],
            "discoverer": f["discoverer"],
            "status": f["status"],
            "seconds": f["wall_seconds"],
            "program": f["program"] if f["status"] == "ok" else f["error"],
            "generalized": f["infix"],
            "complexity": chosen.get("complexity"),
            "verdict": f["verdict"],
            "fitness": chosen.get("fitness"),
            "candidates": len(candidates),
            "light_auc": float(mine.auc_mean.iloc[0]) if len(mine) else math.nan,
            "light_auc_std": float(mine.auc_std.iloc[0]) if len(mine) else math.nan,
            "d_auc_vs_relu": float(mine.d_auc.iloc[0]) if len(mine) else math.nan,
            "d_auc_ci95": float(mine.d_auc_ci95.iloc[0]) if len(mine) else math.nan,
            "light_relu_auc": float(ref.auc_mean.iloc[0]) if len(ref) else math.nan,
        })  # fmt: skip
    return pd.DataFrame(rows)


def discoverers_display(table: pd.DataFrame) -> pd.DataFrame:
    """The readable columns of :func:`compare_discoverers`, for the terminal and Markdown."""

    def text(value: object, width: int = 48) -> str:
        value = "" if value is None or value != value else str(value)
        return value if len(value) <= width else value[: width - 1] + "…"

    def number(value: object, digits: int = 4) -> str:
        return "—" if value is None or value != value else f"{value:.{digits}f}"

    def delta(mean: object, half: object) -> str:
        if mean is None or mean != mean:
            return "—"
        return f"{mean:+.4f}" + ("" if half != half else f" ± {half:.4f}")

    return pd.DataFrame({
        "dataset": table["dataset"],
        "discoverer": table["discoverer"],
        "status": table["status"],
        "seconds": [number(v, 1) for v in table.get("seconds", [])],
        "formula (generalized)": [
            text(g if s == "ok" else p)
            for g, s, p in zip(table["generalized"], table["status"], table["program"], strict=True)
        ],
        "complexity": [number(v, 0) for v in table["complexity"]],
        "verdict": [text(v) for v in table["verdict"]],
        "fitness": [number(v) for v in table["fitness"]],
        "Light AUC": [number(v) for v in table["light_auc"]],
        "ΔAUC vs Light ReLU": [
            delta(m, h) for m, h in zip(table["d_auc_vs_relu"], table["d_auc_ci95"], strict=True)
        ],
    })  # fmt: skip
