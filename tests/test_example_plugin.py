"""The example plugin package, installed for real, seen and run by the ``nsad-bench`` CLI.

This is the path a third party takes: ``pip install`` a distribution whose entry point is in
the ``nsad_bench`` group, then use its components by name. The package is installed into
this interpreter's environment (and left there; reinstalled only when its source changed),
and every check runs the CLI in a subprocess from a directory outside the source tree, so
only the installed copy can be found.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "plugins" / "examples"
DISTRIBUTION = "nsad-bench-example"
CLI = Path(sys.executable).parent / "nsad-bench"
DATASET, ACTIVATIONS = "pendulum", ("xsinx", "snake")


def _installed_is_current() -> bool:
    """True when the installed distribution is this source tree's version, installed as
    files (not an editable link), with every module identical to the source."""
    try:
        dist = md.distribution(DISTRIBUTION)
    except md.PackageNotFoundError:
        return False
    pyproject = (EXAMPLE / "pyproject.toml").read_text()
    if dist.version != re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1):
        return False
    installed = {
        str(f): f for f in dist.files or () if f.parts[0] == "nsad_example" and f.suffix == ".py"
    }
    sources = sorted((EXAMPLE / "nsad_example").glob("*.py"))
    return len(installed) == len(sources) and all(
        (key := f"nsad_example/{s.name}") in installed
        and Path(installed[key].locate()).read_bytes() == s.read_bytes()
        for s in sources
    )


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """Serialize installs when several test sessions share one environment."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, installs are rare anyway
        yield
        return
    with open(Path(sys.prefix) / ".nsad-bench-example.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def installed() -> None:
    with _install_lock():
        if not _installed_is_current():
            shutil.rmtree(EXAMPLE / "build", ignore_errors=True)  # no stale modules in the wheel
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
                + ["-q", str(EXAMPLE)],
                check=True,
                timeout=300,
            )
            md.distribution(DISTRIBUTION)  # refresh importlib.metadata's view
    assert _installed_is_current()


def _cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NSAD_BENCH_")}
    environment.update(env)
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300
    )


def test_the_installed_copy_is_what_gets_imported(installed, tmp_path):
    found = subprocess.run(
        [sys.executable, "-c", "import nsad_example; print(nsad_example.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).is_relative_to(Path(md.distribution(DISTRIBUTION).locate_file("")))
    assert not Path(found).is_relative_to(EXAMPLE)


def test_list_shows_the_plugin_components(installed, tmp_path):
    result = _cli("list", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    items = {(i["kind"], i["name"]): i for i in json.loads(result.stdout)}
    for key in [("dataset", DATASET)] + [("activation", a) for a in ACTIVATIONS]:
        assert items[key]["plugin"] == "example" and items[key]["available"], key

    plugins = json.loads(_cli("plugins", "--json", cwd=tmp_path).stdout)
    example = next(p for p in plugins if p["name"] == "example")
    assert example["version"] == md.version(DISTRIBUTION) and not example["builtin"]
    assert set(example["hooks"]) == {"nsad_datasets", "nsad_activations"}


def test_autoload_switch_hides_the_plugin(installed, tmp_path):
    result = _cli("list", "--json", cwd=tmp_path, NSAD_BENCH_DISABLE_PLUGIN_AUTOLOAD="1")
    assert result.returncode == 0, result.stderr
    names = {i["name"] for i in json.loads(result.stdout)}
    assert "relu" in names and not names & {DATASET, *ACTIVATIONS}


def test_run_trains_with_the_plugin_components(installed, tmp_path):
    results = tmp_path / "results.sqlite"
    result = _cli(
        "run", "--dataset", DATASET, "--activation", ",".join([*ACTIVATIONS, "relu"]),
        "--architecture", "light", "--epochs", "2", "--seeds", "1",
        "--results", str(results), "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with contextlib.closing(sqlite3.connect(results)) as db:
        rows = db.execute("SELECT activation, status, dataset, auc FROM runs").fetchall()
    assert sorted(r[0] for r in rows) == sorted([*ACTIVATIONS, "relu"])
    assert all(s == "ok" and d == DATASET and 0 <= auc <= 1 for _, s, d, auc in rows), rows


def test_the_example_packages_own_tests_pass():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
