"""Real TrackMate (FIJI_DIR): in a Fiji that plain pyimagej started (``imagej.init``, as in a notebook, Fiji's Python
mode or napari-imagej), with our jar installed by ``install-fiji``, the detector finds the Python service in its own
process by itself: the script (pyimagej_scenario.py) imports nothing of trackmate_cellpose and drives TrackMate through
its Java API only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trackmate_cellpose import sample_path

from conftest import install_into_copy

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _run_scenario(work: Path, fiji: Path, scripts: list[dict], *, only_scripts: bool = False) -> dict:
    out = work / "result.json"
    args = [sys.executable, str(HERE / "pyimagej_scenario.py"), str(out), str(fiji), os.environ["TMCP_TEST_MODEL"],
            str(sample_path("2dt")), str(sample_path("3dt"))]
    env = {**os.environ, "HOME": str(work / "home"), "TRACKMATE_CELLPOSE_CACHE": str(work / "cache"),
           "PYTHONDONTWRITEBYTECODE": "1", "TMCP_SCENARIO_SCRIPTS": json.dumps(scripts, default=str),
           "TMCP_SCENARIO_ONLY_SCRIPTS": "1" if only_scripts else "0"}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1800, cwd=work, env=env)
    if not out.is_file():
        pytest.fail(f"no results (rc={proc.returncode}):\n{proc.stderr[-5000:]}")
    res = json.loads(out.read_text())
    assert "exception" not in res, res["exception"] + proc.stderr[-3000:]
    return res


def _xml_facts(path: Path) -> dict:
    """Spots per frame and the detector key of a TrackMate XML (plain XML parsing)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    frames = [int(s.get("FRAME")) for s in root.iter("Spot")]
    det = root.find(".//DetectorSettings")
    return {"frames": sorted(set(frames)), "n_spots": len(frames), "n_tracks": len(list(root.iter("Track"))),
            "detector": det.get("DETECTOR_NAME") if det is not None else None}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, fiji_dir) -> dict:
    work = tmp_path_factory.mktemp("pyimagej")
    fiji = install_into_copy(fiji_dir, work)
    bsh = {"name": "bsh", "path": str(HERE / "trackmate_cellpose_script.bsh"),
           "params": {"imageFile": sample_path("2dt"), "outFile": work / "bsh.xml",
                      "modelPath": os.environ["TMCP_TEST_MODEL"], "lastFrame": 2}}
    res = _run_scenario(work, fiji, [bsh])
    res["bsh_xml"] = work / "bsh.xml"
    return res


def test_nothing_of_the_package_is_imported_until_trackmate_needs_it(scenario):
    assert scenario["imported_before"] == []
    assert "trackmate_cellpose.bridge" in scenario["imported_after"]


def test_without_the_package_in_that_python_trackmate_says_what_to_install(scenario):
    blocked = scenario["blocked"]
    assert not blocked["ok"] and blocked["spots"] == []
    err = blocked["error"]
    assert "No module named 'trackmate_cellpose" in err and "pip install trackmate-cellpose" in err, err
    assert f"(Python: {sys.executable})" in err, err


