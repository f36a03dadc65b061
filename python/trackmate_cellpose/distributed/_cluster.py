"""Where the work runs: a local dask cluster of single-threaded worker processes, or an existing scheduler.

``client_for(runtime)`` returns a connected :class:`distributed.Client` and keeps it for later calls in this process,
so that workers (and the cellpose models they hold warm) survive from one ``detect`` call to the next, as Fiji needs
when TrackMate calls the detector repeatedly. ``shutdown()`` (also run at interpreter exit) closes what was started.
``slurm_cluster`` is the dask-jobqueue recipe for one GPU per worker.

``dask_jobqueue`` is needed for SLURM only. A pool that owns a scheduler (``SlurmPool``) registers a health check for
it (``watch_scheduler``), which every run on that scheduler calls while it waits (``check_scheduler``).

Imports: distributed (lazily); package: errors, settings, distributed._plugin (lazily), distributed._slurm (lazily),
distributed._worker (lazily).
"""

from __future__ import annotations

import atexit
import threading
from typing import Any, Callable

from ..errors import BackendUnavailableError, InvalidSettingsError
from ..settings import RuntimeOptions

PLUGIN_NAME = "trackmate-cellpose-warm-worker"
_LOCK = threading.RLock()
_CLIENTS: dict[tuple, Any] = {}  # ("local", n) or ("scheduler", address) -> Client
_CLUSTERS: dict[tuple, Any] = {}


def _require_distributed():
    try:
        import distributed
    except ImportError as e:
        raise BackendUnavailableError(
            "running on workers or a scheduler needs dask.distributed: pip install 'trackmate-cellpose[distributed]'"
        ) from e
    return distributed


