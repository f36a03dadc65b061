"""CLI behaviour without cellpose inference: bad inputs (exit 2, one line, nothing written), runtime failures
(exit 1, nothing half-written), and the full run path with a stubbed detector. Fast: no model is loaded."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import pipeline
from trackmate_cellpose.cli import main
from support.export_fixtures import discs_result


def _tif(path, data, axes="TYX"):
    tifffile.imwrite(path, data, imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": axes, "unit": "micron", "finterval": 2.0})
    return path


def _stub_detect(monkeypatch, frames=None):
    frames = frames or [[(15 + t, 15, 6), (45, 45 - t, 8)] for t in range(4)]

    def fake(image, settings, runtime, on_progress, say):
        on_progress(1.0, "")
        return discs_result(frames)

    monkeypatch.setattr(pipeline, "_detect", fake)


def _only_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("trackmate-cellpose: error: ")
    return lines[0]


@pytest.mark.parametrize("case", ["missing", "unsupported_axes", "not_image", "zero_size", "nan", "unwritable",
                                  "bad_format", "bad_setting"])
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, capsys, monkeypatch, case):
    _stub_detect(monkeypatch)
    inp = tmp_path / "in.tif"
    out = tmp_path / "out"
    extra: list[str] = []
    if case == "missing":
        inp = tmp_path / "nope.tif"
    elif case == "unsupported_axes":
        tifffile.imwrite(inp, np.zeros((2, 3, 16, 16), np.uint8), photometric="minisblack", metadata=None)
    elif case == "not_image":
        inp.write_text("not a tiff at all")
    elif case == "zero_size":
        inp.write_bytes(b"")
    elif case == "nan":
        a = np.ones((3, 16, 16), np.float32)
        a[1, 2, 2] = np.nan
        _tif(inp, a)
    elif case == "unwritable":
        _tif(inp, np.zeros((4, 64, 64), np.uint16))
        blocker = tmp_path / "file"
        blocker.write_text("x")
        out = blocker / "out"  # a parent that is a file: cannot be created (works even as root)
    elif case == "bad_format":
        _tif(inp, np.zeros((4, 64, 64), np.uint16))
        extra = ["--formats", "xml,pdf"]
    elif case == "bad_setting":
        _tif(inp, np.zeros((4, 64, 64), np.uint16))
        extra = ["--flow", "-1"]
    rc = main(["run", str(inp), "-o", str(out), "--quiet", *extra])
    err = capsys.readouterr().err
    assert rc == 2, err
    line = _only_line(err)
    expect = {"missing": "not found", "unsupported_axes": "--axes", "not_image": "not a readable TIFF",
              "zero_size": "in.tif", "nan": "NaN", "unwritable": "not a folder", "bad_format": "pdf",
              "bad_setting": "FLOW_THRESHOLD"}[case]
    assert expect in line
    if out.exists():
        assert not any(out.iterdir()), list(out.iterdir())


def test_runtime_failure_exit_1_leaves_nothing_half_written(tmp_path, capsys, monkeypatch):
    _stub_detect(monkeypatch)
    from trackmate_cellpose import export

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, "write_ctc", boom)
    inp = _tif(tmp_path / "in.tif", np.zeros((4, 64, 64), np.uint16))
    out = tmp_path / "out"
    rc = main(["run", str(inp), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "disk on fire" in _only_line(err)
    assert not out.exists()  # staging folder gone, no XML pretending to be complete, and no empty OUTDIR left
    rc = main(["--debug", "run", str(inp), "-o", str(out), "--quiet"])
    assert rc == 1 and "Traceback" in capsys.readouterr().err


def test_run_path_with_stub_detector_writes_everything(tmp_path, capsys, monkeypatch):
    _stub_detect(monkeypatch)
    inp = _tif(tmp_path / "movie.tif", np.random.default_rng(0).integers(0, 500, (4, 64, 64)).astype(np.uint16))
    out = tmp_path / "out"
    rc = main(["run", str(inp), "-o", str(out), "--min-iou", "0.2", "--iou-mode", "fast"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["movie.xml", "movie_ctc", "movie_edges.csv", "movie_labels.tif", "movie_overlay.gif",
                     "movie_overlay.png", "movie_settings.json", "movie_spots.csv", "movie_track_labels.tif",
                     "movie_tracks.csv"]
    assert "tracks: 2" in cap.out and "objects per frame: 2 2 2 2" in cap.out
    xml = (out / "movie.xml").read_text()
    assert 'IOU_CALCULATION="FAST"' in xml and 'MIN_IOU="0.2"' in xml
    assert f'folder="{tmp_path}/"' in xml and 'filename="movie.tif"' in xml
    # --formats subset, --tracker none
    out2 = tmp_path / "out2"
    assert main(["run", str(inp), "-o", str(out2), "-q", "--formats", "xml,csv", "--tracker", "none"]) == 0
    assert sorted(p.name for p in out2.iterdir()) == ["movie.xml", "movie_edges.csv", "movie_settings.json",
                                                      "movie_spots.csv", "movie_tracks.csv"]
    assert 'TRACKER_NAME="MANUAL_TRACKER"' in (out2 / "movie.xml").read_text()


def test_settings_file_and_options_combine(tmp_path, monkeypatch):
    from trackmate_cellpose.cli._run import settings_from_args
    from trackmate_cellpose.cli import build_parser
    from trackmate_cellpose.settings import DetectorSettings

    s = tmp_path / "s.json"
    s.write_text(DetectorSettings(diameter=12.0, flow_threshold=0.6).to_json())
    model = tmp_path / "m.pth"
    model.write_bytes(b"x")
    args = build_parser().parse_args(["run", "x.tif", "-o", "o", "--settings", str(s), "--flow", "0.2",
                                      "--model-path", str(model), "--cpu", "--no-resample", "--2dz"])
    got = settings_from_args(args)
    assert (got.diameter, got.flow_threshold, got.use_gpu, got.resample, got.do_2dz) == (12.0, 0.2, False, False,
                                                                                         True)
    assert got.model == "CUSTOM" and got.model_path == str(model)


def test_doctor_runs_without_jvm(capsys):
    rc = main(["doctor", "--cpu"])
    out = capsys.readouterr().out
    assert rc in (0, 1)
    for word in ("python", "torch", "cellpose", "device", "model", "java"):
        assert word in out


def test_doctor_reports_a_missing_model_with_its_fix(capsys, tmp_path):
    rc = main(["doctor", "--model-path", str(tmp_path / "nope.pth"), "--fiji-dir", str(tmp_path / "nofiji")])
    out = capsys.readouterr().out
    assert rc == 1
    assert "[FAIL] model" in out and "fix: set CELLPOSE_MODEL_FILEPATH" in out
    assert "[FAIL] fiji" in out


def test_movie_without_any_object_is_a_normal_result(tmp_path, capsys, monkeypatch):
    _stub_detect(monkeypatch, frames=[[], [], [], []])
    inp = _tif(tmp_path / "empty.tif", np.zeros((4, 64, 64), np.uint16))
    rc = main(["run", str(inp), "-o", str(tmp_path / "out")])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "0 object(s)" in cap.out and "tracks: 0" in cap.out
    assert (tmp_path / "out" / "empty_ctc" / "res_track.txt").read_text() == ""
    assert (tmp_path / "out" / "empty.xml").read_text().count("<SpotsInFrame") == 4