def test_trackmate_finds_the_python_service_and_gets_the_right_spots(scenario):
    """Frames 0-2 of the 2D+t sample: polygon spots in every frame, on the ground-truth objects; tracks linked."""
    import tifffile

    run = scenario["run_2dt"]
    assert run["ok"], run["error"]
    spots = run["spots"]
    assert {s["frame"] for s in spots} == {0, 1, 2}
    assert all(s["kind"] == "roi" and s["n_points"] >= 3 for s in spots)
    gt = tifffile.imread(sample_path("2dt", ground_truth=True))
    px = run["pixel_width"]
    hits = [gt[s["frame"], int(round(s["y"] / px)), int(round(s["x"] / px))] > 0 for s in spots]
    assert np.mean(hits) >= 0.9
    per_frame_gt = [len(np.unique(gt[f])) - 1 for f in range(3)]
    per_frame = [sum(s["frame"] == f for s in spots) for f in range(3)]
    assert all(abs(n - g) <= max(1, g // 5) for n, g in zip(per_frame, per_frame_gt)), (per_frame, per_frame_gt)
    assert run["n_tracks"] > 0


def test_a_3d_image_gives_meshes_on_v9_and_spheres_before(scenario, trackmate_line):
    from _shapes import SHAPE_3D

    run = scenario["run_3dt"]
    assert run["ok"], run["error"]
    assert run["spots"] and {s["kind"] for s in run["spots"]} == {SHAPE_3D[trackmate_line]}
    if trackmate_line == "tm9":
        assert all(s["n_triangles"] > 0 and s["volume"] > 0 for s in run["spots"])


@pytest.mark.parametrize("which", ["panel_2d", "panel_3d"])
def test_the_panel_shows_the_python_tables_labels_ranges_and_models(scenario, which):
    """TrackMate's configuration panel is built from the settings table in the jar (generated from settings.py):
    labels (with the image's unit for physical lengths), tooltips (description, key, range), spinner bounds (a
    channel up to the image's channels), 3D-only settings for 3D images only, and the models of this Python's
    cellpose, published when the glue found the Python service."""
    from trackmate_cellpose.segment._models import BUILTIN_MODELS, cellpose_major_version
    from trackmate_cellpose.settings import settings_table

    panel = scenario[which]
    rows = [r for r in settings_table() if which == "panel_3d" or not r["only_3d"]]
    assert panel["shown"] == [r["key"] for r in rows]
    big = 1.7976931348623157e308
    for r in rows:
        f = panel["fields"][r["key"]]
        unit = f" ({panel['unit']})" if r["unit"].startswith("image physical unit") else ""
        assert f["label"] == r["label"] + unit
        assert r["key"] in f["tooltip"] and r["range"].replace(">", "&gt;").replace("<", "&lt;") in f["tooltip"]
        assert r["doc"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in f["tooltip"]
        if r["editor"] in ("number", "channel"):
            assert f["editor"] == "JSpinner"
            lo = r["lo"] if r["lo"] is not None else (-(2 ** 31) if r["type"] == "int" else -big)
            hi = r["hi"] if r["hi"] is not None else (2 ** 31 - 1 if r["type"] == "int" else big)
            if r["editor"] == "channel":
                hi = max(lo, min(hi, panel["n_channels"]))
            assert (f["min"], f["max"]) == (lo, hi), r["key"]
        else:
            assert f["editor"] == {"model": "JComboBox", "file": "JTextField", "text": "JTextField",
                                   "check": "JCheckBox"}[r["editor"]]
    assert panel["fields"]["CELLPOSE_MODEL"]["items"] == [*BUILTIN_MODELS[cellpose_major_version()], "CUSTOM"]


def test_pyimagej_with_a_local_fiji_makes_no_network_connection(scenario):
    """With the Java constraints set to use the installed JDK (scyjava's default would download one), pyimagej
    starting from a local Fiji folder, and the detection, open no socket, resolve no host name and start no
    downloading program (no Maven) from Python."""
    assert scenario["network_events"] == []


def test_a_script_from_fijis_script_editor_runs_the_detector(scenario):
    """The BeanShell twin of scripts/fiji/fiji_trackmate_cellpose.groovy (the same TrackMate calls; the test Fijis lack
    Groovy's core), run through SciJava's ScriptService as the Script Editor does, in the Fiji pyimagej started."""
    assert scenario["scripts"]["bsh"]["ok"] and scenario["scripts"]["bsh"]["language"] == "BeanShell"
    facts = _xml_facts(scenario["bsh_xml"])
    assert facts["detector"] == "CELLPOSE_ADVANCED_PY_DETECTOR" and facts["frames"] == [0, 1, 2]
    assert facts["n_tracks"] > 0


def _real_jython(fiji: Path) -> Path | None:
    """A real Jython for the test copy: the Fiji's own, else Debian's ``jython`` package (the test Fijis ship a
    stub of jython-shaded); None if neither."""
    own = [p for p in (fiji / "jars").glob("jython*.jar") if p.stat().st_size > 1_000_000]
    if own:
        return own[0]
    debian = Path("/usr/share/java/jython.jar")
    return debian if debian.is_file() else None


def test_the_jython_example_runs_in_a_fiji_started_by_pyimagej(tmp_path, fiji_dir):
    """scripts/fiji/fiji_trackmate_cellpose_jython.py itself, from Fiji's ScriptService, in a pyimagej-started copy of the
    Fiji with our jar installed: spots in every frame, tracks, the XML names the detector."""
    work = tmp_path
    fiji = install_into_copy(fiji_dir, work)
    jython = _real_jython(fiji)
    if jython is None:
        pytest.skip("no real Jython: this Fiji ships a stub and Debian's jython package is not installed")
    if not jython.is_relative_to(fiji):
        # Debian's Jython (its own antlr 3 runtime, on its manifest class path) in place of the stub; Fiji's antlr 3.5
        # jars would shadow that runtime. Only this copy changes (its files are links: removing one keeps the original).
        for p in (fiji / "jars").glob("jython-shaded-*STUB*.jar"):
            p.unlink()
        for p in (fiji / "jars").glob("antlr-*3.5*.jar"):
            p.unlink()
    if not list((fiji / "jars").glob("groovy-[0-9]*.jar")):
        # The test Fijis lack Groovy's core and Scala's compiler jars: on Java 21+ the JDK's script-engine lookup fails as a
        # whole at their engine factories (Java 17 skips them), Jython's included. A user's Fiji has those jars.
        for pattern in ("groovy-jsr223-*.jar", "scripting-groovy-*.jar", "scripting-scala-*.jar"):
            for p in (fiji / "jars").glob(pattern):
                p.unlink()
        import shutil

        shutil.copy(jython, fiji / "jars" / "jython-debian.jar")
    out = work / "jython.xml"
    script = {"name": "jython", "path": str(REPO / "scripts" / "fiji" / "fiji_trackmate_cellpose_jython.py"),
              "params": {"imageFile": sample_path("2dt"), "outFile": out, "modelName": "CUSTOM",
                         "modelPath": os.environ["TMCP_TEST_MODEL"], "diameter": "10.0", "useGpu": "false",
                         "minIou": "0.3"}}
    res = _run_scenario(work, fiji, [script], only_scripts=True)
    assert res["scripts"]["jython"]["ok"] and "Python" in res["scripts"]["jython"]["language"]
    assert res["imported_before"] == []
    facts = _xml_facts(out)
    gt = _n_frames(sample_path("2dt"))
    assert facts["detector"] == "CELLPOSE_ADVANCED_PY_DETECTOR" and facts["frames"] == list(range(gt))
    assert facts["n_tracks"] > 0


def _n_frames(image: Path) -> int:
    import tifffile

    return int(tifffile.imread(image).shape[0])
