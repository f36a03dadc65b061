"""Worker side of the distributed path: the task that segments one chunk of frames, and per-process state.

Runs inside dask worker processes (and is imported by the driver only to name the task). A chunk is one engine batch
of 2D frames or one 3D time point, handed over as a numpy block; the task runs the in-process engine
(:func:`trackmate_cellpose._engine.run_detection`) on that block, so labels and spots are those of a local run by
construction. The cellpose model stays warm in the process through ``CellposeAdapter.get``'s per-process cache; this
module counts how many models a process loaded so that tests and benchmarks can check "once per worker".

``distributed`` is imported inside functions (it is always present on a worker); torch only through ``segment``.
Imports: distributed (lazily), numpy; package: _call, _engine (lazily), calibration, errors, results, segment, settings.
"""

from __future__ import annotations

import copy
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..calibration import Calibration
from .._call import DetectCall, Hooks, Placement
from ..errors import Cancelled, SegmentationError, TrackMateCellposeError
from ..results import FrameResult
from ..segment._torch_state import torch_threads
from ..settings import DetectorSettings, RuntimeOptions

_STATE_LOCK = threading.Lock()
_STATE: dict[str, Any] = {"model_loads": 0, "tasks": 0, "frames": 0, "running": {}, "adapters": set()}
_CANCEL_POLL_S = 0.3
_PROGRESS_EVERY_S = 0.25


@dataclass(frozen=True)
class ChunkSpec:
    """What one task computes (everything but the pixels, which travel as the task's first argument).

    Attributes
    ----------
    run_id : str
        Identifies the run (cancel event and progress topic names derive from it).
    index : int
        Position of the chunk in the run (results are assembled by this index, never by arrival order).
    frames : tuple of int
        Frame indices into the T axis of the caller's image, in processing order.
    name : str
        The image's name for messages (a file name when several images share the cluster), else "".
    contiguous : bool
        True when ``frames`` is ``lo, lo+1, ...``: the block is ``image[lo:hi+1]`` and the engine gets
        ``placement.frame_offset + lo``, exactly the numbers of a local run. Otherwise the block stacks ``frames`` and the frame
        numbers are mapped back after the run.
    """

    run_id: str
    index: int
    frames: tuple[int, ...]
    contiguous: bool
    settings: DetectorSettings
    calibration: Calibration
    runtime: RuntimeOptions
    placement: Placement  # the caller's origin and frame offset (its ``frames`` are unused: see ``frames``)
    name: str = ""  # the image's name in messages ("" for a single image)


@dataclass
class ChunkOutput:
    """What one task returns."""

    index: int
    frames: list[FrameResult]
    notes: list[str]
    worker_pid: int
    loaded_model: bool
    seconds: float
    stats: dict[str, float] = field(default_factory=dict)


# ---- worker-process state ----------------------------------------------------------------------------------------
def worker_stats() -> dict[str, Any]:
    """This process's counters: model loads, tasks, frames, torch threads, pid (run through ``client.run``)."""
    threads = torch_threads()
    with _STATE_LOCK:
        return {"pid": os.getpid(), "model_loads": _STATE["model_loads"], "tasks": _STATE["tasks"],
                "frames": _STATE["frames"], "running": sum(_STATE["running"].values()), "torch_threads": threads}


def running_chunks(run_id: str | None = None) -> int:
    """Number of this process's chunk tasks still executing (for ``run_id``, or for any run)."""
    with _STATE_LOCK:
        if run_id is None:
            return sum(_STATE["running"].values())
        return _STATE["running"].get(run_id, 0)


def preload_model(settings: DetectorSettings, device: str = "auto") -> bool:
    """Load (or find warm) the model of ``settings`` in this process; True when this call loaded it."""
    return _warm_adapter(settings, device)[1]


def _warm_adapter(settings: DetectorSettings, device: str, inference: str = "auto"):
    from ..segment._adapter import CellposeAdapter

    adapter = CellposeAdapter.get(settings, runtime_device=device, inference=inference)
    with _STATE_LOCK:
        new = id(adapter) not in _STATE["adapters"]
        if new:
            _STATE["adapters"].add(id(adapter))
            _STATE["model_loads"] += 1
    return adapter, new


