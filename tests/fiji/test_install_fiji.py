"""Real TrackMate (FIJI_DIR): the prebuilt glue jar, installed with ``install-fiji`` into a COPY of that Fiji (hard
links where the file system allows; new files are always written new, so the shared Fiji is never modified).

* the shipped jar is the very bytecode javac makes against this real Fiji (so the API mirror linked it right);
* a classic launch (plain JVM, ImageJ's launcher, no Python) lists the detector, loaded from the installed jar;
* a Fiji started from Python runs TrackMate with it (2D+t ROIs, Preview, 3D) with compiling made impossible;
* without any prebuilt jar, the fallback compiles against the Fiji and works.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trackmate_cellpose import __version__
from trackmate_cellpose.bridge import find_fiji
from trackmate_cellpose.bridge._glue import compile_glue, find_javac, shipped_jar
from trackmate_cellpose.bridge._prebuilt import PLUGIN_INDEX, plugin_index_entries

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
KEY = "CELLPOSE_ADVANCED_PY_DETECTOR"
LIST_SCRIPT = """
import fiji.plugin.trackmate.providers.DetectorProvider;
p = new DetectorProvider();
f = p.getFactory("CELLPOSE_ADVANCED_PY_DETECTOR");
out = new java.io.PrintWriter(System.getProperty("tmcp.out"), "UTF-8");
out.println("keys=" + p.getVisibleKeys());
out.println("name=" + (f == null ? "" : f.getName()));
out.println("jar=" + (f == null ? "" : new java.io.File(f.getClass().getProtectionDomain().getCodeSource()
    .getLocation().toURI()).getAbsolutePath()));
out.flush();
imp = ij.IJ.createImage("blank", "8-bit black", 32, 32, 1);
s = new fiji.plugin.trackmate.Settings(imp);
s.detectorFactory = f.copy();
m = f.getDefaultSettings();
m.put("CELLPOSE_MODEL", "CUSTOM");
m.put("CELLPOSE_MODEL_FILEPATH", System.getProperty("tmcp.model"));
m.put("USE_GPU", Boolean.FALSE);
s.detectorSettings = m;
tm = new fiji.plugin.trackmate.TrackMate(new fiji.plugin.trackmate.Model(), s);
out.println("detect_ok=" + tm.execDetection());
out.println("n_spots=" + tm.getModel().getSpots().getNSpots(false));
out.println("error=" + String.valueOf(tm.getErrorMessage()).replace("\\n", " "));
out.close();
"""


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:  # another file system: a real copy
        shutil.copy2(src, dst)


@pytest.fixture(scope="module")
def installed(tmp_path_factory, fiji_dir) -> dict:
    """A copy of FIJI_DIR with our glue installed by the CLI."""
    line = find_fiji(fiji_dir).line
    if shipped_jar(line) is None:
        pytest.fail(f"no current prebuilt glue jar for {line}: run python scripts/tools/build_glue_jars.py "
                    "(or pip install -e .)")
    work = tmp_path_factory.mktemp("installed")
    copy = work / "Fiji.app"
    shutil.copytree(fiji_dir, copy, symlinks=True, copy_function=_link_or_copy)
    proc = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "install-fiji", "--fiji", str(copy)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    jar = copy.resolve() / "jars" / f"trackmate-cellpose-glue-{__version__}.jar"
    return {"work": work, "fiji": copy, "jar": jar, "line": line, "stdout": proc.stdout}


def _javap(jar: Path) -> str:
    javap = find_javac().path.with_name("javap" + (".exe" if os.name == "nt" else ""))
    names = sorted(n[:-6].replace("/", ".") for n in zipfile.ZipFile(jar).namelist() if n.endswith(".class"))
    out = subprocess.run([str(javap), "-c", "-p", "-cp", str(jar), *names], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    # a lambda's synthetic method is numbered per class by javac 17, per method by javac 21+: not a linkage matter
    return "\n".join(re.sub(r"lambda\$(\w+)\$\d+", r"lambda$\1$N", ln) for ln in out.splitlines()
                     if not ln.startswith("Compiled from"))


def test_shipped_jar_is_the_bytecode_javac_makes_against_this_fiji(tmp_path, fiji_dir):
    """Compiled against the API mirror, the jar must link exactly as if compiled against the real TrackMate: same
    instructions, member references and descriptors (a mirror signature that differs, e.g. a return type, shows up
    here), and the same plugin index as SciJava's own annotation processor writes."""
    fiji = find_fiji(fiji_dir)
    shipped = shipped_jar(fiji.line)
    assert shipped is not None
    real = compile_glue(fiji.line, fiji.jars, tmp_path / "real.jar", release=8, javac=find_javac())
    assert _javap(shipped) == _javap(real)
    with zipfile.ZipFile(shipped) as a, zipfile.ZipFile(real) as b:
        ours, theirs = (sorted(plugin_index_entries(z.read(PLUGIN_INDEX).decode()), key=lambda e: e["class"])
                        for z in (a, b))
        assert ours == theirs


def test_install_fiji_copies_the_lines_jar_and_records_python(installed, fiji_dir):
    assert installed["jar"].read_bytes() == shipped_jar(installed["line"]).read_bytes()
    config = json.loads((installed["fiji"] / "config" / "trackmate-cellpose.json").read_text())
    assert config["python"] == sys.executable and config["line"] == installed["line"]
    assert f"installed {installed['jar']}" in installed["stdout"]
    assert not list(Path(fiji_dir, "jars").glob("trackmate-cellpose-glue-*")), "the shared Fiji is untouched"


