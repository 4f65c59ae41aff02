"""Local executors: in-process for one job at a time, worker processes for more.

Every process trains with one torch thread. Parallelism comes from processes (``--jobs``),
which scale almost perfectly for these small networks, and a fixed thread count keeps the
floating-point order of every matrix product, hence every result, the same whatever
``--jobs`` is.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from nsad_bench.components import ExecutorOptions

#: Torch threads of a process that trains (see the module docstring).
TRAINING_THREADS = 1


def default_jobs() -> int:
    """Worker processes that fill this machine: one per core."""
    return os.cpu_count() or 1


def threads_per_worker(jobs: int) -> int:
    """Torch threads for each of ``jobs`` training processes.

    One, whatever ``jobs`` is: a count that followed ``jobs`` would change the summation
    order inside matrix products and so make results depend on ``--jobs``. With ``jobs``
    at most the number of cores the machine is then never oversubscribed.
    """
    return TRAINING_THREADS


def _exit_with_parent(parent: int) -> None:
    """Have the kernel stop this worker when the driver dies (Linux), even by SIGKILL:
    otherwise a worker would wait on the job queue forever, holding its memory."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the driver died before the call above
        os._exit(1)


def _init_worker(threads: int, parent: int) -> None:
    import torch

    if sys.platform.startswith("linux"):
        _exit_with_parent(parent)
    torch.set_num_threads(threads)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run a block with ``threads`` torch threads, restoring the previous count after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class LocalExecutor:
    """Runs jobs here: inline with ``jobs == 1``, otherwise in a pool of worker processes.

    Jobs are submitted in the order given (callers put the longest first, so the pool
    balances); results are yielded as ``(index, result)`` in completion order, so callers
    that need a stable order sort by index.
    """

    def __init__(self, options: ExecutorOptions) -> None:
        self.jobs = max(1, options.jobs)
        self._pool: ProcessPoolExecutor | None = None

    def run(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        if self.jobs == 1 or len(jobs) <= 1:
            with torch_threads(threads_per_worker(1)):
                for index, job in enumerate(jobs):
                    yield index, fn(job)
            return
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        self._pool = ProcessPoolExecutor(
            max_workers=min(self.jobs, len(jobs)),
            mp_context=mp.get_context(method),
            initializer=_init_worker,
            initargs=(threads_per_worker(self.jobs), os.getpid()),
        )
        pending: dict[Future, int] = {self._pool.submit(fn, job): i for i, job in enumerate(jobs)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield pending.pop(future), future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
