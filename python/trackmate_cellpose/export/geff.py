"""GEFF (Graph Exchange File Format, on zarr) from a TrackMate model, and back; written with the ``geff`` package.

The GEFF group holds one node per spot (node ID = TrackMate spot ID) and one edge per link, oriented forward in time.

- Node properties: every spot feature (``POSITION_X``... in physical units, ``FRAME``, ``RADIUS``, ``QUALITY`` and the
  rest, ints or floats as TrackMate declares them), ``name``, ``TRACK_ID`` (missing for a spot in no track),
  ``lineage_id`` (the track, or a fresh ID for a lone spot: GEFF's ``track_node_props["lineage"]``), ``polygon``
  (GEFF's polygon: vertices relative to the spot, one column per spatial axis, in the axes' order - **(y, x)** in 2D),
  in 3D ``mesh_vertices`` (relative, (z, y, x) columns) and ``mesh_faces`` (vertex indices), and ``seg_id`` (the
  value of the spot in the ``labels`` array) when a label image is stored with the graph.
- Edge properties: every edge feature (``LINK_COST``, ``SPEED``...).
- Metadata: axes ``FRAME`` (time, unit ``frame``, ``scale`` = frame interval in the time unit), ``POSITION_Z`` (3D
  only), ``POSITION_Y``, ``POSITION_X`` (space, OME-Zarr unit names); ``sphere`` = ``RADIUS``; display hints; the image
  (and labels) as related objects; and in ``extra["trackmate"]`` what GEFF has no place for: TrackMate's feature
  declarations (name, short name, dimension, isint), the units as TrackMate wrote them, track features, filtered
  tracks, the ``<Settings>`` element and the log, so that a TrackMate XML can be rebuilt from the GEFF.

Imports numpy, zarr and geff (lazily, on first call) and sibling modules; never cellpose or Java.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .xml import feature_units
from .xml_read import TrackMateXml

__all__ = ["write_geff", "read_geff_model", "ome_unit", "GEFF_EXTRA_KEY"]

#: Key of our block in the GEFF ``extra`` metadata.
GEFF_EXTRA_KEY = "trackmate"

_SPACE_UNITS = {"um": "micrometer", "µm": "micrometer", "μm": "micrometer", "micron": "micrometer",
                "microns": "micrometer", "micrometer": "micrometer", "micrometre": "micrometer",
                "nm": "nanometer", "nanometer": "nanometer", "mm": "millimeter", "millimeter": "millimeter",
                "cm": "centimeter", "m": "meter", "meter": "meter", "pixel": "pixel", "pixels": "pixel",
                "px": "pixel", "angstrom": "angstrom", "Å": "angstrom"}
_TIME_UNITS = {"s": "second", "sec": "second", "second": "second", "seconds": "second", "ms": "millisecond",
               "millisecond": "millisecond", "min": "minute", "minute": "minute", "minutes": "minute",
               "h": "hour", "hr": "hour", "hour": "hour", "hours": "hour", "day": "day", "days": "day",
               "frame": "frame", "frames": "frame", "us": "microsecond", "µs": "microsecond"}


def ome_unit(unit: str, kind: str) -> str | None:
    """OME-Zarr name of a TrackMate/ImageJ unit (``"um"``/``"micron"`` -> ``"micrometer"``, ``"s"`` -> ``"second"``);
    None when unknown. ``kind`` is ``"space"`` or ``"time"``."""
    table = _SPACE_UNITS if kind == "space" else _TIME_UNITS
    return table.get(str(unit).strip(), table.get(str(unit).strip().lower()))


def _feature_unit(dimension: str, space: str, time: str) -> str | None:
    return feature_units(dimension, space, time) or None


def _is_3d(tm: TrackMateXml) -> bool:
    nz = tm.settings.get("ImageData", {}).get("nslices")
    if nz is not None and int(float(nz)) > 1:
        return True
    return bool(tm.meshes) or any(float(s.get("POSITION_Z", 0.0) or 0.0) != 0.0 for s in tm.spots.values())


def _track_of_spots(tm: TrackMateXml) -> dict[int, int]:
    out = {}
    for tid, attrs in tm.tracks.items():
        for ei in attrs.get("edges", []):
            e = tm.edges[ei]
            out[int(e["SPOT_SOURCE_ID"])] = int(tid)
            out[int(e["SPOT_TARGET_ID"])] = int(tid)
    return out


def _prop(values: list, dtype) -> dict[str, Any]:
    missing = np.array([v is None for v in values], bool)
    default = 0 if np.dtype(dtype).kind in "iuf" else ""
    arr = np.array([default if v is None else v for v in values], dtype=dtype)
    return {"values": arr, "missing": missing if missing.any() else None}


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return v


def write_geff(path: str | Path, tm: TrackMateXml, *, labels_tzyx: np.ndarray | None = None,
               image_path: str | None = None, overwrite: bool = False, zarr_format: int = 2) -> Path:
    """Write a TrackMate model as a GEFF zarr group (layout in the module docstring).

    Parameters
    ----------
    path : str or Path
        The GEFF group to create (conventionally ``*.geff``; a folder).
    tm : TrackMateXml
        The model, as ``read_trackmate_xml`` returns it (spots, ROIs, meshes, edges, tracks, declarations, settings).
    labels_tzyx : ndarray, shape (T, Z, Y, X), optional
        Spot-ID label image (value = spot ID + 1) stored as the ``labels`` array of the group (``(T, Y, X)`` in 2D),
        linked by the ``seg_id`` node property.
    image_path : str, optional
        Source image recorded as a related object (default: the one in the model's ``ImageData``).
    overwrite : bool
        Replace an existing GEFF at ``path``; otherwise an existing one is an error.
    zarr_format : {2, 3}

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    import zarr
    from geff.core_io import construct_var_len_props, write_arrays
    from geff_spec import Axis, DisplayHint, GeffMetadata, PropMetadata, RelatedObject

    out = Path(path)
    if out.exists() and not overwrite:
        raise FileExistsError(f"GEFF output already exists: {out} (pass overwrite=True to replace it)")
    if out.exists() and out.is_file():
        raise FileExistsError(f"GEFF output {out} is a file, not a zarr folder")
    is_3d = _is_3d(tm)
    space, time = tm.spatial_units or "pixel", tm.time_units or "frame"
    ids = sorted(tm.spots)
    node_ids = np.array(ids, dtype=np.uint64)
    track_of = _track_of_spots(tm)

    decl_spot = dict(tm.declared.get("spot", {}))
    keys = list(decl_spot) + sorted({k for s in tm.spots.values() for k in s} - set(decl_spot) - {"name"})
    node_props: dict[str, dict] = {}
    node_md: dict[str, Any] = {}
    for k in keys:
        vals = [tm.spots[i].get(k) for i in ids]
        if all(v is None for v in vals) and k not in ("POSITION_X", "POSITION_Y", "POSITION_Z", "FRAME", "RADIUS"):
            continue
        d = decl_spot.get(k, {})
        isint = str(d.get("isint", "false")).lower() == "true"
        if k in ("POSITION_X", "POSITION_Y", "POSITION_Z", "FRAME", "RADIUS"):
            vals = [0 if v is None else v for v in vals]  # axes may not have missing values
        node_props[k] = _prop([None if v is None else (int(v) if isint else float(v)) for v in vals],
                              np.int64 if isint else np.float64)
        node_md[k] = PropMetadata(identifier=k, dtype="int64" if isint else "float64", name=d.get("name"),
                                  unit=_feature_unit(d.get("dimension", ""), space, time),
                                  description=f"TrackMate spot feature {k} ({d.get('shortname', k)})")
    node_props["name"] = _prop([str(tm.spots[i].get("name", f"ID{i}")) for i in ids], str)
    node_md["name"] = PropMetadata(identifier="name", dtype="str", description="TrackMate spot name")
    node_props["TRACK_ID"] = _prop([track_of.get(i) for i in ids], np.int64)
    node_md["TRACK_ID"] = PropMetadata(identifier="TRACK_ID", dtype="int64", name="Track ID",
                                       description="TrackMate track of the spot; missing for a spot in no track")
    next_lineage = max(list(tm.tracks) + [-1]) + 1
    lineage = []
    for i in ids:
        if i in track_of:
            lineage.append(track_of[i])
        else:
            lineage.append(next_lineage)
            next_lineage += 1
    node_props["lineage_id"] = _prop(lineage, np.int64)
    node_md["lineage_id"] = PropMetadata(identifier="lineage_id", dtype="int64",
                                         description="TRACK_ID, or a fresh ID for a spot in no track")

    ndim = 3 if is_3d else 2
    polygon = None
    if any(i in tm.rois for i in ids):
        rows = []
        for i in ids:
            r = tm.rois.get(i)
            if r is None:
                rows.append(None)
                continue
            r = np.asarray(r, np.float64)
            yx = r[:, ::-1]
            rows.append(np.c_[np.zeros(len(yx)), yx] if is_3d else yx)
        polygon = "polygon"
        node_props[polygon] = construct_var_len_props(rows)
        node_md[polygon] = PropMetadata(identifier=polygon, dtype="float64", varlength=True, unit=ome_unit(space,
                                        "space"), description="Spot ROI: vertices relative to the spot position, "
                                        f"columns {'(z, y, x)' if is_3d else '(y, x)'} (the spatial axes' order)")
    if any(i in tm.meshes for i in ids):
        verts, faces = [], []
        for i in ids:
            m = tm.meshes.get(i)
            if m is None:
                verts.append(None)
                faces.append(None)
                continue
            s = tm.spots[i]
            centre = np.array([s.get("POSITION_Z", 0.0), s.get("POSITION_Y", 0.0), s.get("POSITION_X", 0.0)], float)
            verts.append(np.asarray(m.vertices, np.float64)[:, ::-1] - centre)
            faces.append(np.asarray(m.faces, np.int32).reshape(-1, 3))
        node_props["mesh_vertices"] = construct_var_len_props(verts)
        node_props["mesh_faces"] = construct_var_len_props(faces)
        node_md["mesh_vertices"] = PropMetadata(
            identifier="mesh_vertices", dtype="float64", varlength=True, unit=ome_unit(space, "space"),
            description="3D spot mesh: vertices relative to the spot position, columns (z, y, x)")
        node_md["mesh_faces"] = PropMetadata(
            identifier="mesh_faces", dtype="int32", varlength=True,
            description="3D spot mesh: triangles as indices into mesh_vertices (counter-clockwise seen from outside)")

    related = []
    img = image_path
    if img is None and tm.settings.get("ImageData", {}).get("filename"):
        idata = tm.settings["ImageData"]
        img = str(Path(idata.get("folder", "")) / idata["filename"])
    if img:
        related.append(RelatedObject(type="image", path=str(img)))
    if labels_tzyx is not None:
        node_props["seg_id"] = _prop([i + 1 for i in ids], np.int64)
        node_md["seg_id"] = PropMetadata(identifier="seg_id", dtype="int64",
                                         description="value of the spot in the 'labels' array (spot ID + 1)")
        related.append(RelatedObject(type="labels", path="labels", node_prop="seg_id"))

    edge_list, edge_rows = [], []
    for e in tm.edges:
        a, b = int(e["SPOT_SOURCE_ID"]), int(e["SPOT_TARGET_ID"])
        if float(tm.spots.get(a, {}).get("FRAME", 0)) > float(tm.spots.get(b, {}).get("FRAME", 0)):
            a, b = b, a  # GEFF tracking graphs point forward in time
        edge_list.append((a, b))
        edge_rows.append(e)
    edge_ids = np.array(edge_list, dtype=np.uint64).reshape(-1, 2)
    decl_edge = dict(tm.declared.get("edge", {}))
    ekeys = list(decl_edge) + sorted({k for e in tm.edges for k in e} - set(decl_edge))
    edge_props, edge_md = {}, {}
    for k in ekeys:
        vals = [e.get(k) for e in edge_rows]
        if all(v is None for v in vals) and edge_rows:
            continue
        d = decl_edge.get(k, {})
        isint = str(d.get("isint", "false")).lower() == "true"
        edge_props[k] = _prop([None if v is None else (int(v) if isint else float(v)) for v in vals],
                              np.int64 if isint else np.float64)
        edge_md[k] = PropMetadata(identifier=k, dtype="int64" if isint else "float64", name=d.get("name"),
                                  unit=_feature_unit(d.get("dimension", ""), space, time),
                                  description=f"TrackMate edge feature {k} ({d.get('shortname', k)})")

    dt = float(tm.settings.get("ImageData", {}).get("timeinterval", "nan") or "nan")
    t_unit = ome_unit(time, "time")
    axes = [Axis(name="FRAME", type="time", unit="frame",
                 **({"scale": dt, "scaled_unit": t_unit} if math.isfinite(dt) and dt > 0 and t_unit else {}))]
    s_unit = ome_unit(space, "space")
    for name in (["POSITION_Z"] if is_3d else []) + ["POSITION_Y", "POSITION_X"]:
        axes.append(Axis(name=name, type="space", unit=s_unit))
    extra = {GEFF_EXTRA_KEY: {
        "trackmate_version": tm.version, "spatial_units": space, "time_units": time,
        "feature_declarations": {k: dict(v) for k, v in tm.declared.items()},
        "tracks": {str(tid): {k: _json_safe(v) for k, v in attrs.items() if k != "edges"}
                   for tid, attrs in tm.tracks.items()},
        "filtered_tracks": [int(t) for t in tm.filtered_tracks],
        "settings_xml": tm.settings_xml, "gui_state_xml": tm.gui_state_xml, "log": tm.log,
        "mesh_props": {"vertices": "mesh_vertices", "faces": "mesh_faces"} if "mesh_vertices" in node_props
        else None,
    }}
    meta = GeffMetadata(
        directed=True, axes=axes, node_props_metadata=node_md, edge_props_metadata=edge_md, sphere="RADIUS",
        polygon=polygon, track_node_props={"lineage": "lineage_id"},
        display_hints=DisplayHint(display_horizontal="POSITION_X", display_vertical="POSITION_Y",
                                  display_depth="POSITION_Z" if is_3d else None, display_time="FRAME"),
        related_objects=related or None, extra=extra)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in valid OME-Zarr units.*")
        write_arrays(str(out), node_ids, node_props, edge_ids, edge_props, meta, zarr_format=zarr_format,
                     overwrite=overwrite)
    if labels_tzyx is not None:
        lab = np.asarray(labels_tzyx)
        if not is_3d and lab.ndim == 4:
            lab = lab[:, 0]
        group = zarr.open_group(str(out), mode="a")
        arr = group.create_array("labels", shape=lab.shape, dtype=lab.dtype,
                                 chunks=(1, *lab.shape[1:]), overwrite=True)
        arr[:] = lab
    return out


def read_geff_model(path: str | Path) -> TrackMateXml:
    """Read a GEFF group into a TrackMate model (what :func:`write_geff` stores, or any tracking GEFF).

    Our own GEFFs and those of ``geff``'s TrackMate converter give back their feature declarations, track features
    and settings; for other GEFFs positions come from the spatial axes (``x``/``y``/``z`` or ``POSITION_*``), the frame
    from the time axis, radii from the ``sphere`` property, ROIs from the ``polygon`` property, and tracks are the
    connected components of the graph.

    Raises
    ------
    ValueError
        The GEFF fails ``geff``'s structure validation, or has no axes to place spots.
    """
    from geff.core_io import read_to_memory

    from ..objects import Mesh

    with warnings.catch_warnings():  # units that are not OME names (TrackMate's "um") are handled below
        warnings.filterwarnings("ignore", message=".*not in valid OME-Zarr units.*")
        mem = read_to_memory(str(path))
    meta = mem["metadata"]
    extra = dict(meta.extra or {})
    ours = extra.get(GEFF_EXTRA_KEY) or {}
    other = extra.get("other_trackmate_metadata") or {}  # geff's own TrackMate converter
    tm = TrackMateXml()
    tm.version = ours.get("trackmate_version") or other.get("trackmate_version") or ""
    axes = list(meta.axes or [])
    if not axes:
        raise ValueError(f"GEFF {path} has no axes: spots cannot be placed")
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
