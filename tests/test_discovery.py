"""The discovery core: isolation, hard time limit, and the open choice of a formula."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nsad_bench.components import Budget, Candidate, DiscovererSpec
from nsad_bench.discovery import Discovery, resolve_params, run_discoverer

X = np.random.default_rng(0).normal(size=(20, 4))
Y = (X[:, 0] > 0).astype(np.float64)

HIGGS_PAPER = "mul(cos(X25), sub(X12, X3))"  # cos(x)*(x - x) = 0 once generalized


class Scripted:
    """A discoverer whose behaviour the test chooses through its parameters."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)

    def discover(
        self, X: np.ndarray, y: np.ndarray, *, seed: int, budget: Budget
    ) -> Sequence[Candidate]:
        action = self.params["action"]
        if action == "sleep":
            Path(self.params["pid_file"]).write_text(str(os.getpid()))
            if self.params["ignore_sigterm"]:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(1000)
        if action == "raise":
            raise RuntimeError("boom\nsecond line")
        if action == "exit":
            os._exit(3)
        if action == "wrong type":
            return ["x*cos(x)"]  # type: ignore[list-item]
        if action == "torch check":
            if "torch" in sys.modules:
                raise RuntimeError("torch was imported in the discovery process")
            return [Candidate("x*cos(x)")]
        return [Candidate(p, fitness=float(i), complexity=len(p)) for i, p in enumerate(action)]


def scripted(params: Mapping[str, Any]) -> Scripted:
    return Scripted(params)


def spec(start_method: str = "fork", **fields: Any) -> DiscovererSpec:
    return DiscovererSpec(
        name="scripted",
        create=scripted,
        defaults={"action": (), "pid_file": "", "ignore_sigterm": False},
        start_method=start_method,
        **fields,
    )


def run(action: Any, start_method: str = "fork", seconds: float | None = 30, **params: Any):
    return run_discoverer(
        spec(start_method),
        {"action": action, **params},
        X,
        Y,
        seed=0,
        budget=Budget(seconds=seconds),
    )


# -------------------------------------------------------------------------------- choice


@pytest.mark.parametrize("start_method", ["fork", "none"])
def test_takes_the_first_usable_candidate_and_says_why(start_method: str) -> None:
    found = run([HIGGS_PAPER, "X3", "mul(X0, cos(X1))"], start_method)

    assert found.status == "ok" and found.error is None
    assert found.chosen == 2
    assert [c["verdict"] for c in found.candidates] == ["constant", "linear", "ok"]
    assert found.formula is not None and found.formula.verdict == "ok"
    assert found.candidates[2]["program"] == "mul(X0, cos(X1))"
    assert found.candidates[1]["fitness"] == 1.0 and found.candidates[1]["complexity"] == 2
    assert "winner 'mul(cos(X25), sub(X12, X3))' was constant" in found.note
    assert "#1 'X3' was linear" in found.note
    assert "took candidate #2 'mul(X0, cos(X1))'" in found.note


def test_top_candidate_taken_directly() -> None:
    found = run(["mul(X0, cos(X1))", "X3"])
    assert found.ok and found.chosen == 0
    assert found.note.startswith("took the top-ranked candidate 'mul(X0, cos(X1))'")


def test_all_degenerate_fails_with_a_clear_error() -> None:
    found = run([HIGGS_PAPER, "X3", "add(X1, 0.5)"])
    assert found.status == "failed"
    assert found.formula is None and found.chosen is None
    assert found.error is not None
    assert found.error.startswith("no usable candidate: all 3 were constant/linear/non-finite")
    assert "1 constant" in found.error and "2 linear" in found.error
    assert len(found.candidates) == 3  # kept for the record


def test_no_candidates_fails() -> None:
    found = run([])
    assert found.status == "failed"
    assert found.error == "no usable candidate: the discoverer returned none"


def test_unparsable_candidate_is_recorded_and_skipped() -> None:
    found = run(["mul(X0, ", "__import__('os')", "mul(X0, cos(X1))"])
    assert found.ok and found.chosen == 2
    for row in found.candidates[:2]:
        assert row["verdict"] is None and row["error"]
    assert "unparsable" in found.note


# --------------------------------------------------------------------- isolation, limits


@pytest.mark.parametrize("ignore_sigterm", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_hanging_discoverer_is_stopped(tmp_path: Path, ignore_sigterm: bool) -> None:
    pid_file = tmp_path / "pid"
    started = time.perf_counter()
    found = run("sleep", seconds=1, pid_file=str(pid_file), ignore_sigterm=ignore_sigterm)
    elapsed = time.perf_counter() - started

    assert found.status == "failed"
    assert found.error == "timed out after 1 s"
    assert elapsed < 6
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_exception_in_the_child_comes_back_as_one_line() -> None:
    found = run("raise")
    assert found.status == "failed"
    assert found.error == "RuntimeError: boom second line"


def test_exception_inline_is_caught_too() -> None:
    found = run("raise", start_method="none")
    assert found.error == "RuntimeError: boom second line"


def test_a_child_that_dies_is_reported() -> None:
    found = run("exit")
    assert found.status == "failed"
    assert found.error is not None and "exited (code 3)" in found.error


def test_a_wrong_return_type_is_reported() -> None:
    found = run("wrong type")
    assert found.status == "failed"
    assert found.error == "TypeError: discover() returned str at position 0; expected Candidate"


def test_spawn_runs_in_a_fresh_interpreter() -> None:
    found = run("torch check", start_method="spawn")
    assert found.ok, found.error
    assert found.formula is not None and found.candidates[0]["program"] == "x*cos(x)"


@pytest.mark.slow
def test_spawn_child_does_not_import_torch_from_a_main_script(tmp_path: Path) -> None:
    """Run from a main script that imports torch (as the CLI does), the spawned child must
    still start without torch, so juliacall can be imported first."""
    script = tmp_path / "main_with_torch.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            import torch  # noqa: F401
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from test_discovery import run
            found = run("torch check", start_method="spawn")
            print(found.status, found.error)
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok None"


# ---------------------------------------------------------------------- params, records


def test_unknown_parameter_is_a_value_error_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="no parameter.*'actoin'.*valid: action, ignore_sigterm"):
        run_discoverer(spec(), {"actoin": ()}, X, Y, seed=0, budget=Budget())


def test_params_are_the_defaults_updated_by_the_user() -> None:
    assert resolve_params(spec(), {"action": "x"}) == {
        "action": "x",
        "pid_file": "",
        "ignore_sigterm": False,
    }
    found = run(["mul(X0, cos(X1))"])
    assert found.params["pid_file"] == "" and found.seed == 0


def test_unavailable_discoverer_fails_without_running() -> None:
    unavailable = spec(requires=lambda: "backend missing (pip install it)")
    found = run_discoverer(unavailable, {"action": "raise"}, X, Y, seed=0, budget=Budget())
    assert found.status == "failed"
    assert found.error == "unavailable: backend missing (pip install it)"


def test_invalid_start_method_is_a_failed_record() -> None:
    found = run(["x"], start_method="thread")
    assert found.status == "failed" and "invalid start_method 'thread'" in (found.error or "")


def test_record_is_json_friendly() -> None:
    found = run([HIGGS_PAPER, "mul(X0, cos(X1))"])
    record = json.loads(json.dumps(found.to_record()))
    assert record["status"] == "ok" and record["chosen"] == 1
    assert record["formula"] == found.formula.infix  # type: ignore[union-attr]
    assert isinstance(found, Discovery) and found.wall_seconds > 0
