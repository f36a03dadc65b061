"""Label image -> TrackMate spots (:class:`~trackmate_cellpose.results.Detection`), in absolute physical coordinates.

2D label images give one polygon spot per connected component (TrackMate's label-image detector); 3D label images
give one mesh spot per label (TrackMate v9).

Imports: numpy; package: calibration, errors, geometry._meshes, geometry._polygons, geometry._validate, results.
"""

from __future__ import annotations

import math

import numpy as np

from ..calibration import Calibration
from ..errors import InvalidImageError, InvalidSettingsError
from ..results import Detection, Mesh
from ._meshes import _meshes
from ._polygons import _polygons, polygon_area_centroid
from ._validate import check_labels


def labels_to_detections(labels: np.ndarray, *, frame: int, calibration: Calibration,
                         origin_xyz: tuple[float, float, float] = (0, 0, 0), simplify: bool = True,
                         smoothing_scale: float = 0.0, cellprob: np.ndarray | None = None,
                         z_offset_phys: float | None = None) -> list[Detection]:
    """Turn one frame's label image into TrackMate spots.

    Absolute physical coordinate = calibration x (origin + pixel coordinate), pixel centres at integers.

    Parameters
    ----------
    labels : ndarray, shape (Y, X) or (Z, Y, X), integer
        0 is background. 2D gives polygons (one per 8-connected component of a label), 3D meshes (one per label).
    frame : int
        Absolute frame index, copied to every detection.
    calibration : Calibration
        Pixel size along x, y, z (physical units).
    origin_xyz : tuple of 3 numbers
        Pixel offset of this image inside the full TrackMate image (x, y, z), e.g. the corner of a crop ROI.
    simplify : bool
        2D: TrackMate's contour simplification (see :func:`labels_to_polygons`). 3D: mesh decimation (see
        :func:`labels_to_meshes`).
    smoothing_scale : float
        3D only (TrackMate accepts and ignores it in 2D, and so does this function): Gaussian smoothing scale of
        the masks before marching cubes, physical units; <= 0 for none.
    cellprob : ndarray, optional
        Same shape as ``labels``; adds the feature ``MEAN_CELLPROB``, its mean over each object's pixels.
    z_offset_phys : float, optional
        Physical Z of the image's first plane (2D: the Z of every spot). Default ``origin_xyz[2] * calibration.z``.

    Returns
    -------
    list of Detection
        Empty for an empty label image. 2D: position = shoelace centroid of the (simplified) polygon,
        ``radius = sqrt(area / pi)``, ``roi_xy`` = absolute physical vertices, features ``AREA`` (physical polygon
        area) and ``N_PIXELS``. 3D: position = centroid of the enclosed solid, ``radius = (3 V / 4 pi)^(1/3)``,
        ``mesh`` in absolute physical xyz, features ``VOLUME``, ``SURFACE_AREA``, ``N_VOXELS``. QUALITY is the
        pixel (voxel) count of the object, as in TrackMate's label-image detector.
    """
    lab = check_labels(labels, ndim=(2, 3), name="labels")
    if not isinstance(calibration, Calibration):
        raise InvalidSettingsError(f"calibration must be a trackmate_cellpose.Calibration, got {type(calibration)}",
                                   key="calibration", value=calibration)
    try:
        origin = np.asarray(origin_xyz, dtype=np.float64).reshape(3)
    except (TypeError, ValueError):
        raise InvalidSettingsError(f"origin_xyz must be 3 numbers (x, y, z), got {origin_xyz!r}",
                                   key="origin_xyz", value=origin_xyz) from None
    if not np.all(np.isfinite(origin)):
        raise InvalidSettingsError(f"origin_xyz must be finite, got {origin_xyz!r}", key="origin_xyz", value=origin_xyz)
    values = None
    if cellprob is not None:
        values = np.asarray(cellprob)
        if values.shape != lab.shape:
            raise InvalidImageError(f"cellprob must have the shape of labels {lab.shape}, got {values.shape}")
        if values.dtype.kind not in "uifb":
            raise InvalidImageError(f"cellprob must be numeric, got dtype {values.dtype}")
    z0 = origin[2] * calibration.z if z_offset_phys is None else float(z_offset_phys)
    if not math.isfinite(z0):
        raise InvalidSettingsError(f"z_offset_phys must be finite, got {z_offset_phys!r}",
                                   key="z_offset_phys", value=z_offset_phys)
    frame = int(frame)
    if lab.ndim == 2:
        return _detections_2d(lab, frame, calibration, origin, z0, bool(simplify), values)
    scale = float(smoothing_scale)
    if not math.isfinite(scale):
        raise InvalidSettingsError(f"smoothing_scale must be finite, got {smoothing_scale!r}",
                                   key="smoothing_scale", value=smoothing_scale)
    return _detections_3d(lab, frame, calibration, origin, z0, scale, bool(simplify), values)


def _detections_2d(lab: np.ndarray, frame: int, cal: Calibration, origin: np.ndarray, z0: float, simplify: bool,
                   values: np.ndarray | None) -> list[Detection]:
    scale = np.array([cal.x, cal.y])
    shift = origin[:2] * scale
    out = []
    for rec, mean in _polygons(lab, simplify=simplify, values=values):
        xy = rec.xy * scale + shift
        area, (cx, cy) = polygon_area_centroid(xy)
        area = abs(area)
        features = {"AREA": area, "N_PIXELS": float(rec.n_pixels)}
        if mean is not None:
            features["MEAN_CELLPROB"] = mean
        out.append(Detection(frame=frame, label=rec.label, x=float(cx), y=float(cy), z=z0,
                             radius=math.sqrt(area / math.pi), quality=float(rec.n_pixels), roi_xy=xy,
                             features=features))
    return out


def _detections_3d(lab: np.ndarray, frame: int, cal: Calibration, origin: np.ndarray, z0: float,
                   smoothing_scale: float, simplify: bool, values: np.ndarray | None) -> list[Detection]:
    shift = np.array([origin[0] * cal.x, origin[1] * cal.y, z0])
    out = []
    for rec, mean in _meshes(lab, np.array(cal.zyx), smoothing_scale, simplify, values=values):
        verts = rec.vertices + shift
        cx, cy, cz = rec.centroid_xyz + shift
        features = {"VOLUME": rec.volume, "SURFACE_AREA": rec.area, "N_VOXELS": float(rec.n_voxels)}
        if mean is not None:
            features["MEAN_CELLPROB"] = mean
        out.append(Detection(frame=frame, label=rec.label, x=float(cx), y=float(cy), z=float(cz),
                             radius=(3.0 * rec.volume / (4.0 * math.pi)) ** (1.0 / 3.0), quality=float(rec.n_voxels),
                             mesh=Mesh(vertices=verts, faces=rec.faces), features=features))
    return out
