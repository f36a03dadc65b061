"""Public detection entry point: image + settings -> TrackMate-ready detections (no Java involved).

Imports: none; package: call, objects, settings, _engine (lazily) and distributed (lazily).
"""

from __future__ import annotations

from typing import Any

from .call import CancelCheck, DetectCall, ProgressCallback, keyword_signature
from .objects import DetectionResult
from .settings import DetectorSettings

__all__ = ["detect", "run_call", "ProgressCallback", "CancelCheck"]


def detect(image: Any, settings: DetectorSettings | None = None, **options: Any) -> DetectionResult:
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
    progress, cancel, log
        Progress callback, cooperative cancel check (between frames and inside 3D work), notice logger.
    placement, hooks : Placement, Hooks, optional
        ``frames``/``origin_xyz``/``frame_offset`` and ``progress``/``cancel``/``log`` as one object each
        (:mod:`trackmate_cellpose.call`); give the object or its fields, not both.

    Returns
    -------
    DetectionResult
    """
    return run_call(DetectCall.from_keywords(image, settings, **options))


detect.__signature__ = keyword_signature()  # type: ignore[attr-defined]


def run_call(call: DetectCall) -> DetectionResult:
    """Run one :class:`~trackmate_cellpose.call.DetectCall` in-process or on the cluster its runtime names."""
    if call.distributed:
        from .distributed import detect_call_distributed

        return detect_call_distributed(call)
    from ._engine import run_detection

    return run_detection(call)
