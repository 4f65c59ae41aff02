"""Run one discovery backend under a hard time limit and choose its formula openly.

A discoverer (a plugin's :class:`~nsad_bench.components.DiscovererSpec`) proposes ranked
candidate programs. :func:`run_discoverer` runs it in a child process so that
``budget.seconds`` is a hard limit, parses every candidate with the formula layer, and takes
the best-ranked one whose generalized form (every feature replaced by ``x``) is usable. Every
outcome, including a timeout, a crash or only degenerate candidates, comes back as a
:class:`Discovery` record, never as an exception and never as a silent identity fallback.

This module imports no discovery backend: backends are imported inside the plugins'
``discover`` methods, in the child process.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import sys
import time
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nsad_bench.components import Budget, Candidate, Discoverer, DiscovererSpec, one_line

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from nsad_bench.formula import Formula

#: Ways a discoverer can be isolated; "none" runs it inline (no hard time limit).
START_METHODS = ("fork", "spawn", "none")
#: Seconds between asking a timed-out child to stop (SIGTERM) and killing it (SIGKILL).
KILL_GRACE_SECONDS = 2.0
#: Longest error text kept in a record.
MAX_ERROR_CHARS = 500
#: How many skipped candidates the note names one by one.
NOTE_SKIPPED_SHOWN = 5


@dataclass(frozen=True)
class Discovery:
    """The outcome of one discovery run: what was proposed, what was chosen and why."""

    #: Name of the discoverer.
    discoverer: str
    #: Every parameter it ran with (its defaults updated by the user's values).
    params: dict[str, Any]
    seed: int
    #: "ok" when a usable formula was chosen, else "failed".
    status: str
    #: One line saying why the run failed; None when it succeeded.
    error: str | None = None
    #: The ranked candidates, best first: ``rank, program, fitness, complexity, infix,
    #: verdict, error`` (``error`` holds the parse error of an unparsable program).
    candidates: list[dict[str, Any]] = field(default_factory=list)
    #: Index into ``candidates`` of the chosen one.
    chosen: int | None = None
    #: The chosen candidate as a parsed formula.
    formula: Formula | None = None
    wall_seconds: float = 0.0
    #: How the choice was made, in words (e.g. which candidates were skipped and why).
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_record(self) -> dict[str, Any]:
        """A JSON-friendly dict for storage: the formula as its infix text."""
        return {
            "discoverer": self.discoverer,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "seed": self.seed,
            "status": self.status,
            "error": self.error,
            "candidates": [dict(c) for c in self.candidates],
            "chosen": self.chosen,
            "formula": None if self.formula is None else self.formula.infix,
            "wall_seconds": self.wall_seconds,
            "note": self.note,
        }


def resolve_params(spec: DiscovererSpec, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``spec.defaults`` updated by ``params``; an unknown name is a ValueError listing the
    valid ones, so a typo cannot silently run the defaults."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        valid = ", ".join(sorted(spec.defaults)) or "none"
        raise ValueError(
            f"discoverer {spec.name!r} has no parameter(s) {', '.join(map(repr, unknown))}; "
            f"valid: {valid}"
        )
    return {**spec.defaults, **params}


def run_discoverer(
    spec: DiscovererSpec,
    params: Mapping[str, Any] | None,
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    budget: Budget,
) -> Discovery:
    """Run ``spec`` on the discovery subset ``X, y`` and choose a usable formula.

    Raises ValueError only for unknown parameter names (a caller's mistake). Everything that
    goes wrong inside the discoverer (unavailable backend, timeout, exception, crash, only
    degenerate candidates) is returned as a failed :class:`Discovery` with a one-line error.
    """
    merged = resolve_params(spec, params)
    started = time.perf_counter()

    def failed(error: str, **fields: Any) -> Discovery:
        return Discovery(
            discoverer=spec.name,
            params=merged,
            seed=seed,
            status="failed",
            error=error,
            wall_seconds=time.perf_counter() - started,
            **fields,
        )

    reason = spec.unavailable_reason()
    if reason is not None:
        return failed(f"unavailable: {reason}")
    if spec.start_method not in START_METHODS:
        return failed(
            f"invalid start_method {spec.start_method!r} (valid: {', '.join(START_METHODS)})"
        )

    if spec.start_method == "none":
        kind, payload = _run_guarded(spec.create, merged, X, y, seed, budget)
    else:
        kind, payload = _run_in_child(spec, merged, X, y, seed, budget)
    search_seconds = time.perf_counter() - started
    if kind != "ok":
        return failed(payload)

    rows, formulas = _parse_candidates(payload)
    chosen = next((i for i, row in enumerate(rows) if row["verdict"] == "ok"), None)
    inline_note = ""
    over_budget = budget.seconds is not None and search_seconds > budget.seconds
    if spec.start_method == "none" and over_budget:
        inline_note = (
            f" (ran inline for {search_seconds:.1f} s, over the {budget.seconds:g} s "
            "budget, which is not enforced for inline discoverers)"
        )
    if chosen is None:
        error = _no_usable_error(rows)
        return failed(error, candidates=rows, note=error + inline_note)
    return Discovery(
        discoverer=spec.name,
        params=merged,
        seed=seed,
        status="ok",
        candidates=rows,
        chosen=chosen,
        formula=formulas[chosen],
        wall_seconds=time.perf_counter() - started,
        note=_choice_note(rows, chosen) + inline_note,
    )


# ------------------------------------------------------------------------------ the search


def _run_guarded(
    create: Callable[[Mapping[str, Any]], Discoverer],
    params: Mapping[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    budget: Budget,
) -> tuple[str, Any]:
    """Build and run the discoverer; ("ok", candidates) or ("error", one-line text)."""
    try:
        discoverer = create(params)
        result = discoverer.discover(X, y, seed=seed, budget=budget)
        return "ok", _checked_candidates(result)
    except Exception as exc:
        return "error", _one_line(exc)


def _checked_candidates(result: Any) -> list[Candidate]:
    """The discoverer's result as a list of Candidates; a TypeError names what was wrong."""
    if isinstance(result, (str, bytes)) or not isinstance(result, Sequence):
        raise TypeError(f"discover() must return a list of Candidate, got {type(result).__name__}")
    candidates = list(result)
    for i, item in enumerate(candidates):
        if not isinstance(item, Candidate):
            raise TypeError(
                f"discover() returned {type(item).__name__} at position {i}; expected Candidate"
            )
    return candidates


def _child_main(
    conn: Connection,
    create: Callable[[Mapping[str, Any]], Discoverer],
    params: Mapping[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    budget: Budget,
) -> None:
    """Entry point of the child process: run the discoverer and send one message back."""
    message = _run_guarded(create, params, X, y, seed, budget)
    try:
        conn.send(message)
    except Exception as exc:  # e.g. a candidate that cannot be pickled
        conn.send(("error", f"could not send the result back: {_one_line(exc)}"))
    finally:
        conn.close()


def _run_in_child(
    spec: DiscovererSpec,
    params: Mapping[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    budget: Budget,
) -> tuple[str, Any]:
    """Run the discoverer in a child process and wait at most ``budget.seconds`` for it."""
    ctx = multiprocessing.get_context(spec.start_method)
    receiver, sender = ctx.Pipe(duplex=False)
    # Not a daemon: backends may start worker processes of their own (joblib, PySR).
    proc = ctx.Process(
        target=_child_main,
        args=(sender, spec.create, dict(params), X, y, seed, budget),
        name=f"nsad-discover-{spec.name}",
    )
    hide_main = spec.start_method == "spawn" and getattr(spec.create, "__module__", None) != (
        "__main__"
    )
    linger = KILL_GRACE_SECONDS  # how long a child that has answered may take to exit
    try:
        try:
            with _main_module_hidden() if hide_main else contextlib.nullcontext():
                proc.start()
        except Exception as exc:  # e.g. a create() that spawn cannot pickle
            return "error", f"could not start the discoverer process: {_one_line(exc)}"
        finally:
            sender.close()
        if not receiver.poll(budget.seconds):
            linger = 0.0
            return "error", f"timed out after {budget.seconds:g} s"
        try:
            return receiver.recv()
        except EOFError:
            proc.join(KILL_GRACE_SECONDS)
            return "error", (
                f"discoverer process exited (code {proc.exitcode}) without sending a result"
            )
    finally:
        receiver.close()
        _stop(proc, linger)


def _stop(proc: multiprocessing.process.BaseProcess, linger: float) -> None:
    """Make sure the child is gone: wait ``linger`` seconds, then SIGTERM, then SIGKILL."""
    if proc.pid is None:  # never started
        return
    if linger > 0:
        proc.join(linger)
    if proc.is_alive():
        proc.terminate()
        proc.join(KILL_GRACE_SECONDS)
    if proc.is_alive():
        proc.kill()
        proc.join()
    proc.close()


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start a spawn child without re-running the parent's ``__main__``.

    multiprocessing's spawn re-imports the parent's main script in the child. Run from the
    ``nsad-bench`` console script, that imports the CLI and with it torch, before the
    discoverer could import juliacall (which must come first). The discoverer's code is
    importable by module name, so the child does not need the main script.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


# --------------------------------------------------------------------------- the choice


def _parse_candidates(
    candidates: Sequence[Candidate],
) -> tuple[list[dict[str, Any]], list[Formula | None]]:
    """One record per candidate plus its parsed formula (None when it did not parse)."""
    from nsad_bench.formula import FormulaError, make_formula

    rows: list[dict[str, Any]] = []
    formulas: list[Formula | None] = []
    for rank, cand in enumerate(candidates):
        row: dict[str, Any] = {
            "rank": rank,
            "program": cand.program,
            "fitness": _finite_or_none(cand.fitness),
            "complexity": None if cand.complexity is None else int(cand.complexity),
            "infix": None,
            "verdict": None,
            "error": None,
        }
        try:
            formula = make_formula(cand.program)
        except FormulaError as exc:
            row["error"] = _one_line(exc, with_type=False)
            formula = None
        except Exception as exc:  # a formula-layer bug must not lose the other candidates
            row["error"] = _one_line(exc)
            formula = None
        else:
            row["infix"] = formula.infix
            row["verdict"] = formula.verdict
        rows.append(row)
        formulas.append(formula)
    return rows, formulas


def _why_skipped(row: Mapping[str, Any]) -> str:
    if row["verdict"] is None:
        return f"unparsable ({row['error']})"
    return f"{row['verdict']} ({row['infix']})"


def _choice_note(rows: Sequence[Mapping[str, Any]], chosen: int) -> str:
    pick = rows[chosen]
    if chosen == 0:
        return f"took the top-ranked candidate {pick['program']!r} -> {pick['infix']}"
    skipped = [
        f"{'winner' if i == 0 else f'#{i}'} {row['program']!r} was {_why_skipped(row)}"
        for i, row in enumerate(rows[:chosen])
    ]
    if len(skipped) > NOTE_SKIPPED_SHOWN:
        more = len(skipped) - NOTE_SKIPPED_SHOWN
        skipped = [*skipped[:NOTE_SKIPPED_SHOWN], f"{more} more were unusable"]
    return "; ".join(skipped) + f"; took candidate #{chosen} {pick['program']!r} -> {pick['infix']}"


def _no_usable_error(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "no usable candidate: the discoverer returned none"
    counts: dict[str, int] = {}
    for row in rows:
        key = row["verdict"] or "unparsable"
        counts[key] = counts.get(key, 0) + 1
    kinds = "constant/linear/non-finite" + (" or unparsable" if "unparsable" in counts else "")
    detail = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return f"no usable candidate: all {len(rows)} were {kinds} ({detail})"


# ------------------------------------------------------------------------------- helpers


def _one_line(exc: BaseException, *, with_type: bool = True) -> str:
    text = one_line(exc) if with_type else " ".join(str(exc).split()) or "(no message)"
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 3] + "..."
    return text


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    """Tuples and numpy scalars as JSON-friendly values."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
