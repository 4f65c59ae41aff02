"""The search's own view: its chosen activation beside ReLU and SiLU on the re-scoring folds.

The search ranks its best candidates by the mean validation AUC on ``final_repeats`` fresh
folds of the discovery subset. This scores ReLU (``max(x, 0)``) and SiLU (``x*sigmoid(x)``)
on exactly those folds, with the same initial weights and batch order, so the chosen
formula's fitness can be read against theirs. Discovery rows only; no benchmark row is used.

    NSAD_BENCH_DATA_DIR=/work/shared/data .venv/bin/python leaderboards/search/discovery_view.py \
        leaderboards/search/results.sqlite leaderboards/search/restart1/results.sqlite \
        leaderboards/search/restart2/results.sqlite > leaderboards/search/discovery_view.md
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nsad_search
import numpy as np
from nsad_search.fitness import Fitness

from nsad_bench import protocol
from nsad_bench.components import DataOptions
from nsad_bench.formula import generalize, parse
from nsad_bench.plugins import Registry, load_registry
from nsad_bench.store import ResultsStore

REFERENCES = {"ReLU": "max(x, 0)", "SiLU": "x * sigmoid(x)"}
#: The committed runs subsample every dataset to at most this many rows (``--max-rows``).
MAX_ROWS = 100_000


def main(paths: list[str]) -> None:
    """One Markdown row per search formula in each results database."""
    print("| results | dataset | chosen formula | its fitness | ReLU | SiLU | chosen − ReLU |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        _rows(path, load_registry())


def _rows(path: str, registry: Registry) -> None:
    with ResultsStore(path) as store:
        formulas = store.formulas()
    for _, row in formulas[formulas.discoverer == "search"].iterrows():
        params = {**nsad_search.DEFAULTS, **json.loads(row["params"])}
        discoverer = nsad_search.create(params)
        name = row["dataset"]
        options = DataOptions(
            data_dir=Path(os.environ["NSAD_BENCH_DATA_DIR"]), max_rows=MAX_ROWS, offline=True
        )
        data = registry.get("dataset", name).load(options)
        rows, _ = protocol.discovery_split(data.y, protocol.ProtocolConfig())
        (X,) = protocol.standardize(data.X[rows])
        seed = int(row["seed"])
        if discoverer.restart:
            seed = int(np.random.SeedSequence([seed, discoverer.restart]).generate_state(1)[0])
        fitness = Fitness(X, data.y[rows], discoverer.fitness_config, seed)
        repeats = range(1, discoverer.config.final_repeats + 1)
        chosen = json.loads(row["candidates"])[int(row["chosen"])]
        scores = {}
        for label, text in REFERENCES.items():
            tree = generalize(parse(text))
            scores[label] = float(np.mean([fitness.score([tree], r)[0] for r in repeats]))
        print(
            f"| {path} | {name} | `{row['infix']}` | {chosen['fitness']:.4f} "
            f"| {scores['ReLU']:.4f} | {scores['SiLU']:.4f} "
            f"| {chosen['fitness'] - scores['ReLU']:+.4f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
