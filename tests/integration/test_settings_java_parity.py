"""The Java glue and the Python settings model agree on every setting: defaults, accepted and rejected values (types,
ranges, finite numbers, empty model name), renamed keys (aliases) and missing keys (filled with defaults), because
Java reads the table generated from ``trackmate_cellpose.settings`` (``SettingsTable.java``). A real JVM (JPype) runs
the glue's ``CellposePyKeys``; the Python side answers the same cases through ``DetectorSettings.from_trackmate_map``.

Cross-setting rules (a CUSTOM model needs its file; the second channel differs from the first) are the Python side's
alone (reported at detection); the cases below avoid them.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trackmate_cellpose.bridge._glue import find_javac, glue_source_root
from trackmate_cellpose.errors import BackendUnavailableError
from trackmate_cellpose.bridge._glue import glue_table_json
from trackmate_cellpose.settings import (KEY_ALIASES, SETTINGS_RESOURCE, DetectorSettings, settings_resource_json,
                                         settings_table)

pytestmark = pytest.mark.jvm

REPO = Path(__file__).resolve().parents[2]
GLUE = ("SettingsTable", "CellposePyKeys", "CellposePyServices", "CellposePyService", "PyImageJDiscovery",
        "DetectionRequest", "DetectionSink", "CellposePyWorker", "WorkerProcess", "WorkerPython", "WorkerWatchdog",
        "CellposePyTrainer", "TrainingRequest", "TrainingSink", "EnvBuilder", "UvBootstrap")

HARNESS = r"""
package harness;

import java.util.*;
import trackmatecellpose.glue.*;

/** Plain-typed entry points (JPype never reflects on CellposePyKeys, whose XML methods name JDOM types). */
public class KeysHarness {
    public static Map<String, Object> defaults() { return CellposePyKeys.defaults(); }
    public static String check(Map<String, Object> settings) { return CellposePyKeys.check(settings); }
    public static List<String> keys3DOnly() { return CellposePyKeys.keys3DOnly(); }
    public static void publishModels(String def, String[] models) { CellposePyServices.setModels(def, models); }
}
"""

CHILD = r"""
import json, math, sys, warnings
import jpype

classes, home, cases_file = sys.argv[1], sys.argv[2], sys.argv[3]
jpype.startJVM(f"-Duser.home={home}", "-XX:-UsePerfData", "-Djava.awt.headless=true", classpath=[classes])
from jpype import JArray, JClass, JString
from trackmate_cellpose.bridge._service import _java_value
from trackmate_cellpose.segment._models import BUILTIN_MODELS
from trackmate_cellpose.settings import DetectorSettings, default_model, installed_cellpose_major
from trackmate_cellpose.errors import InvalidSettingsError

H = JClass("harness.KeysHarness")
out = {"defaults_before": {str(k): _java_value(v) for k, v in H.defaults().items()}}
major = installed_cellpose_major()
H.publishModels(default_model(major), JArray(JString)(list(BUILTIN_MODELS[major])))  # as registration does
out["defaults"] = {str(k): _java_value(v) for k, v in H.defaults().items()}
out["keys_3d"] = [str(k) for k in H.keys3DOnly()]

def to_java(v):
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return JClass("java.lang.Boolean")(v)
    if isinstance(v, int):
        return JClass("java.lang.Integer")(v)
    return JClass("java.lang.Double")(v)

