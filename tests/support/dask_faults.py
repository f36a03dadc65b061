"""Fault injection for the distributed tests, as a dask worker plugin: production code carries no test hook.

:class:`FrameFault` wraps the cellpose adapter's ``run_network`` (the network part of cellpose's ``eval``) on every
worker (replacement workers included, as dask registers plugins on new workers too) and recognises the frame by its
pixels, so nothing about chunk keys or indices is assumed:

* ``kind="raise"``: the network call that holds the frame raises ``RuntimeError("injected fault on frame <t>")``,
  every time (a real error on that frame);
* ``kind="kill"``: after the network call that holds the frame, the worker process SIGKILLs itself, once (the
  ``marker`` file records it, so the recomputation elsewhere succeeds);
* ``kind="stall"``: the first network call that holds the frame writes the ``marker`` file (the worker's
  ``$SLURM_JOB_ID`` and pid) and then waits for ``stall_s`` seconds, so that a test can end that worker's job while
  it segments the frame; once the marker exists, the frame runs normally (the recomputation elsewhere).
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin

NAME = "tmcp-test-frame-fault"


class FrameFault(WorkerPlugin):
    def __init__(self, pixels_yx: np.ndarray, *, frame: int, kind: str, marker: str = "", stall_s: float = 600):
        if kind not in ("raise", "kill", "stall"):
            raise ValueError(f"kind must be 'raise', 'kill' or 'stall', got {kind!r}")
        self.pixels_yx = np.asarray(pixels_yx, dtype=np.float32)
        self.frame = frame
        self.kind = kind
        self.marker = marker
        self.stall_s = stall_s
        self._original = None

    def setup(self, worker) -> None:
        from trackmate_cellpose.segment._adapter import CellposeAdapter

        self._original = original = CellposeAdapter.run_network
        fault = self

        def run_network_with_fault(adapter, x, *args, **kwargs):
            hit = fault.holds(x)
            if hit and fault.kind == "raise":
                raise RuntimeError(f"injected fault on frame {fault.frame}")
            if hit and fault.kind == "stall" and not os.path.exists(fault.marker):
                with open(fault.marker + ".tmp", "w") as fh:
                    fh.write(f"{os.environ.get('SLURM_JOB_ID', '')} {os.getpid()}\n")
                os.replace(fault.marker + ".tmp", fault.marker)
                time.sleep(fault.stall_s)
            out = original(adapter, x, *args, **kwargs)
            if hit and fault.kind == "kill" and not os.path.exists(fault.marker):
                with open(fault.marker, "w") as fh:
                    fh.write(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        CellposeAdapter.run_network = run_network_with_fault

    def teardown(self, worker) -> None:
        from trackmate_cellpose.segment._adapter import CellposeAdapter

        if self._original is not None:
            CellposeAdapter.run_network = self._original

    def holds(self, x: np.ndarray) -> bool:
        """True when the 2D network input ``x`` (N, Y, X, C) contains the frame (first channel)."""
        if x.ndim != 4 or x.shape[1:3] != self.pixels_yx.shape:
            return False
        return any(np.array_equal(x[j, ..., 0], self.pixels_yx) for j in range(x.shape[0]))


@contextmanager
def frame_fault(client, pixels_yx: np.ndarray, *, frame: int, kind: str, marker: str = "",
                stall_s: float = 600) -> Iterator[None]:
    """Install :class:`FrameFault` on every worker of ``client`` for the ``with`` block."""
    client.register_plugin(FrameFault(pixels_yx, frame=frame, kind=kind, marker=marker, stall_s=stall_s), name=NAME)
    try:
        yield
    finally:
        client.unregister_worker_plugin(NAME)
