"""Built-in plugin: run training groups on a Dask distributed cluster (``--executor dask``).

With ``--scheduler ADDRESS`` the jobs go to that existing cluster; without it a
``LocalCluster`` of ``--jobs`` single-threaded worker processes is started on loopback
and closed afterwards. Workers only compute: each result comes back to the driver, which
alone writes the results database. Workers load datasets themselves (from the
``data_dir`` recorded in each job, so on a multi-machine cluster that path must exist on
every worker) and resolve plugin names through their own installed entry points.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from nsad_bench import hookimpl
from nsad_bench.components import ExecutorOptions, ExecutorSpec

INSTALL_HINT = "dask.distributed is not installed (pip install nsad-bench[dask])"


def requires() -> str | None:
    if importlib.util.find_spec("distributed") is None:
        return INSTALL_HINT
    return None


def _on_worker(fn: Callable[[Any], Any], job: Any) -> Any:
    """Run ``fn(job)`` with the torch thread count every nsad-bench training process uses."""
    import torch

    from nsad_bench.executors import threads_per_worker

    torch.set_num_threads(threads_per_worker(1))
    return fn(job)


class DaskExecutor:
    """Submits jobs (costliest first, as given) and yields ``(index, result)`` as they finish."""

    def __init__(self, options: ExecutorOptions) -> None:
        reason = requires()
        if reason:
            raise RuntimeError(f"executor dask: {reason}")
        self.options = options
        self._client: Any = None
        self._cluster: Any = None

    def _connect(self) -> Any:
        from distributed import Client, LocalCluster

        if self.options.scheduler:
            self._client = Client(self.options.scheduler)
        else:
            self._cluster = LocalCluster(
                n_workers=max(1, self.options.jobs),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            self._client = Client(self._cluster)
        return self._client

    def run(self, fn: Callable[[Any], Any], jobs: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        client = self._client or self._connect()
        futures = {
            client.submit(_on_worker, fn, job, pure=False, priority=len(jobs) - i): i
            for i, job in enumerate(jobs)
        }
        for future, result in as_completed(futures, with_results=True):
            yield futures[future], result

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _create(options: ExecutorOptions) -> DaskExecutor:
    return DaskExecutor(options)


@hookimpl
def nsad_executors() -> list[ExecutorSpec]:
    return [
        ExecutorSpec(
            name="dask",
            create=_create,
            requires=requires,
            description="a Dask distributed cluster: --scheduler ADDRESS, or a LocalCluster",
        )
    ]
