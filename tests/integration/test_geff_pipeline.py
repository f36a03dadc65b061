"""``run --formats geff`` end to end on six frames of the bundled 2D+t sample (bundled model, CPU), scored with
traccuracy against the sample's synthetic ground truth; ``convert`` on the command line.

Oracle: traccuracy's CTC metrics computed from the GEFF (graph + its ``labels`` array) equal those computed from the
Cell Tracking Challenge folder the same run wrote - two exports of one result, read by two different loaders.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import tifffile

from trackmate_cellpose.cli import main
from trackmate_cellpose.data import sample_path
from trackmate_cellpose.reader import read_image

pytestmark = pytest.mark.slow
geff = pytest.importorskip("geff")
N_FRAMES = 6


def _ctc_ground_truth(gt_tyx: np.ndarray, root: Path) -> Path:
    """CTC ground truth (TRA) from a label movie whose labels are track ids (the sample has no divisions)."""
    root.mkdir(parents=True)
    spans: dict[int, list[int]] = {}
    for t, lab in enumerate(gt_tyx):
        tifffile.imwrite(root / f"man_track{t:03d}.tif", np.asarray(lab, np.uint16))
        for v in np.unique(lab)[1:]:
            spans.setdefault(int(v), []).append(t)
    (root / "man_track.txt").write_text("".join(f"{v} {min(ts)} {max(ts)} 0\n" for v, ts in sorted(spans.items())))
    return root


@pytest.fixture(scope="module")
def run2d(tmp_path_factory, test_model):
    work = tmp_path_factory.mktemp("geffrun")
    src = read_image(sample_path("2dt"))
    cal = src.calibration
    movie = work / "movie.tif"
    tifffile.imwrite(movie, src.array[:N_FRAMES, 0, 0], imagej=True, resolution=(1 / cal.x, 1 / cal.y),
                     metadata={"axes": "TYX", "unit": "micron", "finterval": cal.t})
    out = work / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["run", str(movie), "-o", str(out), "--model-path", str(test_model), "--diameter", "10", "--cpu",
                   "--formats", "xml,ctc,geff,csv", "--csv-style", "plain", "--quiet"])
    assert rc == 0
    gt = tifffile.imread(sample_path("2dt", ground_truth=True))[:N_FRAMES]
    return out, gt, work


def mem_meta(g):
    from geff import GeffMetadata

    return GeffMetadata.read(str(g))


def test_geff_is_written_valid_and_equals_the_xml(run2d):
    from geff.core_io import read_to_memory
    from geff.validate.data import ValidationConfig

    from trackmate_cellpose.export._xml_read import read_trackmate_xml

    out, _, work = run2d
    g = out / "movie.geff"
    geff.validate_structure(str(g))
    # the source image is found from where the store ends up (it is written in a staging folder, then moved)
    image = next(o for o in mem_meta(g).related_objects if o.type == "image")
    assert (g / image.path).resolve() == (work / "movie.tif").resolve()
    mem = read_to_memory(str(g), data_validation=ValidationConfig(graph=True, sphere=True, lineage=True))
    xml = read_trackmate_xml(out / "movie.xml")
    assert sorted(int(i) for i in mem["node_ids"]) == sorted(xml.spots) and xml.spots
    assert sorted(map(tuple, mem["edge_ids"].tolist())) == sorted(
        (int(e["SPOT_SOURCE_ID"]), int(e["SPOT_TARGET_ID"])) for e in xml.edges)
    x = dict(zip((int(i) for i in mem["node_ids"]), mem["node_props"]["POSITION_X"]["values"]))
    assert all(x[i] == s["POSITION_X"] for i, s in xml.spots.items())
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no staging or temporary XML left
    assert (out / "movie_spots.csv").read_text().count("\n") == len(xml.spots) + 1  # plain: one header row


def _perturbed(gt: np.ndarray) -> np.ndarray:
    """Ground truth with known faults, so that the scores are not all perfect: one object erased in frame 0 (a false
    positive node and edge for the prediction) and two tracks swapping labels from frame 3 on (wrong links)."""
    gt = gt.copy()
    a, b = (int(v) for v in np.unique(gt[3])[1:3])
    gt[0][gt[0] == int(np.unique(gt[0])[-1])] = 0
    later = gt[3:]
    ma, mb = later == a, later == b
    later[ma], later[mb] = b, a
    return gt


@pytest.mark.parametrize("faults", [False, True], ids=["true-gt", "perturbed-gt"])
def test_traccuracy_scores_the_geff_like_the_ctc_export(run2d, faults):
    traccuracy = pytest.importorskip("traccuracy")
    from traccuracy.loaders import load_ctc_data, load_geff_data
    from traccuracy.matchers import CTCMatcher
    from traccuracy.metrics import CTCMetrics

    out, gt_labels, work = run2d
    gt_dir = str(_ctc_ground_truth(_perturbed(gt_labels) if faults else gt_labels, work / f"GT{faults}" / "TRA"))
    from_geff = load_geff_data(str(out / "movie.geff"), seg_path=str(out / "movie.geff" / "labels"),
                               seg_property="seg_id", name="geff")
    from_ctc = load_ctc_data(str(out / "movie_ctc"), name="ctc")
    scores = {}
    for name, pred in (("geff", from_geff), ("ctc", from_ctc)):
        gt = load_ctc_data(gt_dir, name="gt")  # fresh: run_metrics annotates the graphs it scores
        results, _ = traccuracy.run_metrics(gt_data=gt, pred_data=pred, matcher=CTCMatcher(), metrics=[CTCMetrics()])
        scores[name] = results[0]["results"]
    print("traccuracy CTC metrics:", scores)
    assert scores["geff"] == pytest.approx(scores["ctc"], abs=1e-9)  # every count and score
    if faults:
        assert scores["geff"]["fp_nodes"] > 0 and scores["geff"]["fp_edges"] > 0 and scores["geff"]["TRA"] < 1
    else:
        assert scores["geff"]["DET"] > 0.5  # the bundled model does find the sample's blobs


def test_convert_command_round_trip(run2d, capsys):
    from trackmate_cellpose.export._xml_read import read_trackmate_xml

    out, _, work = run2d
    g = work / "conv.geff"
    assert main(["convert", str(out / "movie.xml"), str(g)]) == 0
    assert main(["convert", str(out / "movie.xml"), str(g)]) == 2  # exists
    assert "already exists" in capsys.readouterr().err
    assert main(["convert", str(out / "movie.xml"), str(g), "--overwrite"]) == 0
    assert main(["convert", str(g), str(work / "back.xml")]) == 0
    assert main(["convert", str(g), str(work / "back.csv")]) == 2
    a, b = read_trackmate_xml(out / "movie.xml"), read_trackmate_xml(work / "back.xml")
    assert a.spots == b.spots and a.edges == b.edges and a.tracks == b.tracks and a.settings_xml == b.settings_xml
