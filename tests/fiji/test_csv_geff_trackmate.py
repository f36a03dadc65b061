"""Real TrackMate (FIJI_DIR) as the oracle for the CSV layout and the GEFF converter.

- TrackMate's own *Export to CSV* (``TablePanel.exportToCsv`` of its spot, edge and track tables) on the model it loads
  from our XML must give the same text as our ``--csv-style trackmate`` tables: header rows, column order, values.
- An XML written by TrackMate's own ``TmXmlWriter`` converts to a valid GEFF and back to an XML that TrackMate loads
  with the same spots, ROIs, edges, tracks and settings.

The JVM runs in ONE subprocess (this file executed as a script); the pytest functions assert on what it wrote.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import traceback
from pathlib import Path

import pytest
from _facts import run_facts_script  # test support next to this file

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve()
KINDS = ("2d", "3d")


# ---------------------------------------------------------------------------------------------- subprocess side
def _write_ours(work: Path) -> dict:
    import numpy as np
    import tifffile

    from trackmate_cellpose.calibration import Calibration
    from trackmate_cellpose.export import ImageInfo, write_csv_tables, write_meshes, write_trackmate_xml
    from support.export_fixtures import balls_result, discs_result
    from trackmate_cellpose.settings import DetectorSettings
    from trackmate_cellpose.tracking import OverlapTrackerSettings, track_overlap

    # a division, a lone spot (TRACK_ID empty), a gap-free track; 3D: meshes
    d2 = discs_result([[(30, 30, 10), (10, 50, 5)], [(30, 30, 10)], [(30, 25, 6), (30, 36, 6)],
                       [(30, 23, 6), (30, 38, 6)]])
    # millimetres: positions, volumes and speeds that Java prints in scientific notation (1.25E-4)
    d3 = balls_result([[(5, 20, 20, 6), (6, 10, 30, 4)], [(5, 21, 20, 6)]],
                      calibration=Calibration(x=5e-4, y=5e-4, z=1e-3, t=2.0, space_unit="mm", time_unit="s"))
    out = {}
    for kind, res in zip(KINDS, (d2, d3)):
        tr = track_overlap(res, OverlapTrackerSettings(min_iou=0.1))
        img = work / f"movie{kind}.tif"
        t, c, z, y, x = res.image_shape_tczyx
        tifffile.imwrite(img, np.zeros((t, z, c, y, x), np.uint16), imagej=True, resolution=(2.0, 2.0),
                         metadata={"axes": "TZCYX", "spacing": 1.0, "unit": "um", "finterval": 2.0})
        xml = work / f"movie{kind}.xml"
        write_trackmate_xml(xml, tr, res.calibration, image=ImageInfo.from_path(img, res.image_shape_tczyx),
                            detector_settings=DetectorSettings(diameter=8.0).to_trackmate_map())
        write_meshes(xml, tr)
        ours = work / "ours"
        ours.mkdir(exist_ok=True)
        paths = write_csv_tables(ours, f"movie{kind}", tr, res.calibration, style="trackmate")
        out[kind] = {"xml": str(xml), "csv": [str(p) for p in paths]}
    return out


def _export_with_trackmate(xml: str, outdir: Path, stem: str) -> dict:
    from jpype import JClass

    File = JClass("java.io.File")
    reader = JClass("fiji.plugin.trackmate.io.TmXmlReader")(File(xml))
    model = reader.getModel()
    ds = JClass("fiji.plugin.trackmate.gui.displaysettings.DisplaySettings").defaultStyle().copy()
    AllSpots = JClass("fiji.plugin.trackmate.visualization.table.AllSpotsTableView")
    Tracks = JClass("fiji.plugin.trackmate.visualization.table.TrackTableView")
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in (("spots", AllSpots.createSpotTable(model, ds)), ("edges", Tracks.createEdgeTable(model, ds)),
                        ("tracks", Tracks.createTrackTable(model, ds))):
        p = outdir / f"{stem}_{name}.csv"
        table.exportToCsv(File(str(p)))
        paths.append(str(p))
    # TrackMate's own XML of the same model: the "real TrackMate file" the converter is tested on
    rewritten = str(outdir / f"{stem}.trackmate.xml")
    settings = reader.readSettings(reader.readImage())
    writer = JClass("fiji.plugin.trackmate.io.TmXmlWriter")(File(rewritten))
    writer.appendModel(model)
    if settings is not None:
        writer.appendSettings(settings)
    writer.writeToFile()
    return {"csv": paths, "trackmate_xml": rewritten, "ok": bool(reader.isReadingOk()),
            "error": str(reader.getErrorMessage() or "")}


def _roi(s) -> list | None:
    """ROI vertices relative to the spot: ``spot.getRoi()`` up to TrackMate 8, the spot itself (SpotRoi) in v9."""
    if hasattr(s, "getRoi"):
        roi = s.getRoi()
        return None if roi is None else [list(map(float, roi.x)), list(map(float, roi.y))]
    if hasattr(s, "nPoints") and hasattr(s, "xr"):
        n = int(s.nPoints())
        return [[float(s.xr(i)) for i in range(n)], [float(s.yr(i)) for i in range(n)]]
    return None


def _load_with_trackmate(xml: str) -> dict:
    from jpype import JClass

    reader = JClass("fiji.plugin.trackmate.io.TmXmlReader")(JClass("java.io.File")(xml))
    model = reader.getModel()
    spots = {}
    for s in model.getSpots().iterable(False):
        spots[int(s.ID())] = {k: float(s.getFeature(k)) for k in ("FRAME", "POSITION_X", "POSITION_Y", "POSITION_Z",
                                                                  "RADIUS", "QUALITY")}
        spots[int(s.ID())]["roi"] = _roi(s)
    tm = model.getTrackModel()
    edges = sorted([int(tm.getEdgeSource(e).ID()), int(tm.getEdgeTarget(e).ID())] for e in tm.edgeSet())
    settings = reader.readSettings(reader.readImage())
    return {"ok": bool(reader.isReadingOk()), "error": str(reader.getErrorMessage() or ""), "spots": spots,
            "edges": edges, "n_tracks": int(tm.nTracks(False)), "space_units": str(model.getSpaceUnits()),
            "detector": None if settings is None or settings.detectorSettings is None
            else {str(k): str(v) for k, v in settings.detectorSettings.items()}}


def _run_trackmate_to_geff(work: Path) -> dict:
    """``run_trackmate(..., output="x.geff")``: TrackMate's own run (this detector, its tracker), saved as GEFF."""
    from trackmate_cellpose import DetectorSettings, sample_path, test_model_path
    from trackmate_cellpose.bridge import run_trackmate
    from trackmate_cellpose.tracking import OverlapTrackerSettings

    out = work / "run.geff"
    model = os.environ.get("TMCP_TEST_MODEL") or str(test_model_path())
    run = run_trackmate(sample_path("2dt"), DetectorSettings(model="CUSTOM", model_path=model, diameter=10.0,
                                                             use_gpu=False),
                        output=out, t_range=(0, 2), tracker="overlap",
                        tracker_settings=OverlapTrackerSettings(min_iou=0.25))
    tm = run.model.getTrackModel()
    return {"geff": str(run.output), "leftovers": sorted(p.name for p in work.iterdir() if p.name.startswith(".")),
            "spots": sorted([int(s.ID()), int(s.getFeature("FRAME")), float(s.getFeature("POSITION_X"))]
                            for s in run.model.getSpots().iterable(True)),
            "edges": sorted([int(tm.getEdgeSource(e).ID()), int(tm.getEdgeTarget(e).ID())] for e in tm.edgeSet()),
            "n_tracks": int(tm.nTracks(True))}