def _java(fiji: Path) -> str:
    home = os.environ.get("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home else None
    return str(java) if java and java.exists() else shutil.which("java")


def test_classic_launch_lists_the_detector_from_the_installed_jar(installed, test_model):
    """A plain JVM started by ImageJ's launcher (no Python): TrackMate's DetectorProvider lists the detector by its key,
    and its factory class comes from the jar install-fiji wrote; a detection runs through the Python worker with the
    Python install-fiji recorded (a blank image: no spots, no error). test_classic_worker.py tests the worker."""
    fiji, work = installed["fiji"], installed["work"]
    script, out = work / "list.bsh", work / "classic.txt"
    script.write_text(LIST_SCRIPT)
    launcher = sorted((fiji / "jars").glob("imagej-launcher-*.jar"))
    if not launcher:
        pytest.skip("this Fiji has no imagej-launcher jar")
    cmd = [_java(fiji), "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
           "--add-opens=java.desktop/sun.awt=ALL-UNNAMED", "-Djava.awt.headless=true", f"-Dplugins.dir={fiji}",
           f"-Dimagej.dir={fiji}", f"-Dij.dir={fiji}", f"-Dtmcp.out={out}", f"-Duser.home={work / 'home'}",
           f"-Dtmcp.model={test_model}",
           "-XX:-UsePerfData", "-cp", str(launcher[-1]), "net.imagej.launcher.ClassLauncher", "-ijjarpath", "jars",
           "-ijjarpath", "plugins", "net.imagej.Main", "--headless", "--run", str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=work,
                          env={k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"})
    assert out.is_file(), proc.stdout[-2000:] + proc.stderr[-3000:]
    facts = dict(ln.split("=", 1) for ln in out.read_text().splitlines())
    assert KEY in facts["keys"] and facts["name"] == "Cellpose advanced (Python)"
    assert Path(facts["jar"]).resolve() == installed["jar"]
    assert facts["detect_ok"] == "true" and facts["n_spots"] == "0", facts


def _scenarios(work: Path, fiji: Path, names: list[str], *, extra_env: dict | None = None,
               script: str = "installed_scenarios.py") -> dict:
    out = work / f"{names[0]}.json"
    env = {**os.environ, "FIJI_DIR": str(fiji), "TRACKMATE_CELLPOSE_CACHE": str(work / "cache"),
           "HOME": str(work / "pyhome"), "PYTHONDONTWRITEBYTECODE": "1", **(extra_env or {})}
    proc = subprocess.run([sys.executable, str(HERE / script), str(out), str(work), *names],
                          capture_output=True, text=True, timeout=1800, cwd=work, env=env)
    if not out.is_file():
        pytest.fail(f"no scenario results (rc={proc.returncode}):\n{proc.stderr[-5000:]}")
    results = json.loads(out.read_text())
    for name in names:
        assert results.get(name, {}).get("ok"), results.get(name, {}).get("error", proc.stderr[-3000:])
    return results


@pytest.fixture(scope="module")
def in_process(installed) -> dict:
    return _scenarios(installed["work"], installed["fiji"],
                      ["glue_source", "provider", "headless_2dt", "preview", "shapes_3d"])


def test_fiji_from_python_uses_the_installed_jar_without_compiling(in_process, installed):
    """installed_scenarios.py makes javac unusable in that process; the factory class comes from Fiji's jars/."""
    r = in_process["glue_source"]
    assert r["origin"] == "installed"
    assert Path(r["factory_jar"]).resolve() == Path(r["session_jar"]).resolve() == installed["jar"]
    assert not (installed["work"] / "cache" / "glue").exists()
    assert KEY in in_process["provider"]["visible_keys"]


def test_installed_jar_runs_trackmate_2dt_preview_and_3d(in_process, installed):
    from _shapes import SHAPE_3D

    run = in_process["headless_2dt"]
    assert set(run["per_frame"]) == {"0", "1", "2"} and all(n > 0 for n in run["per_frame"].values())
    assert run["rois_ok"] and run["gt_hit_fraction"] >= 0.9 and run["reader_ok"] and run["settings_roundtrip"]
    # TrackMate's log says where the detector runs (one line per detection)
    assert len(run["mode_lines"]) == 1
    assert (f"Cellpose advanced (Python): in-process (pid {run['pid']}, {sys.executable}), trackmate-cellpose "
            f"{__version__}, cellpose ") in run["mode_lines"][0]
    assert run["mode_lines"][0].endswith(", device cpu")
    assert in_process["preview"]["frames"] == [5] and in_process["preview"]["n_spots_frame5"] > 0
    shapes = in_process["shapes_3d"]
    assert shapes["n_spots"] > 0 and shapes["kinds"] == [SHAPE_3D[installed["line"]]]


def test_without_a_prebuilt_jar_the_glue_is_compiled_against_the_fiji(tmp_path, fiji_dir):
    """The fallback (a package built without a JDK): javac against the user's Fiji, then TrackMate runs a Preview."""
    r = _scenarios(tmp_path, fiji_dir, ["glue_source", "preview"], extra_env={"TMCP_TEST_NO_PREBUILT": "1"},
                   script="installed_scenarios.py")
    assert r["glue_source"]["origin"] == "compiled"
    assert Path(r["glue_source"]["factory_jar"]).is_relative_to(tmp_path / "cache" / "glue")
    assert r["preview"]["n_spots_frame5"] > 0
