"""The searched activation against each Light baseline, not only ReLU.

The leaderboard pairs every row with ReLU. This pairs the ``search@<dataset>`` rows of one or
more results databases with each of ReLU, GELU and SiLU of the same dataset and architecture
(same seeds, hence the same train/test rows and initial weights), giving the mean AUC
difference and its 95% t interval per database (one database per search restart).

    .venv/bin/python leaderboards/search/versus_baselines.py leaderboards/search/results.sqlite \
        leaderboards/search/restart1/results.sqlite leaderboards/search/restart2/results.sqlite \
        > leaderboards/search/versus_baselines.md
"""

from __future__ import annotations

import sys

import pandas as pd

from nsad_bench.leaderboard import summarize
from nsad_bench.store import ResultsStore

BASELINES = ("relu", "gelu", "silu")


def _delta(mean: float, half: float) -> str:
    if pd.isna(mean):
        return "—"
    mark = "*" if pd.notna(half) and abs(mean) > half else ""
    return f"{mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}]{mark}"


def main(paths: list[str]) -> None:
    """One Markdown row per database and dataset; ``*`` marks intervals excluding zero."""
    header = ["results", "dataset", "formula", "AUC", *(f"Δ vs {b}" for b in BASELINES)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for path in paths:
        with ResultsStore(path) as store:
            runs = store.runs()
        for dataset, group in runs.groupby("dataset", sort=True):
            hybrid = group[group.activation == f"search@{dataset}"]
            if hybrid.empty:
                continue
            cells = [path, dataset, f"`{hybrid.formula.iloc[0]}`"]
            cells.append(f"{hybrid[hybrid.status == 'ok'].auc.mean():.4f}")
            for baseline in BASELINES:
                if baseline not in set(group.activation):
                    cells.append("—")
                    continue
                summary = summarize(group, reference=baseline)
                row = summary[summary.activation == f"search@{dataset}"].iloc[0]
                cells.append(_delta(row.d_auc, row.d_auc_ci95))
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