def _main(argv: list[str]) -> int:
    out, work = Path(argv[0]), Path(argv[1])
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    try:
        from trackmate_cellpose.bridge import start_fiji
        from trackmate_cellpose.bridge._jvm import jvm_options_for_tests
        from trackmate_cellpose.export._convert import convert

        results["ours"] = _write_ours(work)
        start_fiji(os.environ["FIJI_DIR"], jvm_options=jvm_options_for_tests(work / "home"))
        for kind in KINDS:
            theirs = _export_with_trackmate(results["ours"][kind]["xml"], work / "theirs", f"movie{kind}")
            results[f"theirs_{kind}"] = theirs
            # real TrackMate XML -> GEFF -> XML, loaded again by TrackMate
            geff = work / f"real{kind}.geff"
            back = work / f"real{kind}_back.xml"
            convert(theirs["trackmate_xml"], geff)
            convert(geff, back)
            results[f"geff_{kind}"] = str(geff)
            results[f"loaded_orig_{kind}"] = _load_with_trackmate(theirs["trackmate_xml"])
            results[f"loaded_back_{kind}"] = _load_with_trackmate(str(back))
        results["run_geff"] = _run_trackmate_to_geff(work)
    except BaseException as e:  # noqa: BLE001 - record for the test to show
        results["error"] = "".join(traceback.format_exception(e))
    out.write_text(json.dumps(results, indent=1, default=str))
    return 0