# ---- cancel and progress from inside a task ----------------------------------------------------------------------
class _RemoteSignals:
    """Cancel check (a dask ``Event`` set by the driver, polled at most every 0.3 s) and throttled progress events
    (``Worker.log_event`` on the run's topic)."""

    def __init__(self, spec: ChunkSpec, *, remote: bool = True):
        self.spec = spec
        self._event = None
        self._worker = None
        self._last_poll = 0.0
        self._last_progress = 0.0
        self._cancelled = False
        if not remote:
            return
        try:
            from distributed import Event, get_worker

            self._worker = get_worker()
            self._event = Event(cancel_event_name(spec.run_id))
        except (ImportError, ValueError):  # not inside a dask worker (direct call): no remote signals
            pass

    def cancel(self) -> bool:
        if self._cancelled:
            return True
        now = time.monotonic()
        if self._event is None or now - self._last_poll < _CANCEL_POLL_S:
            return False
        self._last_poll = now
        try:
            self._cancelled = bool(self._event.is_set())
        except Exception:  # noqa: BLE001 - scheduler unreachable: keep working, dask decides the task's fate
            return False
        return self._cancelled

    def progress(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if self._worker is None or (fraction < 1.0 and now - self._last_progress < _PROGRESS_EVERY_S):
            return
        self._last_progress = now
        try:
            self._worker.log_event(progress_topic(self.spec.run_id),
                                   {"index": self.spec.index, "fraction": float(fraction), "message": message})
        except Exception:  # noqa: BLE001 - progress is best effort
            pass


def cancel_event_name(run_id: str) -> str:
    return f"tmcp-cancel-{run_id}"


def progress_topic(run_id: str) -> str:
    return f"tmcp-progress-{run_id}"


# ---- the task ------------------------------------------------------------------------------------------------------
def detect_chunk(block_tczyx: np.ndarray, spec: ChunkSpec) -> ChunkOutput:
    """Segment one chunk and build its detections (runs on a worker).

    Parameters
    ----------
    block_tczyx : ndarray, shape (T_block, C, Z, Y, X)
        Channel-selected pixels: ``image[lo:hi+1]`` when ``spec.contiguous``, else ``image[spec.frames]``.
    spec : ChunkSpec

    Returns
    -------
    ChunkOutput
        Frame results in ``spec.frames`` order, with absolute frame numbers as a local run gives them.

    Raises
    ------
    SegmentationError
        A real error, with the failing frame (index into the caller's image) when it can be told.
    InvalidSettingsError, InvalidImageError, BackendUnavailableError
        As the engine raised them. Every raised error carries ``remote_traceback`` (the worker's traceback text)
        and pickles back to the driver as it is.
    Cancelled
        The driver set the run's cancel event.
    """
    t0 = time.perf_counter()
    with _STATE_LOCK:
        _STATE["running"][spec.run_id] = _STATE["running"].get(spec.run_id, 0) + 1
    try:
        signals = _RemoteSignals(spec)
        if signals.cancel():
            raise Cancelled(f"cancelled before frame {spec.frames[0]}")
        try:
            _, loaded = _warm_adapter(spec.settings, spec.runtime.device, spec.runtime.inference)
            frames, notes = _run_block(block_tczyx, spec, spec.frames, signals)
        except Cancelled:
            raise
        except Exception as e:  # every failure is reported with its frame
            raise _with_context(e, block_tczyx, spec) from e
        with _STATE_LOCK:
            _STATE["tasks"] += 1
            _STATE["frames"] += len(spec.frames)
        signals.progress(1.0, "done")
        return ChunkOutput(index=spec.index, frames=frames, notes=notes, worker_pid=os.getpid(),
                           loaded_model=loaded, seconds=time.perf_counter() - t0)
    finally:
        with _STATE_LOCK:
            left = _STATE["running"].get(spec.run_id, 1) - 1
            if left:
                _STATE["running"][spec.run_id] = left
            else:
                _STATE["running"].pop(spec.run_id, None)


def _run_block(block: np.ndarray, spec: ChunkSpec, frames: Sequence[int], signals: _RemoteSignals
               ) -> tuple[list[FrameResult], list[str]]:
    """Run the local engine on the block's ``frames`` (indices into the caller's image)."""
    from .._engine import run_detection

    offset = spec.placement.frame_offset
    hooks = Hooks(progress=signals.progress, cancel=signals.cancel)
    if spec.contiguous:
        lo = spec.frames[0]
        placement = Placement(frames=[t - lo for t in frames], origin_xyz=spec.placement.origin_xyz,
                              frame_offset=offset + lo)
    else:
        placement = Placement(frames=[spec.frames.index(t) for t in frames], origin_xyz=spec.placement.origin_xyz)
    res = run_detection(DetectCall(block, spec.settings, axes="tczyx", calibration=spec.calibration,
                                   runtime=spec.runtime, placement=placement, hooks=hooks))
    if spec.contiguous:
        return res.frames, res.notes
    return [_renumber(fr, offset + t) for fr, t in zip(res.frames, frames)], res.notes


def _renumber(fr: FrameResult, frame: int) -> FrameResult:
    import dataclasses

    return FrameResult(frame=frame, labels=fr.labels,
                       detections=[dataclasses.replace(d, frame=frame) for d in fr.detections])


def _local_to_image_frame(spec: ChunkSpec, local: int | None) -> int | None:
    """Map a frame index as the engine saw it (into the block) back to the caller's image."""
    if local is None:
        return None
    if spec.contiguous:
        return spec.frames[0] + local
    return spec.frames[local] if 0 <= local < len(spec.frames) else None


def _with_context(e: Exception, block: np.ndarray, spec: ChunkSpec) -> TrackMateCellposeError:
    """The package error to raise for ``e`` on the driver: the frame mapped to the caller's image, the image's
    name in the message, and the worker's traceback text as ``remote_traceback`` (for ``--debug``)."""
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    name = f"{spec.name}: " if spec.name else ""
    out: TrackMateCellposeError
    if isinstance(e, SegmentationError):
        frame = _local_to_image_frame(spec, e.frame)
        msg = str(e)
        prefix = f"frame {e.frame}: "
        if e.frame is not None and msg.startswith(prefix):
            msg = msg[len(prefix):]
        out = SegmentationError(f"{name}{msg}", frame=frame if frame is not None else spec.frames[0],
                                settings=spec.settings)
    elif isinstance(e, TrackMateCellposeError):  # invalid settings or image, a missing backend: as raised
        out = copy.copy(e)
        out.args = (f"{name}{e}",) + tuple(e.args[1:])
    else:
        frame = spec.frames[0] if len(spec.frames) == 1 else _pinpoint(block, spec)
        what = f"{type(e).__name__}: {e}"
        out = SegmentationError(f"{name}{what}" if frame is not None else f"{_describe(spec)}: {what}", frame=frame,
                                settings=spec.settings)
    out.remote_traceback = f"On the dask worker (pid {os.getpid()}):\n{tb}"
    return out


def _describe(spec: ChunkSpec) -> str:
    span = f"frame {spec.frames[0]}" if len(spec.frames) == 1 else f"frames {spec.frames[0]}-{spec.frames[-1]}"
    return f"{spec.name}: {span}" if spec.name else span


def _pinpoint(block: np.ndarray, spec: ChunkSpec) -> int | None:
    """Re-run a failed multi-frame chunk one frame at a time to name the frame that fails (diagnosis only)."""
    one = ChunkSpec(**{**spec.__dict__, "runtime": RuntimeOptions(
        device=spec.runtime.device, frames_per_batch=1, tile_batch_size=spec.runtime.tile_batch_size,
        inference=spec.runtime.inference)})
    quiet = _RemoteSignals(spec, remote=False)
    for t in spec.frames:
        try:
            _run_block(block, one, [t], quiet)
        except MemoryError:
            return None
        except Exception:  # noqa: BLE001
            return t
    return None
