"""The curated spots of a TrackMate XML as truth label images, one per curated frame.

Any TrackMate XML works (TrackMate 7.13 / 8.x / v9, any detector that gives shapes): 2D spots are drawn from their
ROI polygons, 3D spots from the v9 meshes in the ``.meshes`` file beside the XML. Only **visible** spots count (a spot
the user filtered out is background). Positions are physical; they become pixels with the calibration TrackMate
recorded for the image (``<ImageData>`` pixel width/height, voxel depth), relative to the crop box TrackMate detected in
(``<BasicSettings>``), so the label images cover exactly the region the spots were curated in.

A spot without a shape (a spot added by hand, or one of a detector that makes no outlines) is drawn as the circle or
sphere TrackMate shows, with a notice; a file whose curated spots have no shape at all cannot teach outlines and is
refused, in 3D with what is needed (TrackMate v9's meshes).

Imports: numpy; package: calibration, errors, export (lazily), training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..calibration import Calibration
from ..errors import InvalidTrainingDataError, PathNotFoundError
from ._rasterize import fill_ellipsoid, fill_mesh, fill_polygon


#: What a 3D file without meshes lacks (said in the error).
MESHES_NEEDED = (
    "3D training needs the objects' shapes as meshes: TrackMate v9 saves them in '<file>.xml.meshes' beside the XML "
    "(a detector that makes 3D shapes: the label-image, cellpose or this detector on v9). TrackMate 7.x/8.x store 3D "
    "spots as spheres only, which cannot teach cellpose an outline")


@dataclass(frozen=True)
class CuratedXml:
    """What a TrackMate XML says about its curated spots (no pixels).

    Attributes
    ----------
    path : Path
    is_3d : bool
        The image has more than one Z plane (``<ImageData nslices>``), or the spots have meshes.
    size_xyzt : tuple of int or None
        Image size recorded by TrackMate (width, height, slices, frames), None when the file has no ``<ImageData>``.
    calibration : Calibration or None
        Pixel size, Z step and frame interval recorded by TrackMate, None when absent.
    crop_xyzt : tuple of (lo, hi) pairs or None
        TrackMate's detection box (inclusive pixel bounds x, y, z, t), None when absent.
    visible : dict[int, list[int]]
        Frame -> IDs of its visible spots (frames without one are absent).
    spots : dict[int, dict]
        Spot ID -> features (``POSITION_X`` ..., ``RADIUS``, ``FRAME``).
    rois : dict[int, ndarray]
        Spot ID -> (N, 2) polygon relative to the spot centre (physical).
    meshes : dict[int, Mesh]
        Spot ID -> mesh in absolute physical xyz (v9).
    detector : dict[str, str]
        ``<DetectorSettings>`` attributes (``DETECTOR_NAME`` and the detector's keys), empty when absent.
    space_unit : str
    """

    path: Path
    is_3d: bool
    size_xyzt: tuple[int, int, int, int] | None
    calibration: Calibration | None
    crop_xyzt: tuple[tuple[int, int], ...] | None
    visible: dict[int, list[int]]
    spots: dict[int, dict]
    rois: dict[int, np.ndarray]
    meshes: dict[int, object]
    detector: dict[str, str] = field(default_factory=dict)
    space_unit: str = ""

    @property
    def curated_frames(self) -> list[int]:
        """Frames that hold at least one visible spot, in order."""
        return sorted(self.visible)

    def n_shapes(self, frames: Sequence[int]) -> tuple[int, int]:
        """(spots with a shape, spots without one) among the visible spots of ``frames``."""
        shaped = self.meshes if self.is_3d else self.rois
        ids = [s for f in frames for s in self.visible.get(f, [])]
        n = sum(1 for s in ids if s in shaped)
        return n, len(ids) - n


def _int(d: dict, key: str) -> int | None:
    try:
        return int(float(d[key]))
    except (KeyError, TypeError, ValueError):
        return None


def _float(d: dict, key: str) -> float | None:
    try:
        v = float(d[key])
    except (KeyError, TypeError, ValueError):
        return None
    return v if np.isfinite(v) and v > 0 else None


def read_curated(path: str | Path) -> CuratedXml:
    """Read the curated spots of a TrackMate XML (and the ``.meshes`` file beside it).

    Raises
    ------
    FileNotFoundError
        No such file.
    InvalidTrainingDataError
        Not a TrackMate XML, or no visible spot with a shape (the message says what is needed).
    """
    import xml.etree.ElementTree as ET

    from ..export import read_trackmate_xml

    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise PathNotFoundError(f"--from: TrackMate XML not found: {p}" + (" (it is a folder)" if p.is_dir() else ""),
                                path=p)
    try:
        tm = read_trackmate_xml(p)
    except (ET.ParseError, ValueError) as e:
        raise InvalidTrainingDataError(f"--from {p.name}: not a TrackMate XML file ({e})") from e
    img = tm.settings.get("ImageData", {})
    size = tuple(_int(img, k) for k in ("width", "height", "nslices", "nframes"))
    size_xyzt = size if all(v is not None and v > 0 for v in size) else None
    cal = None
    px, py, pz = _float(img, "pixelwidth"), _float(img, "pixelheight"), _float(img, "voxeldepth")
    if px is not None:
        cal = Calibration(x=px, y=py or px, z=pz or 1.0, t=_float(img, "timeinterval") or 1.0,
                          space_unit=tm.spatial_units or "pixel", time_unit=tm.time_units or "frame")
    basic = tm.settings.get("BasicSettings", {})
    bounds = [(_int(basic, f"{a}start"), _int(basic, f"{a}end")) for a in "xyzt"]
    crop = tuple(bounds) if all(lo is not None and hi is not None and hi >= lo for lo, hi in bounds) else None
    visible: dict[int, list[int]] = {}
    for frame, ids in tm.frames.items():
        keep = [s for s in ids if tm.spots[s].get("VISIBILITY", 1.0) != 0.0]
        if keep:
            visible[int(frame)] = keep
    is_3d = bool((size_xyzt is not None and size_xyzt[2] > 1) or tm.meshes)
    return CuratedXml(path=p, is_3d=is_3d, size_xyzt=size_xyzt, calibration=cal, crop_xyzt=crop, visible=visible,
                      spots=tm.spots, rois=tm.rois, meshes=tm.meshes,
                      detector=dict(tm.settings.get("DetectorSettings", {})), space_unit=tm.spatial_units)


def parse_frames(text: str, *, flag: str = "--frames") -> list[int]:
    """``--frames`` text: comma-separated frame indices and inclusive ranges (``0,3,5-9``) -> sorted unique list."""
    out: set[int] = set()
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise InvalidTrainingDataError(
                f"{flag} must be frame indices and ranges such as '0,3,5-9', got {text!r}") from None
        if a < 0 or b < a:
            raise InvalidTrainingDataError(f"{flag}: {part!r} is not a range of frame indices >= 0 (in {text!r})")
        out.update(range(a, b + 1))
    if not out:
        raise InvalidTrainingDataError(f"{flag} names no frame, got {text!r}")
    return sorted(out)


def truth_labels(cur: CuratedXml, frame: int, shape: tuple[int, ...], origin_xyz: tuple[int, int, int],
                 calibration: Calibration) -> tuple[np.ndarray, int]:
    """The visible spots of ``frame`` drawn into a label image of ``shape`` ((Y, X) or (Z, Y, X)), one label each.

    ``origin_xyz`` is the pixel position of the label image's first pixel in the whole image (TrackMate's crop box).
    Spots are drawn largest first, so a small object overlapping a large one keeps its pixels. Returns the labels and
    the number of spots drawn without a shape of their own (as circles / spheres).
    """
    labels = np.zeros(shape, np.int32)
    is_3d = len(shape) == 3
    ox, oy, oz = origin_xyz
    ids = list(cur.visible.get(frame, []))
    ids.sort(key=lambda s: -cur.spots[s].get("RADIUS", 0.0))
    plain = 0
    for k, sid in enumerate(ids, start=1):
        sp = cur.spots[sid]
        cx = sp.get("POSITION_X", 0.0) / calibration.x - ox
        cy = sp.get("POSITION_Y", 0.0) / calibration.y - oy
        r = sp.get("RADIUS", 0.0)
        if is_3d:
            mesh = cur.meshes.get(sid)
            if mesh is not None and len(mesh.faces):
                v = np.asarray(mesh.vertices, dtype=np.float64) / np.array(calibration.xyz) - np.array([ox, oy, oz])
                fill_mesh(labels, v, mesh.faces, k)
                continue
            cz = sp.get("POSITION_Z", 0.0) / calibration.z - oz
            fill_ellipsoid(labels, (cz, cy, cx), (r / calibration.z, r / calibration.y, r / calibration.x), k)
        else:
            roi = cur.rois.get(sid)
            if roi is not None and len(roi) >= 3:
                xy = np.c_[roi[:, 0] / calibration.x + cx, roi[:, 1] / calibration.y + cy]
                fill_polygon(labels, xy, k)
                continue
            fill_ellipsoid(labels, (cy, cx), (r / calibration.y, r / calibration.x), k)
        plain += 1
    return labels, plain
