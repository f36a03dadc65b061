"""From Fiji alone: the environment builder of a classic launch (a plain JVM started by ImageJ's launcher, no Python
in it, NO Python recorded) run headless in test mode (``support/envs.py``: this machine's package sources, the local
interpreter, a CPU torch), in a copy of FIJI_DIR with trackmate-cellpose from its update site: the site's files where
Fiji's updater puts them (``jars/`` the loader, ``lib/trackmate-cellpose/`` the line jars and the Python code zip;
that the updater itself puts them there is tests/fiji/test_update_site.py), so the glue, its command and its panel come
through ``GlueLoader``, not the class path.

One JVM runs ``env_setup.bsh``: the setup command is registered with its menu path; a detection by key first fails with
a message naming the menu command; the command with an index on a closed port gives the "cannot be reached" message; a
build is cancelled once it installs cellpose; the menu command then resumes and completes it (uv itself fetched from
the package index by the glue; with the site's Python code, trackmate-cellpose's dependencies only) and records its
Python; the next detection by key runs in the warm worker with that Python and the site's code, and gives
``detect()``'s spots. Under Xvfb a second launch shows the menu item, the panel's button and the progress window.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import Calibration, DetectorSettings, __version__, detect, sample_path
from trackmate_cellpose.bridge import find_fiji
from trackmate_cellpose.bridge._glue import shipped_jar
from trackmate_cellpose.bridge._update_site import PYTHON_ZIP, SITE_DIR, site_files

from conftest import WORKER_MODE, classic_command, copy_fiji
from support.envs import cellpose_major, closed_port, request_args

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent


def install_from_site(fiji: Path, work: Path) -> list[str]:
    """The update site's files of this checkout, each where Fiji's updater puts it; returns their paths."""
    paths = []
    for f in site_files(work):
        dst = fiji / f.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f.source, dst)
        paths.append(f.path)
    return paths


@pytest.fixture(scope="module")
def run(tmp_path_factory, fiji_dir, test_model) -> dict:
    major = cellpose_major()
    if major not in (3, 4):
        pytest.skip("needs cellpose 3 or 4 installed")
    line = find_fiji(fiji_dir).line
    if shipped_jar(line) is None:
        pytest.fail(f"no current prebuilt glue jar for {line}: run python scripts/build_glue_jars.py")
    work = tmp_path_factory.mktemp("envsetup")
    fiji = copy_fiji(fiji_dir, work / "Fiji.app")
    install_from_site(fiji, work)
    assert not (fiji / "config" / "trackmate-cellpose.json").exists()  # no Python recorded
    args = request_args(major)  # no package: with the site's code the builder installs its dependencies
    out = work / "facts.txt"
    props = {"out": out, "model": test_model, "image2d": sample_path("2dt"), "cellpose": major,
             "index": args["index_url"] or "", "extra": " ".join(args["extra_index_urls"]),
             "findlinks": " ".join(args["find_links"]), "python": args["python"], "package": "",
             "closed": f"http://127.0.0.1:{closed_port()}/simple",
             "steps": "nopython,unreachable,cancel,build,detect"}
    cmd = classic_command(fiji, work / "home", ["net.imagej.Main", "--headless", "--run", str(HERE / "env_setup.bsh")],
                          props)
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_TOOL_OPTIONS", "PYTHONPATH", "TRACKMATE_CELLPOSE_UV")}
    if major == 4:  # the tiny test Cellpose-SAM and the torchvision shim (tests/support/cp4) reach the worker
        env["PYTHONPATH"] = os.environ["PYTHONPATH"].split(os.pathsep)[0]
    data = work / "data"
    # uv's cache: the session's, or one the caller keeps between runs (UV_CACHE_DIR: e.g. one per Fiji line)
    env.update(TRACKMATE_CELLPOSE_DATA=str(data),
               UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR") or str(tmp_path_factory.getbasetemp() / "uv-cache"))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=work, env=env)
    facts, spots = {}, []
    for ln in (out.read_text() if out.is_file() else "").splitlines():
        key, _, value = ln.partition("=")
        if key == "spot":
            step, frame, x, y = value.split(",")
            spots.append((step, int(frame), float(x), float(y)))
        else:
            facts[key] = value
    log = Path(f"{out}.log").read_text() if Path(f"{out}.log").is_file() else ""
    assert facts.get("done") == "true", f"rc={proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-4000:]}\n{log[-3000:]}"
    return {"facts": facts, "spots": spots, "log": log, "fiji": fiji, "data": data, "major": major,
            "stderr": proc.stdout + proc.stderr,
            "env": data / "envs" / f"{__version__}-cellpose{major}-cpu", "wall_s": time.perf_counter() - t0,
            "props": props, "env_vars": env}


def _log(run: dict, step: str) -> str:
    parts = re.split(r"^== step (\w+)$", run["log"], flags=re.M)
    return "".join(text for name, text in zip(parts[1::2], parts[2::2]) if name == step)


def test_the_site_registers_the_setup_command_with_its_menu_path(run, fiji_dir):
    f = run["facts"]
    assert f["loader.line"] == find_fiji(fiji_dir).line  # the glue came through the update site's loader
    assert f["command.class"] == "trackmatecellpose.glue.SetUpPythonCommand"
    assert f["command.menu"] == "[Plugins, Tracking, TrackMate-Cellpose, Set up a Python environment]"
    assert f["command.headless"] == "true"
    ours = [ln for ln in run["stderr"].splitlines()
            if re.search(r"trackmate.?cellpose", ln, re.I) and re.search(r"ERROR|Exception|Cannot create", ln)]
    assert ours == []


def test_without_python_a_detection_names_the_command(run):
    f = run["facts"]
    assert f["nopython.ok"] == "false"
    assert "Plugins > Tracking > TrackMate-Cellpose > Set up a Python environment" in f["nopython.error"]
    assert "trackmatecellpose.glue.SetUpPythonCommand" in f["nopython.error"]


def test_an_unreachable_index_gives_the_message(run):
    err = run["facts"]["unreachable.error"]
    assert err.startswith("The package index cannot be reached: http://127.0.0.1:"), err
    assert "Connection refused" in err and "give a reachable index URL" in err


def test_a_cancelled_build_stops_and_the_command_resumes_it(run):
    f = run["facts"]
    assert f["cancel.fired"] == "true" and f["cancel.status"] == "cancelled", f
    assert "run the build again to resume it" in f["cancel.message"]
    assert "uv " in _log(run, "cancel") and "fetched into" in _log(run, "cancel")  # uv came from the index
    build = _log(run, "build")
    assert f"Resuming the build of {run['env']} (done: python, torch)" in build
    python = run["env"] / "bin" / "python"
    assert f["build.python"] == str(python)
    config = json.loads((run["fiji"] / "config" / "trackmate-cellpose.json").read_text())
    assert config["python"] == str(python) and config["env"] == str(run["env"])
    assert "Installing cellpose>=" in build + _log(run, "cancel") and "trackmate-cellpose's dependencies" in (
        build + _log(run, "cancel"))
    assert not list(run["env"].glob("lib/python*/site-packages/trackmate_cellpose"))  # the site's code runs instead
    print(f"\nbuild resumed and completed in {float(f['build.seconds']):.0f} s; Fiji JVM {run['wall_s']:.0f} s")


def test_the_next_detection_runs_in_the_built_environment(run, test_model):
    f = run["facts"]
    assert f["detect.ok"] == "true", f.get("detect.error")
    modes = WORKER_MODE.findall(_log(run, "detect"))
    assert modes and modes[0][1] == str(run["env"] / "bin" / "python")
    assert str(run["fiji"] / SITE_DIR / PYTHON_ZIP) in _log(run, "detect")  # the worker runs the site's code
    assert modes[0][2] == __version__ and modes[0][3].startswith(f"{run['major']}.")
    px = float(f["pixel_width"])
    movie = tifffile.imread(sample_path("2dt"))[:3]
    s = DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0, use_gpu=False)
    cal = Calibration(x=px, y=px, z=1.0, t=1.0, space_unit="um", time_unit="s")
    ours = sorted((d.frame, d.x, d.y) for d in detect(movie[:, None, None], s, axes="tczyx", calibration=cal))
    theirs = sorted((fr, x, y) for step, fr, x, y in run["spots"] if step == "detect")
    assert len(theirs) == len(ours) > 0
    assert np.allclose(np.array(theirs), np.array(ours), atol=1e-3)


@pytest.fixture(scope="module")
def gui(run, tmp_path_factory, xvfb_display) -> dict:
    """The menu, the panel and the progress window under Xvfb, after the build above (its Python record removed
    again)."""
    fiji, work = run["fiji"], tmp_path_factory.mktemp("envsetup-gui")
    (fiji / "config" / "trackmate-cellpose.json").unlink()
    out = work / "facts.txt"
    cmd = classic_command(fiji, fiji.parent / "home", ["net.imagej.Main", "--run", str(HERE / "env_setup_gui.bsh")],
                          {**run["props"], "out": out, "shots": work}, headless=False)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=work,
                          env={**run["env_vars"], "DISPLAY": xvfb_display})
    facts = dict(ln.partition("=")[::2] for ln in (out.read_text() if out.is_file() else "").splitlines())
    assert facts.get("done") == "true", f"rc={proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-4000:]}"
    keep = os.environ.get("TMCP_TEST_ARTIFACTS")  # optional: keep the screenshots
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in work.glob("*.png"):
            shutil.copy(png, Path(keep) / f"env_setup_{png.name}")
    return facts


def test_the_panel_offers_the_setup_and_its_window_shows_the_build(gui, run):
    assert gui["menu_command"] == "command:trackmatecellpose.glue.SetUpPythonCommand"  # in ImageJ's menus
    assert gui["offers_before"] == "true"
    assert gui["dialog_found"] == "true" and gui["dialog_closed_button"] == "true"
    assert gui["dialog_title"] == "TrackMate-Cellpose: set up a Python environment"
    assert gui["dialog_progress"] == "1000"
    assert f"The environment {run['env']} is already built" in gui["dialog_log"]
    assert f"The environment {run['env']} is already built" in gui["trackmate_log"]  # and in TrackMate's log
    assert gui["offers_after"] == "false" and str(run["env"] / "bin" / "python") in gui["panel_python"]
    config = json.loads((run["fiji"] / "config" / "trackmate-cellpose.json").read_text())
    assert config["python"] == str(run["env"] / "bin" / "python")
    for shot in ("panel_before", "dialog", "panel_after"):
        assert Path(gui[f"{shot}.png"]).stat().st_size > 1000
