"""Figures from a real results database (a short CLI run) and from hand-written rows."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from nsad_bench import plots
from nsad_bench.cli import main
from nsad_bench.store import ResultsStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_figures(paths: list[Path], stems: list[str]) -> None:
    assert [p.name for p in paths] == [f"{s}.{ext}" for s in stems for ext in ("png", "svg")]
    for path in paths:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_MAGIC
            assert path.stat().st_size > 10_000  # a drawn figure, not an empty canvas
        else:
            assert ET.parse(path).getroot().tag == "{http://www.w3.org/2000/svg}svg"


@pytest.fixture(scope="module")
def real_results(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Light ReLU, SiLU and the gplearn specialist on breast_cancer, two seeds."""
    path = tmp_path_factory.mktemp("results") / "results.sqlite"
    argv = ["run", "--dataset", "breast_cancer", "--architecture", "light", "--epochs", "2",
            "--seeds", "1", "2", "--activation", "relu,silu,specialist", "--discoverer",
            "gplearn", "--results", str(path), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    with ResultsStore(path) as store:
        return store.runs(), store.formulas()


def test_write_all_on_a_real_run(real_results, tmp_path):
    runs, formulas = real_results
    skipped: list[str] = []
    written = plots.write_all(runs, formulas, tmp_path / "figures", on_skip=skipped.append)
    assert_figures(written, ["activations", "accuracy_vs_params"])
    assert len(skipped) == 1 and "transfer" in skipped[0]


def test_activations_accept_an_observed_range(real_results, tmp_path):
    _, formulas = real_results
    written = plots.plot_activations(formulas, tmp_path, observed_range=(-6.0, 2.5))
    assert_figures(written, ["activations"])


def test_heatmap_without_transfer_runs_draws_nothing(real_results, tmp_path):
    runs, _ = real_results
    assert (runs.activation_kind == "specialist").any()  # a diagonal alone is not enough
    with pytest.raises(plots.NothingToPlot, match="no transfer runs"):
        plots.plot_transfer_heatmap(runs, tmp_path)
    assert not list(tmp_path.iterdir())


def test_empty_results_give_reasons_not_files(tmp_path):
    with ResultsStore(tmp_path / "empty.sqlite") as store:
        runs, formulas = store.runs(), store.formulas()
    skipped: list[str] = []
    assert plots.write_all(runs, formulas, tmp_path / "figures", on_skip=skipped.append) == []
    assert len(skipped) == 3 and not (tmp_path / "figures").exists()


CONFIG = {"train": {"epochs": 15}}


def _run(store: ResultsStore, dataset: str, activation: str, seed: int, auc: float, **kw) -> None:
    source = activation.partition("@")[2] or None
    kind = "baseline" if source is None else ("specialist" if source == dataset else "transfer")
    row = {
        "run_id": f"{dataset}/{activation}/{seed}/{kw.get('config', CONFIG)}",
        "dataset": dataset,
        "architecture": "light",
        "activation": activation,
        "activation_kind": kind,
        "discoverer": "gplearn" if source else None,
        "source_dataset": source,
        "seed": seed,
        "status": "ok",
        "accuracy": auc - 0.05,
        "auc": auc,
        "params": 4_289,
        "config": CONFIG,
    }
    store.save_run(row | kw)


@pytest.fixture
def transfer_runs(tmp_path) -> pd.DataFrame:
    """Two datasets, each formula used on both, ReLU beside them; one unpaired ReLU."""
    with ResultsStore(tmp_path / "transfer.sqlite") as store:
        for seed, shift in ((1, 0.0), (2, 0.02)):
            for dataset, relu in (("alpha", 0.80), ("beta", 0.70)):
                _run(store, dataset, "relu", seed, relu + shift)
                _run(store, dataset, "gplearn@alpha", seed, relu + shift + 0.01)
                _run(store, dataset, "gplearn@beta", seed, relu + shift - 0.03)
        _run(store, "alpha", "relu", 1, 0.99, config={"train": {"epochs": 2}})  # other config
        _run(store, "alpha", "gplearn@beta", 3, 0.5, status="failed")
        return store.runs()


def test_deltas_pair_with_relu_of_the_same_seed_and_config(transfer_runs):
    deltas = plots.paired_deltas(transfer_runs)
    assert len(deltas) == 8  # 2 datasets x 2 formulas x 2 seeds; the failed run is left out
    by_cell = deltas.groupby(["source_dataset", "dataset"])["d_auc"].mean()
    assert by_cell.to_dict() == pytest.approx(
        {
            ("alpha", "alpha"): 0.01,
            ("alpha", "beta"): 0.01,
            ("beta", "alpha"): -0.03,
            ("beta", "beta"): -0.03,
        }  # fmt: skip
    )
    assert set(deltas.config.map(json.loads).map(lambda c: c["train"]["epochs"])) == {15}


def test_heatmap_and_accuracy_figures_from_stored_rows(transfer_runs, tmp_path):
    assert_figures(plots.plot_transfer_heatmap(transfer_runs, tmp_path), ["transfer_heatmap"])
    assert_figures(plots.plot_accuracy_vs_params(transfer_runs, tmp_path), ["accuracy_vs_params"])


def test_an_empty_range_is_refused(real_results, tmp_path):
    _, formulas = real_results
    with pytest.raises(ValueError, match="low < high"):
        plots.plot_activations(formulas, tmp_path, x_range=(4.0, -4.0))