# ---------------------------------------------------------------------------------------------- pytest side
@pytest.fixture(scope="module")
def facts(tmp_path_factory, fiji_dir) -> dict:
    pytest.importorskip("geff")
    return run_facts_script(HERE, tmp_path_factory.mktemp("csvgeff"), fiji_dir)


def _split(path: str) -> tuple[list[list[str]], dict[str, list[str]]]:
    """(header rows, data rows keyed by LABEL) - TrackMate orders rows by its hash sets, we by ID."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    n_header = next(i for i, r in enumerate(rows) if r and r[0] == "") + 1  # the units row starts with ""
    return rows[:n_header], {r[0]: r for r in rows[n_header:]}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("table", [0, 1, 2], ids=["spots", "edges", "tracks"])
def test_csv_equals_trackmates_own_export(facts, kind, table):
    assert facts[f"theirs_{kind}"]["ok"], facts[f"theirs_{kind}"]["error"]
    ours, theirs = facts["ours"][kind]["csv"][table], facts[f"theirs_{kind}"]["csv"][table]
    oh, orows = _split(ours)
    th, trows = _split(theirs)
    assert oh == th  # header rows: keys, names, short names, units, in TrackMate's column order
    assert orows.keys() == trows.keys() and orows
    for label, row in trows.items():
        assert orows[label] == row, label
    assert open(ours, "rb").read().count(b"\r") == open(theirs, "rb").read().count(b"\r") == 0


@pytest.mark.parametrize("kind", KINDS)
def test_real_trackmate_xml_through_geff_loads_the_same(facts, kind):
    import geff
    from geff.core_io import read_to_memory
    from geff.validate.data import ValidationConfig

    geff.validate_structure(facts[f"geff_{kind}"])
    read_to_memory(facts[f"geff_{kind}"], data_validation=ValidationConfig(graph=True, sphere=True, lineage=True))
    orig, back = facts[f"loaded_orig_{kind}"], facts[f"loaded_back_{kind}"]
    assert orig["ok"] and back["ok"], (orig["error"], back["error"])
    assert back["spots"] == orig["spots"] and orig["spots"]  # features and ROI vertices, exactly
    assert back["edges"] == orig["edges"] and back["n_tracks"] == orig["n_tracks"] > 0
    assert back["space_units"] == orig["space_units"]
    assert back["detector"] == orig["detector"] and orig["detector"]


def test_run_trackmate_writes_a_geff_of_trackmates_model(facts):
    import geff
    from geff.core_io import read_to_memory
    from geff.validate.data import ValidationConfig

    r = facts["run_geff"]
    geff.validate_structure(r["geff"])
    mem = read_to_memory(r["geff"], data_validation=ValidationConfig(graph=True, sphere=True, lineage=True))
    ids = [int(i) for i in mem["node_ids"]]
    props = mem["node_props"]
    got = sorted([i, int(f), float(x)] for i, f, x in zip(ids, props["FRAME"]["values"],
                                                         props["POSITION_X"]["values"]))
    assert got == r["spots"] and got
    assert sorted(map(list, mem["edge_ids"].tolist())) == r["edges"] and r["edges"]
    assert len(set(props["TRACK_ID"]["values"][~props["TRACK_ID"]["missing"]])
               if props["TRACK_ID"]["missing"] is not None else set(props["TRACK_ID"]["values"])) == r["n_tracks"]
    assert "CELLPOSE_ADVANCED_PY_DETECTOR" in mem["metadata"].extra["trackmate"]["settings_xml"]
    assert mem["metadata"].polygon == "polygon"
    assert r["leftovers"] == []  # the intermediate XML is gone


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