def local_cluster(n_workers: int, *, torch_threads: int | None = None, **kwargs: Any):
    """Start a loopback ``LocalCluster`` of ``n_workers`` single-threaded worker processes (nanny-supervised).

    Parameters
    ----------
    n_workers : int
        Worker processes (>= 1).
    torch_threads : int, optional
        Torch threads per worker; by default the machine's cores divided by ``n_workers`` (at least 1).
    kwargs
        Passed to ``distributed.LocalCluster`` (e.g. ``memory_limit``).

    Returns
    -------
    distributed.LocalCluster
    """
    _require_distributed()
    from distributed import LocalCluster

    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise InvalidSettingsError(f"workers must be an integer >= 1, got {n_workers!r}", key="workers",
                                   value=n_workers)
    from ._plugin import THREADS_ENV, available_cores

    threads = torch_threads or max(1, available_cores() // n_workers)
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), THREADS_ENV: str(threads)}
    # no dashboard; the scheduler's small HTTP server (health routes) on a free loopback port, not 8787
    options: dict[str, Any] = dict(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None, env=env,
                                   scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    options.update(kwargs)
    return LocalCluster(**options)


def _prepare(client) -> None:
    from ._plugin import WarmWorkerPlugin

    client.register_plugin(WarmWorkerPlugin(), name=PLUGIN_NAME)


def client_for(runtime: RuntimeOptions):
    """The shared client for ``runtime`` (``scheduler`` wins over ``workers``), created on first use.

    A local cluster is replaced when a different worker count is asked for; a scheduler client is kept per address.
    """
    _require_distributed()
    from distributed import Client

    if runtime.scheduler:
        key: tuple = ("scheduler", runtime.scheduler)
    elif runtime.workers > 0:
        key = ("local", runtime.workers)
    else:
        raise InvalidSettingsError("distributed run needs workers >= 1 or a scheduler address, got workers=0 and "
                                   "scheduler=''", key="workers", value=0)
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is not None and client.status == "running":
            return client
        _close(key)
        if key[0] == "local":
            for other in [k for k in _CLIENTS if k[0] == "local"]:
                _close(other)
            cluster = local_cluster(runtime.workers)
            _CLUSTERS[key] = cluster
            client = Client(cluster, set_as_default=False)
        else:
            try:
                client = Client(runtime.scheduler, set_as_default=False, timeout="30s")
            except (OSError, TimeoutError) as e:
                raise BackendUnavailableError(
                    f"cannot reach the dask scheduler at {runtime.scheduler!r}: {e}") from e
        _prepare(client)
        _CLIENTS[key] = client
        return client


def _close(key: tuple) -> None:
    client = _CLIENTS.pop(key, None)
    cluster = _CLUSTERS.pop(key, None)
    for thing in (client, cluster):
        if thing is not None:
            try:
                thing.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


def forget_scheduler(address: str) -> None:
    """Close the shared client of the scheduler at ``address`` (its cluster is going away)."""
    with _LOCK:
        _close(("scheduler", address))


#: scheduler address -> health check of the pool that owns the scheduler (raises when it cannot run work)
_WATCHES: dict[str, Callable[[], None]] = {}


def watch_scheduler(address: str, check: Callable[[], None]) -> None:
    """Have every run on the scheduler at ``address`` call ``check()`` while it waits (a SLURM pool's failure)."""
    _WATCHES[address] = check


def unwatch_scheduler(address: str) -> None:
    _WATCHES.pop(address, None)


def check_scheduler(client) -> None:
    """Call the health check registered for ``client``'s scheduler, if any (it raises the pool's failure)."""
    check = _WATCHES.get(getattr(client.scheduler, "address", None) or "")
    if check is not None:
        check()


def shutdown() -> None:
    """Close every client and local cluster this process started (workers exit, warm models are dropped)."""
    with _LOCK:
        for key in list(_CLIENTS) + list(_CLUSTERS):
            _close(key)


atexit.register(shutdown)


def worker_stats(client) -> dict[str, dict[str, Any]]:
    """Per worker address: pid, model loads, tasks, frames, chunks running, torch threads."""
    from ._worker import worker_stats as _stats

    return client.run(_stats)


def preload_model(client, settings, *, device: str = "auto") -> dict[str, bool]:
    """Load the model of ``settings`` on every worker now (else on each worker's first task); True where loaded."""
    from ._worker import preload_model as _preload

    return client.run(_preload, settings, device)


def slurm_cluster(n_gpus: int, *, queue: str | None = None, account: str | None = None, cpus_per_gpu: int = 8,
                  memory: str = "32GB", walltime: str = "04:00:00", prologue: list[str] | None = None,
                  **kwargs: Any):
    """dask-jobqueue recipe: one SLURM job per worker, one GPU and one task thread per worker (for a pool that is
    checked, kept at its size and cancelled for you, see :class:`SlurmPool`).

    Parameters
    ----------
    n_gpus : int
        Jobs (= workers = GPUs) to request now; call ``cluster.adapt(...)`` afterwards for an elastic pool.
    queue, account : str, optional
        SLURM partition and account.
    cpus_per_gpu : int
        CPUs booked per job (cellpose's mask reconstruction and the spot geometry run on the CPU).
    memory, walltime : str
        Per job.
    prologue : list of str, optional
        Shell lines run before the worker starts (``module load cuda``, ``source venv/bin/activate``).
    kwargs
        Passed to ``dask_jobqueue.SLURMCluster``.

    Returns
    -------
    dask_jobqueue.SLURMCluster
        Pass ``RuntimeOptions(scheduler=cluster.scheduler_address)`` to ``detect``.
    """
    from ._slurm import SlurmOptions, import_slurm_cluster

    SLURMCluster = import_slurm_cluster()  # noqa: N806 - the class
    # the same job as SlurmPool's (one worker process, ONE task thread, one GPU, threads = CPUs booked); SLURM's own
    # output files (slurm-<id>.out in the working folder) unless kwargs name a log_directory
    options = SlurmOptions(jobs=max(1, n_gpus), partition=queue or "", account=account or "", gpus_per_job=1,
                           cpus_per_job=cpus_per_gpu, memory=memory, walltime=walltime,
                           prologue=tuple(prologue or ()), extra={"log_directory": None, **kwargs}
                           ).cluster_keywords()
    cluster = SLURMCluster(**options)
    if n_gpus:
        cluster.scale(jobs=n_gpus)
    return cluster
