"""The results store: one embedded SQLite file, one row per run, written as each run finishes.

Every row is its own transaction, so a benchmark killed at any moment loses at most the run
that was in flight, never a finished one, and never leaves half a row. WAL mode and a busy
timeout let two runners share a file; the run id is the primary key, so they cannot write the
same run twice, and a finished row is never overwritten by a later failure.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

RUN_COLUMNS = (
    "run_id",
    "dataset",
    "task",
    "n_rows",
    "architecture",
    "activation",
    "activation_kind",
    "discoverer",
    "source_dataset",
    "formula",
    "seed",
    "status",
    "error",
    "diverged_epoch",
    "accuracy",
    "auc",
    "params",
    "e_param",
    "train_seconds",
    "config",
    "versions",
    "finished_at",
)

FORMULA_COLUMNS = (
    "key",
    "dataset",
    "task",
    "discoverer",
    "params",
    "seed",
    "status",
    "error",
    "program",
    "infix",
    "simplified",
    "latex",
    "verdict",
    "chosen",
    "note",
    "candidates",
    "wall_seconds",
    "created_at",
)

DATASET_COLUMNS = ("name", "task", "n_rows", "n_features", "positive_rate", "source", "loaded_at")

#: Statuses that count as done: running the same plan again skips them; failed runs are retried.
DONE = ("ok", "diverged")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    {", ".join(c + (" TEXT PRIMARY KEY" if c == "run_id" else "") for c in RUN_COLUMNS)}
);
CREATE TABLE IF NOT EXISTS formulas (
    {", ".join(c + (" TEXT PRIMARY KEY" if c == "key" else "") for c in FORMULA_COLUMNS)}
);
CREATE TABLE IF NOT EXISTS datasets (
    {", ".join(c + (" TEXT PRIMARY KEY" if c == "name" else "") for c in DATASET_COLUMNS)}
);
CREATE TABLE IF NOT EXISTS invocations (command TEXT, started_at TEXT);
"""


#: Seconds a connection waits for another runner's write before giving up.
BUSY_TIMEOUT = 60.0


def _use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch the file to WAL, waiting while another runner holds a lock on it.

    SQLite answers a journal-mode change with SQLITE_BUSY at once, without calling the busy
    handler, when another connection is writing the still rollback-journalled file: two
    runners opening a new database together would otherwise see "database is locked".
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            # A file system without shared memory keeps its journal mode; the busy timeout
            # still serializes writers there.
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


class ResultsStore:
    """A results database at ``path`` (created with its parent directories on first use)."""

    def __init__(self, path: str | Path, *, timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            _use_wal(self._conn, timeout)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ runs

    def done_ids(self, run_ids: Iterable[str] | None = None) -> set[str]:
        placeholders = ", ".join("?" for _ in DONE)
        rows = self._conn.execute(
            f"SELECT run_id FROM runs WHERE status IN ({placeholders})", DONE
        ).fetchall()
        done = {r[0] for r in rows}
        return done if run_ids is None else done & set(run_ids)

    def save_run(self, row: Mapping[str, Any]) -> None:
        """Insert a finished run; replace an earlier failed attempt, never a done one."""
        values = [_cell(row.get(c)) for c in RUN_COLUMNS]
        updates = ", ".join(f"{c}=excluded.{c}" for c in RUN_COLUMNS if c != "run_id")
        placeholders = ", ".join("?" for _ in DONE)
        self._conn.execute(
            f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in RUN_COLUMNS)}) "
            f"ON CONFLICT(run_id) DO UPDATE SET {updates} "
            f"WHERE runs.status NOT IN ({placeholders})",
            [*values, *DONE],
        )

    def runs(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM runs ORDER BY rowid", self._conn)

    # -------------------------------------------------------------------------- formulas

    def formula(self, key: str) -> dict[str, Any] | None:
        cursor = self._conn.execute("SELECT * FROM formulas WHERE key = ?", (key,))
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cursor.description], row, strict=True))

    def save_formula(self, row: Mapping[str, Any]) -> None:
        self._conn.execute(
            f"INSERT OR REPLACE INTO formulas ({', '.join(FORMULA_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in FORMULA_COLUMNS)})",
            [_cell(row.get(c)) for c in FORMULA_COLUMNS],
        )

    def formulas(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM formulas ORDER BY rowid", self._conn)

    # -------------------------------------------------------------------------- datasets

    def save_dataset(self, row: Mapping[str, Any]) -> None:
        """Where a dataset's rows came from, for the provenance of every report."""
        self._conn.execute(
            f"INSERT OR REPLACE INTO datasets ({', '.join(DATASET_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in DATASET_COLUMNS)})",
            [_cell(row.get(c)) for c in DATASET_COLUMNS],
        )

    def datasets(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM datasets ORDER BY rowid", self._conn)

    # ----------------------------------------------------------------------- invocations

    def save_invocation(self, command: str) -> None:
        """The command line of a run that writes here, for the provenance of reports."""
        self._conn.execute(
            "INSERT INTO invocations VALUES (?, ?)",
            (command, datetime.now(timezone.utc).isoformat(timespec="seconds")),
        )

    def invocations(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM invocations ORDER BY rowid", self._conn)


def _cell(value: Any) -> Any:
    """SQLite holds scalars; structured values are stored as JSON text."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
