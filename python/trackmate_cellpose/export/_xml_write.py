"""TrackMate XML (File > Load a TrackMate file) written from Python, following the documented TmXmlWriter layout.

Model (feature declarations, spots per frame with ROI polygons, tracks with edges, filtered tracks) and Settings
(image data with calibration, basic settings, detector settings with every setting, initial spot filter, tracker
settings, analyzers). Every spot attribute except ``ID``/``name``/``ROI_N_POINTS`` is numeric, integer features are
written as ints, floats with Python's shortest round-trip repr (which Java's ``Double.valueOf`` parses exactly), so ROI
coordinates round-trip bit for bit.

Imports: none; package: calibration, settings, tracking.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..calibration import Calibration
from ..settings import DETECTOR_KEY
from ..tracking import OVERLAP_TRACKER_KEY, TrackingResult, edge_features, spot_features, track_features

#: Version written in the root element (the TrackMate line whose reader this output was checked against).
TRACKMATE_XML_VERSION = "7.13.2"
_MANUAL_TRACKER_KEY = "MANUAL_TRACKER"

# feature -> (name, short name, dimension, isint). Dimensions limited to those of TrackMate 7.13.2's enum.
_SPOT_DECL = {
    "QUALITY": ("Quality", "Quality", "QUALITY", False),
    "POSITION_X": ("X", "X", "POSITION", False),
    "POSITION_Y": ("Y", "Y", "POSITION", False),
    "POSITION_Z": ("Z", "Z", "POSITION", False),
    "POSITION_T": ("T", "T", "TIME", False),
    "FRAME": ("Frame", "Frame", "NONE", True),
    "RADIUS": ("Radius", "R", "LENGTH", False),
    "VISIBILITY": ("Visibility", "Visibility", "NONE", True),
    "AREA": ("Area", "Area", "AREA", False),
    "PERIMETER": ("Perimeter", "Perim.", "LENGTH", False),
    "VOLUME": ("Volume", "Vol.", "NONE", False),  # 7.13.2 has no VOLUME dimension
    "SURFACE_AREA": ("Surface area", "Surf. area", "AREA", False),
    "MEAN_CELLPROB": ("Mean cell probability", "Cellprob", "NONE", False),
    "N_VOXELS": ("Number of voxels", "N vox.", "NONE", False),
    "N_PIXELS": ("Number of pixels", "N px", "NONE", False),
}
_EDGE_DECL = {
    "SPOT_SOURCE_ID": ("Source spot ID", "Source ID", "NONE", True),
    "SPOT_TARGET_ID": ("Target spot ID", "Target ID", "NONE", True),
    "LINK_COST": ("Edge cost", "Cost", "COST", False),
    "EDGE_TIME": ("Edge time", "Edge T", "TIME", False),
    "EDGE_X_LOCATION": ("Edge X", "Edge X", "POSITION", False),
    "EDGE_Y_LOCATION": ("Edge Y", "Edge Y", "POSITION", False),
    "EDGE_Z_LOCATION": ("Edge Z", "Edge Z", "POSITION", False),
    "SPEED": ("Speed", "Speed", "VELOCITY", False),
    "DISPLACEMENT": ("Displacement", "Disp.", "LENGTH", False),
}
_TRACK_DECL = {
    "TRACK_INDEX": ("Track index", "Index", "NONE", True),
    "TRACK_ID": ("Track ID", "ID", "NONE", True),
    "NUMBER_SPOTS": ("Number of spots in track", "N spots", "NONE", True),
    "NUMBER_GAPS": ("Number of gaps", "N gaps", "NONE", True),
    "LONGEST_GAP": ("Longest gap", "Lgst gap", "NONE", True),
    "NUMBER_SPLITS": ("Number of split events", "N splits", "NONE", True),
    "NUMBER_MERGES": ("Number of merge events", "N merges", "NONE", True),
    "NUMBER_COMPLEX": ("Number of complex points", "N complex", "NONE", True),
    "TRACK_DURATION": ("Track duration", "Duration", "TIME", False),
    "TRACK_START": ("Track start", "Track start", "TIME", False),
    "TRACK_STOP": ("Track stop", "Track stop", "TIME", False),
    "TRACK_DISPLACEMENT": ("Track displacement", "Track disp.", "LENGTH", False),
    "TRACK_X_LOCATION": ("Track mean X", "Track X", "POSITION", False),
    "TRACK_Y_LOCATION": ("Track mean Y", "Track Y", "POSITION", False),
    "TRACK_Z_LOCATION": ("Track mean Z", "Track Z", "POSITION", False),
    "TRACK_MEAN_SPEED": ("Track mean speed", "Mean sp.", "VELOCITY", False),
    "TRACK_MAX_SPEED": ("Track max speed", "Max speed", "VELOCITY", False),
    "TRACK_MIN_SPEED": ("Track min speed", "Min speed", "VELOCITY", False),
    "TRACK_MEDIAN_SPEED": ("Track median speed", "Med. speed", "VELOCITY", False),
    "TRACK_STD_SPEED": ("Track std speed", "Std speed", "VELOCITY", False),
    "TRACK_MEAN_QUALITY": ("Track mean quality", "Mean Q", "QUALITY", False),
}
_EDGE_ANALYZERS = ("Edge target", "Edge location", "Edge speed")
_TRACK_ANALYZERS = ("Branching analyzer", "Track duration", "Track index", "Track location", "Track speed",
                    "Track quality")


@dataclass(frozen=True)
class ImageInfo:
    """What TrackMate's ``<ImageData>`` records about the source image.

    Attributes
    ----------
    filename, folder : str
        Name and directory of the input file (TrackMate reopens the image from there).
    width, height, nslices, nframes : int
        Image size in pixels / planes / frames.
    t_range : (first, last) or None
        Frames processed (0-based, inclusive; TrackMate's T start/end); None: every frame.
    """

    filename: str
    folder: str
    width: int
    height: int
    nslices: int
    nframes: int
    t_range: tuple[int, int] | None = None

    @classmethod
    def from_path(cls, path: str | Path, shape_tczyx: tuple[int, ...]) -> "ImageInfo":
        p = Path(path).resolve()
        t, _, z, y, x = shape_tczyx
        return cls(filename=p.name, folder=str(p.parent) + os.sep, width=x, height=y, nslices=z, nframes=t)


def feature_declaration(key: str, kind: str = "spot") -> tuple[str, str, str, bool]:
    """(name, short name, dimension, isint) of a feature; unknown spot features are dimensionless doubles."""
    table = {"spot": _SPOT_DECL, "edge": _EDGE_DECL, "track": _TRACK_DECL}[kind]
    if key in table:
        return table[key]
    pretty = key.replace("_", " ").capitalize()
    return pretty, pretty[:12], "NONE", False


# TrackMate dimension -> units, as TrackMate's tables print them (TMUtils.getUnitsFor): {s} space, {t} time units
_DIM_UNITS = {"NONE": "", "POSITION": "{s}", "LENGTH": "{s}", "AREA": "{s}^2", "TIME": "{t}", "VELOCITY": "{s}/{t}",
              "RATE": "/{t}", "ANGLE": "radians", "ANGLE_RATE": "rad/{t}", "INTENSITY": "counts",
              "INTENSITY_SQUARED": "counts^2", "QUALITY": "quality", "COST": "cost"}


def feature_units(dimension: str, space_unit: str, time_unit: str) -> str | None:
    """Units of a feature of TrackMate ``dimension`` (``"VELOCITY"`` -> ``"um/s"``); None for STRING/unknown."""
    tmpl = _DIM_UNITS.get(dimension)
    return None if tmpl is None else tmpl.format(s=space_unit, t=time_unit)


def write_trackmate_xml(path: str | Path, tracking: TrackingResult, calibration: Calibration, *,
                        image: ImageInfo, detector_settings: Mapping[str, Any] | None = None,
                        log_text: str = "") -> Path:
    """Write a TrackMate XML file.

    Parameters
    ----------
    path : str or Path
        Output file (``.xml``).
    tracking : TrackingResult
        Spots (IDs = indices), links and tracks; ``tracking.settings`` None writes TrackMate's manual tracker.
    calibration : Calibration
        Units and pixel sizes for the Model and ImageData.
    image : ImageInfo
        Input file and image size.
    detector_settings : mapping, optional
        TrackMate map of the detector (``DetectorSettings.to_trackmate_map()``); ``DETECTOR_NAME`` is added.
    log_text : str
        Text for the ``<Log>`` element.

    Returns
    -------
    Path
    """
    root = ET.Element("TrackMate", version=TRACKMATE_XML_VERSION)
    ET.SubElement(root, "Log").text = log_text
    _model(root, tracking, calibration, n_frames=image.nframes)
    _settings(root, tracking, calibration, image, detector_settings or {})
    ET.SubElement(root, "GUIState", state="ConfigureViews")
    tree = ET.ElementTree(root)
    ET.indent(tree, space="  ")
    p = Path(path)
    tree.write(p, encoding="UTF-8", xml_declaration=True)
    return p


def _num(v: Any, isint: bool = False) -> str:
    if isint:
        return str(int(v))
    if isinstance(v, bool):
        return "true" if v else "false"
    f = float(v)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    return repr(f)


def _declare(parent: ET.Element, tag: str, keys: list[str], kind: str) -> None:
    el = ET.SubElement(parent, tag)
    for k in keys:
        name, short, dim, isint = feature_declaration(k, kind)
        ET.SubElement(el, "Feature", feature=k, name=name, shortname=short, dimension=dim,
                      isint="true" if isint else "false")


def _model(root: ET.Element, tracking: TrackingResult, cal: Calibration, *, n_frames: int) -> None:
    model = ET.SubElement(root, "Model", spatialunits=cal.space_unit, timeunits=cal.time_unit)
    spots = spot_features(tracking, cal)
    spot_keys = list(spots[0]) if spots else list(_SPOT_DECL)[:8]
    edges = edge_features(tracking, cal)
    tracks = track_features(tracking, cal)
    decl = ET.SubElement(model, "FeatureDeclarations")
    _declare(decl, "SpotFeatures", spot_keys, "spot")
    _declare(decl, "EdgeFeatures", list(_EDGE_DECL), "edge")
    _declare(decl, "TrackFeatures", list(_TRACK_DECL), "track")

    all_spots = ET.SubElement(model, "AllSpots", nspots=str(len(spots)))
    # every frame gets its element, empty ones included, as TrackMate writes them (its reader keys frames by them)
    by_frame: dict[int, list[int]] = {t: [] for t in range(n_frames)}
    for i, d in enumerate(tracking.spots):
        by_frame.setdefault(int(d.frame), []).append(i)
    for frame in sorted(by_frame):
        fel = ET.SubElement(all_spots, "SpotsInFrame", frame=str(frame))
        for i in by_frame[frame]:
            d = tracking.spots[i]
            attrs = {"ID": str(i), "name": f"ID{i}"}
            for k, v in spots[i].items():
                attrs[k] = _num(v, feature_declaration(k, "spot")[3])
            if d.roi_xy is not None and len(d.roi_xy) > 2:
                attrs["ROI_N_POINTS"] = str(len(d.roi_xy))
                sel = ET.SubElement(fel, "Spot", attrs)
                rx, ry = d.roi_relative()
                sel.text = "".join(f"{repr(float(a))} {repr(float(b))} " for a, b in zip(rx, ry))
            else:
                ET.SubElement(fel, "Spot", attrs)

    all_tracks = ET.SubElement(model, "AllTracks")
    edges_of: dict[int, list[dict[str, Any]]] = {}
    for lk, e in zip(tracking.links, edges):
        edges_of.setdefault(int(tracking.track_of[lk.source]), []).append(e)
    for tid, feats in enumerate(tracks):
        tel = ET.SubElement(all_tracks, "Track", {"name": f"Track_{tid}",
                                                  **{k: _num(v, _TRACK_DECL[k][3]) for k, v in feats.items()}})
        for e in sorted(edges_of.get(tid, []), key=lambda e: (e["EDGE_TIME"], e["SPOT_SOURCE_ID"])):
            ET.SubElement(tel, "Edge", {k: _num(v, _EDGE_DECL[k][3]) for k, v in e.items()})
    filtered = ET.SubElement(model, "FilteredTracks")
    for tid in range(len(tracks)):
        ET.SubElement(filtered, "TrackID", TRACK_ID=str(tid))


def _settings(root: ET.Element, tracking: TrackingResult, cal: Calibration, image: ImageInfo,
              detector_settings: Mapping[str, Any]) -> None:
    st = ET.SubElement(root, "Settings")
    ET.SubElement(st, "ImageData", filename=image.filename, folder=image.folder, width=str(image.width),
                  height=str(image.height), nslices=str(image.nslices), nframes=str(image.nframes),
                  pixelwidth=_num(cal.x), pixelheight=_num(cal.y), voxeldepth=_num(cal.z),
                  timeinterval=_num(cal.t))
    ET.SubElement(st, "BasicSettings", xstart="0", xend=str(image.width - 1), ystart="0",
                  yend=str(image.height - 1), zstart="0", zend=str(image.nslices - 1),
                  tstart=str(image.t_range[0] if image.t_range else 0),
                  tend=str(image.t_range[1] if image.t_range else image.nframes - 1))
    det = {"DETECTOR_NAME": DETECTOR_KEY}
    for k, v in detector_settings.items():
        det[str(k)] = v if isinstance(v, str) else _num(v, isinstance(v, int) and not isinstance(v, bool))
    ET.SubElement(st, "DetectorSettings", det)
    ET.SubElement(st, "InitialSpotFilter", feature="QUALITY", value="0.0", isabove="true")
    ET.SubElement(st, "SpotFilterCollection")
    if tracking.settings is None:
        ET.SubElement(st, "TrackerSettings", TRACKER_NAME=_MANUAL_TRACKER_KEY)
    else:
        tm = tracking.settings.to_trackmate_map()
        ET.SubElement(st, "TrackerSettings", {"TRACKER_NAME": OVERLAP_TRACKER_KEY,
                                              **{k: (v if isinstance(v, str) else _num(v)) for k, v in tm.items()}})
    ET.SubElement(st, "TrackFilterCollection")
    an = ET.SubElement(st, "AnalyzerCollection")
    ET.SubElement(an, "SpotAnalyzers")
    ea = ET.SubElement(an, "EdgeAnalyzers")
    for k in _EDGE_ANALYZERS:
        ET.SubElement(ea, "Analyzer", key=k)
    ta = ET.SubElement(an, "TrackAnalyzers")
    for k in _TRACK_ANALYZERS:
        ET.SubElement(ta, "Analyzer", key=k)
