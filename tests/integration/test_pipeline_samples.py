"""End to end on the bundled samples with the bundled model (cellpose inference, CPU): ``demo`` on the 2D+t sample,
``run --2dz`` on two frames of the 3D+t sample. Outputs are checked by independent readers (pytrackmate, trimesh)
and the CTC output is scored by py-ctcmetrics against the samples' synthetic ground truth."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

from trackmate_cellpose.cli import main
from trackmate_cellpose.data import sample_path
from trackmate_cellpose.export._xml_read import read_trackmate_xml
from trackmate_cellpose.reader import read_image

pytestmark = pytest.mark.slow


def _ctc_ground_truth(gt_tzyx: np.ndarray, root: Path) -> Path:
    """CTC ground-truth folder (TRA + SEG) from a label movie whose labels are track ids (no divisions)."""
    (root / "TRA").mkdir(parents=True)
    (root / "SEG").mkdir()
    spans: dict[int, list[int]] = {}
    for t, lab in enumerate(gt_tzyx):
        lab = np.asarray(lab, np.uint16)
        tifffile.imwrite(root / "TRA" / f"man_track{t:03d}.tif", lab)
        tifffile.imwrite(root / "SEG" / f"man_seg{t:03d}.tif", lab)
        for v in np.unique(lab)[1:]:
            spans.setdefault(int(v), []).append(t)
    (root / "TRA" / "man_track.txt").write_text("".join(f"{v} {min(ts)} {max(ts)} 0\n"
                                                        for v, ts in sorted(spans.items())))
    return root


def _ctc_scores(res_dir: Path, gt_root: Path) -> dict[str, float]:
    ctc = pytest.importorskip("ctc_metrics")
    r = ctc.evaluate_sequence(str(res_dir), str(gt_root), metrics=["DET", "SEG", "TRA"], threads=1)
    return {k: float(r[k]) for k in ("DET", "SEG", "TRA")}


@pytest.fixture(scope="module")
def demo2d(tmp_path_factory, test_model):
    out = tmp_path_factory.mktemp("demo")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["demo", "-o", str(out), "--samples", "2dt", "--cpu", "--model-path", str(test_model)])
    assert rc == 0
    return out, buf.getvalue()


@pytest.fixture(scope="module")
def run3d(tmp_path_factory, test_model):
    work = tmp_path_factory.mktemp("run3d")
    src = read_image(sample_path("3dt"))
    crop = work / "sample3d_2t.tif"
    cal = src.calibration
    tifffile.imwrite(crop, src.array[:2, :, :, :, :].transpose(0, 2, 1, 3, 4), imagej=True,
                     resolution=(1 / cal.x, 1 / cal.y),
                     metadata={"axes": "TZCYX", "spacing": cal.z, "unit": "micron", "finterval": cal.t})
    out = work / "out"
    rc = main(["run", str(crop), "-o", str(out), "--model-path", str(test_model), "--diameter", "10", "--cpu",
               "--2dz", "--quiet"])
    assert rc == 0
    gt = tifffile.imread(sample_path("3dt", ground_truth=True))[:2]
    return out, gt, work


def test_demo_writes_every_output_and_a_summary(demo2d):
    out, text = demo2d
    names = {p.name for p in out.iterdir()}
    for n in ("sample_2dt.xml", "sample_2dt_labels.tif", "sample_2dt_track_labels.tif", "sample_2dt_spots.csv",
              "sample_2dt_tracks.csv", "sample_2dt_ctc", "sample_2dt_overlay.png", "sample_2dt_overlay.gif"):
        assert n in names, n
    assert not any(n.startswith(".") for n in names)  # no staging folder left
    assert "objects per frame:" in text and "tracks:" in text and "time:" in text and "sample_2dt.xml" in text


def test_demo_ctc_scores_against_ground_truth(demo2d, tmp_path, quality):
    out, _ = demo2d
    gt = tifffile.imread(sample_path("2dt", ground_truth=True))
    scores = _ctc_scores(out / "sample_2dt_ctc", _ctc_ground_truth(gt, tmp_path / "gt"))
    print(f"\n2D+t sample CTC scores: DET={scores['DET']:.3f} SEG={scores['SEG']:.3f} TRA={scores['TRA']:.3f}")
    det, seg, tra = quality["ctc_2d"]
    assert scores["DET"] >= det and scores["SEG"] >= seg and scores["TRA"] >= tra


def test_demo_xml_read_by_pytrackmate_and_ours(demo2d, quality):
    pytrackmate = pytest.importorskip("pytrackmate")
    out, _ = demo2d
    xml = out / "sample_2dt.xml"
    ours = read_trackmate_xml(xml)
    df = pytrackmate.trackmate_peak_import(str(xml), get_tracks=True)
    rows = list(csv.DictReader(open(out / "sample_2dt_spots.csv")))[3:]  # TrackMate layout: names, short names, units
    assert len(df) == len(ours.spots) == len(rows) > 0
    assert len(ours.rois) == len(ours.spots)  # every 2D spot carries its polygon
    assert ours.spatial_units == "um" and ours.settings["ImageData"]["pixelwidth"] == "0.5"
    assert ours.settings["DetectorSettings"]["CELLPOSE_MODEL"] == "CUSTOM"
    assert df["label"].nunique() == len(ours.tracks) + sum(1 for r in rows if r["TRACK_ID"] == "")
    # ROI polygons sit on their objects: the label image holds the spot's ID at the polygon centre
    lab = tifffile.imread(out / "sample_2dt_labels.tif")
    lab = lab.reshape(-1, *lab.shape[-2:])
    hits = sum(lab[int(s["FRAME"]), int(round(s["POSITION_Y"] / 0.5)), int(round(s["POSITION_X"] / 0.5))] == i + 1
               for i, s in ours.spots.items())
    assert hits >= quality["xml_hits"] * len(ours.spots)


def test_3d_meshes_read_by_trimesh(run3d):
    trimesh = pytest.importorskip("trimesh")
    out, _, _ = run3d
    xml = out / "sample3d_2t.xml"
    ours = read_trackmate_xml(xml)
    with zipfile.ZipFile(str(xml) + ".meshes") as zf:
        info = zf.read("mesh-info.txt").decode().splitlines()
        assert info[0] == "frame,ID" and len(info) - 1 == len(ours.spots) > 0
        lab = tifffile.imread(out / "sample3d_2t_labels.tif")  # T Z Y X, label = spot ID + 1
        n_ok = 0
        for line in info[1:]:
            frame, sid = map(int, line.split(","))
            assert ours.spots[sid]["FRAME"] == frame
            m = trimesh.load(trimesh.util.wrap_as_stream(zf.read(f"{sid}.ply")), file_type="ply", process=False)
            m = trimesh.Trimesh(m.vertices, m.faces, process=True)
            assert m.is_watertight and m.volume > 0, sid
            voxels = np.count_nonzero(lab[frame] == sid + 1) * 0.5 * 0.5 * 1.0
            n_ok += abs(m.volume - voxels) <= 0.35 * voxels
            centre = [ours.spots[sid][k] for k in ("POSITION_X", "POSITION_Y", "POSITION_Z")]
            assert np.allclose(m.center_mass, centre, atol=1.5), (sid, m.center_mass, centre)
        assert n_ok >= 0.8 * (len(info) - 1)


def test_3d_ctc_scores_against_ground_truth(run3d, quality):
    out, gt, work = run3d
    scores = _ctc_scores(out / "sample3d_2t_ctc", _ctc_ground_truth(gt, work / "gt"))
    print(f"\n3D+t sample (2 frames, --2dz) CTC scores: DET={scores['DET']:.3f} SEG={scores['SEG']:.3f} "
          f"TRA={scores['TRA']:.3f}")
    det, seg, tra = quality["ctc_3d"]
    assert scores["DET"] >= det and scores["SEG"] >= seg and scores["TRA"] >= tra
