"""A GEFF group read back into a TrackMate model (:class:`~trackmate_cellpose.export._xml_read.TrackMateXml`).

Ours (``export.geff.write_geff``) and those of the ``geff`` package's own TrackMate converter come back with their
feature declarations, track features and settings; any other tracking GEFF gives what it holds. Imports numpy and
geff (lazily, on call) and sibling modules; never cellpose or Java.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PathNotFoundError, UnreadableInputError
from .._outputs import GEFF_EXTRA_KEY
from ._xml_read import TrackMateXml


def read_geff_model(path: str | Path) -> TrackMateXml:
    """Read a GEFF group into a TrackMate model (what :func:`write_geff` stores, or any tracking GEFF).

    Our own GEFFs and those of ``geff``'s TrackMate converter give back their feature declarations, track features
    and settings; for other GEFFs positions come from the spatial axes (``x``/``y``/``z`` or ``POSITION_*``), the frame
    from the time axis, radii from the ``sphere`` property, ROIs from the ``polygon`` property, and tracks are the
    connected components of the graph.

    Raises
    ------
    PathNotFoundError (a FileNotFoundError)
        ``path`` does not exist.
    UnreadableInputError (a ValueError)
        Not a zarr group with GEFF metadata, it fails ``geff``'s structure validation, or has no axes to place
        spots.
    """
    from geff.core_io import read_to_memory

    from ..results import Mesh

    path = Path(path)
    if not path.exists():
        raise PathNotFoundError(f"GEFF not found: {path}", path=path)
    try:
        with warnings.catch_warnings():  # units that are not OME names (TrackMate's "um") are handled below
            warnings.filterwarnings("ignore", message=".*not in valid OME-Zarr units.*")
            mem = read_to_memory(str(path))
    except Exception as e:  # zarr, pydantic and geff raise many types for a damaged or foreign store
        reason = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"
        raise UnreadableInputError(f"{path} cannot be read as a GEFF: {reason}", path=path, reason=reason) from e
    meta = mem["metadata"]
    extra = dict(meta.extra or {})
    ours = extra.get(GEFF_EXTRA_KEY) or {}
    other = extra.get("other_trackmate_metadata") or {}  # geff's own TrackMate converter
    tm = TrackMateXml()
    tm.version = ours.get("trackmate_version") or other.get("trackmate_version") or ""
    axes = list(meta.axes or [])
    if not axes:
        raise UnreadableInputError(f"{path} cannot be read as a GEFF of spots: it has no axes to place them",
                                   path=path, reason="no axes")
    space_ax = [a for a in axes if a.type == "space"]
    time_ax = next((a for a in axes if a.type == "time"), None)
    tm.spatial_units = ours.get("spatial_units") or (space_ax[0].unit if space_ax and space_ax[0].unit else "pixel")
    tm.time_units = ours.get("time_units") or (
        time_ax.scaled_unit if time_ax is not None and time_ax.unit == "frame" and time_ax.scaled_unit
        else (time_ax.unit if time_ax is not None and time_ax.unit else "frame"))
    tm.settings_xml = ours.get("settings_xml") or other.get("settings", "")
    tm.gui_state_xml = ours.get("gui_state_xml") or other.get("gui_state", "")
    tm.log = ours.get("log") or ""
    if tm.settings_xml:
        import xml.etree.ElementTree as ET

        for child in ET.fromstring(tm.settings_xml):
            tm.settings[child.tag] = dict(child.attrib)
    props = mem["node_props"]
    ids = [int(i) for i in mem["node_ids"]]

    def value(name: str, k: int):
        p = props.get(name)
        if p is None or (p["missing"] is not None and p["missing"][k]):
            return None
        v = p["values"][k]
        return v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v

    special = {"name", "TRACK_ID", "lineage_id", "seg_id", "polygon", "mesh_vertices", "mesh_faces",
               "ROI_coords", "ROI_N_POINTS", "ID", meta.polygon}
    pos_of = {}
    for a in space_ax:
        key = {"x": "POSITION_X", "y": "POSITION_Y", "z": "POSITION_Z"}.get(a.name.lower(), a.name)
        pos_of[a.name] = key
    declared = ours.get("feature_declarations") or {}
    tm.declared = {k: dict(declared.get(k, {})) for k in ("spot", "edge", "track")}
    for k, md in meta.node_props_metadata.items():
        if k in special or md.varlength or md.dtype == "str" or k in tm.declared["spot"]:
            continue
        target = pos_of.get(k, k)
        if time_ax is not None and k == time_ax.name and k not in ("FRAME", "POSITION_T"):
            target = "FRAME"
        if target in tm.declared["spot"]:
            continue
        tm.declared["spot"][target] = {"name": md.name or target, "shortname": md.name or target,
                                       "dimension": _guess_dimension(target),
                                       "isint": "true" if md.dtype.startswith(("int", "uint")) else "false"}
    poly_key = meta.polygon or ("ROI_coords" if "ROI_coords" in props else None)
    poly_cols = [a.name for a in space_ax]
    for k, sid in enumerate(ids):
        feats: dict[str, Any] = {}
        for name in props:
            if name in special or meta.node_props_metadata[name].varlength:
                continue
            v = value(name, k)
            if v is None or isinstance(v, str):
                continue
            target = pos_of.get(name, name)
            if time_ax is not None and name == time_ax.name and name not in ("FRAME", "POSITION_T"):
                target = "FRAME"
            feats[target] = float(v)
        if meta.sphere and meta.sphere != "RADIUS" and meta.sphere in feats:
            feats["RADIUS"] = feats.pop(meta.sphere)
        feats.setdefault("POSITION_Z", 0.0)
        feats.setdefault("FRAME", 0.0)
        if "POSITION_T" not in feats and time_ax is not None and time_ax.scale:
            feats["POSITION_T"] = feats["FRAME"] * float(time_ax.scale)
        feats.setdefault("VISIBILITY", 1.0)
        nm = value("name", k)
        feats["name"] = str(nm) if nm is not None else f"ID{sid}"
        tm.spots[sid] = feats
        tm.frames.setdefault(int(feats["FRAME"]), []).append(sid)
        roi = value(poly_key, k) if poly_key else None
        if roi is not None and len(roi) > 2:
            roi = np.asarray(roi, np.float64)
            if poly_key == "ROI_coords":
                tm.rois[sid] = roi[:, :2]
            else:  # columns in the spatial axes' order -> TrackMate's (x, y)
                cols = {pos_of.get(c, c): j for j, c in enumerate(poly_cols)}
                tm.rois[sid] = np.c_[roi[:, cols["POSITION_X"]], roi[:, cols["POSITION_Y"]]]
        mv, mf = value("mesh_vertices", k), value("mesh_faces", k)
        if mv is not None and mf is not None and len(mf):
            centre = np.array([feats.get("POSITION_Z", 0.0), feats.get("POSITION_Y", 0.0),
                               feats.get("POSITION_X", 0.0)])
            tm.meshes[sid] = Mesh(vertices=(np.asarray(mv, np.float64) + centre)[:, ::-1].copy(),
                                  faces=np.asarray(mf, np.int64).reshape(-1, 3))
    _read_edges_and_tracks(tm, mem, ours)
    return tm


def _guess_dimension(key: str) -> str:
    if key.startswith("POSITION_") and key != "POSITION_T":
        return "POSITION"
    return {"POSITION_T": "TIME", "RADIUS": "LENGTH", "QUALITY": "QUALITY", "AREA": "AREA",
            "PERIMETER": "LENGTH"}.get(key, "NONE")


def _read_edges_and_tracks(tm: TrackMateXml, mem: dict, ours: dict) -> None:
    eprops = mem["edge_props"]
    emeta = mem["metadata"].edge_props_metadata
    for k, md in emeta.items():
        if k not in tm.declared["edge"] and not md.varlength and md.dtype != "str":
            tm.declared["edge"][k] = {"name": md.name or k, "shortname": md.name or k, "dimension": "NONE",
                                      "isint": "true" if md.dtype.startswith(("int", "uint")) else "false"}
    for key, name in (("SPOT_SOURCE_ID", "Source spot ID"), ("SPOT_TARGET_ID", "Target spot ID")):
        tm.declared["edge"].setdefault(key, {"name": name, "shortname": name, "dimension": "NONE", "isint": "true"})
    edges = []
    for j, (a, b) in enumerate(np.asarray(mem["edge_ids"]).reshape(-1, 2)):
        e: dict[str, float] = {}
        for k, p in eprops.items():
            if emeta[k].varlength or (p["missing"] is not None and p["missing"][j]):
                continue
            v = p["values"][j]
            if not isinstance(v, str):
                e[k] = float(v)
        e.setdefault("SPOT_SOURCE_ID", float(a))
        e.setdefault("SPOT_TARGET_ID", float(b))
        edges.append(e)
    tm.edges = edges
    # tracks = weakly connected components that have edges (TrackMate's definition)
    parent = {i: i for i in tm.spots}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for e in edges:
        ra, rb = find(int(e["SPOT_SOURCE_ID"])), find(int(e["SPOT_TARGET_ID"]))
        if ra != rb:
            parent[rb] = ra
    comp_edges: dict[int, list[int]] = {}
    for j, e in enumerate(edges):
        comp_edges.setdefault(find(int(e["SPOT_SOURCE_ID"])), []).append(j)
    saved = ours.get("tracks") or {}
    stored_tid = {}
    for k, sid in enumerate(int(i) for i in mem["node_ids"]):
        p = mem["node_props"].get("TRACK_ID")
        if p is not None and not (p["missing"] is not None and p["missing"][k]):
            stored_tid[find(sid)] = int(p["values"][k])
    used = set(stored_tid.values())
    next_id = max(used | {-1}) + 1
    tracks = {}
    for root, eidx in sorted(comp_edges.items(), key=lambda kv: min(kv[1])):
        tid = stored_tid.get(root)
        if tid is None:
            tid, next_id = next_id, next_id + 1
        attrs = {k: (float("nan") if v is None else v) for k, v in saved.get(str(tid), {}).items()}
        if not attrs:
            spots = {int(edges[j][s]) for j in eidx for s in ("SPOT_SOURCE_ID", "SPOT_TARGET_ID")}
            t = [tm.spots[s].get("POSITION_T", tm.spots[s]["FRAME"]) for s in spots]
            attrs = {"name": f"Track_{tid}", "TRACK_INDEX": float(len(tracks)), "TRACK_ID": float(tid),
                     "NUMBER_SPOTS": float(len(spots)), "TRACK_START": float(min(t)), "TRACK_STOP": float(max(t)),
                     "TRACK_DURATION": float(max(t) - min(t))}
        attrs["edges"] = sorted(eidx, key=lambda j: (tm.spots[int(edges[j]["SPOT_SOURCE_ID"])]["FRAME"],
                                                     edges[j]["SPOT_SOURCE_ID"]))
        tracks[tid] = attrs
    tm.tracks = dict(sorted(tracks.items()))
    if not tm.declared["track"]:
        for k, name, dim, isint in (("TRACK_INDEX", "Track index", "NONE", "true"),
                                    ("TRACK_ID", "Track ID", "NONE", "true"),
                                    ("NUMBER_SPOTS", "Number of spots in track", "NONE", "true"),
                                    ("TRACK_DURATION", "Track duration", "TIME", "false"),
                                    ("TRACK_START", "Track start", "TIME", "false"),
                                    ("TRACK_STOP", "Track stop", "TIME", "false")):
            tm.declared["track"][k] = {"name": name, "shortname": name, "dimension": dim, "isint": isint}
    tm.filtered_tracks = [int(t) for t in ours.get("filtered_tracks", list(tm.tracks))]
