"""Real TrackMate in a classic launch (a plain JVM started by ImageJ's launcher, NO Python in it) after
``install-fiji`` into a copy of FIJI_DIR: the detector runs through the warm Python worker.

Two JVMs run ``classic_worker.bsh``: the first runs two Previews and a 2D+t run (one model load), saves the TrackMate
XML, tries a missing Python and a Python without trackmate-cellpose, has its worker killed (kill -9) mid-run, runs again,
and switches to another Python executable; the second reloads the XML with its settings and re-runs it, and runs a
3D+t image (meshes on v9). After each JVM exits, none of its workers remains.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import DetectorSettings, detect, sample_path
from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.bridge import find_fiji
from trackmate_cellpose.bridge._glue import shipped_jar

from conftest import WORKER_MODE, classic_command, copy_fiji

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def classic_launch(fiji: Path, work: Path, name: str, props: dict, jvm_options: list[str] = (), *,
                   script: Path = HERE / "classic_worker.bsh") -> dict:
    """Run ``script`` (classic_worker.bsh) in a plain JVM (ImageJ's ClassLauncher, headless); return its facts, spots
    and log."""
    out = work / f"{name}.txt"
    cmd = classic_command(fiji, work / "home", ["net.imagej.Main", "--headless", "--run",
                                                str(script)], {"out": out, **props},
                          jvm_options=jvm_options)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, cwd=work,
                          env={k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"})
    wall = time.perf_counter() - t0
    text = out.read_text() if out.is_file() else ""
    facts, spots = {}, []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "spot":
            step, frame, x, y, z, cls, npts = value.split(",")
            spots.append({"step": step, "frame": int(frame), "x": float(x), "y": float(y), "z": float(z),
                          "cls": cls, "roi_points": int(npts)})
        else:
            facts[key] = value
    log = Path(f"{out}.log").read_text() if Path(f"{out}.log").is_file() else ""
    assert facts.get("done") == "true", f"rc={proc.returncode}\n{text[-3000:]}\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
    pids = sorted({int(m.group(1)) for m in WORKER_MODE.finditer(log)})
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return {"facts": facts, "spots": spots, "log": log, "pids": pids, "left": [p for p in pids if _alive(p)],
            "wall_s": wall, "stderr": proc.stderr}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, fiji_dir, test_model) -> dict:
    line = find_fiji(fiji_dir).line
    if shipped_jar(line) is None:
        pytest.fail(f"no current prebuilt glue jar for {line}: run python scripts/tools/build_glue_jars.py")
    work = tmp_path_factory.mktemp("classic")
    fiji = work / "Fiji.app"
    copy_fiji(fiji_dir, fiji)
    proc = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "install-fiji", "--fiji", str(fiji)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # a Python without trackmate-cellpose (no site-packages, no PYTHONPATH), and the same Python by another name
    nomodule = work / "python-without-tmcp"
    nomodule.write_text(f"#!/bin/sh\nPYTHONPATH= exec {sys.executable} -S \"$@\"\n")
    nomodule.chmod(0o755)
    other = work / "python-wrapper"
    other.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    other.chmod(0o755)
    # the same Python by a third name, deleted by the script while its worker runs (an environment removed)
    removable = work / "python-removed-later"
    removable.write_text(other.read_text())
    removable.chmod(0o755)
    # a Python whose cellpose cannot be imported (a package that shadows it)
    blocker = work / "no-cellpose" / "cellpose"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('cellpose hidden by the test')\n")
    # a trackmate-cellpose too old to have the worker module
    old = work / "old-tmcp" / "trackmate_cellpose" / "bridge"
    old.mkdir(parents=True)
    (old / "__init__.py").write_text("")
    (old.parent / "__init__.py").write_text("")
    oldpackage = work / "python-with-old-tmcp"
    oldpackage.write_text(f"#!/bin/sh\nPYTHONPATH={old.parent.parent} exec {sys.executable} \"$@\"\n")
    oldpackage.chmod(0o755)
    nocellpose = work / "python-without-cellpose"
    nocellpose.write_text(f"#!/bin/sh\nPYTHONPATH={blocker.parent}:$PYTHONPATH exec {sys.executable} \"$@\"\n")
    nocellpose.chmod(0o755)
    common = {"model": test_model, "image2d": sample_path("2dt"), "image3d": sample_path("3dt"),
              "xml": work / "run.xml"}
    first = classic_launch(fiji, work, "first", {
        **common, "steps": "preview1,preview2,full,xmlsave,cancel,after_cancel,badpython,nomodule,oldpackage,nocellpose,kill,"
                 "after_kill,switch,removable,removed,after_removed", "badpython": work / "no-such-python",
        "nomodule": nomodule, "removable": removable,
        "oldpackage": oldpackage, "nocellpose": nocellpose, "otherpython": other})
    second = classic_launch(fiji, work, "second", {**common, "steps": "xmlreload,shapes3d"},
                            jvm_options=["-Dtrackmate.cellpose.worker.echo=true"])
    return {"first": first, "second": second, "line": line, "other": str(other), "removable": str(removable)}


def _log(run: dict, *steps: str) -> str:
    """The TrackMate log of these steps (the script logs "== step NAME" before each)."""
    parts = re.split(r"^== step (\w+)$", run["log"], flags=re.M)
    return "".join(text for name, text in zip(parts[1::2], parts[2::2]) if name in steps)


def _pids(run: dict, *steps: str) -> list[int]:
    return [int(m.group(1)) for m in WORKER_MODE.finditer(_log(run, *steps))]


def _spots(run: dict, step: str) -> list[dict]:
    return [s for s in run["spots"] if s["step"] == step]


def _per_frame(spots: list[dict]) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in spots:
        out[s["frame"]] = out.get(s["frame"], 0) + 1
    return out


def test_classic_launch_runs_2dt_with_rois_in_the_right_frames(runs, test_model, quality):
    f = runs["first"]["facts"]
    assert f["full.ok"] == "true", f["full.error"]
    spots = _spots(runs["first"], "full")
    assert all(s["roi_points"] >= 3 for s in spots)
    # the same objects per frame as the Python engine on the same frames and pixel size
    movie = tifffile.imread(sample_path("2dt"))[:3]
    px = float(f["pixel_width"])
    ref = detect(movie[:, None, None], DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0,
                                                        use_gpu=False),
                 axes="tczyx", calibration=Calibration(x=px, y=px, z=1.0, t=1.0, space_unit="um", time_unit="s"))
    assert _per_frame(spots) == {fr.frame: len(fr.detections) for fr in ref.frames}
    gt = tifffile.imread(sample_path("2dt", ground_truth=True))
    hits = [gt[s["frame"], int(round(s["y"] / px)), int(round(s["x"] / px))] > 0 for s in spots]
    assert sum(hits) / len(hits) >= quality["f1_frame"]


def test_two_previews_then_a_run_load_the_model_once(runs):
    first = runs["first"]
    f = first["facts"]
    assert f["preview1.ok"] == f["preview2.ok"] == "true"
    assert set(_per_frame(_spots(first, "preview1"))) == {1} and set(_per_frame(_spots(first, "preview2"))) == {2}
    log = _log(first, "preview1", "preview2", "full")
    modes = list(WORKER_MODE.finditer(log))
    # the mode line (item 5): pid and executable of the worker, versions, device
    pid, python, version, _, device = modes[0].groups()
    assert python == sys.executable and device == "cpu"
    from trackmate_cellpose import __version__

    assert version == __version__
    assert [m.group(1) for m in modes] == [pid] * 3  # preview, preview, run: one worker
    assert log.count("started the Python worker") == 1
    assert log.count("Python worker: model loaded") == 1  # counted by the worker's model cache


def test_cancel_reaches_the_worker_and_returns_promptly(runs):
    first = runs["first"]
    f = first["facts"]
    assert f["cancel.fired"] == "true"
    assert f["cancel.ok"] == "false" and "cancel" in f["cancel.error"].lower(), f["cancel.error"]
    # the worker stops at its next check (cellpose's network batches), well before the 10 s after which it is killed
    assert int(f["cancel.return_ms"]) < 8000
    # the worker survives a cancel: the next detection uses it, with the model still loaded
    assert f["after_cancel.ok"] == "true" and set(_per_frame(_spots(first, "after_cancel"))) == {5}
    assert _pids(first, "cancel") == _pids(first, "after_cancel") == _pids(first, "preview1")
    assert "model loaded" not in _log(first, "cancel", "after_cancel")


def test_a_missing_python_or_one_without_the_package_gives_a_message_that_says_what_to_do(runs):
    f = runs["first"]["facts"]
    assert f["badpython.ok"] == "false" and "no-such-python" in f["badpython.error"]
    assert "cannot be started" in f["badpython.error"] and "PYTHON_EXECUTABLE" in f["badpython.error"]
    assert f["nomodule.ok"] == "false"
    assert "trackmate-cellpose is not installed in the Python" in f["nomodule.error"]
    assert "pip install trackmate-cellpose" in f["nomodule.error"]
    assert f["oldpackage.ok"] == "false" and "older than this Fiji's glue" in f["oldpackage.error"]
    assert "pip install -U trackmate-cellpose" in f["oldpackage.error"]
    assert f["nocellpose.ok"] == "false" and "cannot run cellpose" in f["nocellpose.error"]
    assert "cellpose hidden by the test" in f["nocellpose.error"] and "pip install" in f["nocellpose.error"]


def test_a_worker_killed_mid_run_gives_an_error_and_the_next_run_works(runs):
    first = runs["first"]
    f = first["facts"]
    killed = int(f["kill.killed_pid"])
    assert f["kill.ok"] == "false" and "killed by signal 9" in f["kill.error"], f["kill.error"]
    assert f"pid {killed}" in f["kill.error"]
    assert f["after_kill.ok"] == "true" and set(_per_frame(_spots(first, "after_kill"))) == {3}
    modes = [int(m.group(1)) for m in WORKER_MODE.finditer(first["log"])]
    after = modes[len(modes) - modes[::-1].index(killed):]
    assert after and after[0] != killed


def test_another_python_executable_restarts_the_worker(runs):
    first = runs["first"]
    f = first["facts"]
    assert f["switch.ok"] == "true" and set(_per_frame(_spots(first, "switch"))) == {4}
    assert f"the Python executable changed to {runs['other']}" in first["log"]
    modes = list(WORKER_MODE.finditer(_log(first, "switch")))
    assert len(modes) == 1 and int(modes[0].group(1)) not in _pids(first, "after_kill")


def test_a_python_removed_while_fiji_runs_stops_its_worker_and_says_so(runs):
    first = runs["first"]
    f = first["facts"]
    assert f["removable.ok"] == "true" and f["removed.deleted"] == "true"
    (pid,) = _pids(first, "removable")
    assert f["removed.ok"] == "false", "a run with a removed Python must fail"
    error = f["removed.error"]
    assert f"'{runs['removable']}'" in error and "no longer exists" in error and "PYTHON_EXECUTABLE" in error
    assert f"stopping the Python worker (pid {pid})" in _log(first, "removed")
    assert not _alive(pid)
    # Fiji goes on: the next run, with the recorded Python, starts a new worker
    assert f["after_removed.ok"] == "true" and set(_per_frame(_spots(first, "after_removed"))) == {7}
    assert pid not in _pids(first, "after_removed")


def test_the_workers_stderr_goes_to_the_log_only_when_asked(runs):
    """-Dtrackmate.cellpose.worker.echo=true (second JVM): the worker's stderr lines also reach TrackMate's log."""
    assert "[Python worker]" in runs["second"]["log"]
    assert "[Python worker]" not in runs["first"]["log"]


def test_no_worker_process_remains_after_the_jvm_exits(runs):
    for name in ("first", "second"):
        run = runs[name]
        assert run["pids"], f"{name}: no worker pid in the log"
        assert run["left"] == [], f"{name}: worker(s) {run['left']} still running after the JVM exited"
    # the first worker (stopped when PYTHON_EXECUTABLE changed), the one killed, the one after the kill, the switched
    # one, the one whose Python was removed, the one after that
    assert len(runs["first"]["pids"]) == 6


def test_a_saved_trackmate_xml_reloads_in_a_classic_launch_and_reruns(runs):
    first, second = runs["first"], runs["second"]
    f = second["facts"]
    assert f["xmlreload.reader_ok"] == "true" and f["xmlreload.detector"] == "CELLPOSE_ADVANCED_PY_DETECTOR"
    assert "CELLPOSE_MODEL=CUSTOM" in f["xmlreload.settings"] and "PYTHON_EXECUTABLE=" in f["xmlreload.settings"]
    assert f["xmlreload.ok"] == "true", f["xmlreload.error"]
    assert _per_frame(_spots(second, "xmlreload")) == _per_frame(_spots(first, "full"))


def test_3dt_through_the_worker_gives_the_lines_3d_spots(runs):
    from _shapes import SHAPE_3D

    second = runs["second"]
    f = second["facts"]
    assert f["shapes3d.ok"] == "true", f["shapes3d.error"]
    spots = _spots(second, "shapes3d")
    assert spots and {s["frame"] for s in spots} == {0}
    zs = np.array([s["z"] for s in spots])
    assert zs.max() > zs.min()  # real 3D positions
    classes = {s["cls"] for s in spots}
    if SHAPE_3D[runs["line"]] == "mesh":
        assert classes == {"SpotMesh"}
    else:
        assert classes == {"Spot"} and all(s["roi_points"] == 0 for s in spots)
