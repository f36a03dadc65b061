"""Library errors do not leak through (#25 item 6): extreme numeric values are refused before any work with our
message (never an OpenCV assertion or a huge allocation), doctor reports a bad settings file as one failed line and
goes on, duplicate keys in a settings file are refused, and messages name things once, in words.

The real command line and API; every refusal here happens before cellpose runs, so these tests cost seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import DetectorSettings, detect
from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.cli import main
from trackmate_cellpose.errors import InvalidSettingsError


def _tif(path, shape, axes):
    data = np.random.default_rng(0).integers(0, 500, shape).astype(np.uint16)
    tifffile.imwrite(path, data, imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": axes, "unit": "micron", "spacing": 1.0})
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("limits")
    return {"2d": _tif(d / "img2d.tif", (2, 64, 64), "TYX"), "3d": _tif(d / "img3d.tif", (1, 8, 40, 40), "TZYX")}


def _error_line(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


_FOREIGN = ("OpenCV", "Assertion", "array is too big", "OverflowError", "integer division", "anisotropy too high",
            "index can't contain", "cellpose failed")


@pytest.mark.parametrize("image, option, value, starts", [
    ("2d", "--diameter", "1e-9", "--diameter (CELL_DIAMETER) must be at least"),
    ("2d", "--diameter", "1e300", "--diameter (CELL_DIAMETER) must be at most"),
    ("2d", "--pixel-size", "1e-300", "--diameter (CELL_DIAMETER) must be at most"),
    ("2d", "--pixel-size", "1e300", "--diameter (CELL_DIAMETER) must be at least"),
    ("3d", "--z-step", "1e-300", "--z-step (calibration z) must be at least"),
    ("3d", "--z-step", "1e300", "--z-step (calibration z) 1e+300 um"),
    ("3d", "--smoothing", "1e6", "--smoothing (SMOOTHING_SCALE) must be at most"),
])
def test_extreme_values_are_refused_before_any_work(tmp_path, capsys, images, test_model, image, option, value,
                                                    starts):
    out = tmp_path / "out"
    rc = main(["run", str(images[image]), "-o", str(out), "--model-path", str(test_model), "--cpu", "-q",
               option, value])
    line = _error_line(capsys)
    assert rc == 2, line
    assert line.startswith(f"trackmate-cellpose: error: {starts}"), line
    assert not any(word in line for word in _FOREIGN), line
    assert not out.exists()


def test_the_api_refuses_them_before_loading_a_model():
    img = np.zeros((1, 64, 64), np.float32)
    cal = Calibration(x=0.5, y=0.5, z=1.0, t=1.0, space_unit="um", time_unit="s")
    # a model that does not exist: the check must come first (no model is loaded, no cellpose call)
    settings = DetectorSettings(model="CUSTOM", model_path="/no/such/model.pth", diameter=1e-9)
    with pytest.raises(InvalidSettingsError, match="CELL_DIAMETER must be at least") as e:
        detect(img, settings, axes="tyx", calibration=cal)
    assert e.value.key == "CELL_DIAMETER" and e.value.value == 1e-9


def test_run_limits_follow_the_memory_and_the_image():
    from trackmate_cellpose._input import check_run_limits

    cal = Calibration(x=1.0, y=1.0, z=2.0, t=1.0, space_unit="um", time_unit="s")
    s = DetectorSettings(diameter=30.0)
    check_run_limits(s, cal, (1, 1, 1, 512, 512), memory_bytes=64 << 20)  # 512x512 at rescale 1: 4 MiB
    with pytest.raises(InvalidSettingsError, match="this machine has 1 MiB"):
        check_run_limits(s, cal, (1, 1, 1, 512, 512), memory_bytes=1 << 20)
    check_run_limits(s.replace(diameter=3.0), cal, (1, 1, 1, 64, 64))  # 10x larger: fine here
    with pytest.raises(InvalidSettingsError, match="SMOOTHING_SCALE must be at most the image.s extent, 40 um"):
        check_run_limits(s.replace(smoothing_scale=41.0), cal, (1, 1, 20, 40, 40))
    check_run_limits(s.replace(smoothing_scale=41.0, do_2dz=True), cal, (1, 1, 1, 40, 40))  # 2D: not used


def test_doctor_reports_a_bad_settings_file_as_one_failed_line_and_goes_on(tmp_path, capsys):
    bad = tmp_path / "BAD.json"
    bad.write_text('{"CELL_DIAMETER": -5}')
    rc = main(["doctor", "--settings", str(bad), "--fiji", str(tmp_path / "nofiji")])
    out = capsys.readouterr().out
    assert rc == 1
    fails = [ln for ln in out.splitlines() if ln.startswith("[FAIL] settings")]
    assert len(fails) == 1 and "BAD.json" in fails[0] and "CELL_DIAMETER must be >= 0.0, got -5.0" in fails[0], out
    for name in ("python", "torch", "cellpose", "java"):  # the other checks ran
        assert any(ln.split()[2:3] == [name] or ln[7:].startswith(name) for ln in out.splitlines()), (name, out)


def test_duplicate_keys_in_a_settings_file_are_refused(tmp_path, capsys):
    dup = tmp_path / "dup.json"
    dup.write_text('{"CELL_DIAMETER": 5, "CELL_DIAMETER": 7}')
    with pytest.raises(InvalidSettingsError, match="gives CELL_DIAMETER more than once"):
        DetectorSettings.from_json(dup.read_text())
    assert main(["run", str(tmp_path / "x.tif"), "-o", str(tmp_path / "o"), "--settings", str(dup)]) == 2
    line = _error_line(capsys)
    assert "dup.json" in line and "CELL_DIAMETER more than once (5, then 7)" in line, line


@pytest.mark.parametrize("content, words", [
    (b"", "the file is empty"),
    (b"\x13\x37random bytes, not a model", "it is not a PyTorch file"),
])
def test_a_bad_model_file_is_named_once_in_words(tmp_path, capsys, content, words):
    model = tmp_path / "model.pth"
    model.write_bytes(content)
    assert main(["run", str(tmp_path / "x.tif"), "-o", str(tmp_path / "o"), "--model-path", str(model)]) == 2
    line = _error_line(capsys)
    assert line.count("--model-path") == 1 and line.count("CELLPOSE_MODEL_FILEPATH") == 1, line
    assert words in line, line


def test_a_truncated_model_file_is_said_to_be_damaged(tmp_path, capsys, test_model):
    model = tmp_path / "cut.pth"
    model.write_bytes(test_model.read_bytes()[:5000])
    assert main(["run", str(tmp_path / "x.tif"), "-o", str(tmp_path / "o"), "--model-path", str(model)]) == 2
    line = _error_line(capsys)
    assert "damaged or incomplete" in line and "Errno" not in line, line


def test_a_malformed_xml_is_named_with_its_file(tmp_path, capsys):
    bad = tmp_path / "bad.xml"
    bad.write_text("<TrackMate><Model>")
    assert main(["convert", str(bad), str(tmp_path / "out.geff")]) == 2
    line = _error_line(capsys)
    assert str(bad) in line and "cannot be read as a TrackMate XML" in line and "not well-formed" in line, line
