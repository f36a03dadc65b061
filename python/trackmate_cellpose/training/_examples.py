"""Truth label images written as a curated TrackMate XML: train from labels made elsewhere (another tool, a hand-drawn
annotation, a synthetic case), or make an example to train from.

The spots are the labels' outlines as the package's geometry makes them for detection (2D ROI polygons, 3D meshes in
the ``.meshes`` file beside the XML, as TrackMate v9 saves them), linked by overlap, written by the package's TrackMate
XML writer: the same file the detector writes, which TrackMate opens and :func:`train_from_trackmate` reads.

Imports: numpy; package: calibration, errors, export (lazily), geometry (lazily), results (lazily), tracking (lazily).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..calibration import Calibration
from ..errors import InvalidTrainingDataError


def write_curated_xml(path: str | Path, labels_tzyx: np.ndarray, calibration: Calibration, *, image_path: str | Path,
                      frames: Sequence[int] | None = None, detector_settings: dict[str, Any] | None = None,
                      meshes: bool = True) -> Path:
    """Write the objects of label images ``labels_tzyx`` (T, Z, Y, X; Z = 1 for 2D) as the spots of a TrackMate XML.

    Parameters
    ----------
    path : str or Path
        The XML to write (and ``<path>.meshes`` for 3D with ``meshes``).
    labels_tzyx : ndarray
        One label image per frame; 0 is background.
    calibration : Calibration
    image_path : str or Path
        The image the labels belong to (recorded in the XML, as TrackMate records it).
    frames : sequence of int, optional
        The frames whose objects become spots (every frame by default): the curated frames.
    detector_settings : dict, optional
        Detector settings to record (e.g. a ``CELLPOSE_MODEL_FILEPATH``, the base model training would take).
    meshes : bool
        3D only: write the meshes file (False: spheres only, as TrackMate 7.x/8.x save 3D spots).

    Returns
    -------
    Path
        ``path``.
    """
    from ..export import ImageInfo, write_meshes, write_trackmate_xml
    from ..geometry import labels_to_detections
    from ..results import DetectionResult, FrameResult
    from ..tracking import track_overlap

    labels_tzyx = np.asarray(labels_tzyx)
    if labels_tzyx.ndim != 4:
        raise InvalidTrainingDataError(f"labels_tzyx: expected 4 axes (T, Z, Y, X), got shape {labels_tzyx.shape}")
    is_3d = labels_tzyx.shape[1] > 1
    out = []
    for t in range(len(labels_tzyx)) if frames is None else frames:
        lab = labels_tzyx[t] if is_3d else labels_tzyx[t, 0]
        dets = labels_to_detections(lab, frame=t, calibration=calibration, simplify=False)
        if not meshes:
            dets = [type(d)(**{**d.__dict__, "mesh": None}) for d in dets]
        out.append(FrameResult(frame=t, labels=lab, detections=dets))
    t_, z, y, x = labels_tzyx.shape
    shape = (t_, 1, z, y, x)
    tracks = track_overlap(DetectionResult(frames=out, calibration=calibration, is_3d=is_3d, image_shape_tczyx=shape))
    write_trackmate_xml(path, tracks, calibration, image=ImageInfo.from_path(Path(image_path), shape),
                        detector_settings=detector_settings)
    if is_3d and meshes:
        write_meshes(path, tracks)
    return Path(path)
