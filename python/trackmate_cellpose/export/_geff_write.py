"""GEFF (Graph Exchange File Format, on zarr) from a TrackMate model, written with the ``geff`` package (the way back
is ``geff_read``).

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
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._outputs import GEFF_EXTRA_KEY, GEFF_WRITER, check_replaceable
from ..errors import OutputExistsError
from ._xml_write import feature_units
from ._xml_read import TrackMateXml

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
               image_path: str | None = None, overwrite: bool = False, zarr_format: int = 2,
               final_path: str | Path | None = None) -> Path:
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
        Source image recorded as a related object, by its path relative to the group (default: the one in the
        model's ``ImageData``).
    overwrite : bool
        Replace an existing GEFF at ``path`` that this package wrote (recognised by its metadata); otherwise an
        existing one is an error. Anything else at ``path`` is never replaced.
    zarr_format : {2, 3}
    final_path : str or Path, optional
        Where the group will be used from when it is written elsewhere first and moved (e.g. a staging folder):
        the image path is made relative to it (default: ``path``).

    Returns
    -------
    Path

    Raises
    ------
    OutputExistsError (a FileExistsError)
        ``path`` exists and ``overwrite`` is False.
    ForeignOutputError (an OutputExistsError)
        ``path`` exists and is not a GEFF written by this package (a file, a user's folder, another program's GEFF).
    """
    import zarr
    from geff.core_io import construct_var_len_props, write_arrays
    from geff_spec import Axis, DisplayHint, GeffMetadata, PropMetadata, RelatedObject

    out = Path(path)
    check_replaceable(out, "geff")  # a user's folder or file is never replaced
    if out.exists() and not overwrite:
        raise OutputExistsError(f"GEFF output already exists: {out} (pass overwrite=True to replace it)",
                                paths=[out])
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
    if img:  # the spec wants paths relative to the GEFF group
        home = Path(final_path) if final_path is not None else out
        rel = os.path.relpath(img, home.resolve()) if Path(img).is_absolute() else str(img)
        related.append(RelatedObject(type="image", path=rel))
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
        "writer": GEFF_WRITER, "trackmate_version": tm.version, "spatial_units": space, "time_units": time,
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
