"""Scale-out on dask.distributed: frames, time points and files spread over worker processes or a cluster.

:func:`trackmate_cellpose.detect` comes here when ``RuntimeOptions.workers > 0`` (a local cluster of that many
single-threaded worker processes, started on first use and kept warm) or ``RuntimeOptions.scheduler`` is set (an
existing cluster, e.g. SLURM through :class:`SlurmPool` or :func:`slurm_cluster`). Each worker loads the cellpose model once and keeps it;
tasks carry numpy blocks of a few frames (one engine batch) or one 3D time point; results are gathered by frame index
and are identical to the in-process run. A dead worker's chunks are recomputed elsewhere by dask; a real error fails
the run naming the frame; cancel stops the cluster's tasks before returning.

Private modules: ``_api`` (public functions), ``_driver`` (chunking, submit/gather, cancel, errors), ``_worker`` (the
task, worker-process state), ``_cluster`` (clients, local cluster, SLURM recipe), ``_plugin`` (worker plugin),
``_slurm`` (the managed pool of SLURM worker jobs).
Importing this package does not import dask; the functions do.
"""

from ._entry import detect_call_distributed, detect_distributed, detect_many, iter_detect_many
from ._cluster import client_for, local_cluster, preload_model, shutdown, slurm_cluster, worker_stats
from ._driver import plan_chunks
from ._slurm import SlurmOptions, SlurmPool

__all__ = [
    "detect_distributed",
    "detect_call_distributed",
    "detect_many",
    "iter_detect_many",
    "client_for",
    "local_cluster",
    "preload_model",
    "shutdown",
    "slurm_cluster",
    "worker_stats",
    "plan_chunks",
    "SlurmOptions",
    "SlurmPool",
]