results = []
for case in json.load(open(cases_file)):
    m = JClass("java.util.LinkedHashMap")()
    for k, v in case["map"]:
        m.put(k, to_java(v))
    err = H.check(m)
    java = None if err is not None else {str(k): _java_value(v) for k, v in m.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            py = DetectorSettings.from_trackmate_map(dict(case["map"])).to_trackmate_map()
        py_err = None
    except InvalidSettingsError as e:
        py, py_err = None, str(e)
    results.append({"name": case["name"], "java_error": None if err is None else str(err), "java": java,
                    "python_error": py_err, "python": py})
out["results"] = results
print("RESULT" + json.dumps(out))
"""


#: Values valid alone that break a cross-setting rule of the Python side (with the other settings at their defaults).
CROSS_SETTING = {("OPTIONAL_CHANNEL_2", 1), ("CELLPOSE_MODEL", "CUSTOM")}


def _cases() -> list[dict]:
    """Every key: its default, in-range and out-of-range values, wrong types, non-finite numbers; aliases; missing."""
    cases: list[dict] = [{"name": "empty map (all defaults)", "map": []}]
    nan, inf = float("nan"), float("inf")
    for row in settings_table():
        key, kind, lo, hi = row["key"], row["type"], row["lo"], row["hi"]
        values: list = [row["default"], None]
        if kind == "bool":
            values += [not row["default"], 1, "true"]
        elif kind == "str":
            values += [5, "  cyto2 "] + (["", "   "] if row["nonempty"] else ["", "some text"])
        else:
            one = 1 if kind == "int" else 0.5
            for b in (lo, hi):
                if b is not None:
                    values += [b, b - one, b + one]
            values += [True, "3"]
            if kind == "int":
                values += [2.0, 2.5, 7]
            else:
                values += [2, nan, inf, -inf, 1e300]
        for v in values:
            if (key, v) not in CROSS_SETTING:
                cases.append({"name": f"{key}={v!r}", "map": [[key, v]]})
    for old, new in KEY_ALIASES.items():
        value = DetectorSettings().to_trackmate_map()[new] if new else "ignored"
        if isinstance(value, float):
            value = value / 2 if value else 0.5
        cases.append({"name": f"alias {old}", "map": [[old, value]]})
    for key, v in sorted(CROSS_SETTING):
        cases.append({"name": f"cross-setting {key}={v!r}", "map": [[key, v]]})
    cases.append({"name": "unknown key", "map": [["RADIUS", 5.0]]})
    cases.append({"name": "foreign detector's map", "map": [["RADIUS", 5.0], ["THRESHOLD", 0.0], ["TARGET_CHANNEL", 1]]})
    full = DetectorSettings().to_trackmate_map()
    for key in full:  # every key missing once from a complete map
        cases.append({"name": f"missing {key}", "map": [[k, v] for k, v in full.items() if k != key]})
    return cases


@pytest.fixture(scope="module")
def parity(tmp_path_factory) -> dict:
    try:
        javac = find_javac()
    except BackendUnavailableError as e:
        pytest.skip(f"no JDK: {e}")
    d = tmp_path_factory.mktemp("keys")
    (d / "src" / "harness").mkdir(parents=True)
    (d / "src" / "harness" / "KeysHarness.java").write_text(HARNESS, encoding="utf-8")
    classes = d / "classes"
    classes.mkdir()
    glue = glue_source_root() / "common" / "trackmatecellpose" / "glue"
    mirror = REPO / "java-glue" / "api-mirror"
    # SciJava/TrackMate/JDOM types named by the glue come from the API mirror's sources at compile time only
    # (-implicit:none: no mirror class is written, so none is on the JVM's class path).
    proc = subprocess.run([str(javac.path), "--release", "11", "-nowarn", "-implicit:none", "-sourcepath",
                           os.pathsep.join(str(mirror / s) for s in ("shared", "tm8")), "-d", str(classes),
                           *(str(glue / f"{c}.java") for c in GLUE), str(d / "src" / "harness" / "KeysHarness.java")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    resource = classes / SETTINGS_RESOURCE
    resource.parent.mkdir(parents=True, exist_ok=True)
    resource.write_text(glue_table_json(), encoding="utf-8")  # as the jar build puts it
    cases = d / "cases.json"
    cases.write_text(json.dumps(_cases()))
    script = d / "child.py"
    script.write_text(textwrap.dedent(CHILD), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), str(classes), str(d / "home"), str(cases)],
                          capture_output=True, text=True, timeout=300, cwd=d,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert proc.returncode == 0 and line, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(line[len("RESULT"):])


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def test_java_defaults_are_pythons(parity):
    python = DetectorSettings().to_trackmate_map()
    assert list(parity["defaults"]) == list(python), "same keys in the same order"
    assert all(_same(parity["defaults"][k], v) for k, v in python.items()), parity["defaults"]
    # before a Python side publishes its cellpose's models, Java uses the table's model for "no cellpose"
    assert parity["defaults_before"]["CELLPOSE_MODEL"] == json.loads(settings_resource_json())["fallback_model"]


def test_java_accepts_and_rejects_exactly_what_python_does(parity):
    results = parity["results"]
    disagree = [(r["name"], r["java_error"], r["python_error"]) for r in results
                if (r["java_error"] is None) != (r["python_error"] is None) and not r["name"].startswith("cross")]
    assert not disagree, disagree
    rejected = [r for r in results if r["python_error"]]
    assert len(rejected) >= 40 and len(results) - len(rejected) >= 40, "both outcomes are exercised"


def test_cross_setting_rules_are_reported_by_the_python_side_only(parity):
    """Java checks each setting alone; a CUSTOM model without file, or the second channel equal to the first, passes
    TrackMate's check and fails at detection with the Python side's message (TrackMate's error)."""
    cross = [r for r in parity["results"] if r["name"].startswith("cross")]
    assert len(cross) == len(CROSS_SETTING)
    assert all(r["java_error"] is None and r["python_error"] for r in cross), cross


def test_accepted_maps_end_equal_missing_keys_filled_aliases_renamed(parity):
    for r in parity["results"]:
        if r["python"] is None or r["java"] is None:
            continue
        assert list(r["java"]) == list(r["python"]) or set(r["java"]) == set(r["python"]), r["name"]
        bad = {k: (r["java"][k], v) for k, v in r["python"].items() if not _same(r["java"][k], v)}
        assert not bad, (r["name"], bad)


def test_java_messages_name_the_key_and_the_value(parity):
    for r in parity["results"]:
        if r["java_error"] and r["name"].split("=")[0] in {row["key"] for row in settings_table()}:
            key = r["name"].split("=")[0]
            assert key in r["java_error"], r


def test_3d_only_keys_come_from_the_table(parity):
    assert parity["keys_3d"] == [r["key"] for r in settings_table() if r["only_3d"]]
    assert parity["keys_3d"] == ["DO2DZ", "IOUTHRESHOLD", "SMOOTHING_SCALE"]
