"""CI-side: the Python service called through the plain-Java interface, in a real JVM, without TrackMate.

A small Java harness (written to tmp_path and compiled here) plays TrackMate's part: it builds a
``DetectionRequest`` from arrays, calls the registered ``CellposePyService`` from a Java thread and records what
reaches its ``DetectionSink``. Each JVM runs in its own subprocess (one JVM per process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trackmate_cellpose.bridge._glue import find_javac, glue_source_root
from trackmate_cellpose.errors import BackendUnavailableError
from trackmate_cellpose.bridge._glue import glue_table_json
from trackmate_cellpose.settings import SETTINGS_RESOURCE

pytestmark = pytest.mark.jvm

CORE = ("CellposePyService", "CellposePyServices", "PyImageJDiscovery", "SettingsTable", "DetectionRequest",
        "DetectionSink", "CellposePyWorker", "WorkerProcess", "WorkerPython", "WorkerWatchdog", "CellposePyTrainer",
        "TrainingRequest", "TrainingSink", "EnvBuilder", "UvBootstrap")

HARNESS = r"""
package harness;

import java.util.*;
import trackmatecellpose.glue.*;

public class Harness {
    public static class ArrayRequest implements DetectionRequest {
        final Map<String, Object> settings; final int first, n; final long[] shape;
        public ArrayRequest(Map<String, Object> settings, int first, int n, long[] shapeCZYX) {
            this.settings = settings; this.first = first; this.n = n; this.shape = shapeCZYX; }
        public Map<String, Object> settings() { return settings; }
        public boolean is3D() { return shape[1] > 1; }
        public int firstFrame() { return first; }
        public int nFrames() { return n; }
        public long[] frameShapeCZYX() { return shape.clone(); }
        public long[] originXYZ() { return new long[] { 10, 20, 0 }; }
        public double[] calibrationXYZT() { return new double[] { 0.5, 0.5, 1.0, 5.0 }; }
        public String spaceUnit() { return "um"; }
        public String timeUnit() { return "s"; }
        public String dtype() { return "uint16"; }
        public String imageName() { return "harness"; }
        public Object frame(int i) {
            int len = (int) (shape[0] * shape[1] * shape[2] * shape[3]);
            short[] a = new short[len];
            for (int k = 0; k < len; k++) a[k] = (short) (40000 + 1000 * (first + i) + k % 1000);  // > 32767: unsigned
            return a;
        }
    }

    public static class RecordingSink implements DetectionSink {
        public final List<String> events = Collections.synchronizedList(new ArrayList<>());
        public volatile int framesDone; public volatile int cancelAfter = Integer.MAX_VALUE;
        public volatile String failure, details;
        public void addRois(int frame, int[] nPoints, double[] x, double[] y, double[] quality, String[] names, double[] values) {
            StringBuilder sb = new StringBuilder("roi " + frame + " n=" + nPoints.length);
            for (int i = 0, o = 0; i < nPoints.length; o += nPoints[i], i++)
                sb.append(" [x0=" + x[o] + " y0=" + y[o] + " np=" + nPoints[i] + " q=" + quality[i] + "]");
            sb.append(" features=" + Arrays.toString(names) + Arrays.toString(values));
            events.add(sb.toString());
        }
        public void addMeshes(int frame, double[] c, double[] r, double[] q, int[] nv, double[] v, int[] nf, int[] f, String[] names, double[] values) {
            events.add("mesh " + frame + " n=" + r.length + " nv=" + Arrays.toString(nv) + " nf=" + Arrays.toString(nf));
        }
        public void frameDone(int frame) { framesDone++; events.add("done " + frame); }
        public void progress(double fraction, String status) { events.add("progress " + fraction); }
        public void log(String message) { events.add("log " + message); }
        public boolean isCanceled() { return framesDone >= cancelAfter; }
        public void fail(String summary, String details) { this.failure = summary; this.details = details; }
    }

    /** Calls the registered service from a Java thread, as TrackMate does. */
    public static RecordingSink run(Map<String, Object> settings, int first, int n, long[] shape, int cancelAfter)
            throws InterruptedException {
        final RecordingSink sink = new RecordingSink();
        sink.cancelAfter = cancelAfter;
        final DetectionRequest req = new ArrayRequest(settings, first, n, shape);
        Thread t = new Thread(() -> CellposePyServices.get().detect(req, sink), "trackmate-like-thread");
        t.start();
        t.join();
        return sink;
    }
}
"""

CHILD = r"""
import json, sys
import numpy as np
import jpype
from pathlib import Path

