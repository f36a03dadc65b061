"""CLI runtime knobs and several inputs in one call (pipeline path with a recorded stand-in detector)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import RuntimeOptions, pipeline
from trackmate_cellpose.cli import main
from support.export_fixtures import discs_result


def _tif(path):
    tifffile.imwrite(path, np.zeros((3, 64, 64), np.uint16), imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "TYX", "unit": "micron", "finterval": 2.0})
    return path


@pytest.fixture
def seen(monkeypatch):
    calls = []

    def fake(image, settings, runtime, on_progress, say):
        calls.append((image.path.name, runtime))
        on_progress(1.0, "")
        return discs_result([[(15 + t, 15, 6)] for t in range(3)])

    monkeypatch.setattr(pipeline, "_detect", fake)
    return calls


def test_several_inputs_each_get_outputs_and_runtime_reaches_detect(tmp_path, seen):
    a, b = _tif(tmp_path / "a.tif"), _tif(tmp_path / "b.tif")
    out = tmp_path / "out"
    rc = main(["run", str(a), str(b), "-o", str(out), "--quiet", "--formats", "xml,csv", "--workers", "3",
               "--frames-per-batch", "2", "--device", "cpu"])
    assert rc == 0
    assert [n for n, _ in seen] == ["a.tif", "b.tif"]
    assert all(rt == RuntimeOptions(device="cpu", frames_per_batch=2, workers=3) for _, rt in seen)
    assert seen[0][1].inference == "auto"  # the default: ONNX Runtime where it can run, else PyTorch's fast path
    assert (out / "a.xml").is_file() and (out / "b.xml").is_file()
    # the runtime knobs are not saved with the scientific settings
    assert "workers" not in (out / "a.xml").read_text().lower()


def test_scheduler_option_and_duplicate_names_refused(tmp_path, seen, capsys):
    a = _tif(tmp_path / "a.tif")
    (tmp_path / "sub").mkdir()
    a2 = _tif(tmp_path / "sub" / "a.tif")
    assert main(["run", str(a), str(a2), "-o", str(tmp_path / "o"), "--quiet"]) == 2
    assert "distinct names" in capsys.readouterr().err
    assert main(["run", str(a), "-o", str(tmp_path / "o2"), "--quiet", "--formats", "csv",
                 "--scheduler", "tcp://127.0.0.1:1"]) == 0
    assert seen[-1][1].scheduler == "tcp://127.0.0.1:1"
    assert main(["run", str(a), "-o", str(tmp_path / "o3"), "--quiet", "--frames-per-batch", "0"]) == 2


def test_inference_option_reaches_detect_and_a_bad_value_names_the_flag(tmp_path, seen, capsys):
    a = _tif(tmp_path / "a.tif")
    assert main(["run", str(a), "-o", str(tmp_path / "o"), "--quiet", "--formats", "csv",
                 "--inference", "cellpose"]) == 0
    assert seen[-1][1] == RuntimeOptions(inference="cellpose")
    with pytest.raises(SystemExit) as e:
        main(["run", str(a), "-o", str(tmp_path / "o2"), "--quiet", "--inference", "tensorrt"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--inference" in err and "tensorrt" in err and "onnx" in err
