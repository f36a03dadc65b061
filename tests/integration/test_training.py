"""Retraining with real cellpose training (``train_seg`` of the installed cellpose: 3.x with the bundled model, 4.x with
the tiny Cellpose-SAM), kept tiny: a few 64 x 64 frames, 2-3 epochs.

* the model file passes the detector's model check and detects as CUSTOM (Python API and CLI ``run``);
* the report (JSON + PNG) is written beside it, with the numbers printed;
* a cancel after the first epoch keeps that epoch (no report, no temporary file left); a cancel before it writes
  nothing; Ctrl-C on the CLI does the same with exit code 130;
* the CLI's bad input: exit 2, one line, nothing written.

The F1 gain on a case the bundled model is weak at is asserted against XMLs real TrackMate wrote
(``tests/fiji/test_training_fiji.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from support.envs import CELLPOSE_MAJOR, TINY_CPSAM
from support.curated import curated_xml, write_image
from trackmate_cellpose.data import membrane_movie_2d
from trackmate_cellpose import Calibration, DetectorSettings, detect
from trackmate_cellpose.errors import Cancelled
from trackmate_cellpose.training import TrainingOptions, train_from_trackmate

pytestmark = [pytest.mark.slow]

CAL = Calibration(x=0.5, y=0.5, z=1.0, t=1.0, space_unit="um", time_unit="s")
#: cellpose 4 trains on 256 x 256 crops only; cellpose 3 on anything from 32 (multiple of 16)
CROP = None if CELLPOSE_MAJOR == 4 else 64


@pytest.fixture()
def curated(tmp_path):
    img, lab = membrane_movie_2d(3, shape_yx=(64, 64), n_objects=4)
    ip = write_image(tmp_path / "cells.tif", img[:, None], CAL)
    return ip, curated_xml(tmp_path / "cells.xml", ip, lab[:, None], CAL), img


def _opts(**kw) -> TrainingOptions:
    return TrainingOptions(**{"epochs": 2, "crop": CROP, "batch_size": 2, "holdout_frames": (2,), **kw})


def test_model_report_and_detection(curated, tmp_path, test_model):
    ip, xp, img = curated
    out = tmp_path / "new.pth"
    steps = []
    res = train_from_trackmate(ip, xp, out, model_path=str(test_model), options=_opts(),
                               progress=lambda f, m: steps.append((f, m)))
    assert res.model_path == out and out.is_file() and res.epochs_done == 2 and res.stopped == ""
    assert steps and steps[-1][0] == 1.0 and any("loss" in m for _, m in steps)
    rep = json.loads(res.report_path.read_text())
    assert rep["held_out"] and rep["evaluation_frames"] == [2]
    assert rep["training"]["cellpose_major"] == CELLPOSE_MAJOR and len(rep["training"]["train_loss"]) == 2
    for key in ("base", "new"):
        assert {"n_found", "f1", "mean_iou", "n_true"} <= set(rep[key]) and rep[key]["n_true"] == int(
            (rep[key]["tp"] + rep[key]["fn"]))
    assert res.picture_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "F1" in res.summary() and str(out) in res.summary()
    # the detector takes it: the model check, and a detection with CELLPOSE_MODEL=CUSTOM
    settings = DetectorSettings(model="CUSTOM", model_path=str(out), diameter=res.diameter, use_gpu=False)
    from trackmate_cellpose.segment import check_model

    assert check_model(settings).path == str(out)
    result = detect(img[:1], settings, axes="tyx", calibration=CAL)
    assert len(result.frames) == 1
    assert not list(tmp_path.glob("*.part"))


def test_cancel_after_the_first_epoch_keeps_it(curated, tmp_path, test_model):
    ip, xp, _ = curated
    out = tmp_path / "stopped.pth"
    lines: list[str] = []
    res = train_from_trackmate(ip, xp, out, model_path=str(test_model), options=_opts(epochs=50),
                               log=lines.append, cancel=lambda: any(ln.startswith("epoch 1/50") for ln in lines))
    assert res.stopped == "cancelled" and res.epochs_done == 1 and res.best_epoch == 0
    assert out.is_file() and res.report is None and not out.with_suffix(".report.json").exists()
    assert not list(tmp_path.glob(".*.part"))


def test_cancel_before_the_first_epoch_writes_nothing(curated, tmp_path, test_model):
    ip, xp, _ = curated
    before = sorted(tmp_path.iterdir())
    with pytest.raises(Cancelled, match="nothing written"):
        train_from_trackmate(ip, xp, tmp_path / "none.pth", model_path=str(test_model), options=_opts(),
                             cancel=lambda: True)
    assert sorted(tmp_path.iterdir()) == before


def _cli(*args, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "trackmate_cellpose", "train", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env, **kw)


def test_cli_train_then_run_with_the_model(curated, tmp_path, test_model):
    ip, xp, _ = curated
    out = tmp_path / "cli.pth"
    crop = ["--crop", str(CROP)] if CROP else []
    proc = _cli(ip, "--from", xp, "-o", out, "--model-path", test_model, "--epochs", 2, "--batch-size", 2,
                "--holdout-frames", 2, *crop)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and out.with_suffix(".report.json").is_file() and out.with_suffix(".report.png").is_file()
    assert "F1" in proc.stdout and "CELLPOSE_MODEL=CUSTOM" in proc.stdout
    again = _cli(ip, "--from", xp, "-o", out, "--model-path", test_model, "--epochs", 1)
    assert again.returncode == 2 and "--overwrite" in again.stderr  # nothing replaced
    run = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "run", ip, "-o", tmp_path / "run",
                          "--model-path", out, "--diameter", "0", "--cpu", "--formats", "xml", "-q"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run" / "cells.xml").is_file()


@pytest.mark.parametrize("case", ["size", "no_curated", "empty_frames", "no_rois", "other_major", "bad_frames"])
def test_cli_bad_input_exit_2_nothing_written(curated, tmp_path, test_model, case):
    ip, xp, img = curated
    args = [ip, "--from", xp, "-o", tmp_path / "m.pth", "--model-path", test_model, "--epochs", 1]
    want = ""
    if case == "size":
        args[0] = write_image(tmp_path / "small.tif", img[:, None, :32], CAL)
        want = "made on an image of 64 x 64"
    elif case == "no_curated":
        args[2] = curated_xml(tmp_path / "hidden.xml", ip, img[:, None] * 0, CAL)
        want = "no curated frame"
    elif case == "empty_frames":
        args += ["--frames", "0,7"]
        want = "--frames [7]"
    elif case == "no_rois":
        from trackmate_cellpose.data import membrane_movie_2d as movie

        args[2] = curated_xml(tmp_path / "norois.xml", ip, movie(3, shape_yx=(64, 64), n_objects=4)[1][:, None], CAL,
                              rois=False)
        want = "has an outline"
    elif case == "other_major":
        from trackmate_cellpose import test_model_path

        args[6] = test_model_path() if CELLPOSE_MAJOR == 4 else TINY_CPSAM
        want = f"the installed cellpose is {CELLPOSE_MAJOR}"
    elif case == "bad_frames":
        args += ["--frames", "2-1"]
        want = "--frames"
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = _cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("trackmate-cellpose: error: ") and want in lines[0], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cli_ctrl_c_keeps_the_best_epoch(curated, tmp_path, test_model):
    ip, xp, _ = curated
    out = tmp_path / "sigint.pth"
    crop = ["--crop", str(CROP)] if CROP else []
    cmd = [sys.executable, "-m", "trackmate_cellpose", "train", str(ip), "--from", str(xp), "-o", str(out),
           "--model-path", str(test_model), "--epochs", "200", "--batch-size", "2", "--holdout-frames", "2", *crop]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err = []
    deadline = time.monotonic() + 600
    for line in proc.stderr:  # the first epoch's log line, then Ctrl-C
        err.append(line)
        if "epoch 1/200" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest_out, rest_err = proc.communicate(timeout=300)
    err.append(rest_err)
    assert proc.returncode == 130, "".join(err)
    assert out.is_file() and not out.with_suffix(".report.json").exists()
    assert "the best epoch so far" in "".join(err)
    assert not list(tmp_path.glob(".*.part"))
