"""CSV tables in TrackMate's layout (four header rows, Java number format) and in the plain one-row layout.

The layout itself is checked against TrackMate's own exporter in tests/fiji/test_csv_geff_trackmate.py; these tests
pin the rules that make it up, on a division with a lone spot.
"""

from __future__ import annotations

import csv
import struct

import pytest

from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.export import write_csv_tables
from support.export_fixtures import discs_result
from trackmate_cellpose.export._tables import java_double
from trackmate_cellpose.tracking import OverlapTrackerSettings, edge_features, spot_features, track_overlap


def _division(cal=None):
    frames = [[(30, 30, 10), (10, 50, 5)], [(30, 30, 10)], [(30, 25, 6), (30, 36, 6)], [(30, 23, 6), (30, 38, 6)]]
    res = discs_result(frames, calibration=cal)
    return res, track_overlap(res, OverlapTrackerSettings(min_iou=0.1))


def _rows(p):
    with open(p, newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize("value, java", [
    (1.0, "1.0"), (0.001, "0.001"), (1e-4, "1.0E-4"), (9.999e-4, "9.999E-4"), (12345678.9, "1.23456789E7"),
    (1e7, "1.0E7"), (9999999.0, "9999999.0"), (-2.5e-10, "-2.5E-10"), (0.1 + 0.2, "0.30000000000000004"),
    (1e21, "1.0E21"), (float("nan"), "NaN"), (float("inf"), "Infinity"), (-0.0, "-0.0"), (0.0, "0.0"),
    (struct.unpack("<d", struct.pack("<Q", 1))[0], "4.9E-324"),  # Double.MIN_VALUE
])
def test_java_double_matches_javas_double_tostring(value, java):
    assert java_double(value) == java


def test_trackmate_layout_header_rows_and_columns(tmp_path):
    res, tr = _division()
    spots, edges, tracks = (_rows(p) for p in write_csv_tables(tmp_path, "m", tr, res.calibration))
    assert spots[0][:4] == ["LABEL", "ID", "TRACK_ID", "QUALITY"]
    assert spots[1][:4] == ["Label", "Spot ID", "Track ID", "Quality"]      # names
    assert spots[2][spots[0].index("RADIUS")] == "R"                         # short names
    assert spots[3][:5] == ["", "", "", "(quality)", "(um)"]                  # units
    assert spots[3][spots[0].index("AREA")] == "(um^2)" and spots[3][spots[0].index("FRAME")] == ""
    assert len(spots) == 4 + len(tr.spots)
    assert edges[0][:4] == ["LABEL", "TRACK_ID", "SPOT_SOURCE_ID", "SPOT_TARGET_ID"]
    assert edges[3][edges[0].index("SPEED")] == "(um/s)" and edges[3][edges[0].index("LINK_COST")] == "(cost)"
    assert tracks[0][:3] == ["LABEL", "TRACK_INDEX", "TRACK_ID"] and tracks[4][0] == "Track_0"
    lone = [r for r in spots[4:] if r[2] == ""]
    assert [r[0] for r in lone] == [f"ID{i}" for i in range(len(tr.spots)) if tr.track_of[i] < 0]
    assert edges[4][0] == f"ID{tr.links[0].source} \u2192 ID{tr.links[0].target}"


def test_trackmate_layout_values_in_java_format(tmp_path):
    cal = Calibration(x=5e-5, y=5e-5, z=1.0, t=2.0, space_unit="mm", time_unit="s")  # tiny: scientific notation
    res, tr = _division(cal)
    spots, edges, _ = (_rows(p) for p in write_csv_tables(tmp_path, "m", tr, cal))
    feats = spot_features(tr, cal)
    col = {k: spots[0].index(k) for k in ("POSITION_X", "FRAME", "VISIBILITY", "AREA")}
    for row, f in zip(spots[4:], feats):
        assert row[col["POSITION_X"]] == java_double(f["POSITION_X"])
        assert row[col["AREA"]] == java_double(f["AREA"]) and "E-" in row[col["AREA"]]
        assert row[col["FRAME"]] == str(f["FRAME"]) and row[col["VISIBILITY"]] == "1"  # ints stay ints
    speed = edges[0].index("SPEED")
    assert [r[speed] for r in edges[4:]] == [java_double(e["SPEED"]) for e in edge_features(tr, cal)]


def test_names_row_is_left_out_when_names_equal_keys(tmp_path):
    """TrackMate skips the names row when every name equals its key, and the short-names row when every short
    name equals its name: an empty movie's track table (no data, declared features only) keeps both."""
    res = discs_result([[]])
    tr = track_overlap(res)
    spots, edges, tracks = (_rows(p) for p in write_csv_tables(tmp_path, "e", tr, res.calibration))
    assert len(spots) == len(edges) == len(tracks) == 4  # header only
    assert spots[0][1:3] == ["ID", "TRACK_ID"]


def test_plain_layout_is_one_header_row(tmp_path):
    res, tr = _division()
    spots, edges, tracks = (_rows(p) for p in write_csv_tables(tmp_path, "m", tr, res.calibration, style="plain"))
    assert len(spots) == 1 + len(tr.spots) and len(edges) == 1 + len(tr.links) and len(tracks) == 2
    assert spots[1][spots[0].index("POSITION_X")] == repr(tr.spots[0].x)
    with pytest.raises(ValueError, match="style must be one of trackmate, plain, got 'excel'"):
        write_csv_tables(tmp_path, "m", tr, res.calibration, style="excel")
