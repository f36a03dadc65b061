"""Ctrl-C (a real SIGINT) to a real ``trackmate-cellpose run`` subprocess, with real inference on the bundled model,
at several points: after the image is read, inside cellpose, while exporting, and while the outputs are moved into
OUTDIR. Whatever the moment, OUTDIR holds either nothing of this run (and no folder the run created) or the whole
result; earlier results replaced with --overwrite survive an interrupted run untouched.

The subprocess runs the real command line; the test only wraps one function per point so that it can say "I am
here" on stdout (and, for read/detect/export, wait there), which makes the moment of the signal deterministic.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import tifffile

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

_DRIVER = r'''
import os, sys, time
point = sys.argv[1]
from trackmate_cellpose import export, pipeline

def here():
    print("AT " + point, flush=True)

if point == "read":
    orig_read = pipeline.read_image
    def read(*a, **k):
        img = orig_read(*a, **k)
        here(); time.sleep(120)
        return img
    pipeline.read_image = read
elif point == "detect":
    orig_detect = pipeline._detect
    def detect(image, settings, runtime, on_progress, say):
        said = []
        def progress(f, msg):
            if not said:  # wait here: the rest of a small movie can finish before the signal lands
                said.append(1); here(); time.sleep(120)
            on_progress(f, msg)
        return orig_detect(image, settings, runtime, progress, say)
    pipeline._detect = detect
elif point.startswith("export"):
    orig_ctc = export.write_ctc
    def write_ctc(*a, **k):
        paths = orig_ctc(*a, **k)
        here(); time.sleep(120)
        return paths
    export.write_ctc = write_ctc
elif point == "commit":
    orig_replace = os.replace
    calls = []
    def replace(src, dst):
        calls.append(1)
        if len(calls) == 2:  # one output already moved into OUTDIR, the others not yet
            here(); time.sleep(3)
        return orig_replace(src, dst)
    os.replace = replace
from trackmate_cellpose.cli import main
sys.exit(main(sys.argv[2:]))
'''

_ALL = ["movie.xml", "movie_ctc", "movie_edges.csv", "movie_labels.tif", "movie_overlay.gif", "movie_overlay.png",
        "movie_settings.json", "movie_spots.csv", "movie_track_labels.tif", "movie_tracks.csv"]


@pytest.fixture(scope="module")
def movie(tmp_path_factory, test_model):
    from trackmate_cellpose.data import sample_path

    d = tmp_path_factory.mktemp("sigint")
    with tifffile.TiffFile(sample_path("2dt")) as tif:
        data = tif.series[0].asarray()[:4]
    p = d / "movie.tif"
    tifffile.imwrite(p, np.ascontiguousarray(data), imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "TYX", "unit": "um", "finterval": 5.0})
    return p


def _interrupt(point: str, movie: Path, out: Path, test_model: Path, extra=()) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    cmd = [sys.executable, "-c", _DRIVER, point, "run", str(movie), "-o", str(out), "--model-path", str(test_model),
           "--diameter", "10", "--cpu", "--frames-per-batch", "1", "-q", *extra]
    # a user's terminal delivers Ctrl-C to a process whose SIGINT is not ignored; a test run started in the background
    # of a non-interactive shell inherits SIG_IGN (and Python then keeps ignoring it): give the child the default
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("AT ") or not line:
            break
    assert line.strip() == f"AT {point}", (line, proc.stderr.read() if proc.poll() is not None else "")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize("point", ["read", "detect", "export"])
def test_ctrl_c_before_the_commit_leaves_nothing(tmp_path, movie, test_model, point):
    out = tmp_path / "new" / "out"
    rc, err = _interrupt(point, movie, out, test_model)
    assert rc == 130, err
    assert "cancelled" in err
    assert not (tmp_path / "new").exists(), list((tmp_path / "new").rglob("*"))


def test_ctrl_c_during_the_commit_finishes_it_then_stops(tmp_path, movie, test_model):
    out = tmp_path / "out"
    rc, err = _interrupt("commit", movie, out, test_model)
    assert rc == 130, err
    assert sorted(p.name for p in out.iterdir()) == _ALL  # whole, not half: Ctrl-C waited for the last move
    ET.parse(out / "movie.xml")
    assert len(list((out / "movie_ctc").glob("mask*.tif"))) == 4


def test_ctrl_c_during_an_overwrite_keeps_the_earlier_results(tmp_path, movie, test_model):
    out = tmp_path / "out"
    out.mkdir()
    for name in _ALL:
        if name == "movie_ctc":
            (out / name).mkdir()
            (out / name / "res_track.txt").write_text("old")
        else:
            (out / name).write_text("old")
    rc, err = _interrupt("export_overwrite", movie, out, test_model, extra=["--overwrite"])
    assert rc == 130, err
    assert sorted(p.name for p in out.iterdir()) == _ALL
    assert all((out / n).read_text() == "old" for n in _ALL if n != "movie_ctc")
    assert (out / "movie_ctc" / "res_track.txt").read_text() == "old"
