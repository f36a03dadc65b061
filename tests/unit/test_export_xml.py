"""TrackMate XML: structure per the documented format, read back by pytrackmate and by our reader, exact ROIs."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from trackmate_cellpose.export import ImageInfo, write_trackmate_xml
from support.export_fixtures import balls_result, discs_result
from trackmate_cellpose.export._xml_read import read_trackmate_xml
from trackmate_cellpose.settings import DetectorSettings
from trackmate_cellpose.tracking import OverlapTrackerSettings, TrackingResult, track_overlap


def _movie():
    frames = [[(15 + t, 15, 6), (45, 45 - t, 8)] for t in range(4)]
    frames[2].append((50, 12, 4))  # a lone spot
    return discs_result(frames)


def _write(tmp_path, res, tracking=None):
    tr = tracking or track_overlap(res)
    p = tmp_path / "movie.xml"
    write_trackmate_xml(p, tr, res.calibration,
                        image=ImageInfo.from_path(tmp_path / "movie.tif", (len(res.frames), 1, 1, 64, 64)),
                        detector_settings=DetectorSettings(diameter=8.0).to_trackmate_map(), log_text="test")
    return p, tr


def test_documented_layout(tmp_path):
    p, tr = _write(tmp_path, _movie())
    root = ET.parse(p).getroot()
    assert root.tag == "TrackMate" and root.get("version")
    model = root.find("Model")
    assert model.get("spatialunits") == "um" and model.get("timeunits") == "s"
    for path in ("FeatureDeclarations/SpotFeatures", "FeatureDeclarations/EdgeFeatures",
                 "FeatureDeclarations/TrackFeatures", "AllSpots", "AllTracks", "FilteredTracks"):
        assert model.find(path) is not None, path
    assert int(model.find("AllSpots").get("nspots")) == len(tr.spots) == 9
    declared = {f.get("feature"): f for f in model.find("FeatureDeclarations/SpotFeatures")}
    dims = {"NONE", "QUALITY", "COST", "INTENSITY", "INTENSITY_SQUARED", "POSITION", "VELOCITY", "LENGTH",
            "AREA", "TIME", "ANGLE", "RATE", "ANGLE_RATE", "STRING"}  # TrackMate 7.13.2's Dimension enum
    for decl in model.iter("Feature"):
        assert decl.get("dimension") in dims
        assert decl.get("isint") in ("true", "false")
    for spot in model.iter("Spot"):
        for k, v in spot.attrib.items():
            if k in ("ID", "name", "ROI_N_POINTS"):
                continue
            assert k in declared, f"undeclared spot feature {k}"
            if declared[k].get("isint") == "true":
                assert v.lstrip("-").isdigit(), (k, v)
            float(v)  # every other attribute is numeric
        assert spot.text.endswith(" ")
    st = root.find("Settings")
    img = st.find("ImageData")
    assert img.get("filename") == "movie.tif" and img.get("folder").endswith("/")
    assert float(img.get("pixelwidth")) == 0.5 and float(img.get("timeinterval")) == 2.0
    det = st.find("DetectorSettings")
    assert det.get("DETECTOR_NAME") == "CELLPOSE_ADVANCED_PY_DETECTOR"
    assert set(DetectorSettings().to_trackmate_map()) <= set(det.attrib)
    assert det.get("CELL_DIAMETER") == "8.0" and det.get("TARGET_CHANNEL") == "1" and det.get("USE_GPU") == "true"
    trk = st.find("TrackerSettings")
    assert trk.get("TRACKER_NAME") == "OVERLAP_TRACKER"
    assert (trk.get("MIN_IOU"), trk.get("SCALE_FACTOR"), trk.get("IOU_CALCULATION")) == ("0.3", "1.0", "PRECISE")
    assert st.find("InitialSpotFilter").get("feature") == "QUALITY"
    for tag in ("BasicSettings", "SpotFilterCollection", "TrackFilterCollection", "AnalyzerCollection"):
        assert st.find(tag) is not None


def test_read_back_by_our_reader_rois_exact(tmp_path):
    res = _movie()
    p, tr = _write(tmp_path, res)
    x = read_trackmate_xml(p)
    assert len(x.spots) == len(tr.spots)
    for i, d in enumerate(tr.spots):
        s = x.spots[i]
        assert (s["POSITION_X"], s["POSITION_Y"], s["FRAME"]) == (d.x, d.y, d.frame)
        rx, ry = d.roi_relative()
        np.testing.assert_array_equal(x.rois[i][:, 0], rx)  # bit-exact round trip
        np.testing.assert_array_equal(x.rois[i][:, 1], ry)
        assert s["POSITION_T"] == d.frame * 2.0
    assert len(x.tracks) == 2 and sorted(x.filtered_tracks) == [0, 1]
    got = {(int(e["SPOT_SOURCE_ID"]), int(e["SPOT_TARGET_ID"])) for e in x.edges}
    assert got == {(lk.source, lk.target) for lk in tr.links}
    for e in x.edges:  # forward in time
        assert x.spots[int(e["SPOT_SOURCE_ID"])]["FRAME"] < x.spots[int(e["SPOT_TARGET_ID"])]["FRAME"]
    assert all(t["NUMBER_SPOTS"] == 4 for t in x.tracks.values())


def test_read_back_by_pytrackmate(tmp_path):
    pytrackmate = pytest.importorskip("pytrackmate")
    res = _movie()
    p, tr = _write(tmp_path, res)
    df = pytrackmate.trackmate_peak_import(str(p), get_tracks=True)
    assert len(df) == len(tr.spots)
    np.testing.assert_allclose(sorted(df["x"]), sorted(d.x for d in tr.spots))
    np.testing.assert_allclose(sorted(df["t_stamp"]), sorted(d.frame for d in tr.spots))
    # pytrackmate labels tracks 0..n-1 then one label per lone spot: 2 tracks + 1 lone spot
    assert df["label"].nunique() == 3


def test_3d_spots_have_no_roi_and_untracked_writes_manual_tracker(tmp_path):
    res = balls_result([[(5, 20, 20, 5)], [(5, 21, 20, 5)]])
    tr = TrackingResult.untracked(res)
    p, _ = _write(tmp_path, res, tr)
    root = ET.parse(p).getroot()
    assert all(s.get("ROI_N_POINTS") is None for s in root.iter("Spot"))
    assert root.find("Settings/TrackerSettings").get("TRACKER_NAME") == "MANUAL_TRACKER"
    assert root.find("Model/AllTracks").findall("Track") == []
    x = read_trackmate_xml(p)
    assert x.spots[0]["POSITION_Z"] == 5.0 and "VOLUME" in x.declared["spot"]


def test_tracker_settings_written(tmp_path):
    res = _movie()
    tr = track_overlap(res, OverlapTrackerSettings(min_iou=0.5, iou_calculation="FAST", scale_factor=1.5))
    p, _ = _write(tmp_path, res, tr)
    t = read_trackmate_xml(p).settings["TrackerSettings"]
    assert (t["MIN_IOU"], t["SCALE_FACTOR"], t["IOU_CALCULATION"]) == ("0.5", "1.5", "FAST")
