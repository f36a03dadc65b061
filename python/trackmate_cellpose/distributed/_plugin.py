"""The worker plugin of the distributed path (imports ``distributed`` at module level: import it lazily)."""

from __future__ import annotations

import os

from distributed.diagnostics.plugin import WorkerPlugin

#: Environment variable of a worker process: torch threads per worker (set by ``local_cluster``).
THREADS_ENV = "TMCP_TORCH_THREADS"


def available_cores() -> int:
    """CPUs this process may run on (``sched_getaffinity`` honours SLURM/LSF CPU allocations)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


class WarmWorkerPlugin(WorkerPlugin):
    """Sets torch's threads on every worker, restarted ones included, so the CPU is shared, not oversubscribed.

    ``torch_threads=None`` takes ``$TMCP_TORCH_THREADS`` of the worker process when set (``local_cluster`` sets it
    to cores / workers), else gives each task thread an equal share of the cores the process may use, which is right
    for one worker per batch job (dask's nanny otherwise leaves ``OMP_NUM_THREADS=1``, starving CPU workers). The model itself is
    loaded on the worker's first task (or by ``preload_model``) and stays warm in the process.
    """

    def __init__(self, torch_threads: int | None = None):
        self.torch_threads = torch_threads

    def setup(self, worker) -> None:
        from ..segment._torch_state import set_torch_threads

        n = self.torch_threads or int(os.environ.get(THREADS_ENV, "0") or 0)
        if n < 1:
            n = max(1, available_cores() // max(1, worker.state.nthreads))
        set_torch_threads(n)
