"""Write a :class:`~trackmate_cellpose.export._xml_read.TrackMateXml` (spots, ROIs, meshes, edges, tracks, feature
declarations, settings kept as XML text) back to a TrackMate XML file (+ ``.meshes``).

The counterpart of ``read_trackmate_xml`` for contents that did not come from our own pipeline, e.g. a GEFF read back
(``geff.read_geff_model``). Numbers follow the same rules as ``export.xml``: declared integer features as ints, floats
with Python's shortest round-trip repr. Imports: numpy; package: export._meshes_file, export._xml_read, export._xml_write.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ._meshes_file import MESH_FILE_EXTENSION, write_mesh_zip
from ._xml_write import TRACKMATE_XML_VERSION, _num
from ._xml_read import TrackMateXml

_KINDS = (("spot", "SpotFeatures"), ("edge", "EdgeFeatures"), ("track", "TrackFeatures"))


def _isint(tm: TrackMateXml, kind: str, key: str) -> bool:
    return str(tm.declared.get(kind, {}).get(key, {}).get("isint", "false")).lower() == "true"


def write_trackmate_xml_model(path: str | Path, tm: TrackMateXml) -> Path:
    """Write ``tm`` as a TrackMate XML file; meshes (if any) go to ``<path>.meshes``.

    Parameters
    ----------
    path : str or Path
    tm : TrackMateXml
        ``settings_xml`` and ``gui_state_xml`` are inserted as they are; without them the file has a Model only
        (TrackMate then loads spots and tracks, with no image or settings).

    Returns
    -------
    Path
    """
    root = ET.Element("TrackMate", version=tm.version or TRACKMATE_XML_VERSION)
    ET.SubElement(root, "Log").text = tm.log
    model = ET.SubElement(root, "Model", spatialunits=tm.spatial_units or "pixel",
                          timeunits=tm.time_units or "frame")
    decl = ET.SubElement(model, "FeatureDeclarations")
    for kind, tag in _KINDS:
        el = ET.SubElement(decl, tag)
        for key, d in tm.declared.get(kind, {}).items():
            ET.SubElement(el, "Feature", feature=key, name=d.get("name", key),
                          shortname=d.get("shortname", d.get("name", key)), dimension=d.get("dimension", "NONE"),
                          isint="true" if _isint(tm, kind, key) else "false")

    all_spots = ET.SubElement(model, "AllSpots", nspots=str(len(tm.spots)))
    frames = {f: list(ids) for f, ids in tm.frames.items()}
    for sid, feats in tm.spots.items():
        f = int(feats.get("FRAME", 0))
        if sid not in frames.setdefault(f, []):
            frames[f].append(sid)
    for frame in sorted(frames):
        fel = ET.SubElement(all_spots, "SpotsInFrame", frame=str(frame))
        for sid in frames[frame]:
            feats = tm.spots[sid]
            attrs = {"ID": str(sid), "name": str(feats.get("name", f"ID{sid}"))}
            for k, v in feats.items():
                if k != "name" and v is not None:
                    attrs[k] = _num(v, _isint(tm, "spot", k))
            roi = tm.rois.get(sid)
            if roi is not None and len(roi) > 2:
                attrs["ROI_N_POINTS"] = str(len(roi))
                sel = ET.SubElement(fel, "Spot", attrs)
                sel.text = "".join(f"{float(a)!r} {float(b)!r} " for a, b in np.asarray(roi, float))
            else:
                ET.SubElement(fel, "Spot", attrs)

    all_tracks = ET.SubElement(model, "AllTracks")
    for tid, attrs in tm.tracks.items():
        tattrs = {"name": str(attrs.get("name", f"Track_{tid}"))}
        tattrs.update({k: _num(v, _isint(tm, "track", k)) for k, v in attrs.items()
                       if k not in ("name", "edges") and v is not None})
        tel = ET.SubElement(all_tracks, "Track", tattrs)
        for ei in attrs.get("edges", []):
            ET.SubElement(tel, "Edge", {k: _num(v, _isint(tm, "edge", k)) for k, v in tm.edges[ei].items()
                                        if v is not None})
    filtered = ET.SubElement(model, "FilteredTracks")
    for tid in tm.filtered_tracks:
        ET.SubElement(filtered, "TrackID", TRACK_ID=str(tid))
    if tm.settings_xml:
        root.append(ET.fromstring(tm.settings_xml))
    if tm.gui_state_xml:
        root.append(ET.fromstring(tm.gui_state_xml))
    tree = ET.ElementTree(root)
    ET.indent(tree, space="  ")
    p = Path(path)
    tree.write(p, encoding="UTF-8", xml_declaration=True)
    if tm.meshes:
        write_mesh_zip(str(p) + MESH_FILE_EXTENSION, tm.meshes,
                       {sid: int(tm.spots[sid].get("FRAME", 0)) for sid in tm.meshes if sid in tm.spots})
    return p