classes, home, mode = sys.argv[1], sys.argv[2], sys.argv[3]
jpype.startJVM(f"-Duser.home={home}", "-XX:-UsePerfData", "-Djava.awt.headless=true", classpath=[classes])
from jpype import JClass
from trackmate_cellpose import DetectorSettings, RuntimeOptions
from trackmate_cellpose.bridge._service import register_service, set_detect_function, set_runtime_options
from trackmate_cellpose.bridge._headless import to_java_map
from trackmate_cellpose.results import Detection, DetectionResult, FrameResult

H = JClass("harness.Harness")
seen = []

def fake_detect(image, settings, *, axes, calibration, runtime, origin_xyz, frame_offset, progress, cancel, log):
    assert axes == "tczyx"
    seen.append({"shape": list(image.shape), "dtype": str(image.dtype), "first": int(image.flat[0]),
                 "origin": list(origin_xyz), "frame_offset": frame_offset, "cal": [calibration.x, calibration.t],
                 "unit": calibration.space_unit, "diameter": settings.diameter})
    if settings.model_path.endswith("boom.pth"):
        raise FileNotFoundError("model file boom.pth does not exist")
    frames = []
    for i in range(image.shape[0]):
        f = frame_offset + i
        sq = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float) + [origin_xyz[0] * 0.5, origin_xyz[1] * 0.5]
        d = Detection(frame=f, label=1, x=sq[:, 0].mean(), y=sq[:, 1].mean(), z=0, radius=1.1, quality=float(image[i].max()),
                      roi_xy=sq, features={"MEAN_CELLPROB": 2.5})
        frames.append(FrameResult(frame=f, labels=np.zeros((2, 2), int), detections=[d] if f % 2 == 0 else []))
        progress(1.0, "done")
    return DetectionResult(frames=frames, calibration=calibration, is_3d=False)

Services = JClass("trackmatecellpose.glue.CellposePyServices")
before = str(Services.defaultModel())
first = register_service()
Services.register(None)  # the glue's registry cleared: the next call registers the same service again
again = register_service()
_s = lambda v: None if v is None else str(v)
out = {"models": {"before": before, "default": str(Services.defaultModel()),
                  "list": [str(m) for m in Services.models()]},
       "idempotent": {"same": first is again and register_service() is first,
                      "registered": Services.get() is not None}}
settings = to_java_map(DetectorSettings(diameter=12.5))
shape = jpype.JArray(jpype.JLong)([1, 1, 8, 6])
if mode == "fake":
    set_detect_function(fake_detect)
    set_runtime_options(RuntimeOptions(frames_per_batch=2))
    s = H.run(settings, 3, 5, shape, 1 << 30)
    out["ok"] = {"events": [str(e) for e in s.events], "failure": _s(s.failure), "seen": list(seen)}
    seen.clear()
    bad = to_java_map(DetectorSettings(model="CUSTOM", model_path="/x/boom.pth"))
    s = H.run(bad, 0, 2, shape, 1 << 30)
    out["error"] = {"failure": _s(s.failure), "details": _s(s.details)}
    s = H.run(to_java_map(DetectorSettings(flow_threshold=0.5)), 0, 1, shape, 1 << 30)
    out["after_error"] = {"events": [str(e) for e in s.events], "failure": _s(s.failure)}
    bad_map = to_java_map(DetectorSettings())
    bad_map.put("FLOW_THRESHOLD", JClass("java.lang.Double")(-1.0))
    s = H.run(bad_map, 0, 1, shape, 1 << 30)
    out["invalid"] = {"failure": _s(s.failure)}
    set_runtime_options(RuntimeOptions(frames_per_batch=1))
    s = H.run(settings, 0, 6, shape, 2)
    out["cancel"] = {"frames_done": int(s.framesDone), "failure": _s(s.failure)}
    seen.clear()
    set_runtime_options(RuntimeOptions(frames_per_batch=2, workers=2))
    s = H.run(settings, 3, 5, shape, 1 << 30)
    out["distributed"] = {"seen": list(seen), "failure": _s(s.failure), "frames_done": int(s.framesDone)}
