"""Detection results as TrackMate will see them.

A :class:`Detection` is one TrackMate spot: position and radius in absolute physical coordinates, QUALITY, extra
numeric features, and either a 2D polygon (``roi_xy``) or a 3D triangle mesh (``mesh``). A :class:`FrameResult`
holds one frame's label image and detections; a :class:`DetectionResult` a whole movie's.

Imports: numpy; package: calibration, errors (lazily).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .calibration import Calibration

__all__ = ["Mesh", "Detection", "FrameResult", "DetectionResult"]


@dataclass(frozen=True, eq=False)
class Mesh:
    """Closed, consistently oriented (outward normals) triangle mesh.

    Attributes
    ----------
    vertices : ndarray, shape (N, 3), float64
        **xyz** vertex coordinates, absolute, physical units.
    faces : ndarray, shape (M, 3), int32/int64
        Vertex indices of each triangle, counter-clockwise seen from outside.
    """

    vertices: np.ndarray
    faces: np.ndarray


@dataclass(frozen=True, eq=False)
class Detection:
    """One TrackMate spot.

    Attributes
    ----------
    frame : int
        Absolute frame index (TrackMate's FRAME).
    label : int
        Value of this object in the frame's label image (several 2D detections can share a label when a label has
        several connected components, as in TrackMate).
    x, y, z : float
        Centre, absolute physical coordinates (2D: polygon centroid by the shoelace formula, z = 0 + offset;
        3D: mesh/volume centroid).
    radius : float
        sqrt(area/pi) in 2D, (3V/4pi)^(1/3) in 3D (physical units).
    quality : float
        Object size in pixels (2D) or voxels (3D), TrackMate's label-image convention.
    roi_xy : ndarray, shape (N, 2), or None
        2D polygon vertices, **absolute** physical xy, in tracing order: positive shoelace area in raw (x, y),
        i.e. clockwise on screen (y down), as ImageJ's wand and TrackMate trace outlines.
    mesh : Mesh or None
        3D surface in absolute physical coordinates.
    features : dict[str, float]
        Extra numeric features, e.g. ``MEAN_CELLPROB``, ``AREA``/``VOLUME``.
    """

    frame: int
    label: int
    x: float
    y: float
    z: float
    radius: float
    quality: float
    roi_xy: np.ndarray | None = None
    mesh: Mesh | None = None
    features: dict[str, float] = field(default_factory=dict)

    def roi_relative(self) -> tuple[np.ndarray, np.ndarray]:
        """Polygon vertices relative to the centre (TrackMate's ``SpotRoi.x``/``y`` and XML text)."""
        if self.roi_xy is None:
            from .errors import InvalidSettingsError

            raise InvalidSettingsError("roi_relative() needs a 2D detection with a polygon (roi_xy), got roi_xy=None "
                                       "(a 3D detection has a mesh instead)", key="roi_xy", value=None)
        return self.roi_xy[:, 0] - self.x, self.roi_xy[:, 1] - self.y


@dataclass(eq=False)
class FrameResult:
    """Detections of one frame.

    Attributes
    ----------
    frame : int
        Absolute frame index.
    labels : ndarray, shape (Y, X) or (Z, Y, X), integer
        Label image of the frame (0 = background; labels unique within the frame).
    detections : list of Detection
    """

    frame: int
    labels: np.ndarray
    detections: list[Detection]


@dataclass(eq=False)
class DetectionResult:
    """Detections of a whole movie, in frame order."""

    frames: list[FrameResult]
    calibration: Calibration
    is_3d: bool
    settings: object = None  # DetectorSettings (kept untyped to keep this module a leaf)
    image_shape_tczyx: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Detection]:
        for fr in self.frames:
            yield from fr.detections

    @property
    def n_detections(self) -> int:
        return sum(len(fr.detections) for fr in self.frames)

    def labels_tzyx(self) -> np.ndarray:
        """All label images stacked as (T, Z, Y, X) (Z = 1 for 2D)."""
        stack = np.stack([fr.labels for fr in self.frames])
        return stack if self.is_3d else stack[:, None]
