"""The command line as a user runs it: contracts of the JSON output, errors, resume."""

from __future__ import annotations

import json
import sqlite3

import pytest

from nsad_bench.cli import main

QUICK = ["--dataset", "breast_cancer", "--architecture", "light", "--epochs", "2", "--quiet"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_contract(capsys):
    code, out, _ = run_cli(capsys, "list", "--json")
    items = json.loads(out)
    assert code == 0
    assert all({"kind", "name", "plugin", "available", "reason"} <= set(i) for i in items)
    kinds = {i["kind"] for i in items}
    assert {"dataset", "discoverer", "compiler", "architecture", "activation"} <= kinds
    relu = next(i for i in items if i["name"] == "relu")
    assert relu == relu | {"kind": "activation", "plugin": "baselines", "available": True,
                           "reason": None}  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--dataset", "nope"], "unknown dataset 'nope'; valid: "),
        (["run", "--dataset", "breast_cancer,nope"], "unknown dataset 'nope'"),
        (["run", "--seeds", "42", "x"], "seed is not a whole number: 'x'"),
        (["run", "--architecture", "huge"], "valid: heavy, light"),
        (["run", "--param", "gplearn-generations"], "expected DISCOVERER.PARAM=VALUE"),
        (["formula", "__import__('os')"], "cannot parse formula"),
        (["leaderboard", "--results", "/nonexistent/x.sqlite"], "no results database"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_formula_command_reports_the_papers_collapse(capsys):
    code, out, _ = run_cli(capsys, "formula", "mul(cos(X25), sub(X12, X3))", "--json")
    info = json.loads(out)
    assert code == 0 and info["verdict"] == "constant"
    assert info["original"] == "mul(cos(X25), sub(X12, X3))"


def test_second_run_skips_finished_rows(tmp_path, capsys):
    results = str(tmp_path / "r.sqlite")
    argv = ["run", *QUICK, "--activation", "relu,silu", "--seeds", "42", "43", "--results", results]
    code, _, err = run_cli(capsys, *argv)
    assert code == 0 and "4 runs planned, 0 already done, 4 ok" in err
    code, _, err = run_cli(capsys, *argv)
    assert code == 0 and "4 of 4 runs already done" in err
    rows = sqlite3.connect(results).execute("SELECT status, count(*) FROM runs GROUP BY status")
    assert rows.fetchall() == [("ok", 4)]

    code, out, _ = run_cli(capsys, "leaderboard", "--json", "--results", results)
    board = json.loads(out)
    assert code == 0 and len(board) == 2
    required = {"dataset", "architecture", "activation", "n_runs", "accuracy_mean",
                "accuracy_std", "auc_mean", "auc_std", "params", "e_param", "status"}  # fmt: skip
    assert all(required <= set(entry) for entry in board)
    silu = next(e for e in board if e["activation"] == "silu")
    assert silu["n_runs"] == 2 and silu["params"] == 30 * 64 + 64 + 128 + 64 * 32 + 32 + 64 + 33
    assert 0.5 < silu["auc_mean"] <= 1.0


def test_leaderboard_writes_markdown_and_csv(tmp_path, capsys):
    results = str(tmp_path / "r.sqlite")
    assert main(["run", *QUICK, "--activation", "relu", "--seeds", "1", "--results", results]) == 0
    out_dir = tmp_path / "boards"
    code, out, err = run_cli(
        capsys, "leaderboard", "--results", results, "--output-dir", str(out_dir)
    )
    assert code == 0 and "breast_cancer" in out
    markdown = (out_dir / "leaderboard.md").read_text()
    assert "## breast_cancer" in markdown and "| light" in markdown and "versions" in markdown
    assert (out_dir / "leaderboard.csv").read_text().startswith("dataset,architecture,activation")


def test_unloadable_datasets_are_named_and_the_rest_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NSAD_BENCH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()
    results = str(tmp_path / "r.sqlite")
    code, _, err = run_cli(
        capsys, "run", *QUICK, "--dataset", "higgs,breast_cancer,spambase", "--activation", "relu",
        "--seeds", "1", "--offline", "--data-dir", str(tmp_path / "empty"), "--results", results,
    )  # fmt: skip
    assert code == 0
    assert "skip dataset higgs: no local copy (higgs.csv.gz)" in err
    assert "skip dataset spambase: no local copy (spambase.csv.gz)" in err
    rows = sqlite3.connect(results).execute("SELECT dataset, status FROM runs").fetchall()
    assert rows == [("breast_cancer", "ok")]
