"""Public detection entry point: image + settings -> TrackMate-ready detections (no Java involved).

May import ``segment`` (lazily, so that importing this module loads no torch/cellpose) and ``geometry``.
"""

from __future__ import annotations

from typing import Any, Callable

from .axes import Calibration
from .objects import DetectionResult
from .settings import DetectorSettings, RuntimeOptions

__all__ = ["detect", "ProgressCallback", "CancelCheck"]

#: ``progress(fraction_done: float in [0, 1], message: str)``
ProgressCallback = Callable[[float, str], None]
#: ``cancel() -> bool``; True asks the work to stop (raises :class:`~trackmate_cellpose.errors.Cancelled`).
CancelCheck = Callable[[], bool]


def detect(image: Any, settings: DetectorSettings | None = None, *, axes: str | None = None,
           calibration: Calibration | None = None, runtime: RuntimeOptions | None = None,
           frames: range | list[int] | None = None, origin_xyz: tuple[int, int, int] = (0, 0, 0),
           frame_offset: int = 0, progress: ProgressCallback | None = None, cancel: CancelCheck | None = None,
           log: Callable[[str], None] | None = None) -> DetectionResult:
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

    Returns
    -------
    DetectionResult
    """
    runtime = runtime or RuntimeOptions()
    if runtime.workers > 0 or runtime.scheduler:
        from .distributed import detect_distributed

        return detect_distributed(image, settings or DetectorSettings(), axes=axes, calibration=calibration,
                                  runtime=runtime, frames=frames, origin_xyz=origin_xyz, frame_offset=frame_offset,
                                  progress=progress, cancel=cancel, log=log)
    from ._engine import run_detection

    return run_detection(image, settings or DetectorSettings(), axes=axes, calibration=calibration,
                         runtime=runtime, frames=frames, origin_xyz=origin_xyz,
                         frame_offset=frame_offset, progress=progress, cancel=cancel, log=log)
