"""The detection engine behind :func:`trackmate_cellpose.detect`.

Drives the cellpose adapter frame batch by frame batch (2D) or time point by time point (3D), cleans the labels and
hands them to ``geometry`` to build TrackMate detections. Progress is reported between batches and inside network
work; cancel is checked at the same places. Imports ``segment`` and ``geometry``; cellpose/torch are loaded lazily
by the adapter.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .axes import Calibration, to_tczyx
from .errors import Cancelled, InvalidImageError, InvalidSettingsError, SegmentationError
from .objects import DetectionResult, FrameResult
from .segment.labels import clean_labels
from .settings import DetectorSettings, RuntimeOptions

__all__ = ["run_detection", "prepare_input", "select_channels", "segment_frames", "iter_segmented"]


def select_channels(arr_tczyx: np.ndarray, settings: DetectorSettings) -> np.ndarray:
    """Keep TARGET_CHANNEL (and OPTIONAL_CHANNEL_2) of a TCZYX array, in that order."""
    n_c = arr_tczyx.shape[1]
    if settings.target_channel > n_c:
        raise InvalidSettingsError(
            f"TARGET_CHANNEL must be between 1 and {n_c} for this image, got {settings.target_channel}",
            key="TARGET_CHANNEL", value=settings.target_channel)
    if settings.channel_2 > n_c:
        raise InvalidSettingsError(
            f"OPTIONAL_CHANNEL_2 must be 0 or between 1 and {n_c} for this image, got {settings.channel_2}",
            key="OPTIONAL_CHANNEL_2", value=settings.channel_2)
    if not settings.channel_2:  # a view, not a copy of the whole movie (the frames are copied batch by batch)
        c = settings.target_channel - 1
        return arr_tczyx[:, c:c + 1]
    return arr_tczyx[:, [settings.target_channel - 1, settings.channel_2 - 1]]


def _checked_frames(frames: Sequence[int] | None, n_t: int) -> list[int]:
    if frames is None:
        return list(range(n_t))
    out = [int(f) for f in frames]
    bad = [f for f in out if not 0 <= f < n_t]
    if bad:
        raise InvalidImageError(f"frames must lie in 0..{n_t - 1} for this image, got {bad[:5]}")
    return out


def _is_blank(block: np.ndarray) -> bool:
    return bool(block.size == 0 or np.all(block == block.flat[0]))


def _net_batches_estimate(mode: str, zyx: tuple[int, int, int], rescale: float, anisotropy: float,
                          tile_batch: int, n: int = 1) -> int:
    """Rough number of network batches for one call (for progress inside a frame only)."""
    z, y, x = zyx

    def tiles(a: float, b: float) -> int:
        return max(1, math.ceil(a * rescale / 200)) * max(1, math.ceil(b * rescale / 200))

    if mode == "3d":
        zr = z * anisotropy
        planes = zr * tiles(y, x) + y * rescale * tiles(zr / rescale, x) + x * rescale * tiles(zr / rescale, y)
    else:
        planes = (z if mode == "2dz" else n) * tiles(y, x)
    return max(1, math.ceil(planes / tile_batch))


def segment_frames(data_tczyx: np.ndarray, settings: DetectorSettings, calibration: Calibration, *,
                   frames: Sequence[int], runtime: RuntimeOptions, adapter: Any,
                   progress: Callable[[float, str], None] | None = None,
                   cancel: Callable[[], bool] | None = None
                   ) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Segment ``frames`` of a channel-selected TCZYX array; return ``(t, labels, cellprob)`` per frame, in order.

    ``labels`` are cleaned (CELL_MIN_SIZE applied on the original grid after stitching; one id per connected object
    in 3D; renumbered 1..n); ``cellprob`` is cellpose's cell-probability map at the original size.
    """
    return list(iter_segmented(data_tczyx, settings, calibration, frames=frames, runtime=runtime, adapter=adapter,
                               progress=progress, cancel=cancel))


