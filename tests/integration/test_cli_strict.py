"""The command line hides no mistake (#25 item 5): no abbreviations, contradictory flags refused naming both, and
``run --t-range`` as ``fiji`` has it (real inference on a small movie for the range).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import tifffile

from trackmate_cellpose.cli import main


def _movie(path, t=4):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 50, (t, 64, 64)).astype(np.uint16)
    yy, xx = np.mgrid[:64, :64]
    for k in range(t):
        data[k][(yy - 20 - k) ** 2 + (xx - 24) ** 2 < 64] += 800
        data[k][(yy - 44) ** 2 + (xx - 40 + k) ** 2 < 49] += 800
    tifffile.imwrite(path, data, imagej=True, resolution=(2.0, 2.0), metadata={"axes": "TYX", "unit": "micron"})
    return path


def _err(capsys) -> str:
    return capsys.readouterr().err


@pytest.mark.parametrize("typed, meant", [
    (["--frames", "99"], "--frames-per-batch"),
    (["--ov"], "--overwrite"),
    (["--dia", "5"], "--diameter"),
    (["--set", "s.json"], "--settings"),
])
def test_no_abbreviation_is_taken_for_another_option(tmp_path, capsys, typed, meant):
    with pytest.raises(SystemExit) as e:
        main(["run", str(tmp_path / "in.tif"), "-o", str(tmp_path / "out"), *typed])
    assert e.value.code == 2
    err = _err(capsys)
    assert f"unrecognized arguments: {' '.join(typed)}" in err, err


def test_no_abbreviation_of_the_top_level_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--deb", "doctor"])
    assert e.value.code == 2 and "unrecognized arguments: --deb" in _err(capsys)


_PAIRS = [("--gpu", "--cpu"), ("--2dz", "--3d"), ("--resample", "--no-resample"), ("--simplify", "--no-simplify"),
          ("--cpu", "--gpu")]


@pytest.mark.parametrize("command, a, b", [(c, a, b) for c in ("run", "doctor") for a, b in _PAIRS]
                         + [("demo", "--gpu", "--cpu"), ("demo", "--cpu", "--gpu")])
def test_contradictory_flags_exit_2_naming_both(tmp_path, capsys, command, a, b):
    args = {"run": ["run", str(tmp_path / "in.tif"), "-o", str(tmp_path / "out")], "doctor": ["doctor"],
            "demo": ["demo", "-o", str(tmp_path / "out")]}[command]
    with pytest.raises(SystemExit) as e:
        main([*args, a, b])
    assert e.value.code == 2
    err = _err(capsys)
    assert a in err and b in err and "not allowed with" in err, err
    assert not (tmp_path / "out").exists()


def test_t_range_outside_the_movie_is_refused_before_any_work(tmp_path, capsys):
    inp = _movie(tmp_path / "movie.tif")
    out = tmp_path / "out"
    assert main(["run", str(inp), "-o", str(out), "--t-range", "2:9", "-q"]) == 2
    err = _err(capsys)
    assert "--t-range" in err and "got 2:9" in err and "4 frame(s)" in err, err
    assert not out.exists()
    with pytest.raises(SystemExit) as e:
        main(["run", str(inp), "-o", str(out), "--t-range", "2-3"])
    assert e.value.code == 2 and "FIRST:LAST" in _err(capsys)


def test_run_t_range_processes_those_frames_only(tmp_path, capsys, test_model):
    inp = _movie(tmp_path / "movie.tif")
    out = tmp_path / "out"
    rc = main(["run", str(inp), "-o", str(out), "--t-range", "1:2", "--model-path", str(test_model),
               "--diameter", "14", "--cpu", "-q", "--formats", "xml,labels,png"])
    assert rc == 0, _err(capsys)
    root = ET.parse(out / "movie.xml").getroot()
    frames = {int(s.get("FRAME")) for s in root.iter("Spot")}
    assert frames == {1, 2}, frames  # the movie's own frame numbers, as TrackMate numbers them
    basic = root.find("Settings/BasicSettings")
    assert (basic.get("tstart"), basic.get("tend")) == ("1", "2")
    assert root.find("Settings/ImageData").get("nframes") == "4"
    labels = tifffile.imread(out / "movie_labels.tif")
    assert labels.shape[0] == 4  # every frame of the movie: the labels overlay the input
    assert labels[0].max() == 0 and labels[3].max() == 0 and labels[1].max() > 0 and labels[2].max() > 0
