"""Public detection entry point: image + settings -> TrackMate-ready detections (no Java involved).

Imports: none; package: _call, _engine (lazily), calibration, distributed (lazily), results, settings.
"""

from __future__ import annotations

from typing import Any, Sequence

from ._call import CancelCheck, DetectCall, Hooks, LogCallback, Placement, ProgressCallback
from .calibration import Calibration
from .results import DetectionResult
from .settings import DetectorSettings, RuntimeOptions

__all__ = ["detect", "ProgressCallback", "CancelCheck", "LogCallback"]


def detect(image: Any, settings: DetectorSettings | None = None, *, axes: str | None = None,
           calibration: Calibration | None = None, runtime: RuntimeOptions | None = None,
           frames: Sequence[int] | None = None, origin_xyz: tuple[int, int, int] = (0, 0, 0), frame_offset: int = 0,
           progress: ProgressCallback | None = None, cancel: CancelCheck | None = None, log: LogCallback | None = None,
           placement: Placement | None = None, hooks: Hooks | None = None) -> DetectionResult:
    """Segment every frame of ``image`` with cellpose and turn the labels into TrackMate detections.

    Parameters
    ----------
    image : xarray.DataArray or numpy.ndarray
        2D, 2D+t, 3D or 3D+t, with optional channels. See :func:`trackmate_cellpose.axes.to_tczyx`.
    settings : DetectorSettings, optional
        Scientific parameters (defaults if omitted).
    axes : str, optional
        Axis letters for a numpy array (``"tyx"``, ``"tzcyx"`` ...).
    calibration : Calibration, optional
        Pixel size, z step, frame interval and units; overrides what the image carries.
    runtime : RuntimeOptions, optional
        Device, batching, distribution. ``workers > 0`` or ``scheduler`` runs the frames on a dask.distributed
        cluster (:mod:`trackmate_cellpose.distributed`; dask is imported only then), with identical results.
    frames : sequence of int, optional
        Indices (into the T axis of ``image``) to process; all by default.
    origin_xyz : tuple of int
        Pixel offset of ``image`` inside the full TrackMate image (crop ROI); added to every coordinate.
    frame_offset : int
        Added to frame indices (absolute frame of ``image[0]``).
    progress : callable, optional
        ``progress(fraction_done, message)`` with a fraction in [0, 1].
    cancel : callable, optional
        ``cancel() -> bool``, checked between frames and inside long stages; True stops the work
        (:class:`~trackmate_cellpose.errors.Cancelled`).
    log : callable, optional
        ``log(message)`` for each notice (mode, anisotropy, model).
    placement, hooks
        Deprecated (removed in 0.3): ``frames``/``origin_xyz``/``frame_offset`` and ``progress``/``cancel``/``log``
        as one object each; give the keywords above instead.

    Returns
    -------
    DetectionResult
    """
    return run_call(DetectCall.from_keywords(
        image, settings, axes=axes, calibration=calibration, runtime=runtime, frames=frames, origin_xyz=origin_xyz,
        frame_offset=frame_offset, progress=progress, cancel=cancel, log=log, placement=placement, hooks=hooks))


def run_call(call: DetectCall) -> DetectionResult:
    """Run one :class:`~trackmate_cellpose._call.DetectCall` in-process or on the cluster its runtime names."""
    if call.distributed:
        from .distributed import detect_call_distributed

        return detect_call_distributed(call)
    from ._engine import run_detection

    return run_detection(call)
