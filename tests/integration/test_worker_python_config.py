"""Which Python the Java worker service starts (``WorkerPython``, JDK only), run for real in a JVM: the
``PYTHON_EXECUTABLE`` setting, else the ``"python"`` that install-fiji's JSON records (found through Fiji's folder
properties or the glue jar's own location), else an error that says what to run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trackmate_cellpose.bridge._install import install_fiji

from support.fake_fiji import fake_fiji
from support.java_probe import compile_probe

PROBE = """
package trackmatecellpose.glue;

public class WorkerPythonProbe {
    public static void main(String[] args) throws Exception {
        java.util.Map<String, Object> settings = new java.util.HashMap<>();
        if (args.length > 0) settings.put("PYTHON_EXECUTABLE", args[0]);
        try {
            System.out.print("python=" + WorkerPython.executable(settings));
        } catch (WorkerPython.NotFound e) {
            System.out.print("notfound=" + e.getMessage());
        }
    }
}
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    return compile_probe(tmp_path_factory.mktemp("probe"), "WorkerPythonProbe", PROBE)


def _run(probe: dict, jar: Path, *args: str, props: dict | None = None) -> str:
    cmd = [probe["java"], *(f"-D{k}={v}" for k, v in (props or {}).items()),
           "-cp", f"{jar}{':' if sys.platform != 'win32' else ';'}{probe['classes']}",
           "trackmatecellpose.glue.WorkerPythonProbe", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def test_the_recorded_python_is_read_from_install_fijis_json(tmp_path, probe):
    fiji = fake_fiji(tmp_path / "Fiji.app")
    install_fiji(fiji, python=sys.executable)
    assert _run(probe, probe["jar"], props={"imagej.dir": fiji}) == f"python={sys.executable}"
    # the setting wins
    assert _run(probe, probe["jar"], " /opt/py/bin/python3 ", props={"imagej.dir": fiji}) == "python=/opt/py/bin/python3"


def test_escaped_paths_are_unescaped(tmp_path, probe):
    """A Windows path, quotes and non-ASCII letters as json.dumps writes them (escaped)."""
    fiji = fake_fiji(tmp_path / "Fiji.app")
    odd = 'C:\\Users\\Zoë "lab"\\miniforge3\\envs\\tmcp\\python.exe'
    (fiji / "config").mkdir()
    (fiji / "config" / "trackmate-cellpose.json").write_text(json.dumps({"version": "1", "python": odd, "x": True}))
    assert _run(probe, probe["jar"], props={"ij.dir": fiji}) == f"python={odd}"


def test_the_fiji_folder_is_found_from_the_jars_location(tmp_path, probe):
    """No Fiji property (a launcher that sets none): the folder above jars/ holding the glue."""
    fiji = fake_fiji(tmp_path / "Fiji.app")
    install_fiji(fiji, python="/some/python")
    jar = next((fiji / "jars").glob("trackmate-cellpose-glue-*.jar"))
    assert _run(probe, jar) == "python=/some/python"


def test_no_recorded_python_says_what_to_run(tmp_path, probe):
    fiji = fake_fiji(tmp_path / "Fiji.app")
    jar = fiji / "jars" / "glue.jar"
    shutil.copy(probe["jar"], jar)
    out = _run(probe, jar, props={"plugins.dir": fiji})
    assert out.startswith("notfound=")
    assert "trackmate-cellpose install-fiji" in out and "PYTHON_EXECUTABLE" in out
    assert "Set one up from Fiji: Plugins > Tracking > TrackMate-Cellpose > Set up a Python environment" in out
    assert "in a headless script the command trackmatecellpose.glue.SetUpPythonCommand" in out
    assert str(fiji / "config" / "trackmate-cellpose.json") in out


def test_no_python_with_the_update_sites_code_names_the_setup_command_too(tmp_path, probe):
    """The update site's glue (its Python code beside it): the user brings only cellpose, or builds an environment."""
    fiji = fake_fiji(tmp_path / "Fiji.app")
    jar = fiji / "jars" / "glue.jar"
    shutil.copy(probe["jar"], jar)
    code = fiji / "lib" / "trackmate-cellpose" / "trackmate-cellpose-python.zip"
    out = _run(probe, jar, props={"plugins.dir": fiji, "trackmate.cellpose.pythonCode": code})
    assert out.startswith("notfound=")
    assert "Set one up from Fiji: Plugins > Tracking > TrackMate-Cellpose > Set up a Python environment" in out
    assert "in a headless script the command trackmatecellpose.glue.SetUpPythonCommand" in out
    assert "an environment that has cellpose (3 or 4); nothing else needs installing there" in out
    assert "install-fiji" not in out


FAILING = """
package trackmatecellpose.glue;

import java.util.*;

public class WorkerFailureProbe {
    public static void main(String[] args) throws Exception {
        final Map<String, Object> settings = new HashMap<>();
        settings.put("PYTHON_EXECUTABLE", args[0]);
        settings.put("USE_GPU", Boolean.FALSE);
        final DetectionRequest request = new DetectionRequest() {
            public Map<String, Object> settings() { return settings; }
            public boolean is3D() { return false; }
            public int firstFrame() { return 0; }
            public int nFrames() { return 1; }
            public long[] frameShapeCZYX() { return new long[] { 1, 1, 4, 4 }; }
            public long[] originXYZ() { return new long[3]; }
            public double[] calibrationXYZT() { return new double[] { 1, 1, 1, 1 }; }
            public String spaceUnit() { return "um"; }
            public String timeUnit() { return "s"; }
            public String dtype() { return "uint8"; }
            public String imageName() { return "probe"; }
            public Object frame(int i) { return new byte[16]; }
        };
        final StringBuilder failure = new StringBuilder();
        final DetectionSink sink = new DetectionSink() {
            public void addRois(int f, int[] n, double[] x, double[] y, double[] q, String[] fn, double[] fv) {}
            public void addMeshes(int f, double[] c, double[] r, double[] q, int[] nv, double[] v, int[] nf, int[] fa,
                                  String[] fn, double[] fv) {}
            public void frameDone(int frame) {}
            public void progress(double fraction, String status) {}
            public void log(String message) {}
            public boolean isCanceled() { return false; }
            public void fail(String summary, String details) { failure.append(summary); }
        };
        final long t0 = System.currentTimeMillis();
        CellposePyWorker.shared().detect(request, sink);
        System.out.println("ms=" + (System.currentTimeMillis() - t0));
        System.out.println("failure=" + failure);
    }
}
"""


@pytest.fixture(scope="module")
def failure_probe(probe, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("failprobe")
    src = work / "src" / "trackmatecellpose" / "glue" / "WorkerFailureProbe.java"
    src.parent.mkdir(parents=True)
    src.write_text(FAILING)
    subprocess.run([probe["java"] + "c", "--release", "8", "-Xlint:-options", "-cp", str(probe["jar"]), "-d",
                    str(probe["classes"]), str(src)], check=True, capture_output=True, timeout=300)
    return probe


def _fail(probe: dict, python: Path, *props: str) -> dict:
    cmd = [probe["java"], *props, "-cp", f"{probe['jar']}:{probe['classes']}",
           "trackmatecellpose.glue.WorkerFailureProbe", str(python)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.mark.skipif(sys.platform == "win32", reason="shell scripts stand in for a Python")
def test_a_worker_that_never_answers_is_stopped_at_the_handshake_timeout(tmp_path, failure_probe):
    """Fiji never hangs: no handshake within trackmate.cellpose.worker.startTimeout seconds stops the worker."""
    silent = tmp_path / "silent-python"
    silent.write_text("#!/bin/sh\nexec sleep 600\n")
    silent.chmod(0o755)
    r = _fail(failure_probe, silent, "-Dtrackmate.cellpose.worker.startTimeout=2")
    assert "was stopped: no handshake within 2 s before its handshake" in r["failure"], r
    assert int(r["ms"]) < 15000


@pytest.mark.skipif(sys.platform == "win32", reason="shell scripts stand in for a Python")
def test_not_a_python_is_reported_with_its_exit_and_output(tmp_path, failure_probe):
    fake = tmp_path / "not-python"
    fake.write_text("#!/bin/sh\necho 'this is not python' >&2\nexit 3\n")
    fake.chmod(0o755)
    r = _fail(failure_probe, fake)
    assert f"The Python worker ({fake}, the PYTHON_EXECUTABLE setting) exited with code 3 before its handshake" \
        in r["failure"], r
    assert "Last output: this is not python" in r["failure"]
