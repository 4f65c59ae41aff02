"""Reliability of a benchmark as a user runs it: real processes, real signals, real plugins.

The command line runs in subprocesses and is judged by what a user sees: the exit code, the
lines on stderr and the rows in the results database. Two store tests stage the lock races
of concurrent runners deterministically, with a second SQLite connection.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from nsad_bench.cli import main
from nsad_bench.store import ResultsStore

pytestmark = pytest.mark.timeout(240)

#: Small enough to finish in seconds, long enough (about 0.15 s a run) to be hit mid-way.
PLAN = ["run", "--dataset", "breast_cancer", "--architecture", "light",
        "--activation", "relu,silu,tanh", "--seeds", "1", "2", "3",
        "--epochs", "30", "--batch-size", "64", "--jobs", "1", "--quiet"]  # fmt: skip
#: Seconds any single subprocess or poll may take before the test gives up.
LIMIT = 120.0
#: Columns a finished ("ok") run always has; a row missing one was written by half.
OK_COLUMNS = ("task", "n_rows", "seed", "accuracy", "auc", "params", "e_param",
              "train_seconds", "config", "versions", "finished_at")  # fmt: skip


# ------------------------------------------------------------------------------ helpers


def cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "nsad_bench.cli", *argv]


def environment(plugin_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The user's environment with third-party plugins loaded from ``plugin_dir`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSAD_BENCH_")}
    if plugin_dir is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_dir), env.get("PYTHONPATH")]))
    return env | extra


def start(
    argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None, *, session: bool = False
) -> subprocess.Popen:
    """``argv`` in the background; with ``session`` it leads its own process group."""
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env or environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=session,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``proc``; it and its workers are killed after LIMIT."""
    try:
        out, err = proc.communicate(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        try:
            if os.getpgid(proc.pid) == proc.pid:  # started with its own process group
                os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.kill()
        out, err = proc.communicate(timeout=LIMIT)
        pytest.fail(f"{proc.args} did not finish in {LIMIT} s\n{err[-2000:]}")
    return proc.returncode, out, err


def run(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    return finish(start(argv, cwd, env))


def count_rows(db: Path) -> int:
    """Rows visible to a reader right now (0 while the database is not there yet)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is still being created
        return 0


def wait_for_first_row(db: Path, proc: subprocess.Popen, planned: int) -> int:
    """Poll until at least one run is stored but the plan is not done; fail otherwise."""
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        n = count_rows(db)
        if 1 <= n < planned:
            return n
        if n >= planned or proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    _, err = proc.communicate(timeout=LIMIT)
    pytest.fail(f"never caught the benchmark mid-way ({count_rows(db)} of {planned} rows)\n{err}")


def stored(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY rowid")]


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def assert_complete(db: Path, reference: dict[str, dict]) -> list[dict]:
    """Every planned run exactly once, finished, whole, and equal to an uninterrupted run."""
    rows = stored(db)
    ids = [r["run_id"] for r in rows]
    assert sorted(ids) == sorted(reference), "lost or duplicated runs"
    assert_whole(rows, reference)
    assert integrity(db) == "ok"
    return rows


def assert_whole(rows: list[dict], reference: dict[str, dict]) -> None:
    for row in rows:
        assert row["status"] == "ok", row
        assert all(row[c] is not None for c in OK_COLUMNS), row
        expected = reference[row["run_id"]]
        # Training is seeded: a run cut short and stored anyway would not match.
        assert (row["auc"], row["accuracy"], row["params"]) == pytest.approx(
            (expected["auc"], expected["accuracy"], expected["params"]), abs=1e-9
        ), row


def write_distribution(root: Path, dist: str, entry_points: dict[str, str],
                       modules: dict[str, str]) -> Path:  # fmt: skip
    """An installed distribution (``.dist-info`` with entry points in the ``nsad_bench``
    group) that ``importlib.metadata`` finds once ``root`` is on the path."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = ["[nsad_bench]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, dict]:
    """The rows of ``PLAN`` run once without interference, by run id."""
    db = tmp_path_factory.mktemp("reference") / "results.sqlite"
    assert main([*PLAN, "--results", str(db)]) == 0
    rows = stored(db)
    assert len(rows) == 9 and all(r["status"] == "ok" for r in rows)
    return {r["run_id"]: r for r in rows}


# ------------------------------------------------------------------- kill and restart


def test_sigkill_mid_benchmark_then_restart_stores_every_run_once(tmp_path, reference):
    db = tmp_path / "results.sqlite"
    argv = cli(*PLAN, "--results", str(db))
    proc = start(argv, tmp_path)
    wait_for_first_row(db, proc, len(reference))
    os.kill(proc.pid, signal.SIGKILL)
    finish(proc)
    assert proc.returncode == -signal.SIGKILL

    survived = stored(db)
    assert 1 <= len(survived) < len(reference)
    assert_whole(survived, reference)

    code, _, err = run(argv, tmp_path)
    assert code == 0, err
    assert f"{len(survived)} of {len(reference)} runs already done" in err
    assert f"{len(reference)} runs planned, {len(survived)} already done" in err
    rows = assert_complete(db, reference)
    by_id = {r["run_id"]: r for r in rows}
    assert all(by_id[r["run_id"]] == r for r in survived), "a finished row was rewritten"


def group_members(pgid: int) -> list[int]:
    """Live processes of the process group ``pgid`` (from /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid and _alive(int(entry)):
                    members.append(int(entry))
            except (ProcessLookupError, PermissionError):
                pass
    return members


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_workers_exit_when_the_driver_is_killed(tmp_path, reference):
    db = tmp_path / "results.sqlite"
    # Output to files: a lingering worker holds them open, so a pipe would never close.
    with open(tmp_path / "out.txt", "w") as out:
        proc = subprocess.Popen(
            cli(*PLAN, "--jobs", "2", "--results", str(db)),
            cwd=tmp_path, env=environment(), stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    wait_for_first_row(db, proc, len(reference))
    workers = [pid for pid in group_members(proc.pid) if pid != proc.pid]
    assert workers, "no worker processes to watch"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=LIMIT) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:  # the workers this test started, by id
        os.kill(pid, signal.SIGKILL)
    assert not left, f"worker processes {left} outlived their killed driver"


# ------------------------------------------------------------------------------ Ctrl-C


@pytest.mark.parametrize(
    ("jobs", "terminal"),
    [
        pytest.param("1", False, id="inline-signal-to-process"),
        pytest.param("2", True, id="2-workers-signal-to-group"),
    ],
)
def test_ctrl_c_keeps_finished_runs_says_how_to_resume_and_exits_130(
    tmp_path, reference, jobs, terminal
):
    """``terminal``: SIGINT goes to the whole process group, workers included, as a
    terminal's Ctrl-C does; otherwise to the command's process only."""
    db = tmp_path / "results.sqlite"
    argv = cli(*PLAN, "--jobs", jobs, "--results", str(db))  # the last --jobs counts
    proc = start(argv, tmp_path, session=terminal)
    wait_for_first_row(db, proc, len(reference))
    if terminal:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)

    assert code == 130, err
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    kept = stored(db)
    assert 1 <= len(kept) < len(reference)
    assert f"interrupted: {len(kept)} runs finished and saved in {db}" in err
    assert_whole(kept, reference)  # the run in flight left no row, not even a failed one

    code, _, err = run(argv, tmp_path)
    assert code == 0, err
    assert f"{len(kept)} of {len(reference)} runs already done" in err
    assert_complete(db, reference)


# ---------------------------------------------------------------- concurrent runners


def test_two_runners_on_one_new_database_store_each_run_once(tmp_path, reference):
    db = tmp_path / "results.sqlite"
    argv = cli(*PLAN, "--results", str(db))
    first, second = start(argv, tmp_path), start(argv, tmp_path)
    results = [finish(first), finish(second)]
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    assert_complete(db, reference)


def test_store_opens_a_new_database_another_runner_is_writing(tmp_path):
    """A journal-mode switch gets SQLITE_BUSY at once while another connection writes the new
    file; opening the store must wait for it like any other write instead of failing."""
    path = tmp_path / "results.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE other_runner (x)")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        with ResultsStore(path, timeout=10) as store:
            waited = time.monotonic() - started
            store.save_run({"run_id": "a", "status": "ok", "auc": 0.5})
            assert store.done_ids() == {"a"}
    finally:
        release.join()
        other.close()
    assert waited >= 0.2
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_row_waits_for_another_runners_write_instead_of_failing(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultsStore(path, timeout=10) as store:
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO runs (run_id, status, auc) VALUES ('b', 'ok', 0.7)")
        release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        release.start()
        try:
            store.save_run({"run_id": "a", "status": "ok", "auc": 0.5})
            store.save_run({"run_id": "b", "status": "failed", "error": "lost the race"})
        finally:
            release.join()
            other.close()
        runs = store.runs().set_index("run_id")
    assert sorted(runs.index) == ["a", "b"]
    assert runs.loc["b", "status"] == "ok"  # the other runner's finished row stays


# --------------------------------------------------------------------- failing plugins

BROKEN_IMPORT = """
    raise RuntimeError("needs libfoo, which is not installed")
"""

RAISES_IN_HOOK = """
    from nsad_bench import hookimpl

    @hookimpl
    def nsad_datasets():
        raise RuntimeError("catalogue server offline")
"""

WRONG_TYPE = """
    from nsad_bench import hookimpl
    from nsad_bench.components import ActivationSpec

    @hookimpl
    def nsad_activations():
        return ActivationSpec(name="lonely", formula="x")  # not a list
"""

# A second "relu" whose forward raises: if it replaced the built-in, the relu run would fail.
TWICE = """
    import torch
    from nsad_bench import hookimpl
    from nsad_bench.components import ActivationSpec

    class Impostor(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("impostor relu was used")

    @hookimpl
    def nsad_activations():
        return [ActivationSpec(name="relu", factory=Impostor)]
"""

FAILING = {
    "rel_broken_import": (BROKEN_IMPORT, "plugin 'rel_broken_import' failed to load: "
                          "RuntimeError: needs libfoo, which is not installed"),
    "rel_raises": (RAISES_IN_HOOK, "plugin 'rel_raises' raised in nsad_datasets: "
                   "RuntimeError: catalogue server offline"),
    "rel_wrong_type": (WRONG_TYPE, "plugin 'rel_wrong_type': nsad_activations returned "
                       "ActivationSpec, expected a list of ActivationSpec"),
    "rel_twice": (TWICE, "activation 'relu' is registered by both plugin 'baselines' and "
                  "plugin 'rel_twice'"),
}  # fmt: skip

QUICK = ["run", "--dataset", "breast_cancer", "--architecture", "light", "--activation", "relu",
         "--seeds", "1", "--epochs", "2", "--jobs", "1", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def failing_plugins(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    return write_distribution(
        root,
        "nsad_bench_failing_plugins",
        {name: f"{name}_module" for name in FAILING},
        {f"{name}_module": source for name, (source, _) in FAILING.items()},
    )


def test_strict_refuses_to_run_with_failing_plugins_and_names_each(tmp_path, failing_plugins):
    db = tmp_path / "results.sqlite"
    env = environment(failing_plugins)
    code, _, err = run(cli(*QUICK, "--strict", "--results", str(db)), tmp_path, env)
    assert code == 3, err
    flat = " ".join(err.split())  # rich wraps long lines
    for _, message in FAILING.values():
        assert message in flat
    assert "Traceback" not in err
    assert count_rows(db) == 0


def test_failing_plugins_are_reported_and_the_benchmark_still_runs(tmp_path, failing_plugins):
    db = tmp_path / "results.sqlite"
    code, _, err = run(cli(*QUICK, "--results", str(db)), tmp_path, environment(failing_plugins))
    assert code == 0, err
    flat = " ".join(err.split())  # rich wraps long lines
    for _, message in FAILING.values():
        assert message in flat
    (row,) = stored(db)
    assert (row["activation"], row["status"]) == ("relu", "ok"), row  # the built-in relu won


EXITS = """
    import sys

    sys.exit("rel_exits needs libfoo, which is not installed")
"""


def test_strict_names_a_plugin_that_calls_sys_exit_at_import(tmp_path):
    site = write_distribution(
        tmp_path / "site", "nsad_bench_exits", {"rel_exits": "rel_exits_module"},
        {"rel_exits_module": EXITS},
    )  # fmt: skip
    db = tmp_path / "results.sqlite"
    code, _, err = run(cli(*QUICK, "--strict", "--results", str(db)), tmp_path, environment(site))
    assert code == 3, err
    assert "plugin 'rel_exits' failed to load: SystemExit: rel_exits needs libfoo" in err


# ----------------------------------------------------------------- diverging training

OVERFLOW = """
    import torch
    from nsad_bench import hookimpl
    from nsad_bench.components import ActivationSpec

    class ExpExpExp(torch.nn.Module):
        def forward(self, x):
            return torch.exp(torch.exp(torch.exp(x)))

    @hookimpl
    def nsad_activations():
        return [ActivationSpec(name="expexpexp", factory=ExpExpExp,
                               description="overflows float32 for x > 1.5")]
"""


def test_overflowing_activation_is_stored_and_shown_as_diverged(tmp_path, capsys):
    site = write_distribution(
        tmp_path / "site", "nsad_bench_overflow", {"overflow": "overflow_module"},
        {"overflow_module": OVERFLOW},
    )  # fmt: skip
    env = environment(site)
    db = tmp_path / "results.sqlite"
    argv = ["run", "--dataset", "breast_cancer", "--architecture", "light",
            "--activation", "relu,expexpexp", "--seeds", "1", "2", "--epochs", "3",
            "--jobs", "1", "--strict", "--results", str(db)]  # fmt: skip
    code, out, err = run(cli(*argv), tmp_path, env)
    assert code == 0, err
    assert "diverged" in out  # the leaderboard printed at the end of the run

    rows = {(r["activation"], r["seed"]): r for r in stored(db)}
    assert len(rows) == 4
    for seed in (1, 2):
        boom = rows["expexpexp", seed]
        assert boom["status"] == "diverged", boom
        assert boom["diverged_epoch"] == 1 and boom["error"] is None
        assert boom["auc"] is None and boom["params"] is not None
        assert rows["relu", seed]["status"] == "ok"

    board = ["leaderboard", "--results", str(db), "--output-dir", str(tmp_path / "boards")]
    code, out, err = run(cli(*board), tmp_path, env)
    assert code == 0, err
    assert "Traceback" not in err
    line = next(line for line in out.splitlines() if "expexpexp" in line)
    assert "2 diverged (epoch 1)" in line
    markdown = (tmp_path / "boards" / "leaderboard.md").read_text()
    assert "2 diverged (epoch 1)" in markdown

    assert main(["leaderboard", "--json", "--results", str(db)]) == 0
    entries = {e["activation"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["expexpexp"]["status"] == "2 diverged (epoch 1)"
    assert entries["expexpexp"]["n_runs"] == 0 and entries["expexpexp"]["auc_mean"] is None
    assert entries["relu"]["status"] == "ok"
