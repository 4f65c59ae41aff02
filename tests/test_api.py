"""The Python API, including the README's example exactly as printed there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nsad_bench import api
from nsad_bench.plugins import UnknownName

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)  # the doc's own code
    runs, board = namespace["runs"], namespace["board"]
    assert len(runs) == 6 and set(runs.status) == {"ok"}
    assert set(board.activation) == {"relu", "silu", "gplearn@breast_cancer"}
    assert (tmp_path / "results" / "notebook.sqlite").exists()
    assert "auc_mean" in capsys.readouterr().out


def test_run_returns_only_the_plans_rows(tmp_path):
    results = tmp_path / "r.sqlite"
    first = api.plan(datasets=["breast_cancer"], architectures=["light"], activations=["relu"],
                     seeds=[1], epochs=2)  # fmt: skip
    second = api.plan(datasets=["breast_cancer"], architectures=["light"], activations=["tanh"],
                      seeds=[1], epochs=2)  # fmt: skip
    assert list(api.run(first, results=results).activation) == ["relu"]
    assert list(api.run(second, results=results).activation) == ["tanh"]
    assert len(api.results(results)) == 2


def test_unknown_names_raise():
    with pytest.raises(UnknownName, match="unknown dataset 'nope'"):
        api.plan(datasets=["nope"])
