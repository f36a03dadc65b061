"""The update site (``trackmate-cellpose build-update-site``) as a Fiji user meets it: a ``file:`` site built from this
checkout, a copy of FIJI_DIR updated by **Fiji's own updater** (``net.imagej.updater.CommandLine`` through ImageJ's
``ClassLauncher``, headless: ``add-update-site`` then ``update``), then a classic launch (a plain JVM, no Python in it)
whose detector runs in a fresh venv that has only torch and cellpose (no trackmate-cellpose, no scikit-image): the
worker runs the site's Python code. The same launches run TrackMate's action "Retrain cellpose on these spots" (the
loader registers it from the line jar's plugin index; the worker trains with the site's code once the packages its
message names are installed).

One module run covers the Fiji of FIJI_DIR (its TrackMate line); run it with each of the three test Fijis.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import tifffile

from trackmate_cellpose import Calibration, DetectorSettings, detect, sample_path
from trackmate_cellpose.bridge import find_fiji

from conftest import classic_command

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
SITE = "TrackMate-Cellpose-test"
FRAMES = 4  # 2D+t frames detected (0..3)


def _jvm(fiji: Path, home: Path, main: list[str], props: dict | None = None, timeout: int = 900):
    """Run ``main`` (a class and its arguments) in a classic launch's JVM; returns the finished process."""
    return subprocess.run(classic_command(fiji, home, main, props), capture_output=True, text=True, timeout=timeout,
                          cwd=home, env={k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"})


def _updater(fiji: Path, home: Path, *args: str):
    return _jvm(fiji, home, ["net.imagej.updater.CommandLine", *args])


def _copy_fiji(src: Path, dst: Path) -> Path:
    """A copy of ``src`` with hard links for what the updater replaces by renaming (jars, plugins ...) and real copies
    of the top-level files it rewrites in place (``.checksums``), so the shared Fiji is never modified."""
    def link(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, symlinks=True, copy_function=link)
    for f in dst.iterdir():
        if f.is_file() and not f.is_symlink():
            data = f.read_bytes()
            f.unlink()
            f.write_bytes(data)
    return dst


def _launch(fiji: Path, work: Path, name: str, props: dict) -> dict:
    out = work / f"{name}.txt"
    t0 = time.perf_counter()
    proc = _jvm(fiji, work / "home", ["net.imagej.Main", "--headless", "--run", str(HERE / "update_site.bsh")],
                {"out": out, **props}, timeout=1500)
    wall = time.perf_counter() - t0
    facts, spots = {}, []
    for line in (out.read_text() if out.is_file() else "").splitlines():
        key, _, value = line.partition("=")
        if key == "spot":
            step, frame, x, y, z, cls, npts = value.split(",")
            spots.append({"step": step, "frame": int(frame), "x": float(x), "y": float(y), "z": float(z),
                          "cls": cls, "roi_points": int(npts)})
        else:
            facts[key] = value
    log = Path(f"{out}.log").read_text() if Path(f"{out}.log").is_file() else ""
    assert facts.get("done") == "true", f"rc={proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
    return {"facts": facts, "spots": spots, "log": log, "stderr": proc.stderr + proc.stdout, "wall_s": wall}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The ``file:`` update site built from this checkout by the CLI."""
    out = tmp_path_factory.mktemp("site") / "site"
    proc = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "build-update-site", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def cellpose_only_python(tmp_path_factory) -> Path:
    """A fresh venv with torch==2.13.0 (installed first: the local CPU build) and cellpose 3, nothing of ours."""
    venv = tmp_path_factory.mktemp("venv-cellpose") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    for spec in (["torch==2.13.0"], ["cellpose>=3.1,<4"]):
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *spec],
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
    probe = subprocess.run([str(py), "-c", "import importlib.util as u; print([m for m in ('trackmate_cellpose', "
                            "'skimage') if u.find_spec(m)])"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": ""})
    assert probe.stdout.strip() == "[]", probe.stdout
    return py


@pytest.fixture(scope="module")
def updated(tmp_path_factory, fiji_dir, site) -> dict:
    """A copy of FIJI_DIR that subscribed to the site and updated, both with Fiji's own updater."""
    work = tmp_path_factory.mktemp("updated")
    fiji = _copy_fiji(fiji_dir, work / "Fiji.app")
    home = work / "home"
    home.mkdir()
    t0 = time.perf_counter()
    add = _updater(fiji, home, "add-update-site", SITE, f"file:{site}/")
    t1 = time.perf_counter()
    upd = _updater(fiji, home, "update")
    t2 = time.perf_counter()
    return {"fiji": fiji, "work": work, "add": add, "update": upd, "add_s": t1 - t0, "update_s": t2 - t1}


def _site_entries(site: Path) -> dict[str, dict]:
    with gzip.open(site / "db.xml.gz") as f:
        root = ElementTree.fromstring(f.read())
    return {p.get("filename"): p.find("version").attrib for p in root.iter("plugin") if p.find("version") is not None}


def test_fijis_own_updater_installs_the_sites_files_with_their_checksums(updated, site):
    from trackmate_cellpose.bridge._updater_db import updater_checksum

    fiji = updated["fiji"]
    assert updated["add"].returncode == 0 and updated["update"].returncode == 0, updated["update"].stderr[-3000:]
    entries = _site_entries(site)
    assert {Path(p).name for p in entries} >= {"trackmate-cellpose-glue-tm7.jar", "trackmate-cellpose-glue-tm8.jar",
                                               "trackmate-cellpose-glue-tm9.jar", "trackmate-cellpose-python.zip"}
    for path, version in entries.items():
        assert (fiji / path).is_file(), f"{path} not installed:\n{updated['update'].stdout[-3000:]}"
        assert updater_checksum(path, fiji / path) == version["checksum"]
    # the updater records them as the site's, and its local db names the site
    with gzip.open(fiji / "db.xml.gz") as f:
        local = ElementTree.fromstring(f.read())
    assert {p.get("filename") for p in local.iter("plugin") if p.get("update-site") == SITE} == set(entries)
    assert not (fiji / "update").exists()  # moved into place
    # nothing of ours on the class path but the loader
    ours = sorted(p.name for p in (fiji / "jars").rglob("trackmate-cellpose*.jar"))
    assert ours == [Path(p).name for p in entries if p.startswith("jars/")]


@pytest.fixture(scope="module")
def curated(updated) -> dict:
    """A small curated 2D+t case for the retraining action: membrane-stained cells and their spots as a TrackMate XML."""
    from support.curated import write_image

    from trackmate_cellpose.data import membrane_movie_2d
    from trackmate_cellpose.training import write_curated_xml

    cal = Calibration(x=0.5, y=0.5, z=1.0, t=1.0, space_unit="um", time_unit="s")
    img, lab = membrane_movie_2d(3, shape_yx=(64, 64), n_objects=4)
    image = write_image(updated["work"] / "curated.tif", img[:, None], cal)
    xml = write_curated_xml(updated["work"] / "curated.xml", lab[:, None], cal, image_path=image)
    return {"train_image": image, "train_xml": xml}


@pytest.fixture(scope="module")
def first(updated, curated, cellpose_only_python, test_model) -> dict:
    """A classic launch of the updated Fiji: lists the detectors and actions, runs 2D+t, retraining and 3D+t with the
    cellpose-only venv."""
    return _launch(updated["fiji"], updated["work"], "first", {
        "steps": "d2,r2,d3", "python": cellpose_only_python, "model": test_model, "image2d": sample_path("2dt"),
        "image3d": sample_path("3dt"), "frames": FRAMES, **curated,
        "train_output": updated["work"] / "first.pth"})


def test_a_classic_launch_lists_the_detector_of_its_line_without_errors_from_our_classes(first, fiji_dir):
    f = first["facts"]
    assert f["loader.line"] == find_fiji(fiji_dir).line
    assert "CELLPOSE_ADVANCED_PY_DETECTOR" in f["keys"]
    assert f["factory"] == "trackmatecellpose.glue.CellposePyDetectorFactory Cellpose advanced (Python)"
    assert "RETRAIN_CELLPOSE_PY" in f["actions"]
    assert f["action"] == "trackmatecellpose.glue.RetrainCellposeActionFactory Retrain cellpose on these spots"
    ours = [line for line in first["stderr"].splitlines()
            if re.search(r"trackmate.?cellpose", line, re.I) and re.search(r"ERROR|Exception|Cannot create", line)]
    assert ours == []


def _per_frame(spots: list[dict]) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in spots:
        out[s["frame"]] = out.get(s["frame"], 0) + 1
    return out


def test_a_cellpose_only_python_detects_2dt_as_detect_does(first, test_model):
    f = first["facts"]
    assert f["d2.ok"] == "true", f["d2.error"] + "\n" + first["log"][-3000:]
    spots = [s for s in first["spots"] if s["step"] == "d2"]
    assert all(s["roi_points"] >= 3 for s in spots)
    assert "Python worker" in first["log"] and "trackmate-cellpose-python.zip" in first["log"]
    movie = tifffile.imread(sample_path("2dt"))[:FRAMES]
    px = float(f["pixel_width"])
    ref = detect(movie[:, None, None], DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0,
                                                        use_gpu=False),
                 axes="tczyx", calibration=Calibration(x=px, y=px, z=1.0, t=1.0, space_unit="um", time_unit="s"))
    assert _per_frame(spots) == {fr.frame: len(fr.detections) for fr in ref.frames if fr.detections}
    mine = sorted((s["frame"], round(s["x"], 3), round(s["y"], 3)) for s in spots)
    theirs = sorted((fr.frame, round(d.x, 3), round(d.y, 3)) for fr in ref.frames for d in fr.detections)
    assert mine == theirs


def test_3d_without_scikit_image_names_what_is_missing_and_the_command_that_fixes_it(first):
    f = first["facts"]
    assert f["d3.ok"] == "false"
    assert "scikit-image" in f["d3.error"] and "pip install scikit-image" in f["d3.error"], f["d3.error"]


def test_retraining_in_a_cellpose_only_python_names_the_packages_and_the_command(first, updated):
    f = first["facts"]
    assert "pip install scikit-image matplotlib" in f["r2.error"], f["r2.error"] + "\n" + first["log"][-3000:]
    assert not (updated["work"] / "first.pth").exists()


@pytest.fixture(scope="module")
def after_fix(first, updated, curated, cellpose_only_python, test_model) -> dict:
    """The commands the 3D and the retraining messages name, run as a user would, then 3D+t and retraining again."""
    for step, packages in (("d3", "scikit-image"), ("r2", "scikit-image matplotlib")):
        command = re.search(rf"run: (.+?pip install {packages})", first["facts"][f"{step}.error"]).group(1)
        proc = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return _launch(updated["fiji"], updated["work"], "second", {
        "steps": "d3,r2", "python": cellpose_only_python, "model": test_model, "image3d": sample_path("3dt"),
        **curated, "train_output": updated["work"] / "second.pth"})


def test_after_the_named_command_the_action_retrains_with_the_sites_code(after_fix, updated):
    from trackmate_cellpose.segment import check_model

    f = after_fix["facts"]
    assert f["r2.error"] == "null", f["r2.error"] + "\n" + after_fix["log"][-3000:]
    model = updated["work"] / "second.pth"
    assert f["r2.result.model_path"] == str(model) and f["r2.result.stopped"] == ""
    assert f["r2.result.epochs_done"] == "2" and Path(f["r2.result.report_path"]).is_file()
    assert "trackmate-cellpose-python.zip" in after_fix["log"]  # the worker ran the site's code
    check_model(DetectorSettings(model="CUSTOM", model_path=str(model)))  # the detector takes it


def test_after_the_named_command_3dt_gives_the_lines_3d_spots(after_fix, fiji_dir):
    from _shapes import SHAPE_3D

    f = after_fix["facts"]
    assert f["d3.ok"] == "true", f["d3.error"]
    spots = [s for s in after_fix["spots"] if s["step"] == "d3"]
    assert spots and {s["frame"] for s in spots} == {0}
    classes = {s["cls"] for s in spots}
    line = find_fiji(fiji_dir).line
    assert classes == ({"SpotMesh"} if SHAPE_3D[line] == "mesh" else {"Spot"})


def test_report_the_numbers(updated, first, site, fiji_dir):
    """Not a check: the benchmark numbers (printed with -s, and in the JSON beside the site)."""
    installed = sum((updated["fiji"] / p).stat().st_size for p in _site_entries(site))
    numbers = {"line": find_fiji(fiji_dir).line, "add_update_site_s": round(updated["add_s"], 1),
               "update_s": round(updated["update_s"], 1),
               "d2_detection_s": float(first["facts"]["d2.seconds"]),  # worker start + 4 frames
               "jvm_start_to_first_detection_s": float(first["facts"]["d2.jvm_uptime_s"]),
               "ticked_to_first_detection_s": round(updated["add_s"] + updated["update_s"]
                                                    + float(first["facts"]["d2.jvm_uptime_s"]), 1),
               "installed_bytes": installed, "load": os.getloadavg()[0]}
    print("update-site numbers:", json.dumps(numbers))
    (site.parent / "numbers.json").write_text(json.dumps(numbers))


def test_fijis_python_mode_runs_the_sites_python_code_in_process(updated, tmp_path):
    """pyimagej (Fiji's Python mode, a notebook) in a Python without trackmate-cellpose: the detector's discovery
    imports the site's code from its zip and registers the in-process service through the loader's class loader."""
    blocker = tmp_path / "blocker" / "trackmate_cellpose"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed in this Python (test)')\n")
    proc = subprocess.run([sys.executable, str(HERE / "update_site_pyimagej.py"), str(updated["fiji"])],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(blocker.parent), "HOME": str(tmp_path)})
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FACTS ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
    facts = json.loads(line[6:])
    assert facts["importable_before"] is False
    assert facts["service"] and facts["service"].endswith("(Python service)"), facts["reason"]
    assert facts["code"].startswith(str(updated["fiji"] / "lib" / "trackmate-cellpose" / "trackmate-cellpose-python.zip"))
