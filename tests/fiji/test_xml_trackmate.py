"""TrackMate's own TmXmlReader (real Fiji, FIJI_DIR) loads the XML our standalone pipeline writes: spots, ROIs, tracks,
feature declarations and settings (detector with every setting, tracker), and the 3D meshes file next to it: v9
reads our meshes as ``SpotMesh`` spots, 7.x/8.x ignore the file and keep spheres (``_shapes.SHAPE_3D``).

The JVM runs in ONE subprocess (this file executed as a script); the pytest functions assert on the facts it records.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
from _facts import run_facts_script  # test support next to this file
from _shapes import SHAPE_3D, Shapes

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve()


# ---------------------------------------------------------------------------------------------- subprocess side
def _write_inputs(work: Path) -> dict:
    import tifffile

    from trackmate_cellpose.export import ImageInfo, write_meshes, write_trackmate_xml
    from support.export_fixtures import balls_result, discs_result
    from trackmate_cellpose.settings import DetectorSettings
    from trackmate_cellpose.tracking import OverlapTrackerSettings, track_overlap

    settings = DetectorSettings(model="CUSTOM", model_path="/models/my_model.pth", diameter=8.5, use_gpu=False,
                                target_channel=2, channel_2=1, do_2dz=True, min_size=20.0)
    frames = [[(20, 20 + t, 6), (40, 45 - t, 8)] for t in range(3)] + [[(20, 23, 5), (20, 32, 5), (40, 42, 8)]]
    frames[1].append((55, 10, 4))
    out = {}
    for name, res, kind in (("movie2d", discs_result(frames), "2d"),
                            ("movie3d", balls_result([[(5, 20, 20, 6)], [(5, 21, 20, 6)]]), "3d")):
        img = work / f"{name}.tif"
        t, c, z, y, x = res.image_shape_tczyx
        tifffile.imwrite(img, np.zeros((t, z, c, y, x), np.uint16), imagej=True, resolution=(2.0, 2.0),
                         metadata={"axes": "TZCYX", "spacing": 1.0, "unit": "micron", "finterval": 2.0})
        tr = track_overlap(res, OverlapTrackerSettings(min_iou=0.2))
        xml = work / f"{name}.xml"
        write_trackmate_xml(xml, tr, res.calibration, image=ImageInfo.from_path(img, res.image_shape_tczyx),
                            detector_settings=settings.to_trackmate_map())
        meshes = write_meshes(xml, tr)  # the standalone pipeline writes it next to the XML for 3D results
        out[kind] = {
            "xml": str(xml), "meshes_file": None if meshes is None else str(meshes),
            "spots": {i: {"frame": d.frame, "x": d.x, "y": d.y, "z": d.z,
                          "roi": None if d.roi_xy is None else [list(map(float, a)) for a in d.roi_relative()],
                          "n_triangles": None if d.mesh is None else int(len(d.mesh.faces))}
                      for i, d in enumerate(tr.spots)},
            "edges": sorted([lk.source, lk.target] for lk in tr.links), "n_tracks": len(tr.tracks),
            "settings": {k: [str(v).lower() if isinstance(v, bool) else str(v), type(v).__name__]
                         for k, v in settings.to_trackmate_map().items()},
        }
    return out


def _read_with_trackmate(xml: str, shapes: Shapes) -> dict:
    from jpype import JClass

    reader = JClass("fiji.plugin.trackmate.io.TmXmlReader")(JClass("java.io.File")(xml))
    model = reader.getModel()
    ok_model = bool(reader.isReadingOk())
    spots = {}
    for s in model.getSpots().iterable(False):
        roi = shapes.roi_relative(s)
        mesh = shapes.mesh_info(s)
        spots[int(s.ID())] = {
            "frame": int(s.getFeature("FRAME")), "x": float(s.getFeature("POSITION_X")),
            "y": float(s.getFeature("POSITION_Y")), "z": float(s.getFeature("POSITION_Z")),
            "visible": float(s.getFeature("VISIBILITY")), "kind": shapes.kind(s),
            "roi": None if roi is None else [roi[0], roi[1]],
            "n_triangles": None if mesh is None else mesh["n_triangles"]}
    tm = model.getTrackModel()
    edges = []
    for e in tm.edgeSet():
        a, b = tm.getEdgeSource(e), tm.getEdgeTarget(e)
        pair = sorted([a, b], key=lambda s: float(s.getFeature("FRAME")))
        edges.append([int(pair[0].ID()), int(pair[1].ID())])
    fm = model.getFeatureModel()
    imp = reader.readImage()
    settings = reader.readSettings(imp)
    det = {}
    tracker = {}
    if settings is not None and settings.detectorSettings is not None:
        det = {str(k): [str(v).lower() if str(v) in ("true", "false") else str(v),
                        str(v.getClass().getSimpleName())] for k, v in settings.detectorSettings.items()}
    if settings is not None and settings.trackerSettings is not None:
        tracker = {str(k): str(v) for k, v in settings.trackerSettings.items()}
    # TrackMate writes back what it loaded: its own file is the structural oracle for ours
    rewritten = xml.replace(".xml", ".trackmate.xml")
    writer = JClass("fiji.plugin.trackmate.io.TmXmlWriter")(JClass("java.io.File")(rewritten))
    writer.appendModel(model)
    if settings is not None:
        writer.appendSettings(settings)
    writer.writeToFile()
    return {
        "rewritten": rewritten,
        "ok_model": ok_model, "ok_all": bool(reader.isReadingOk()), "error": str(reader.getErrorMessage() or ""),
        "spots": spots, "edges": sorted(edges), "n_tracks_visible": int(tm.nTracks(True)),
        "space_units": str(model.getSpaceUnits()), "time_units": str(model.getTimeUnits()),
        "spot_features": sorted(str(f) for f in fm.getSpotFeatures()),
        "track_features": sorted(str(f) for f in fm.getTrackFeatures()),
        "image_opened": imp is not None,
        "detector_key": None if settings is None or settings.detectorFactory is None
        else str(settings.detectorFactory.getKey()),
        "detector_settings": det,
        "tracker_key": None if settings is None or settings.trackerFactory is None
        else str(settings.trackerFactory.getKey()),
        "tracker_settings": tracker,
        "dx": None if settings is None else float(settings.dx), "dt": None if settings is None else float(settings.dt),
    }


def _main(argv: list[str]) -> int:
    out, work = Path(argv[0]), Path(argv[1])
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    try:
        from trackmate_cellpose.bridge import start_fiji
        from trackmate_cellpose.bridge._jvm import jvm_options_for_tests

        inputs = _write_inputs(work)
        results["written"] = inputs
        session = start_fiji(os.environ["FIJI_DIR"], jvm_options=jvm_options_for_tests(work / "home"))
        shapes = Shapes(session.line)
        results["line"] = session.line
        for kind, info in inputs.items():
            results[kind] = _read_with_trackmate(info["xml"], shapes)
    except BaseException as e:  # noqa: BLE001 - record for the test to show
        results["error"] = "".join(traceback.format_exception(e))
    out.write_text(json.dumps(results, indent=1, default=str))
    return 0


# ---------------------------------------------------------------------------------------------- pytest side
@pytest.fixture(scope="module")
def facts(tmp_path_factory, fiji_dir) -> dict:
    return run_facts_script(HERE, tmp_path_factory.mktemp("xmlfiji"), fiji_dir)


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_trackmate_reads_spots_tracks_and_units(facts, kind):
    got, want = facts[kind], facts["written"][kind]
    assert got["ok_model"], got["error"]
    assert got["space_units"] == "um" and got["time_units"] == "s"
    assert sorted(got["spots"]) == sorted(want["spots"])
    for sid, w in want["spots"].items():
        g = got["spots"][sid]
        assert (g["frame"], g["x"], g["y"], g["z"]) == (w["frame"], w["x"], w["y"], w["z"])
        assert g["visible"] == 1.0
    assert got["edges"] == want["edges"]
    assert got["n_tracks_visible"] == want["n_tracks"]
    for f in ("QUALITY", "POSITION_X", "FRAME", "RADIUS", "VISIBILITY"):
        assert f in got["spot_features"]
    assert "TRACK_DURATION" in got["track_features"]


def test_trackmate_reads_roi_polygons_exactly(facts):
    got, want = facts["2d"], facts["written"]["2d"]
    for sid, w in want["spots"].items():
        assert got["spots"][sid]["kind"] == "roi"
        assert got["spots"][sid]["roi"] == w["roi"]  # Double.parseDouble of our repr: bit-exact
    assert all(s["roi"] is None for s in facts["3d"]["spots"].values())


def test_3d_spots_are_read_with_each_lines_shape(facts, trackmate_line):
    """Our ``.meshes`` file: v9 reads each mesh into a SpotMesh (same triangles); 7.x/8.x have no meshes and ignore
    the file, the spots stay spheres (centre + RADIUS from the XML)."""
    assert facts["line"] == trackmate_line
    got, want = facts["3d"], facts["written"]["3d"]
    assert want["meshes_file"] and Path(want["meshes_file"]).is_file()
    assert facts["written"]["2d"]["meshes_file"] is None  # 2D results have no meshes file
    expected = SHAPE_3D[trackmate_line]
    for sid, w in want["spots"].items():
        g = got["spots"][sid]
        assert g["kind"] == expected, (sid, g)
        if expected == "mesh":
            assert g["n_triangles"] == w["n_triangles"] > 0
        else:
            assert g["n_triangles"] is None


@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_structure_matches_trackmates_own_writer(facts, kind):
    import xml.etree.ElementTree as ET

    ours = ET.parse(facts["written"][kind]["xml"]).getroot()
    theirs = ET.parse(facts[kind]["rewritten"]).getroot()

    def tags(el, path):
        return [c.tag for c in el.find(path)] if el.find(path) is not None else None

    for path in ("Model", "Model/FeatureDeclarations", "Settings"):
        assert set(tags(theirs, path)) <= set(tags(ours, path)), path
    for a, b in zip(ours.iter("SpotsInFrame"), theirs.iter("SpotsInFrame")):
        assert a.get("frame") == b.get("frame")
    o_spots = {s.get("ID"): s for s in ours.iter("Spot")}
    t_spots = {s.get("ID"): s for s in theirs.iter("Spot")}
    assert o_spots.keys() == t_spots.keys()
    for sid, t in t_spots.items():
        o = o_spots[sid]
        assert set(t.attrib) <= set(o.attrib), set(t.attrib) - set(o.attrib)
        for k in t.attrib:
            if k not in ("name",):
                assert float(t.get(k)) == float(o.get(k)), (sid, k)
        if t.text and t.text.strip():
            assert [float(v) for v in t.text.split()] == [float(v) for v in o.text.split()]
    t_edges = sorted((e.get("SPOT_SOURCE_ID"), e.get("SPOT_TARGET_ID")) for e in theirs.iter("Edge"))
    o_edges = sorted((e.get("SPOT_SOURCE_ID"), e.get("SPOT_TARGET_ID")) for e in ours.iter("Edge"))
    assert t_edges == o_edges
    for tag in ("ImageData", "BasicSettings", "InitialSpotFilter"):
        assert ours.find(f"Settings/{tag}").attrib.keys() >= theirs.find(f"Settings/{tag}").attrib.keys(), tag


def test_trackmate_reads_settings_with_our_detector(facts):
    got, want = facts["2d"], facts["written"]["2d"]
    assert got["image_opened"]
    assert got["dx"] == 0.5 and got["dt"] == 2.0
    assert got["tracker_key"] == "OVERLAP_TRACKER"
    assert got["tracker_settings"] == {"MIN_IOU": "0.2", "SCALE_FACTOR": "1.0", "IOU_CALCULATION": "PRECISE"}
    assert got["detector_key"] == "CELLPOSE_ADVANCED_PY_DETECTOR", got["error"]
    java_type = {"str": "String", "int": "Integer", "float": "Double", "bool": "Boolean"}
    for key, (value, pytype) in want["settings"].items():
        assert key in got["detector_settings"], key
        gv, gtype = got["detector_settings"][key]
        assert gtype == java_type[pytype], (key, gtype)
        if pytype == "float":
            assert float(gv) == float(value), key
        elif pytype == "bool":
            assert gv.lower() == value, key
        else:
            assert gv == value, key
    assert got["ok_all"], got["error"]


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
