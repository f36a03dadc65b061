"""From Fiji alone: the environment builder of a classic launch (a plain JVM started by ImageJ's launcher, no Python
in it, NO Python recorded) run headless in test mode (``support/envs.py``: this machine's package sources, the local
interpreter, a CPU torch), in a copy of FIJI_DIR with our glue (install-fiji, then its Python record removed).

One JVM runs ``env_setup.bsh``: a detection by key first fails with a message naming the menu command; the command
with an index on a closed port gives the "cannot be reached" message; a build is cancelled once it installs cellpose;
the menu command then resumes and completes it (uv itself fetched from the package index by the glue) and records its
Python; the next detection by key runs in the warm worker with that Python and gives ``detect()``'s spots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import Calibration, DetectorSettings, __version__, detect, sample_path
from trackmate_cellpose.bridge import find_fiji
from trackmate_cellpose.bridge._glue import shipped_jar

from support.envs import build_wheel, cellpose_major, closed_port, request_args

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
MODE = re.compile(r"Cellpose advanced \(Python\): Python worker \(pid (\d+), (.+?)\), trackmate-cellpose (\S+), "
                  r"cellpose (\S+), device (\w+)")


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home else None
    return str(java) if java and java.exists() else shutil.which("java")


@pytest.fixture(scope="module")
def run(tmp_path_factory, fiji_dir, test_model) -> dict:
    major = cellpose_major()
    if major not in (3, 4):
        pytest.skip("needs cellpose 3 or 4 installed")
    line = find_fiji(fiji_dir).line
    if shipped_jar(line) is None:
        pytest.fail(f"no current prebuilt glue jar for {line}: run python scripts/build_glue_jars.py")
    work = tmp_path_factory.mktemp("envsetup")
    fiji = work / "Fiji.app"
    shutil.copytree(fiji_dir, fiji, symlinks=True, copy_function=_link_or_copy)
    proc = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "install-fiji", "--fiji", str(fiji)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (fiji / "config" / "trackmate-cellpose.json").unlink()  # as after the update site: no Python recorded
    launcher = sorted((fiji / "jars").glob("imagej-launcher-*.jar"))
    if not launcher:
        pytest.skip("this Fiji has no imagej-launcher jar")
    args = request_args(major, package=build_wheel(work / "wheel"))
    out = work / "facts.txt"
    props = {"out": out, "model": test_model, "image2d": sample_path("2dt"), "cellpose": major,
             "index": args["index_url"] or "", "extra": " ".join(args["extra_index_urls"]),
             "findlinks": " ".join(args["find_links"]), "python": args["python"], "package": args["package"],
             "closed": f"http://127.0.0.1:{closed_port()}/simple",
             "steps": "nopython,unreachable,cancel,build,detect"}
    cmd = [_java(), "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
           "--add-opens=java.desktop/sun.awt=ALL-UNNAMED", "-Djava.awt.headless=true", f"-Dplugins.dir={fiji}",
           f"-Dimagej.dir={fiji}", f"-Dij.dir={fiji}", f"-Duser.home={work / 'home'}", "-XX:-UsePerfData",
           *(f"-Dtmcp.{k}={v}" for k, v in props.items()),
           "-cp", str(launcher[-1]), "net.imagej.launcher.ClassLauncher", "-ijjarpath", "jars", "-ijjarpath",
           "plugins", "net.imagej.Main", "--headless", "--run", str(HERE / "env_setup.bsh")]
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_TOOL_OPTIONS", "PYTHONPATH", "TRACKMATE_CELLPOSE_UV")}
    if major == 4:  # the tiny test Cellpose-SAM and the torchvision shim (tests/support/cp4) reach the worker
        env["PYTHONPATH"] = os.environ["PYTHONPATH"].split(os.pathsep)[0]
    data = work / "data"
    env.update(TRACKMATE_CELLPOSE_DATA=str(data), UV_CACHE_DIR=str(tmp_path_factory.getbasetemp() / "uv-cache"))
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
            "env": data / "envs" / f"{__version__}-cellpose{major}-cpu", "wall_s": time.perf_counter() - t0,
            "cmd": cmd, "props": props, "env_vars": env}


def _log(run: dict, step: str) -> str:
    parts = re.split(r"^== step (\w+)$", run["log"], flags=re.M)
    return "".join(text for name, text in zip(parts[1::2], parts[2::2]) if name == step)


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
    print(f"\nbuild resumed and completed in {float(f['build.seconds']):.0f} s; Fiji JVM {run['wall_s']:.0f} s")


def test_the_next_detection_runs_in_the_built_environment(run, test_model):
    f = run["facts"]
    assert f["detect.ok"] == "true", f.get("detect.error")
    modes = MODE.findall(_log(run, "detect"))
    assert modes and modes[0][1] == str(run["env"] / "bin" / "python")
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
def gui(run, tmp_path_factory, test_model) -> dict:
    """The panel and the progress window under Xvfb, after the build above (its Python record removed again)."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb) - the GUI check needs a virtual display")
    for n in range(121, 160):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    xvfb = subprocess.Popen([exe, f":{n}", "-screen", "0", "1400x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                break
            time.sleep(0.1)
        fiji, work = run["fiji"], tmp_path_factory.mktemp("envsetup-gui")
        (fiji / "config" / "trackmate-cellpose.json").unlink()
        out = work / "facts.txt"
        props = {**run["props"], "out": out, "shots": work}
        cmd = [arg for arg in run["cmd"] if not arg.startswith(("-Djava.awt.headless", "-Dtmcp."))]
        cmd[1:1] = [f"-Dtmcp.{k}={v}" for k, v in props.items()]
        cmd = [*cmd[:cmd.index("--headless")], "--run", str(HERE / "env_setup_gui.bsh")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=work,
                              env={**run["env_vars"], "DISPLAY": f":{n}"})
    finally:
        xvfb.terminate()
        xvfb.wait(10)
    facts = dict(ln.partition("=")[::2] for ln in (out.read_text() if out.is_file() else "").splitlines())
    assert facts.get("done") == "true", f"rc={proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-4000:]}"
    keep = os.environ.get("TMCP_TEST_ARTIFACTS")  # optional: keep the screenshots
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in work.glob("*.png"):
            shutil.copy(png, Path(keep) / f"env_setup_{png.name}")
    return facts


def test_the_panel_offers_the_setup_and_its_window_shows_the_build(gui, run):
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
