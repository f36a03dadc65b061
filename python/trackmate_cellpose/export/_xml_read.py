"""A small reader for TrackMate XML files (ours or TrackMate's): spots with ROIs, edges, tracks and settings.

Public API (documented in the README): analyse TrackMate results in Python; also what ``convert``, the GEFF writer
and the pipeline's checks read XML with. Standard library + numpy only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import IsAFolderError, PathNotFoundError, UnreadableInputError


@dataclass
class TrackMateXml:
    """Contents of a TrackMate XML file.

    Attributes
    ----------
    spatial_units, time_units : str
    declared : dict
        ``{"spot"|"edge"|"track": {feature: {"name", "shortname", "dimension", "isint"}}}``.
    spots : dict[int, dict[str, float]]
        Spot ID -> features (``FRAME`` etc. as float) plus ``name``.
    rois : dict[int, ndarray]
        Spot ID -> (N, 2) polygon vertices **relative** to the spot centre (physical units).
    frames : dict[int, list[int]]
        Frame -> spot IDs as grouped in ``SpotsInFrame``.
    edges : list[dict[str, float]]
    tracks : dict[int, dict]
        Track ID -> attributes (features as float, ``name``) plus ``edges`` (indices into ``edges``).
    filtered_tracks : list[int]
    settings : dict[str, dict[str, str]]
        ``ImageData``, ``BasicSettings``, ``DetectorSettings``, ``InitialSpotFilter``, ``TrackerSettings`` attributes.
    settings_xml, log, gui_state_xml : str
        The ``<Settings>`` and ``<GUIState>`` elements as XML text (kept whole, to be written back unchanged) and the
        ``<Log>`` text; empty when absent.
    meshes : dict[int, Mesh]
        Spot ID -> 3D mesh (absolute physical xyz) from the ``<xml>.meshes`` file beside it (TrackMate v9), if any.
    """

    spatial_units: str = ""
    time_units: str = ""
    version: str = ""
    declared: dict = field(default_factory=dict)
    spots: dict = field(default_factory=dict)
    rois: dict = field(default_factory=dict)
    frames: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    tracks: dict = field(default_factory=dict)
    filtered_tracks: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    settings_xml: str = ""
    log: str = ""
    gui_state_xml: str = ""
    meshes: dict = field(default_factory=dict)


def read_trackmate_xml(path: str | Path, *, meshes: bool = True) -> TrackMateXml:
    """Parse a TrackMate XML file (see :class:`TrackMateXml`). ``meshes=True`` also loads ``<path>.meshes`` when it
    exists.

    Raises
    ------
    PathNotFoundError (a FileNotFoundError)
        ``path`` does not exist.
    UnreadableInputError (a ValueError)
        Not well-formed XML, not a TrackMate file (no ``<Model>``), or values TrackMate's own reader would refuse
        (non-numeric spot attributes, a ROI with the wrong number of coordinates); a damaged ``.meshes`` file.
    """
    p = Path(path)
    if not p.exists():
        raise PathNotFoundError(f"TrackMate XML not found: {p}", path=p)
    if p.is_dir():
        raise IsAFolderError(f"{p} is a folder; expected a TrackMate XML file", path=p)
    try:
        return _read(p, meshes)
    except UnreadableInputError:
        raise
    except ET.ParseError as e:
        raise _unreadable(p, f"not well-formed XML ({e})") from e
    except (ValueError, KeyError, TypeError) as e:
        raise _unreadable(p, f"{type(e).__name__}: {e}") from e


def _unreadable(path: Path, reason: str) -> UnreadableInputError:
    return UnreadableInputError(f"{path} cannot be read as a TrackMate XML: {reason}", path=path, reason=reason)


def _read(path: Path, meshes: bool) -> TrackMateXml:
    root = ET.parse(path).getroot()
    out = TrackMateXml(version=root.get("version", ""))
    model = root.find("Model")
    if model is None:
        raise _unreadable(path, "no <Model> element")
    out.spatial_units, out.time_units = model.get("spatialunits", ""), model.get("timeunits", "")
    for kind, tag in (("spot", "SpotFeatures"), ("edge", "EdgeFeatures"), ("track", "TrackFeatures")):
        el = model.find(f"FeatureDeclarations/{tag}")
        out.declared[kind] = {f.get("feature"): dict(f.attrib) for f in (el if el is not None else [])}
    for fel in model.iterfind("AllSpots/SpotsInFrame"):
        frame = int(fel.get("frame"))
        ids = out.frames.setdefault(frame, [])
        for sel in fel.iterfind("Spot"):
            sid = int(sel.get("ID"))
            feats: dict = {"name": sel.get("name", f"ID{sid}")}
            for k, v in sel.attrib.items():
                if k in ("ID", "name", "ROI_N_POINTS"):
                    continue
                try:
                    feats[k] = float(v)
                except ValueError as e:
                    raise _unreadable(path, f"spot {sid}: attribute {k}={v!r} is not numeric") from e
            n = int(sel.get("ROI_N_POINTS", "0"))
            if n > 2:
                vals = np.array([float(t) for t in (sel.text or "").split()])
                if vals.size != 2 * n:
                    raise _unreadable(path, f"spot {sid}: ROI_N_POINTS={n} but {vals.size} coordinates")
                out.rois[sid] = vals.reshape(n, 2)
            out.spots[sid] = feats
            ids.append(sid)
    for tel in model.iterfind("AllTracks/Track"):
        attrs: dict = {"name": tel.get("name", "")}
        attrs.update({k: float(v) for k, v in tel.attrib.items() if k != "name"})
        tid = int(attrs["TRACK_ID"])
        attrs["edges"] = []
        for eel in tel.iterfind("Edge"):
            attrs["edges"].append(len(out.edges))
            out.edges.append({k: float(v) for k, v in eel.attrib.items()})
        out.tracks[tid] = attrs
    out.filtered_tracks = [int(e.get("TRACK_ID")) for e in model.iterfind("FilteredTracks/TrackID")]
    st = root.find("Settings")
    if st is not None:
        for child in st:
            out.settings[child.tag] = dict(child.attrib)
        out.settings_xml = ET.tostring(st, encoding="unicode").strip()
    gui = root.find("GUIState")
    if gui is not None:
        out.gui_state_xml = ET.tostring(gui, encoding="unicode").strip()
    log = root.find("Log")
    out.log = (log.text or "") if log is not None else ""
    if meshes:
        from ._meshes_file import read_meshes

        out.meshes = read_meshes(path)
    return out