def iter_segmented(data_tczyx: np.ndarray, settings: DetectorSettings, calibration: Calibration, *,
                   frames: Sequence[int], runtime: RuntimeOptions, adapter: Any,
                   progress: Callable[[float, str], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """:func:`segment_frames` as a generator: yields each batch's frames as soon as cellpose is done with them, so a
    caller can turn them into spots and drop the cell-probability maps before the next batch (peak memory grows
    with the batch, not the movie)."""
    n_t, n_c, n_z, n_y, n_x = data_tczyx.shape
    is_3d = n_z > 1
    mode = "2d" if not is_3d else ("2dz" if settings.do_2dz else "3d")
    diameter_px = settings.diameter / calibration.x if settings.diameter > 0 else 0.0
    anisotropy = calibration.anisotropy
    if mode == "2dz" and settings.iou_threshold <= 0:
        settings = settings.replace(iou_threshold=1e-6)  # "any overlap": cellpose reads 0 as "do not stitch"
    rescale = adapter.diam_mean / diameter_px if diameter_px > 0 else 1.0
    total = len(frames)

    def check_cancel(where: str) -> None:
        if cancel is not None and cancel():
            raise Cancelled(f"cancelled {where}")

    def ticker(done_frames: float, per_call: int, n_in_call: int, msg: str):
        count = [0]

        def on_batch() -> None:
            check_cancel(msg)
            count[0] += 1
            if progress is not None:
                inner = min(0.95, count[0] / per_call)
                progress(min(1.0, (done_frames + inner * n_in_call) / total), msg)
        return on_batch

    step = runtime.frames_per_batch if mode == "2d" else 1
    for start in range(0, total, step):
        batch = list(frames[start:start + step])
        check_cancel(f"before frame {batch[0]}")
        blocks = []
        for t in batch:
            vol = data_tczyx[t]
            if np.issubdtype(vol.dtype, np.floating) and not np.all(np.isfinite(vol)):
                raise InvalidImageError(f"frame {t} contains NaN or infinite pixel values; cellpose needs finite "
                                        "values (replace them, e.g. with 0)")
            blocks.append(vol)
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
                done.append((t, np.zeros(shape, np.int32), np.full(shape, -10.0, np.float32)))
                continue
            lab = raw.reshape(shape)
            lab = clean_labels(
                lab, min_size=settings.min_size, split=is_3d)
            done.append((t, lab, prob_list[i].reshape(shape)))
        # drop this batch's network input and raw outputs before handing frames out (only ``done`` stays alive)
        blocks = labels_list = prob_list = x = masks = cellprob = None
        if progress is not None:
            progress(min(1.0, (start + len(batch)) / total), msg)
        yield from done


def prepare_input(image: Any, settings: DetectorSettings, *, axes: str | None, calibration: Calibration | None,
                  frames: Sequence[int] | None) -> tuple[np.ndarray, Calibration, list[int], np.ndarray]:
    """Validate the input and bring it to the engine's layout (shared with the distributed driver).

    Returns the TCZYX array, its calibration, the frames to process and the channel-selected TCZYX data.
    """
    if not isinstance(settings, DetectorSettings):
        raise InvalidSettingsError(f"settings must be a DetectorSettings, got {type(settings).__name__}")
    arr, cal = to_tczyx(image, axes, calibration)
    frame_list = _checked_frames(frames, arr.shape[0])
    return arr, cal, frame_list, select_channels(arr, settings)


def run_detection(image: Any, settings: DetectorSettings, *, axes: str | None, calibration: Calibration | None,
                  runtime: RuntimeOptions, frames: Sequence[int] | None, origin_xyz: tuple[int, int, int],
                  frame_offset: int, progress: Callable[[float, str], None] | None,
                  cancel: Callable[[], bool] | None, log: Callable[[str], None] | None) -> DetectionResult:
    """See :func:`trackmate_cellpose.detect`."""
    from .geometry import labels_to_detections
    from .segment.adapter import CellposeAdapter

    arr, cal, frame_list, data = prepare_input(image, settings, axes=axes, calibration=calibration, frames=frames)
    n_z = arr.shape[2]
    is_3d = n_z > 1
    notes: list[str] = []

    def notice(msg: str) -> None:
        if msg not in notes:
            notes.append(msg)
            if log is not None:
                log(msg)

    if is_3d:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cal.check_anisotropy(n_z)
        for w in caught:
            notice(str(w.message))
            warnings.warn(w.message, w.category, stacklevel=3)
        if not settings.do_2dz:
            notice(f"3D mode: FLOW_THRESHOLD ({settings.flow_threshold}) is not used by cellpose in 3D; "
                   f"anisotropy {cal.anisotropy:.3g} taken from the calibration")
        else:
            notice(f"2D+Z mode: planes stitched at IOUTHRESHOLD {settings.iou_threshold}; CELL_MIN_SIZE applies to "
                   "stitched objects")
    adapter = CellposeAdapter.get(settings, runtime_device=runtime.device, inference=runtime.inference, log=notice)
    # streamed: each batch becomes spots (and its cell-probability maps are dropped) before the next one runs
    segmented = iter_segmented(data, settings, cal, frames=frame_list, runtime=runtime, adapter=adapter,
                               progress=progress, cancel=cancel)
    results = []
    for t, labels, cellprob in segmented:
        if cancel is not None and cancel():
            raise Cancelled(f"cancelled while building spots of frame {t}")
        dets = labels_to_detections(
            labels, frame=frame_offset + t, calibration=cal, origin_xyz=tuple(origin_xyz),
            simplify=settings.simplify_contours, smoothing_scale=settings.smoothing_scale if is_3d else 0.0,
            cellprob=cellprob)
        results.append(FrameResult(frame=frame_offset + t, labels=labels, detections=dets))
    return DetectionResult(frames=results, calibration=cal, is_3d=is_3d, settings=settings,
                           image_shape_tczyx=tuple(arr.shape), notes=notes)
