"""The SQLite results store: one row per run, done rows never overwritten."""

from nsad_bench.store import ResultsStore


def row(run_id, status, auc=None):
    return {"run_id": run_id, "dataset": "d", "architecture": "light", "activation": "relu",
            "seed": 42, "status": status, "auc": auc, "config": {"epochs": 2}}  # fmt: skip


def test_rows_survive_reopening_and_done_rows_win(tmp_path):
    path = tmp_path / "sub" / "results.sqlite"
    with ResultsStore(path) as store:
        store.save_run(row("a", "ok", 0.9))
        store.save_run(row("b", "failed"))
        store.save_run(row("c", "diverged"))
    with ResultsStore(path) as store:
        assert store.done_ids() == {"a", "c"}
        store.save_run(row("a", "failed"))  # a later failure never replaces a finished run
        store.save_run(row("b", "ok", 0.8))  # a retried failure is replaced
        runs = store.runs().set_index("run_id")
    assert len(runs) == 3
    assert runs.loc["a", "status"] == "ok" and runs.loc["a", "auc"] == 0.9
    assert runs.loc["b", "status"] == "ok"
    assert runs.loc["a", "config"] == '{"epochs": 2}'


def test_formula_cache_round_trip(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        assert store.formula("k") is None
        store.save_formula({"key": "k", "dataset": "d", "status": "ok", "program": "X1",
                            "candidates": [{"program": "X1"}]})  # fmt: skip
        cached = store.formula("k")
    assert cached["program"] == "X1" and cached["candidates"] == '[{"program": "X1"}]'