print("RESULT" + json.dumps(out, default=lambda o: None if o is None else str(o)))
"""


@pytest.fixture(scope="module")
def harness_classes(tmp_path_factory) -> Path:
    try:
        javac = find_javac()
    except BackendUnavailableError as e:
        pytest.skip(f"no JDK: {e}")
    d = tmp_path_factory.mktemp("harness")
    src = d / "src" / "harness"
    src.mkdir(parents=True)
    (src / "Harness.java").write_text(HARNESS, encoding="utf-8")
    glue = glue_source_root() / "common" / "trackmatecellpose" / "glue"
    classes = d / "classes"
    classes.mkdir()
    # PyImageJDiscovery (reached only in a Fiji) names SciJava/TrackMate types: javac reads them from the API mirror's
    # sources but writes no class of the mirror (-implicit:none), so none is ever on this JVM's class path.
    mirror = Path(__file__).resolve().parents[2] / "java-glue" / "api-mirror"
    proc = subprocess.run([str(javac.path), "--release", "11", "-nowarn", "-implicit:none", "-sourcepath",
                           os.pathsep.join(str(mirror / d) for d in ("shared", "tm8")), "-d", str(classes),
                           *(str(glue / f"{c}.java") for c in CORE), str(src / "Harness.java")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    resource = classes / SETTINGS_RESOURCE  # as the jar build puts it
    resource.parent.mkdir(parents=True, exist_ok=True)
    resource.write_text(glue_table_json(), encoding="utf-8")
    return classes


def _child(classes: Path, tmp_path: Path, mode: str) -> dict:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD), encoding="utf-8")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, str(script), str(classes), str(tmp_path / "home"), mode],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert proc.returncode == 0 and line, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(line[len("RESULT"):])


@pytest.fixture(scope="module")
def fake_results(harness_classes, tmp_path_factory) -> dict:
    return _child(harness_classes, tmp_path_factory.mktemp("child"), "fake")


def test_registration_publishes_the_installed_cellposes_models(fake_results):
    from trackmate_cellpose.segment._models import BUILTIN_MODELS, cellpose_major_version
    from trackmate_cellpose.settings import default_model

    m = fake_results["models"]
    major = cellpose_major_version()
    assert m["before"] == "cyto3"  # Java's fallback before a Python side registers
    assert m["default"] == default_model(major) and m["list"] == list(BUILTIN_MODELS[major])


def test_register_service_is_idempotent(fake_results):
    """The glue may call it in a Fiji that Python started (PyImageJDiscovery) after start_fiji already did."""
    assert fake_results["idempotent"] == {"same": True, "registered": True}


def test_frames_cross_in_bulk_with_calibration_and_offsets(fake_results):
    seen = fake_results["ok"]["seen"]
    assert fake_results["ok"]["failure"] is None
    # 5 frames from frame 3, in batches of 2: (2, 2, 1) frames of (C=1, Z=1, Y=8, X=6), uint16 kept unsigned.
    assert [s["shape"] for s in seen] == [[2, 1, 1, 8, 6], [2, 1, 1, 8, 6], [1, 1, 1, 8, 6]]
    assert {s["dtype"] for s in seen} == {"uint16"}
    assert [s["first"] for s in seen] == [43000, 45000, 47000]
    assert [s["frame_offset"] for s in seen] == [3, 5, 7]
    assert all(s["origin"] == [10, 20, 0] and s["cal"] == [0.5, 5.0] and s["unit"] == "um" for s in seen)
    assert seen[0]["diameter"] == 12.5


def test_detections_reach_the_java_sink_per_frame(fake_results):
    events = fake_results["ok"]["events"]
    rois = [e for e in events if e.startswith("roi")]
    assert [e.split()[1] for e in rois] == ["4", "6"]  # even frames only; odd frames are empty
    assert "x0=5.0 y0=10.0 np=4" in rois[0] and "MEAN_CELLPROB" in rois[0]
    assert [e for e in events if e.startswith("done")] == [f"done {f}" for f in range(3, 8)]
    assert any(e.startswith("progress 1.0") for e in events)


def test_python_exception_becomes_one_line_plus_traceback(fake_results):
    err = fake_results["error"]
    assert err["failure"] == "FileNotFoundError: model file boom.pth does not exist"
    assert "\n" not in err["failure"]
    assert "Traceback" in err["details"] and "fake_detect" in err["details"]


def test_next_call_after_an_error_works(fake_results):
    after = fake_results["after_error"]
    assert after["failure"] is None and any(e.startswith("roi 0") for e in after["events"])


def test_invalid_settings_message_names_the_key(fake_results):
    assert fake_results["invalid"]["failure"] == "FLOW_THRESHOLD must be >= 0.0, got -1.0"


def test_cancel_stops_between_batches(fake_results):
    assert fake_results["cancel"]["failure"] is None
    assert fake_results["cancel"]["frames_done"] == 2


def test_distributed_runtime_hands_the_whole_interval_to_one_call(fake_results):
    # with dask workers, one detect() call gets every frame so that the cluster can spread them
    d = fake_results["distributed"]
    assert d["failure"] is None and d["frames_done"] == 5
    assert [x["shape"][0] for x in d["seen"]] == [5] and d["seen"][0]["frame_offset"] == 3
