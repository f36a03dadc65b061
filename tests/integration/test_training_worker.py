"""Training in the classic launch's Python worker, over its real protocol (``T`` request, ``K`` result), with the
test client of ``test_bridge_worker.py`` playing Java: pixels through the mapped file, progress and log lines, the
result map, a cancel (``C``) that keeps the best epoch, and a detection with the new model in the same worker."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from test_bridge_worker import Client, _settings

from support.envs import CELLPOSE_MAJOR
from support.curated import curated_xml, write_image
from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.data import membrane_movie_2d

pytestmark = [pytest.mark.slow]

CAL = Calibration(x=0.5, y=0.5, z=1.0, t=5.0, space_unit="um", time_unit="s")


def _train(c: Client, rid: int, frames: np.ndarray, settings: dict, options: dict) -> None:
    c.send(b"T" + struct.pack(">i", rid) + c.typed_map(options) + c.typed_map(settings)
           + c.frames_body(frames, (CAL.x, CAL.y, CAL.z, CAL.t), name="cells"))


def _serve(c: Client, frames: np.ndarray, on_log=None) -> dict:
    """Answer frame requests until E (as Java does for a training request); collect everything, K included."""
    got: dict = {"logs": [], "progress": [], "fail": None, "frames_sent": [], "result": {}}
    while True:
        tag = c.exact(1)
        if tag == b"K":
            got["result"] = {c.s(): c.s() for _ in range(c.i32())}
        elif tag == b"F":
            i = c.i32()
            data = np.ascontiguousarray(frames[i], dtype="<u2").tobytes()
            c.pixels.write_bytes(data)
            p = str(c.pixels).encode()
            c.send(b"P" + struct.pack(">i", i) + struct.pack(">i", len(p)) + p + struct.pack(">q", len(data))
                   + struct.pack(">i", 0))
            got["frames_sent"].append(i)
        elif tag == b"G":
            got["progress"].append((struct.unpack(">d", c.exact(8))[0], c.s()))
        elif tag == b"L":
            got["logs"].append(c.s())
            if on_log:
                on_log(got["logs"][-1])
        elif tag == b"X":
            got["fail"] = (c.s(), c.s())
        elif tag == b"E":
            got["id"], got["status"] = c.i32(), struct.unpack(">b", c.exact(1))[0]
            return got
        else:
            raise AssertionError(f"unexpected message {tag!r}")


def test_worker_trains_reports_and_detects_with_the_new_model(tmp_path, test_model):
    img, lab = membrane_movie_2d(3, shape_yx=(64, 64), n_objects=4)
    ip = write_image(tmp_path / "cells.tif", img[:, None], CAL)
    xml = curated_xml(tmp_path / "cells.xml", ip, lab[:, None], CAL)
    crop = {} if CELLPOSE_MAJOR == 4 else {"CROP": 64}
    c = Client(tmp_path / "shared")
    try:
        hello = c.hello()
        assert hello["train"] == "1"
        out = tmp_path / "worker.pth"
        _train(c, 5, img, _settings(test_model), {"XML": str(xml), "OUTPUT": str(out), "EPOCHS": 2, "BATCH_SIZE": 2, "MODEL_PATH": str(test_model),
                                                 "HOLDOUT_FRACTION": 0.34, "LEARNING_RATE": 0.0, **crop})
        got = _serve(c, img)
        assert got["id"] == 5 and got["status"] == 0 and got["fail"] is None, got["fail"]
        r = got["result"]
        assert r["model_path"] == str(out) and out.is_file() and r["stopped"] == "" and r["epochs_done"] == "2"
        assert {"f1_base", "f1_new", "found_new", "n_true", "report_path", "picture_path", "diameter"} <= set(r)
        assert sorted(set(got["frames_sent"])) == [0, 1, 2]
        assert any("epoch 1/2" in m for m in got["logs"]) and got["progress"]
        # the same worker detects with the new model
        settings = {**_settings(test_model), "CELLPOSE_MODEL_FILEPATH": str(out), "CELL_DIAMETER": float(r["diameter"])}
        c.request(6, img[:1], settings)
        det = c.serve(img[:1])
        assert det["status"] == 0 and det["fail"] is None, det["fail"]
        # a cancel after the first epoch: the best epoch so far is kept, no report
        stopped = tmp_path / "stopped.pth"
        _train(c, 7, img, _settings(test_model), {"XML": str(xml), "OUTPUT": str(stopped), "EPOCHS": 100, "MODEL_PATH": str(test_model),
                                                 "BATCH_SIZE": 2, "HOLDOUT_FRACTION": 0.34, **crop})
        got = _serve(c, img, on_log=lambda m: m.startswith("epoch 1/100") and c.send(b"C" + struct.pack(">i", 7)))
        assert got["status"] == 1 and got["result"]["stopped"] == "cancelled", got
        assert stopped.is_file() and got["result"]["report_path"] == ""
    finally:
        c.proc.stdin.close()
        c.proc.wait(60)
    assert c.proc.returncode == 0
