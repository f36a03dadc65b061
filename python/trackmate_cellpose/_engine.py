"""The detection engine behind :func:`trackmate_cellpose.detect`.

Drives the cellpose adapter frame batch by frame batch (2D) or time point by time point (3D) as a pipeline: the
network runs in the calling thread while a pool of threads turns the previous frames' flows into cellpose's masks,
cleans the labels and hands them to ``geometry`` to build TrackMate detections (:func:`iter_detected`). Progress is
reported inside network work and as frames finish; cancel is checked at the same places, and asked from a helper
thread that stops the calling thread's work anywhere else (``_cancel.interruptible``).

Imports: numpy; package: _call, _cancel, _input, calibration, errors, results, segment, settings, geometry (lazily).
"""

from __future__ import annotations

import math
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .calibration import Calibration
from ._call import DetectCall
from ._cancel import interruptible
from ._input import check_run_limits, emit_notices, prepare_input
from .errors import Cancelled, SegmentationError
from .results import DetectionResult, FrameResult
from .segment._label_cleanup import clean_labels
from .settings import DetectorSettings, RuntimeOptions


#: Pixels one network tile advances by in cellpose's tiling (224-px tiles with the default overlap): only for the
#: progress estimate inside a call, never for the computation.
TILE_STEP_PX = 200
#: Progress inside one cellpose call stops short of this share of the call; the rest is reported when it returns.
IN_CALL_PROGRESS_CAP = 0.95
#: Cell-probability value written for a blank frame (no network run): far below any threshold (cellpose's logits).
BLANK_CELLPROB = -10.0
#: Stitch threshold for ``iou_threshold <= 0`` in 2D+Z: "any overlap" (cellpose reads 0 as "do not stitch").
ANY_OVERLAP_IOU = 1e-6
#: Most threads building masks and spots beside the network (more gain nothing: the network holds the cores too).
MAX_POST_THREADS = 4
#: Seconds between two looks at the caller's cancel while the calling thread waits for a frame's post-processing.
WAIT_POLL_S = 0.1


def _is_blank(block: np.ndarray) -> bool:
    return bool(block.size == 0 or np.all(block == block.flat[0]))


def _net_batches_estimate(mode: str, zyx: tuple[int, int, int], rescale: float, anisotropy: float,
                          tile_batch: int, n: int = 1) -> int:
    """Rough number of network batches for one call (for progress inside a frame only)."""
    z, y, x = zyx

    def tiles(a: float, b: float) -> int:
        return max(1, math.ceil(a * rescale / TILE_STEP_PX)) * max(1, math.ceil(b * rescale / TILE_STEP_PX))

    if mode == "3d":
        zr = z * anisotropy
        planes = zr * tiles(y, x) + y * rescale * tiles(zr / rescale, x) + x * rescale * tiles(zr / rescale, y)
    else:
        planes = (z if mode == "2dz" else n) * tiles(y, x)
    return max(1, math.ceil(planes / tile_batch))


class _Stop:
    """The cancel state one detection shares with its post-processing threads.

    The caller's ``cancel()`` is asked in the caller's thread only (a Fiji's ``isCanceled`` is a Java call); the
    threads see the answer through :meth:`check`, called between their stages.
    """

    def __init__(self, cancel: Callable[[], bool] | None) -> None:
        self._cancel = cancel
        self._event = threading.Event()

    def poll(self, where: str) -> None:
        """Caller's thread: ask the caller, raise Cancelled if it wants to stop."""
        if self._event.is_set() or (self._cancel is not None and self._cancel()):
            self._event.set()
            raise Cancelled(f"cancelled {where}")

    def set(self) -> None:
        self._event.set()

    def stopped(self) -> bool:
        """Any thread: whether the detection is being stopped."""
        return self._event.is_set()

    def check(self, where: str) -> None:
        """Any thread: raise Cancelled once the detection is being stopped."""
        if self._event.is_set():
            raise Cancelled(f"cancelled {where}")


