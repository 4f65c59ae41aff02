"""Local executors: in-process for one job at a time, worker processes for more."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from nsad_bench.components import ExecutorOptions


def threads_per_worker(jobs: int) -> int:
    """Split the cores between workers so torch never oversubscribes the machine."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class LocalExecutor:
    """Runs jobs here: inline with ``jobs == 1``, otherwise in a pool of worker processes.

    Results are yielded as ``(index, result)`` in completion order; callers that need a
    stable order sort by index.
    """

    def __init__(self, options: ExecutorOptions) -> None:
        self.jobs = max(1, options.jobs)
        self._pool: ProcessPoolExecutor | None = None

    def run(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        if self.jobs == 1 or len(jobs) <= 1:
            for index, job in enumerate(jobs):
                yield index, fn(job)
            return
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        self._pool = ProcessPoolExecutor(
            max_workers=min(self.jobs, len(jobs)),
            mp_context=mp.get_context(method),
            initializer=_init_worker,
            initargs=(threads_per_worker(self.jobs),),
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
