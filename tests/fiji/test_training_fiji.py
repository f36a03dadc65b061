"""Retraining with real TrackMate (FIJI_DIR): from XMLs that TrackMate itself wrote, and through its action API.

* TrackMate's own label-image detector outlines the truth labels of synthetic membrane-stained cells (a texture the
  bundled test model never saw) and TrackMate's own writer saves the curated XML; ``train_from_trackmate`` retrains
  the bundled model on four of its frames: on the two held-out frames F1 at IoU 0.5 rises by at least
  ``F1_MARGIN_2D``. On v9 the same for 3D stacks from the ``.meshes`` file (full 3D mode), by ``F1_MARGIN_3D``.
* The action "Retrain cellpose on these spots" through TrackMate's ``ActionProvider`` and ``execute``: in a Fiji that
  Python started (in-process service) and in a classic launch (the Python worker trains); the model is put into the
  detector settings and detects; a cancel after the first epoch keeps that epoch's model and writes no report.

The JVM parts run in subprocesses (one JVM each); training from the XMLs runs in the pytest process.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
import tifffile
from _facts import run_facts_script
from conftest import install_into_copy  # tests/fiji/conftest.py

from trackmate_cellpose.training import TrainingOptions, agreement, read_curated, train_from_trackmate, truth_labels

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
#: held-out F1 gain demanded from retraining on TrackMate's curated spots (measured: see the README's training notes)
F1_MARGIN_2D = 0.5
F1_MARGIN_3D = 0.2

CELLPOSE_MAJOR = int(version("cellpose").split(".")[0])
needs_cp3 = pytest.mark.skipif(CELLPOSE_MAJOR != 3, reason="the F1 margins are for the bundled cellpose-3 model")


@pytest.fixture(scope="module")
def facts(tmp_path_factory, fiji_dir) -> dict:
    return run_facts_script(HERE / "training_scenarios.py", tmp_path_factory.mktemp("trainfiji"), fiji_dir,
                            timeout=1800)


def test_trackmate_wrote_the_curated_xml(facts, trackmate_line):
    x = facts["xml2d"]
    assert x["ok"], x["error"]
    truth = tifffile.imread(facts["data"]["labels2d"])
    assert x["n_spots"] == sum(int(t.max()) for t in truth)
    cur = read_curated(x["xml"])
    assert cur.curated_frames == list(range(len(truth)))
    for t in range(len(truth)):  # TrackMate's outlines, rasterised back: the truth labels
        lab, plain = truth_labels(cur, t, truth.shape[-2:], (0, 0, 0), cur.calibration)
        a = agreement(truth[t], lab)
        assert plain == 0 and a.f1 == 1.0 and a.mean_iou > 0.99, (t, a)
    if trackmate_line == "tm9":
        x3 = facts["xml3d"]
        assert x3["ok"] and x3["meshes_file"] and x3["classes"] == ["SpotMesh"], x3


@needs_cp3
def test_retraining_raises_held_out_f1_2d(facts, tmp_path, test_model):
    out = tmp_path / "membranes.pth"
    res = train_from_trackmate(facts["data"]["image2d"], facts["xml2d"]["xml"], out, model_path=str(test_model),
                               options=TrainingOptions(epochs=20, crop=96, batch_size=4, holdout_frames=(2, 5)))
    base, new = res.report["base"], res.report["new"]
    assert res.held_out_frames == [2, 5] and res.train_frames == [0, 1, 3, 4]
    assert new["f1"] >= base["f1"] + F1_MARGIN_2D, res.summary()
    assert res.report_path.is_file() and res.picture_path.is_file()


@needs_cp3
def test_retraining_from_v9_meshes_3d(facts, tmp_path, test_model, trackmate_line):
    if trackmate_line != "tm9":
        pytest.skip("3D meshes need TrackMate v9")
    out = tmp_path / "membranes3d.pth"
    res = train_from_trackmate(facts["data"]["image3d"], facts["xml3d"]["xml"], out, model_path=str(test_model),
                               options=TrainingOptions(epochs=25, crop=64, batch_size=8, holdout_frames=(2,),
                                                       images_per_epoch=24, learning_rate=2e-3))
    assert res.report["training"]["n_train_images"] > 100  # YX, ZY and ZX planes of two stacks
    assert res.report["new"]["f1"] >= res.report["base"]["f1"] + F1_MARGIN_3D, res.summary()


def _check_action(result: dict, model_path: Path):
    from trackmate_cellpose.segment import check_model
    from trackmate_cellpose.settings import DetectorSettings

    assert result["model_path"] == str(model_path) and model_path.is_file()
    assert Path(result["report_path"]).is_file() and Path(result["picture_path"]).is_file()
    assert int(result["epochs_done"]) == 3 and result["stopped"] == ""
    check_model(DetectorSettings(model="CUSTOM", model_path=str(model_path)))  # the detector takes it


def test_action_in_process(facts, tmp_path):
    a = facts["action"]
    assert "result" in a, a.get("error")
    assert a["name"] == "Retrain cellpose on these spots" and a["key"] == "RETRAIN_CELLPOSE_PY"
    assert a["error"] == "", a["log"]
    _check_action(a["result"], Path(facts["data"]["image2d"]).parent / "action.pth")
    assert a["applied"] and a["detector"]["CELLPOSE_MODEL"] == "CUSTOM"
    assert a["detector"]["CELLPOSE_MODEL_FILEPATH"] == a["result"]["model_path"]
    assert float(a["detector"]["CELL_DIAMETER"]) == pytest.approx(float(a["result"]["diameter"]))
    assert a["detected"], a["detect_error"]
    assert "epoch 1/3" in a["log"] and "F1" in a["log"]  # progress and the report's numbers in TrackMate's log


def test_action_cancel_keeps_the_best_epoch(facts):
    c = facts["cancel"]
    assert "result" in c, c.get("error")
    assert c["canceled"] and c["result"]["stopped"] == "cancelled", c["log"]
    assert c["model_exists"] and not c["report_exists"]
    assert int(c["result"]["epochs_done"]) < 200 and c["latency_s"] < 120


def test_action_in_a_classic_launch(facts, tmp_path, fiji_dir, test_model):
    """A plain JVM (no Python in it): the action trains in the Python worker."""
    from test_classic_worker import classic_launch  # the same launch as the detector's worker tests

    fiji = install_into_copy(fiji_dir, tmp_path)
    out = tmp_path / "classic.pth"
    run = classic_launch(fiji, tmp_path, "training", {
        "xml": facts["xml2d"]["xml"], "image": facts["data"]["image2d"], "model": test_model, "output": out,
        "cancelout": tmp_path / "classic_cancelled.pth"}, script=HERE / "training_action.bsh")
    f = run["facts"]
    assert f["error"] == "null", run["log"][-3000:]
    result = {k[len("result."):]: v for k, v in f.items() if k.startswith("result.")}
    _check_action(result, out)
    assert f["applied"] == "true" and f["model"] == "CUSTOM" and f["model_path"] == str(out)
    assert f["detected"] == "true", f["detect_error"]
    assert "Python worker" in run["log"]
    assert f["cancel.fired"] == "true" and f["cancel.result.stopped"] == "cancelled"
    assert Path(f["cancel.result.model_path"]).is_file()
    assert not run["left"]  # the worker ended with the JVM
