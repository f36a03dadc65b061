"""Curated TrackMate XMLs for the training tests, written from truth labels (test support).

``curated_xml`` is the package's ``write_curated_xml`` (the same outlines TrackMate's label-image detector makes) plus
what users do in TrackMate that the writer never does: spots filtered out (invisible), spots without an outline. The
real-Fiji tests use XMLs that TrackMate itself wrote instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.training import write_curated_xml

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
    write_curated_xml(path, labels_tzyx, cal, image_path=image_path, frames=frames,
                      detector_settings=detector_settings, meshes=meshes)
    if hide or not rois:
        import xml.etree.ElementTree as ET

        tree = ET.parse(path)
        hidden = {(f, lab) for f, labs in (hide or {}).items() for lab in labs}
        frames = range(len(labels_tzyx)) if frames is None else frames
        # the writer numbers the spots in order: frame by frame, label by label
        order = [(t, int(lab)) for t in frames for lab in np.unique(labels_tzyx[t]) if lab]
        for el in tree.getroot().iter("Spot"):
            if order[int(el.get("ID"))] in hidden:
                el.set("VISIBILITY", "0")
            if not rois:
                el.attrib.pop("ROI_N_POINTS", None)
                el.text = None
        tree.write(path, encoding="UTF-8", xml_declaration=True)
    return path
