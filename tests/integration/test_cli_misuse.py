"""The command line under real misuse (issue 11): nothing lost, nothing silent.

Detection is replaced by a fixed result where the point is the CLI (outputs, checks, messages); the reader, tracker,
exporters and the output commit are the real ones. Real inference runs in ``test_cli_sigint.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import pipeline
from trackmate_cellpose.cli import main
from support.export_fixtures import discs_result

REPO = Path(__file__).resolve().parents[2]


def _tif(path, data, axes="TYX", **meta):
    tifffile.imwrite(path, data, imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": axes, "unit": "micron", "finterval": 2.0, **meta})
    return path


def _movie(path, t=4):
    return _tif(path, np.random.default_rng(0).integers(0, 500, (t, 64, 64)).astype(np.uint16))


def _stub_detect(monkeypatch, frames=None, during=None):
    calls = []
    frames = frames if frames is not None else [[(15 + t, 15, 6), (45, 45 - t, 8)] for t in range(4)]

    def fake(image, settings, runtime, on_progress, say):
        calls.append(image.path.name)
        on_progress(0.5, "frame 1")
        if during is not None:
            during(say)
        on_progress(1.0, "")
        return discs_result(frames)

    monkeypatch.setattr(pipeline, "_detect", fake)
    return calls


def _error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("trackmate-cellpose: error")]


# ---- 1. existing results are never replaced silently --------------------------------------------------------------

def test_existing_outputs_are_refused_and_overwrite_touches_only_our_files(tmp_path, capsys, monkeypatch):
    _stub_detect(monkeypatch)
    inp = _movie(tmp_path / "movie.tif")
    out = tmp_path / "out"
    assert main(["run", str(inp), "-o", str(out), "-q"]) == 0
    ctc = out / "movie_ctc"
    (ctc / "notes.txt").write_text("my notes")            # a user's own file inside our folder
    (ctc / "mask0099.tif").write_bytes(b"stale mask of a longer movie")
    (out / "mine.txt").write_text("mine")
    xml_before = (out / "movie.xml").read_bytes()
    (out / "movie.xml").write_bytes(xml_before + b"<!-- edited by the user -->")
    capsys.readouterr()

    rc = main(["run", str(inp), "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 2, err
    (line,) = _error_lines(err)
    assert "movie.xml" in line and "movie_ctc/" in line and "--overwrite" in line
    assert (out / "movie.xml").read_bytes().endswith(b"<!-- edited by the user -->")  # untouched
    assert (ctc / "mask0099.tif").exists() and (ctc / "notes.txt").exists()

    assert main(["run", str(inp), "-o", str(out), "-q", "--overwrite"]) == 0
    assert (out / "movie.xml").read_bytes() == xml_before       # replaced by a fresh, identical result
    assert (ctc / "notes.txt").read_text() == "my notes"         # the user's file survives --overwrite
    assert (out / "mine.txt").read_text() == "mine"
    assert not (ctc / "mask0099.tif").exists()                   # our stale file of the same format is gone
    assert sorted(p.name for p in ctc.iterdir()) == ["mask000.tif", "mask001.tif", "mask002.tif", "mask003.tif",
                                                     "notes.txt", "res_track.txt"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_other_formats_of_an_earlier_run_do_not_block_and_stay(tmp_path, monkeypatch):
    _stub_detect(monkeypatch)
    inp = _movie(tmp_path / "movie.tif")
    out = tmp_path / "out"
    assert main(["run", str(inp), "-o", str(out), "-q", "--formats", "csv"]) == 0
    # the settings JSON is written by every run: a second run with other formats still needs --overwrite
    assert main(["run", str(inp), "-o", str(out), "-q", "--formats", "xml"]) == 2
    assert main(["run", str(inp), "-o", str(out), "-q", "--formats", "xml", "--overwrite"]) == 0
    assert (out / "movie_spots.csv").exists() and (out / "movie.xml").exists()


# ---- 2, 4, 10. contradictory or unreadable options: exit 2, one line naming what the user typed --------------------

@pytest.mark.parametrize("case", ["model_and_path", "binary_settings", "diameter", "min_iou", "pixel_size",
                                  "channel", "bad_json", "frames_per_batch"])
def test_bad_options_exit_2_naming_the_flag(tmp_path, capsys, monkeypatch, case):
    calls = _stub_detect(monkeypatch)
    inp = _movie(tmp_path / "movie.tif")
    model = tmp_path / "m.pth"
    model.write_bytes(b"weights")
    bin_settings = tmp_path / "s.json"
    bin_settings.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x80binary")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"CELL_DIAMETER": -3}')
    extra, expect = {
        "model_and_path": (["--model", "cyto3", "--model-path", str(model)], ["--model cyto3", "--model-path"]),
        "binary_settings": (["--settings", str(bin_settings)], [str(bin_settings), "not a text (JSON) file"]),
        "diameter": (["--diameter", "-3"], ["--diameter (CELL_DIAMETER) must be >= 0", "-3"]),
        "min_iou": (["--min-iou", "2"], ["--min-iou (MIN_IOU) must be within 0 .. 1", "2"]),
        "pixel_size": (["--pixel-size", "-1"], ["--pixel-size (calibration x) must be a positive number"]),
        "channel": (["--channel", "3"], ["--channel (TARGET_CHANNEL) must be between 1 and 1", "got 3"]),
        "bad_json": (["--settings", str(bad_json)], [str(bad_json), "CELL_DIAMETER must be >= 0"]),
        "frames_per_batch": (["--frames-per-batch", "0"], ["--frames-per-batch (frames_per_batch)"]),
    }[case]
    out = tmp_path / "out"
    rc = main(["run", str(inp), "-o", str(out), "-q", *extra])
    err = capsys.readouterr().err
    assert rc == 2, err
    (line,) = _error_lines(err)
    for word in expect:
        assert word in line, line
    assert calls == [] and not out.exists()


def test_binary_settings_file_is_named_by_fiji_and_doctor_too(tmp_path, capsys):
    bin_settings = tmp_path / "s.json"
    bin_settings.write_bytes(b"\xff\xfe\x00\x00\x80\x81")
    assert main(["fiji", "--run", "x.tif", "-o", str(tmp_path / "x.xml"), "--settings", str(bin_settings)]) == 2
    assert str(bin_settings) in _error_lines(capsys.readouterr().err)[0]
    # doctor reports it as its one failed check and goes on with the others (#25 item 6): exit 1, not a usage error
    assert main(["doctor", "--settings", str(bin_settings), "--fiji", str(tmp_path / "nofiji")]) == 1
    fails = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[FAIL] settings")]
    assert len(fails) == 1 and "s.json" in fails[0], fails


# ---- 5. notices: one clean line each, never on the progress bar, third-party noise only with --debug -------------

def _emit_notices(say):
    from trackmate_cellpose.calibration import AnisotropyWarning

    say("a notice from the pipeline")
    warnings.warn("our own warning about the calibration", AnisotropyWarning)
    warnings.warn_explicit("Sparse invariant checks are implicitly disabled", UserWarning,
                           "/x/site-packages/torch/sparse/__init__.py", 42, module="torch.sparse")
    warnings.warn_explicit("torch.jit.script_method is deprecated", DeprecationWarning,
                           "/x/site-packages/torch/jit/_script.py", 365, module="torch.jit._script")
    import logging

    logging.getLogger("cellpose.models").warning("cellpose chatter")  # cellpose's own log records
    say("a notice from the pipeline")  # the same words twice: printed once


def test_notices_are_clean_lines_and_never_written_over_the_progress_bar(tmp_path, capsys, monkeypatch):
    _stub_detect(monkeypatch, during=_emit_notices)
    inp = _movie(tmp_path / "movie.tif")
    rc = main(["run", str(inp), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Sparse invariant" not in err and "deprecated" not in err and "cellpose chatter" not in err
    assert "warnings.warn" not in err and ".py:" not in err  # no file path, line number or source line
    lines = [ln.split("\r")[-1] for ln in err.split("\n")]   # what is left visible on each terminal line
    ours = [ln for ln in lines if "notice from the pipeline" in ln or "our own warning" in ln]
    assert ours == ["trackmate-cellpose: a notice from the pipeline",
                    "trackmate-cellpose: warning: our own warning about the calibration"], err
    assert "detect:" in err  # the progress bar was drawn (and cleared for the notices)


def test_debug_after_the_command_shows_everything(tmp_path, capsys, monkeypatch):
    _stub_detect(monkeypatch, during=_emit_notices)
    inp = _movie(tmp_path / "movie.tif")
    rc = main(["run", str(inp), "-o", str(tmp_path / "out"), "-q", "--debug"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Sparse invariant checks" in err and "torch/sparse/__init__.py:42" in err
    assert "trackmate-cellpose: warning: cellpose chatter [cellpose.models]" in err
    rc = main(["run", str(tmp_path / "nope.tif"), "-o", str(tmp_path / "out2"), "--debug"])
    assert rc == 2 and "Traceback" in capsys.readouterr().err


# ---- 7. failed runs leave no empty output folder ------------------------------------------------------------------

@pytest.mark.parametrize("failure", ["image", "model", "ctrl_c"])
def test_failed_run_leaves_no_folder_it_created(tmp_path, capsys, monkeypatch, failure):
    from trackmate_cellpose.errors import SegmentationError

    inp = _movie(tmp_path / "movie.tif")
    if failure == "image":  # passes the header check, fails when the pixels are read
        a = np.ones((3, 16, 16), np.float32)
        a[1, 2, 2] = np.nan
        inp = _tif(tmp_path / "nan.tif", a)
        _stub_detect(monkeypatch)
    else:
        def fail(*a, **k):
            if failure == "model":
                raise SegmentationError("the model file is not a cellpose model")
            raise KeyboardInterrupt

        monkeypatch.setattr(pipeline, "_detect", fail)
    out = tmp_path / "new" / "out"
    rc = main(["run", str(inp), "-o", str(out), "-q"])
    assert rc == {"image": 2, "model": 1, "ctrl_c": 130}[failure], capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    # a folder that existed before the run stays (with the user's files)
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("x")
    main(["run", str(inp), "-o", str(out), "-q"])
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


# ---- 8. several inputs: all checked before any detection; --keep-going --------------------------------------------

def test_every_input_is_checked_before_any_detection(tmp_path, capsys, monkeypatch):
    calls = _stub_detect(monkeypatch)
    a, c = _movie(tmp_path / "a.tif"), _movie(tmp_path / "c.tif")
    b = tmp_path / "b.tif"
    b.write_text("not an image")
    d = tmp_path / "d.tif"
    tifffile.imwrite(d, np.zeros((2, 3, 16, 16), np.uint8), photometric="minisblack", metadata=None)
    out = tmp_path / "out"
    rc = main(["run", str(a), str(b), str(c), str(d), "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and calls == [] and not out.exists(), err
    lines = _error_lines(err)
    assert any("b.tif" in ln and "not a readable TIFF" in ln for ln in lines)
    assert any("d.tif" in ln and "--axes" in ln for ln in lines)
    assert "2 of 4 inputs cannot be used" in lines[-1] and "--keep-going" in lines[-1]

    rc = main(["run", str(a), str(b), str(c), str(d), "-o", str(out), "-q", "--keep-going"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert calls == ["a.tif", "c.tif"]
    assert (out / "a.xml").exists() and (out / "c.xml").exists() and not (out / "b.xml").exists()
    tail = _error_lines(err)[-3:]
    assert "b.tif" in tail[0] and "d.tif" in tail[1] and "2 of 4 inputs processed" in tail[2]


def test_keep_going_continues_after_a_runtime_failure(tmp_path, capsys, monkeypatch):
    calls = []

    def fake(image, settings, runtime, on_progress, say):
        calls.append(image.path.name)
        if image.path.name == "a.tif":
            raise RuntimeError("cellpose crashed")
        return discs_result([[(15, 15, 6)]] * 4)

    monkeypatch.setattr(pipeline, "_detect", fake)
    a, b = _movie(tmp_path / "a.tif"), _movie(tmp_path / "b.tif")
    out = tmp_path / "out"
    assert main(["run", str(a), str(b), "-o", str(out), "-q"]) == 1 and calls == ["a.tif"]
    calls.clear()
    rc = main(["run", str(a), str(b), "-o", str(out), "-q", "--keep-going"])
    err = capsys.readouterr().err
    assert rc == 1 and calls == ["a.tif", "b.tif"] and (out / "b.xml").exists(), err
    assert "a.tif: cellpose crashed" in err


# ---- 11. one tracker definition, one default, one set of flags ----------------------------------------------------

def test_one_tracker_definition_and_default_everywhere(capsys):
    import inspect

    from trackmate_cellpose.bridge import run_trackmate
    from trackmate_cellpose.cli import build_parser
    from trackmate_cellpose.tracking import OverlapTrackerSettings

    default = OverlapTrackerSettings()
    assert default.min_iou == 0.3  # TrackMate's OverlapTrackerFactory default
    parser = build_parser()
    for argv in (["run", "x.tif", "-o", "o"], ["demo"], ["fiji"]):
        args = parser.parse_args(argv)
        assert (args.tk_min_iou, args.tk_scale_factor, args.tk_iou_calculation) == (
            default.min_iou, default.scale_factor, default.iou_calculation), argv
        args = parser.parse_args(argv + ["--min-iou", "0.4", "--scale-factor", "1.5", "--iou-calculation", "fast"])
        assert (args.tk_min_iou, args.tk_scale_factor, args.tk_iou_calculation) == (0.4, 1.5, "FAST")
    # old spellings still work, with a notice
    args = parser.parse_args(["run", "x.tif", "-o", "o", "--iou-mode", "fast"])
    assert args.tk_iou_calculation == "FAST" and "use --iou-calculation" in args._deprecations[0]
    args = parser.parse_args(["doctor", "--fiji-dir", "/somewhere"])
    assert str(args.fiji) == "/somewhere" and "use --fiji" in args._deprecations[0]
    sig = inspect.signature(run_trackmate)
    assert sig.parameters["tracker_settings"].default is None  # None = OverlapTrackerSettings()
    # scripts and README say the same default
    for script in ("fiji_trackmate_cellpose.groovy", "fiji_trackmate_cellpose_jython.py"):
        text = (REPO / "scripts" / "fiji" / script).read_text()
        assert re.search(r"value = ([0-9.]+)\) minIou", text).group(1) == str(default.min_iou)
    # the README and the docs say the same default; the 3D tutorial sets 0.25 on purpose (as TrackMate-Cellpose's own
    # tutorial does) and says so
    docs = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    text = "\n".join(p.read_text() for p in docs if p.name != "tutorial-3d.md")
    found = re.findall(r"(?:--min-iou |min_iou=|minIou=|MIN_IOU )([0-9.]+)", text)
    assert found and set(found) == {str(default.min_iou)}, found
    tutorial = (REPO / "docs" / "tutorial-3d.md").read_text()
    assert set(re.findall(r"(?:--min-iou |min_iou=)([0-9.]+)", tutorial)) == {"0.25"}
    for p in docs:
        assert "--iou-mode precise" not in p.read_text() and "fiji-dir" not in p.read_text(), p


def test_fiji_run_passes_the_tracker_settings_object(tmp_path, monkeypatch, capsys):
    import trackmate_cellpose.bridge as bridge
    from trackmate_cellpose.tracking import OverlapTrackerSettings

    seen = {}

    class Run:
        n_spots, n_tracks, spots_per_frame, seconds, output, log = 0, 0, {}, 0.0, "x.xml", ""

    monkeypatch.setattr(bridge, "start_fiji", lambda *a, **k: None)
    monkeypatch.setattr(bridge, "run_trackmate", lambda *a, **k: seen.update(k) or Run())
    rc = main(["fiji", "--run", "x.tif", "-o", str(tmp_path / "x.xml"), "--min-iou", "0.45", "--scale-factor", "2",
               "--iou-calculation", "FAST"])
    assert rc == 0, capsys.readouterr().err
    assert seen["tracker_settings"] == OverlapTrackerSettings(min_iou=0.45, scale_factor=2.0, iou_calculation="FAST")
    assert main(["fiji", "--run", "x.tif", "-o", "x.xml", "--min-iou", "1.5"]) == 2
    assert "--min-iou (MIN_IOU)" in capsys.readouterr().err
    # an existing TrackMate file is not replaced silently either
    (tmp_path / "x.xml").write_text("<TrackMate/>")
    seen.clear()
    assert main(["fiji", "--run", "x.tif", "-o", str(tmp_path / "x.xml")]) == 2
    assert "--overwrite" in capsys.readouterr().err and not seen
    assert main(["fiji", "--run", "x.tif", "-o", str(tmp_path / "x.xml"), "--overwrite"]) == 0 and seen


# ---- 12. small things ---------------------------------------------------------------------------------------------

def test_python_m_and_plain_help():
    env = {"PYTHONPATH": str(REPO / "python"), "PATH": "/usr/bin:/bin"}
    top = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "--help"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert top.returncode == 0, top.stderr
    assert "``" not in top.stdout and "run" in top.stdout and "doctor" in top.stdout
    run = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "run", "--help"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    from trackmate_cellpose.settings import settings_table

    text = " ".join(run.stdout.split())
    rows = {r["key"]: r for r in settings_table()}
    for flag, key in (("--cellprob", "CELL_PROB_THRESHOLD"), ("--iou", "IOUTHRESHOLD"),
                      ("--min-size", "CELL_MIN_SIZE"), ("--diameter", "CELL_DIAMETER")):
        r = rows[key]
        unit = "" if r["unit"] == "-" else f"{r['unit']}; "
        assert f"{flag} " in text and f"{key} ({unit}{r['range']}; default" in text, (flag, key)
    assert "--dt T frame interval (> 0)" in text and "--pixel-size UM XY pixel size in um (> 0)" in text


def test_a_run_that_finds_nothing_says_what_to_try(tmp_path, capsys, monkeypatch):
    _stub_detect(monkeypatch, frames=[[], [], [], []])
    inp = _movie(tmp_path / "movie.tif")
    rc = main(["run", str(inp), "-o", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert rc == 0
    (hint,) = [ln for ln in err.splitlines() if "no object found" in ln]
    from trackmate_cellpose.settings import default_model

    for word in ("--diameter (CELL_DIAMETER 30 um = 60 px here)", "--cellprob", "--min-size",
                 f"--model (now {default_model()})"):
        assert word in hint, hint


def test_cellpose_own_progress_bars_are_off_unless_debug(monkeypatch, capsys):
    dynamics = pytest.importorskip("cellpose.dynamics")
    from trackmate_cellpose.cli._terminal import quiet_third_party_bars

    import tqdm

    monkeypatch.setattr(dynamics, "trange", tqdm.trange)  # as cellpose imports it (an earlier run may have quieted it)
    quiet_third_party_bars(debug=True)
    list(dynamics.trange(3))
    assert "3/3" in capsys.readouterr().err  # --debug: cellpose's bar as cellpose draws it
    quiet_third_party_bars()
    list(dynamics.trange(3))  # e.g. the per-plane bar of 2D+Z stitching, drawn on stderr by cellpose
    assert capsys.readouterr().err == ""


def test_keep_going_does_not_swallow_a_cancel(tmp_path, monkeypatch):
    """Ctrl-C or a cluster-wide cancel during one input ends the whole command (exit 130), even with --keep-going."""
    from trackmate_cellpose.errors import Cancelled

    def cancelled(say):
        raise Cancelled("cancelled on the cluster")

    calls = _stub_detect(monkeypatch, during=cancelled)
    a, b = _movie(tmp_path / "a.tif"), _movie(tmp_path / "b.tif")
    assert main(["run", str(a), str(b), "-o", str(tmp_path / "out"), "--keep-going", "-q"]) == 130
    assert calls == ["a.tif"]  # b was not started


def test_geff_without_the_geff_package_is_a_usage_error_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "geff", None)  # makes `import geff` fail
    calls = _stub_detect(monkeypatch)
    inp = _movie(tmp_path / "movie.tif")
    assert main(["run", str(inp), "-o", str(tmp_path / "out"), "--formats", "xml,geff", "-q"]) == 2
    assert "--formats geff needs the geff package" in capsys.readouterr().err and calls == []
    assert main(["convert", str(tmp_path / "x.xml"), str(tmp_path / "x.geff")]) == 2
