"""GEFF export and import: validated by the geff package's own validators, read back by geff's own reader into the
same graph, and converted back to a TrackMate XML equal to the one it came from (ROIs, meshes, tracks, settings)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from trackmate_cellpose.export import ImageInfo, write_meshes, write_trackmate_xml
from support.export_fixtures import balls_result, discs_result
from trackmate_cellpose.export._xml_read import read_trackmate_xml
from trackmate_cellpose.settings import DetectorSettings
from trackmate_cellpose.tracking import OverlapTrackerSettings, track_overlap

geff = pytest.importorskip("geff")

from geff.core_io import read_to_memory  # noqa: E402
from geff.validate.data import ValidationConfig  # noqa: E402

from trackmate_cellpose.export._convert import convert, is_geff  # noqa: E402
from trackmate_cellpose.export._geff_write import write_geff  # noqa: E402
from trackmate_cellpose.export._geff_read import read_geff_model  # noqa: E402

# a division, a lone spot; 3D: two balls then one
DIVISION = [[(30, 30, 10), (10, 50, 5)], [(30, 30, 10)], [(30, 25, 6), (30, 36, 6)], [(30, 23, 6), (30, 38, 6)]]
BALLS = [[(5, 20, 20, 6), (6, 10, 30, 4)], [(5, 21, 20, 6)]]


def _result(kind):
    res = discs_result(DIVISION) if kind == "2d" else balls_result(BALLS)
    return res, track_overlap(res, OverlapTrackerSettings(min_iou=0.1))


def _xml(tmp_path, kind):
    res, tr = _result(kind)
    xml = tmp_path / f"movie{kind}.xml"
    write_trackmate_xml(xml, tr, res.calibration, image=ImageInfo.from_path(tmp_path / "movie.tif",
                                                                            res.image_shape_tczyx),
                        detector_settings=DetectorSettings(diameter=9.0).to_trackmate_map(), log_text="hello")
    write_meshes(xml, tr)
    return res, tr, xml


def _validate(path):
    geff.validate_structure(str(path))
    return read_to_memory(str(path), data_validation=ValidationConfig(graph=True, sphere=True, lineage=True))


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_geff_validates_and_reads_back_as_the_same_graph(tmp_path, kind):
    res, tr, xml = _xml(tmp_path, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unit or metadata warnings from geff
        out = write_geff(tmp_path / "m.geff", read_trackmate_xml(xml), labels_tzyx=None)
    _validate(out)
    g, meta = geff.read(str(out), backend="networkx")
    assert sorted(g.nodes) == list(range(len(tr.spots)))
    assert sorted(g.edges) == sorted((lk.source, lk.target) for lk in tr.links)
    for i, d in enumerate(tr.spots):
        n = g.nodes[i]
        assert (n["POSITION_X"], n["POSITION_Y"], n["POSITION_Z"]) == (d.x, d.y, d.z)
        assert n["FRAME"] == d.frame and n["RADIUS"] == d.radius and n["QUALITY"] == d.quality
        tid = int(tr.track_of[i])
        assert n.get("TRACK_ID") == (tid if tid >= 0 else None)
        if kind == "2d":  # GEFF polygon: relative, (y, x) = the spatial axes' order
            rx, ry = d.roi_relative()
            np.testing.assert_array_equal(n["polygon"], np.c_[ry, rx])
        else:  # mesh: relative (z, y, x) vertices + faces
            np.testing.assert_array_equal(n["mesh_vertices"][:, ::-1] + [d.x, d.y, d.z], d.mesh.vertices)
            np.testing.assert_array_equal(n["mesh_faces"], d.mesh.faces)
    for lk in tr.links:
        assert g.edges[lk.source, lk.target]["LINK_COST"] == lk.cost
    assert (meta.sphere, meta.polygon) == ("RADIUS", "polygon" if kind == "2d" else None)
    assert meta.track_node_props == {"lineage": "lineage_id"}


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_geff_metadata_axes_units_and_trackmate_extra(tmp_path, kind):
    res, tr, xml = _xml(tmp_path, kind)
    meta = geff.GeffMetadata.read(str(write_geff(tmp_path / "m.geff", read_trackmate_xml(xml))))
    names = [a.name for a in meta.axes]
    assert names == (["FRAME", "POSITION_Z", "POSITION_Y", "POSITION_X"] if kind == "3d"
                     else ["FRAME", "POSITION_Y", "POSITION_X"])
    t = meta.axes[0]
    assert (t.type, t.unit, t.scale, t.scaled_unit) == ("time", "frame", res.calibration.t, "second")
    assert all(a.type == "space" and a.unit == "micrometer" for a in meta.axes[1:])  # "um" in TrackMate terms
    assert meta.node_props_metadata["POSITION_X"].unit == "um"
    assert meta.node_props_metadata["AREA" if kind == "2d" else "VOLUME"].name in ("Area", "Volume")
    assert meta.edge_props_metadata["SPEED"].unit == "um/s"
    tmx = meta.extra["trackmate"]
    assert tmx["spatial_units"] == "um" and tmx["feature_declarations"]["spot"]["RADIUS"]["shortname"] == "R"
    assert "CELLPOSE_ADVANCED_PY_DETECTOR" in tmx["settings_xml"] and tmx["log"] == "hello"
    assert set(tmx["tracks"]) == {str(t) for t in range(len(tr.tracks))}
    assert [o.type for o in meta.related_objects] == ["image"]
    assert (tmp_path / "m.geff" / meta.related_objects[0].path).resolve() == (tmp_path / "movie.tif").resolve()
    assert not meta.related_objects[0].path.startswith("/")  # relative to the group, as the spec asks


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_xml_to_geff_to_xml_keeps_everything(tmp_path, kind):
    _, _, xml = _xml(tmp_path, kind)
    g = convert(xml, tmp_path / "m.geff")
    assert is_geff(g)
    back = convert(g, tmp_path / "back.xml")
    a, b = read_trackmate_xml(xml), read_trackmate_xml(back)
    assert b.spots == a.spots and b.edges == a.edges and b.tracks == a.tracks
    assert b.declared == a.declared and b.filtered_tracks == a.filtered_tracks
    assert b.settings_xml == a.settings_xml and b.settings == a.settings and b.log == a.log
    assert (b.spatial_units, b.time_units) == (a.spatial_units, a.time_units)
    assert a.rois.keys() == b.rois.keys()
    for k in a.rois:
        np.testing.assert_array_equal(a.rois[k], b.rois[k])
    assert a.meshes.keys() == b.meshes.keys() and (kind == "3d") == bool(a.meshes)
    for k in a.meshes:
        np.testing.assert_array_equal(a.meshes[k].vertices, b.meshes[k].vertices)
        np.testing.assert_array_equal(a.meshes[k].faces, b.meshes[k].faces)


def test_labels_travel_with_the_graph(tmp_path):
    res, tr, xml = _xml(tmp_path, "2d")
    from trackmate_cellpose.export import spot_id_images

    lab = spot_id_images(tr, res.frames)
    out = write_geff(tmp_path / "m.geff", read_trackmate_xml(xml), labels_tzyx=lab)
    mem = _validate(out)
    import zarr

    arr = np.asarray(zarr.open_array(str(out / "labels"))[:])
    assert arr.shape == (4, 64, 64)  # (T, Y, X): the axes' order
    meta = mem["metadata"]
    rel = [o for o in meta.related_objects if o.type == "labels"][0]
    assert (rel.path, rel.node_prop) == ("labels", "seg_id")
    ids = mem["node_ids"]
    seg = mem["node_props"]["seg_id"]["values"]
    for i, s in zip(ids, seg):  # each spot's centre pixel holds its seg_id
        d = tr.spots[int(i)]
        assert arr[d.frame, int(round(d.y / 0.5)), int(round(d.x / 0.5))] == s


def test_lone_spots_get_their_own_lineage(tmp_path):
    _, tr, xml = _xml(tmp_path, "2d")
    mem = _validate(write_geff(tmp_path / "m.geff", read_trackmate_xml(xml)))
    tid = mem["node_props"]["TRACK_ID"]
    lone = np.flatnonzero(tid["missing"])
    assert [int(mem["node_ids"][k]) for k in lone] == [i for i in range(len(tr.spots)) if tr.track_of[i] < 0]
    lineage = mem["node_props"]["lineage_id"]["values"]
    assert len(set(lineage[lone])) == len(lone) and not set(lineage[lone]) & set(tid["values"][~tid["missing"]])


def test_empty_model(tmp_path):
    res = discs_result([[]])
    tr = track_overlap(res)
    xml = tmp_path / "e.xml"
    write_trackmate_xml(xml, tr, res.calibration, image=ImageInfo.from_path(tmp_path / "e.tif",
                                                                            res.image_shape_tczyx))
    g = convert(xml, tmp_path / "e.geff")
    assert len(_validate(g)["node_ids"]) == 0
    back = read_trackmate_xml(convert(g, tmp_path / "e2.xml"))
    assert back.spots == {} and back.tracks == {}


def test_geffs_own_trackmate_converter_output_comes_back_to_trackmate(tmp_path):
    """GEFFs written by geff's own converter (``from_trackmate_xml_to_geff``) convert back with their settings."""
    from geff.convert import from_trackmate_xml_to_geff

    _, _, xml = _xml(tmp_path, "2d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_trackmate_xml_to_geff(xml, tmp_path / "theirs.geff")
    back = read_trackmate_xml(convert(tmp_path / "theirs.geff", tmp_path / "back.xml"))
    a = read_trackmate_xml(xml)
    assert back.spots.keys() == a.spots.keys()
    for sid, f in a.spots.items():
        for k in ("POSITION_X", "POSITION_Y", "FRAME", "RADIUS", "QUALITY", "AREA"):
            assert back.spots[sid][k] == f[k]
        np.testing.assert_array_equal(back.rois[sid], a.rois[sid])
    assert sorted((e["SPOT_SOURCE_ID"], e["SPOT_TARGET_ID"]) for e in back.edges) == \
        sorted((e["SPOT_SOURCE_ID"], e["SPOT_TARGET_ID"]) for e in a.edges)
    assert back.settings["DetectorSettings"] == a.settings["DetectorSettings"]
    assert len(back.tracks) == len(a.tracks)


def test_a_foreign_geff_becomes_trackmate_spots_and_tracks(tmp_path):
    """A GEFF from another tool (axes t, y, x in pixels, no TrackMate metadata): positions, frames, tracks."""
    import networkx as nx
    from geff_spec import Axis, GeffMetadata

    g = nx.DiGraph()
    for n, (t, y, x) in enumerate([(0, 10.0, 20.0), (1, 11.0, 21.0), (2, 12.0, 22.0), (0, 40.0, 40.0)]):
        g.add_node(n, t=t, y=y, x=x, radius=3.0)
    g.add_edges_from([(0, 1), (1, 2)])
    meta = GeffMetadata(directed=True, node_props_metadata={}, edge_props_metadata={}, sphere="radius",
                        axes=[Axis(name="t", type="time", unit="frame"), Axis(name="y", type="space", unit="pixel"),
                              Axis(name="x", type="space", unit="pixel")])
    geff.write(g, str(tmp_path / "f.geff"), metadata=meta)
    tm = read_geff_model(tmp_path / "f.geff")
    assert tm.spots[2]["POSITION_X"] == 22.0 and tm.spots[2]["POSITION_Y"] == 12.0 and tm.spots[2]["FRAME"] == 2
    assert tm.spots[3]["RADIUS"] == 3.0 and tm.spatial_units == "pixel"
    assert len(tm.tracks) == 1 and tm.tracks[0]["NUMBER_SPOTS"] == 3
    back = read_trackmate_xml(convert(tmp_path / "f.geff", tmp_path / "f.xml"))
    assert sorted((int(e["SPOT_SOURCE_ID"]), int(e["SPOT_TARGET_ID"])) for e in back.edges) == [(0, 1), (1, 2)]
    assert back.frames == {0: [0, 3], 1: [1], 2: [2]}


def test_convert_refuses_bad_inputs(tmp_path):
    _, _, xml = _xml(tmp_path, "2d")
    with pytest.raises(ValueError, match="OUT must end in .geff"):
        convert(xml, tmp_path / "x.csv")
    with pytest.raises(FileNotFoundError, match="input not found"):
        convert(tmp_path / "nope.xml", tmp_path / "x.geff")
    g = convert(xml, tmp_path / "x.geff")
    with pytest.raises(FileExistsError, match="already exists"):
        convert(xml, g)
    assert is_geff(convert(xml, g, overwrite=True))
    with pytest.raises(ValueError, match="OUT must end in .xml"):
        convert(g, tmp_path / "y.geff")
    (tmp_path / "other.xml").write_text("<root/>")
    with pytest.raises(ValueError, match="no <Model>"):
        convert(tmp_path / "other.xml", tmp_path / "z.geff")
