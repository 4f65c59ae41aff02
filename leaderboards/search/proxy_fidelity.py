"""How well the search's cheap fitness ranks activations the way the benchmark does.

For 16 assorted activations this trains (a) the benchmark's Light network, 15 epochs at
batch 1024 on seeds 42 and 43 of the protocol's train/test split, and (b) the search's
fitness (mean validation AUC on three folds of the discovery subset) under a few settings of
epochs and batch size, and prints the Spearman correlation between the two rankings.

    NSAD_BENCH_DATA_DIR=/work/shared/data .venv/bin/python leaderboards/search/proxy_fidelity.py \
        higgs covtype spambase > leaderboards/search/proxy_fidelity.md
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from nsad_search.fitness import Fitness, FitnessConfig
from scipy.stats import spearmanr

from nsad_bench import protocol
from nsad_bench.activation import compile_formula
from nsad_bench.batched import Member, train_group
from nsad_bench.components import DataOptions
from nsad_bench.formula import generalize, parse
from nsad_bench.models import mlp
from nsad_bench.plugins import load_registry
from nsad_bench.training import TrainConfig

ACTIVATIONS = (
    "max(x, 0)",
    "x * sigmoid(x)",
    "tanh(x)",
    "sin(x) + x",
    "exp(sin(x))",
    "min(x, tanh(x))",
    "sin(x)",
    "abs(x)",
    "square(x)",
    "x * tanh(x)",
    "max(x, 0.5 * x)",
    "sigmoid(x)",
    "cos(x) + x",
    "min(cos(x), tanh(sin(sin(x))))",
    "sqrt(x) + x",
    "log(x) + x",
)
SETTINGS = ((3, 256), (5, 128), (10, 256))  # (epochs, batch size) of the fitness
SEEDS = (42, 43)
MAX_ROWS = 100_000


def benchmark_auc(X: np.ndarray, y: np.ndarray, trees: list, seed: int) -> np.ndarray:
    """Test AUC of the benchmark's Light network per activation for one protocol seed."""
    parts = protocol.split(y, seed, protocol.ProtocolConfig())
    mean = X[parts.train].mean(axis=0, dtype=np.float64).astype(np.float32)
    std = X[parts.train].std(axis=0, dtype=np.float64).astype(np.float32)
    std[std == 0] = 1.0
    members = []
    for i, tree in enumerate(trees):
        torch.manual_seed(seed)
        model = mlp(X.shape[1], (64, 32), lambda tree=tree: compile_formula(tree))
        members.append(Member(model, seed, parts.train, parts.test, mean, std, i))
    outcomes = train_group(X, y, members, TrainConfig())
    return np.array([o.auc if o.status == "ok" else np.nan for o in outcomes])


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    registry = load_registry()
    trees = [generalize(parse(text)) for text in ACTIVATIONS]
    options = DataOptions(
        data_dir=Path(os.environ["NSAD_BENCH_DATA_DIR"]), max_rows=MAX_ROWS, offline=True
    )
    print("| dataset | fitness setting | Spearman vs benchmark | seconds for 48 networks |")
    print("|---|---|---|---|")
    details = []
    for name in names:
        data = registry.get("dataset", name).load(options)
        bench = np.nanmean([benchmark_auc(data.X, data.y, trees, s) for s in SEEDS], axis=0)
        rows, _ = protocol.discovery_split(data.y, protocol.ProtocolConfig())
        (X,) = protocol.standardize(data.X[rows])
        for epochs, batch in SETTINGS:
            started = time.perf_counter()
            fitness = Fitness(X, data.y[rows], FitnessConfig(epochs=epochs, batch_size=batch), 42)
            folds = [fitness.score(trees, r) for r in (1, 2, 3)]
            proxy = np.nanmean(np.array(folds, dtype=float), axis=0)
            seconds = time.perf_counter() - started
            rho = spearmanr(proxy, bench).statistic
            print(f"| {name} | {epochs} epochs, batch {batch} | {rho:.2f} | {seconds:.1f} |")
            if (epochs, batch) == (5, 128):
                details.append((name, proxy, bench))
    for name, proxy, bench in details:
        print(f"\n{name}: fitness (5 epochs, batch 128) and benchmark AUC per activation\n")
        print("| activation | fitness | benchmark AUC |")
        print("|---|---|---|")
        for i in np.argsort(-bench):
            print(f"| `{ACTIVATIONS[i]}` | {proxy[i]:.4f} | {bench[i]:.4f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
