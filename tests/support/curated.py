"""Curated TrackMate XMLs for the training tests, written from truth labels (test support).

``curated_xml`` turns label images into spots with the package's own geometry (the same outlines TrackMate's
label-image detector makes) and writes them with the package's TrackMate XML writer (+ ``.meshes`` in 3D); the real-Fiji
tests use XMLs that TrackMate itself wrote instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.export import ImageInfo, write_meshes, write_trackmate_xml
from trackmate_cellpose.geometry import labels_to_detections
from trackmate_cellpose.results import DetectionResult, FrameResult
from trackmate_cellpose.tracking import track_overlap

__all__ = ["write_image", "curated_xml"]


def write_image(path: Path, img_tzyx: np.ndarray, cal: Calibration) -> Path:
    """An ImageJ hyperstack (T, Z, Y, X) with the calibration (micron)."""
    tifffile.imwrite(path, img_tzyx[:, :, None], imagej=True, resolution=(1 / cal.x, 1 / cal.y),
                     metadata={"axes": "TZCYX", "spacing": cal.z, "unit": "micron", "finterval": cal.t})
    return path


def curated_xml(path: Path, image_path: Path, labels_tzyx: np.ndarray, cal: Calibration, *,
                frames: list[int] | None = None, detector_settings: dict | None = None,
                hide: dict[int, list[int]] | None = None, meshes: bool = True, rois: bool = True) -> Path:
    """A TrackMate XML whose spots are the labels of ``frames`` (all by default); ``hide[frame]`` lists labels whose
    spots are written invisible (filtered out by the user). 3D spots get meshes (``.meshes``) unless ``meshes`` is
    False (spheres only, as TrackMate 7.x/8.x save them); 2D spots lose their outline when ``rois`` is False (a
    detector that makes round spots only, e.g. LoG)."""
    is_3d = labels_tzyx.shape[1] > 1
    frames = list(range(len(labels_tzyx))) if frames is None else frames
    out = []
    for t in frames:
        lab = labels_tzyx[t] if is_3d else labels_tzyx[t, 0]
        dets = labels_to_detections(lab, frame=t, calibration=cal, simplify=False)
        if not meshes:
            dets = [type(d)(**{**d.__dict__, "mesh": None}) for d in dets]
        out.append(FrameResult(frame=t, labels=lab, detections=dets))
    t_, z, y, x = labels_tzyx.shape
    res = DetectionResult(frames=out, calibration=cal, is_3d=is_3d, image_shape_tczyx=(t_, 1, z, y, x))
    tr = track_overlap(res)
    write_trackmate_xml(path, tr, cal, image=ImageInfo.from_path(image_path, (t_, 1, z, y, x)),
                        detector_settings=detector_settings)
    if is_3d and meshes:
        write_meshes(path, tr)
    if hide or not rois:
        import xml.etree.ElementTree as ET

        tree = ET.parse(path)
        hidden = {(f, lab) for f, labs in (hide or {}).items() for lab in labs}
        spots = [d for fr in out for d in fr.detections]
        for el in tree.getroot().iter("Spot"):
            d = spots[int(el.get("ID"))]
            if (d.frame, d.label) in hidden:
                el.set("VISIBILITY", "0")
            if not rois:
                el.attrib.pop("ROI_N_POINTS", None)
                el.text = None
        tree.write(path, encoding="UTF-8", xml_declaration=True)
    return path