def iter_detected(data_tczyx: np.ndarray, settings: DetectorSettings, calibration: Calibration, *,
                  frames: Sequence[int], runtime: RuntimeOptions, adapter: Any,
                  make_frame: Callable[[int, np.ndarray, np.ndarray], FrameResult],
                  progress: Callable[[float, str], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> Iterator[FrameResult]:
    """Segment ``frames`` of a channel-selected TCZYX array; yield one ``make_frame(t, labels, cellprob)`` per frame,
    in frame order.

    ``labels`` are cleaned (CELL_MIN_SIZE applied on the original grid after stitching; one id per connected object
    in 3D; renumbered 1..n); ``cellprob`` is cellpose's cell-probability map at the original size.

    Pipelined: the network runs in the calling thread, batch after batch (``runtime.frames_per_batch`` 2D frames
    in one cellpose call, or one 3D time point); each frame's post-processing (cellpose's flow dynamics and masks,
    the clean-up, ``make_frame``: ROIs or meshes) runs in a pool of threads, while the network works on the next
    batches. At most ``runtime.pipeline_depth`` batches run ahead of the oldest frame not yet yielded (memory grows
    with the depth, not the movie); depth 0 runs each batch's post-processing before the next network call. The
    masks are cellpose's own either way (:meth:`CellposeAdapter.masks` replays ``eval``'s own mask call).
    Progress and the caller's cancel are handled in the calling thread only; cancel is checked before each network
    call, inside it (per network batch) and while waiting for post-processing, and the threads stop at their next
    stage.
    """
    n_t, n_c, n_z, n_y, n_x = data_tczyx.shape
    is_3d = n_z > 1
    mode = "2d" if not is_3d else ("2dz" if settings.do_2dz else "3d")
    diameter_px = settings.diameter / calibration.x if settings.diameter > 0 else 0.0
    anisotropy = calibration.anisotropy
    if mode == "2dz" and settings.iou_threshold <= 0:
        settings = settings.replace(iou_threshold=ANY_OVERLAP_IOU)
    rescale = adapter.diam_mean / diameter_px if diameter_px > 0 else 1.0
    # prepare_input checked with cellpose's usual object size; this model's own may differ (nuclei: 17 px)
    check_run_limits(settings, calibration, data_tczyx.shape, diam_mean=adapter.diam_mean,
                     frames_per_batch=runtime.frames_per_batch)
    total = len(frames)
    shape = (n_z, n_y, n_x) if is_3d else (n_y, n_x)
    stop = _Stop(cancel)
    reported = 0.0

    def report(fraction: float, msg: str) -> None:  # monotonic: the network runs ahead of finished frames
        nonlocal reported
        if progress is not None and fraction >= reported:
            reported = fraction
            progress(min(1.0, fraction), msg)

    def ticker(done_frames: float, per_call: int, n_in_call: int, msg: str):
        count = 0

        def on_batch() -> None:
            nonlocal count
            stop.poll(msg)
            count += 1
            inner = min(IN_CALL_PROGRESS_CAP, count / per_call)
            report((done_frames + inner * n_in_call) / total, msg)
        return on_batch

    def post(t: int, out: Any, index: int | None) -> FrameResult:
        """One frame, in a pool thread: cellpose's masks, the clean-up, the frame's spots.

        Stopped wherever it is once the detection is stopped (cellpose's dynamics, a large frame's meshes ask nothing
        for a long time): the same helper thread as the caller's own work (``_cancel.interruptible``)."""
        with interruptible(stop.stopped):
            return post_frame(t, out, index)

    def post_frame(t: int, out: Any, index: int | None) -> FrameResult:
        stop.check(f"before the masks of frame {t}")
        if out is None:
            lab, prob = np.zeros(shape, np.int32), np.full(shape, BLANK_CELLPROB, np.float32)
        else:
            try:
                lab = adapter.masks(out, index).reshape(shape)
            except SegmentationError as e:
                raise SegmentationError(str(e), frame=t, settings=settings) from e
            prob = out.cellprob(index).reshape(shape)
            stop.check(f"before cleaning the labels of frame {t}")
            lab = clean_labels(lab, min_size=settings.min_size, split=is_3d)
        stop.check(f"before the spots of frame {t}")
        return make_frame(t, lab, prob)

    depth = runtime.pipeline_depth
    pool = ThreadPoolExecutor(max_workers=post_threads(), thread_name_prefix="tmcp-post")
    pending: deque[tuple[int, int, Future]] = deque()  # (batch number, frame, its post-processing), in frame order

    def finish_oldest() -> FrameResult:
        _, t, fut = pending[0]
        while True:
            try:
                fr = fut.result(timeout=WAIT_POLL_S)
                break
            except FutureTimeout:
                stop.poll(f"while building the spots of frame {t}")
        pending.popleft()
        report((total - len(pending) - remaining) / total, f"frame {t}")
        return fr

    step = runtime.frames_per_batch if mode == "2d" else 1
    remaining = total  # frames not yet handed to the pool
    try:
        for k, start in enumerate(range(0, total, step)):
            while pending and pending[0][0] < k - depth:  # bounded: the oldest batches first
                yield finish_oldest()
            batch = list(frames[start:start + step])
            stop.poll(f"before frame {batch[0]}")
            blocks = [data_tczyx[t] for t in batch]  # checked finite by prepare_input
            live = [i for i, b in enumerate(blocks) if not _is_blank(b)]
            outs: list[tuple[Any, int | None]] = [(None, None)] * len(batch)
            msg = (f"frames {batch[0]}-{batch[-1]}" if len(batch) > 1 else f"frame {batch[0]}")
            if live:
                if mode == "2d":
                    x = np.stack([blocks[i][:, 0] for i in live]).transpose(0, 2, 3, 1).astype(np.float32)
                else:
                    x = blocks[live[0]].transpose(1, 2, 3, 0).astype(np.float32)
                per_call = _net_batches_estimate(mode, (n_z, n_y, n_x), rescale, anisotropy,
                                                 runtime.tile_batch_size, n=len(live))
                try:
                    out = adapter.run_network(
                        x, mode=mode, settings=settings, diameter_px=diameter_px, anisotropy=anisotropy,
                        tile_batch_size=runtime.tile_batch_size, on_batch=ticker(start, per_call, len(batch), msg))
                except SegmentationError as e:
                    raise SegmentationError(str(e), frame=batch[live[0]], settings=settings) from e
                for j, i in enumerate(live):
                    outs[i] = (out, j if mode == "2d" else None)
                del x, out
            del blocks
            for t, (out, index) in zip(batch, outs):
                pending.append((k, t, pool.submit(post, t, out, index)))
            remaining -= len(batch)
            del outs
            while depth == 0 and pending:
                yield finish_oldest()
        while pending:
            yield finish_oldest()
    finally:
        stop.set()  # on an error, a cancel or an abandoned generator: the threads stop at their next stage
        for _, _, fut in pending:
            fut.cancel()
        pool.shutdown(wait=True)


def post_threads() -> int:
    """Threads that build masks and spots beside the network: one per core, at most :data:`MAX_POST_THREADS`."""
    return max(1, min(os.cpu_count() or 1, MAX_POST_THREADS))


def run_detection(call: DetectCall) -> DetectionResult:
    """See :func:`trackmate_cellpose.detect`."""
    from .geometry import labels_to_detections, marching_cubes_function
    from .segment._adapter import CellposeAdapter

    prepared = prepare_input(call)
    arr, cal, frame_list, data = prepared.array_tczyx, prepared.calibration, prepared.frames, prepared.data_tczyx
    settings, runtime, hooks = call.settings, call.runtime, call.hooks
    origin_xyz, frame_offset = call.placement.origin_xyz, call.placement.frame_offset
    is_3d = prepared.is_3d
    notes: list[str] = []

    def notice(msg: str) -> None:
        if msg not in notes:
            notes.append(msg)
            if hooks.log is not None:
                hooks.log(msg)

    def make_frame(t: int, labels: np.ndarray, cellprob: np.ndarray) -> FrameResult:
        dets = labels_to_detections(
            labels, frame=frame_offset + t, calibration=cal, origin_xyz=tuple(origin_xyz),
            simplify=settings.simplify_contours, smoothing_scale=settings.smoothing_scale if is_3d else 0.0,
            cellprob=cellprob)
        return FrameResult(frame=frame_offset + t, labels=labels, detections=dets)

    emit_notices(prepared.notices, notice, stacklevel=4)  # stacklevel: the line that called detect()
    if is_3d:  # 3D objects are meshed: a missing scikit-image is reported before any inference, not after it
        marching_cubes_function()
    # the cancel check is also asked from a helper thread, which stops the work wherever it is: cellpose's dynamics
    # and masks, a numba compile, the meshes of a large 3D frame ask nothing for a long time (_cancel)
    with interruptible(hooks.cancel):
        adapter = CellposeAdapter.get(settings, runtime_device=runtime.device, inference=runtime.inference,
                                     log=notice)
        # streamed: each frame becomes spots in a pool thread (and its flows are dropped) while the network runs on
        results = list(iter_detected(data, settings, cal, frames=frame_list, runtime=runtime, adapter=adapter,
                                     make_frame=make_frame, progress=hooks.progress, cancel=hooks.cancel))
    return DetectionResult(frames=results, calibration=cal, is_3d=is_3d, settings=settings,
                           image_shape_tczyx=tuple(arr.shape), notes=notes)
