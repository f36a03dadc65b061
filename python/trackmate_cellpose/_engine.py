"""The detection engine behind :func:`trackmate_cellpose.detect`.

Drives the cellpose adapter frame batch by frame batch (2D) or time point by time point (3D), cleans the labels and
hands them to ``geometry`` to build TrackMate detections. Progress is reported between batches and inside network
work; cancel is checked at the same places, and asked from a helper thread that stops the work anywhere else
(``_cancel.interruptible``).

Imports: numpy; package: _call, _cancel, _input, calibration, errors, results, segment, settings, geometry (lazily).
"""

from __future__ import annotations

import math
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


def iter_segmented(data_tczyx: np.ndarray, settings: DetectorSettings, calibration: Calibration, *,
                   frames: Sequence[int], runtime: RuntimeOptions, adapter: Any,
                   progress: Callable[[float, str], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Segment ``frames`` of a channel-selected TCZYX array; yield ``(t, labels, cellprob)`` per frame, in order.

    ``labels`` are cleaned (CELL_MIN_SIZE applied on the original grid after stitching; one id per connected object
    in 3D; renumbered 1..n); ``cellprob`` is cellpose's cell-probability map at the original size. Each batch's
    frames are yielded as soon as cellpose is done with them, so that a caller can turn them into spots and drop the
    cell-probability maps before the next batch (peak memory grows with the batch, not the movie).
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

    def check_cancel(where: str) -> None:
        if cancel is not None and cancel():
            raise Cancelled(f"cancelled {where}")

    def ticker(done_frames: float, per_call: int, n_in_call: int, msg: str):
        count = 0

        def on_batch() -> None:
            nonlocal count
            check_cancel(msg)
            count += 1
            if progress is not None:
                inner = min(IN_CALL_PROGRESS_CAP, count / per_call)
                progress(min(1.0, (done_frames + inner * n_in_call) / total), msg)
        return on_batch

    step = runtime.frames_per_batch if mode == "2d" else 1
    for start in range(0, total, step):
        batch = list(frames[start:start + step])
        check_cancel(f"before frame {batch[0]}")
        blocks = [data_tczyx[t] for t in batch]  # checked finite by prepare_input
        live = [i for i, b in enumerate(blocks) if not _is_blank(b)]
        labels_list: list[np.ndarray | None] = [None] * len(batch)
        prob_list: list[np.ndarray | None] = [None] * len(batch)
        msg = (f"frames {batch[0]}-{batch[-1]}" if len(batch) > 1 else f"frame {batch[0]}")
        if live:
            if mode == "2d":
                x = np.stack([blocks[i][:, 0] for i in live]).transpose(0, 2, 3, 1).astype(np.float32)
            else:
                x = blocks[live[0]].transpose(1, 2, 3, 0).astype(np.float32)
            per_call = _net_batches_estimate(mode, (n_z, n_y, n_x), rescale, anisotropy,
                                             runtime.tile_batch_size, n=len(live))
            try:
                masks, cellprob = adapter.eval(
                    x, mode=mode, settings=settings, diameter_px=diameter_px, anisotropy=anisotropy,
                    tile_batch_size=runtime.tile_batch_size,
                    on_batch=ticker(start, per_call, len(batch), msg))
            except SegmentationError as e:
                raise SegmentationError(str(e), frame=batch[live[0]], settings=settings) from e
            if mode == "2d":
                for j, i in enumerate(live):
                    labels_list[i], prob_list[i] = masks[j], cellprob[j]
            else:
                labels_list[live[0]], prob_list[live[0]] = masks, cellprob
        done = []
        for i, t in enumerate(batch):
            shape = (n_z, n_y, n_x) if is_3d else (n_y, n_x)
            raw = labels_list[i]
            if raw is None:
                done.append((t, np.zeros(shape, np.int32), np.full(shape, BLANK_CELLPROB, np.float32)))
                continue
            lab = raw.reshape(shape)
            lab = clean_labels(lab, min_size=settings.min_size, split=is_3d)
            done.append((t, lab, prob_list[i].reshape(shape)))
        # drop this batch's network input and raw outputs before handing frames out (only ``done`` stays alive)
        blocks = labels_list = prob_list = x = masks = cellprob = None
        if progress is not None:
            progress(min(1.0, (start + len(batch)) / total), msg)
        yield from done


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

    emit_notices(prepared.notices, notice, stacklevel=4)  # stacklevel: the line that called detect()
    if is_3d:  # 3D objects are meshed: a missing scikit-image is reported before any inference, not after it
        marching_cubes_function()
    results = []
    # the cancel check is also asked from a helper thread, which stops the work wherever it is: cellpose's dynamics
    # and masks, a numba compile, the meshes of a large 3D frame ask nothing for a long time (_cancel)
    with interruptible(hooks.cancel):
        adapter = CellposeAdapter.get(settings, runtime_device=runtime.device, inference=runtime.inference,
                                     log=notice)
        # streamed: each batch becomes spots (and its cell-probability maps are dropped) before the next one runs
        segmented = iter_segmented(data, settings, cal, frames=frame_list, runtime=runtime, adapter=adapter,
                                   progress=hooks.progress, cancel=hooks.cancel)
        for t, labels, cellprob in segmented:
            if hooks.cancelled():
                raise Cancelled(f"cancelled while building spots of frame {t}")
            dets = labels_to_detections(
                labels, frame=frame_offset + t, calibration=cal, origin_xyz=tuple(origin_xyz),
                simplify=settings.simplify_contours, smoothing_scale=settings.smoothing_scale if is_3d else 0.0,
                cellprob=cellprob)
            results.append(FrameResult(frame=frame_offset + t, labels=labels, detections=dets))
    return DetectionResult(frames=results, calibration=cal, is_3d=is_3d, settings=settings,
                           image_shape_tczyx=tuple(arr.shape), notes=notes)
