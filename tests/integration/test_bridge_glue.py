"""CI-side checks of the Java glue without TrackMate jars: key parity, TrackMate line detection, and compilation of
every source set against the clean-room compile-only API mirror (java-glue/api-mirror; never run)."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trackmate_cellpose.bridge import find_fiji, trackmate_line_of_jar
from trackmate_cellpose.bridge._glue import SOURCE_SETS, compile_glue, find_javac, glue_key, glue_source_root
from trackmate_cellpose.errors import BackendUnavailableError
from trackmate_cellpose.settings import DETECTOR_KEY, TRACKMATE_KEYS, DetectorSettings

REPO = Path(__file__).resolve().parents[2]
MIRROR = REPO / "java-glue" / "api-mirror"
KEYS_JAVA = REPO / "java-glue" / "src" / "common" / "trackmatecellpose" / "glue" / "CellposePyKeys.java"


def _java_keys() -> dict[str, str]:
    text = KEYS_JAVA.read_text(encoding="utf-8")
    return dict(re.findall(r'public static final String (KEY_\w+) = "(\w+)";', text))


def test_java_key_constants_match_python_settings():
    consts = _java_keys()
    assert sorted(consts.values()) == sorted(TRACKMATE_KEYS)
    for const, key in consts.items():
        assert const == f"KEY_{key}", f"constant {const} should be named KEY_{key}"
    text = KEYS_JAVA.read_text(encoding="utf-8")
    assert f'DETECTOR_KEY = "{DETECTOR_KEY}"' in text


def test_java_defaults_match_python_defaults():
    text = KEYS_JAVA.read_text(encoding="utf-8")
    consts = _java_keys()
    java = {}
    for const, raw in re.findall(r"m\.put\( (KEY_\w+), (.+?) \);", text):
        raw = raw.strip()
        if raw.startswith('"'):
            val = raw.strip('"')
        elif raw == "CellposePyServices.defaultModel()":
            val = DetectorSettings().model  # set by the Python side at registration (test_bridge_service checks it)
        elif raw.startswith("Integer.valueOf"):
            val = int(re.search(r"\((.+)\)", raw).group(1))
        elif raw.startswith("Double.valueOf"):
            val = float(re.search(r"\((.+)\)", raw).group(1).strip(" .") or 0)
        elif raw in ("Boolean.TRUE", "Boolean.FALSE"):
            val = raw == "Boolean.TRUE"
        else:
            raise AssertionError(f"unparsed default {raw}")
        java[consts[const]] = val
    python = DetectorSettings().to_trackmate_map()
    assert list(java) == list(python), "same keys in the same order"
    for key, value in python.items():
        assert type(java[key]) is type(value) and java[key] == pytest.approx(value), key


def _fake_trackmate_jar(path: Path, line: str, major: int = 52) -> Path:
    spot = struct.pack(">IHH", 0xCAFEBABE, 0, major) + b"\0" * 8
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("fiji/plugin/trackmate/Spot.class", spot)
        if line in ("tm8", "tm9"):
            z.writestr("fiji/plugin/trackmate/TrackMateFactoryBase.class", spot)
        if line == "tm9":
            z.writestr("fiji/plugin/trackmate/SpotMesh.class", spot)
    return path


@pytest.mark.parametrize("line,major,release", [("tm7", 52, 8), ("tm8", 65, 21), ("tm9", 61, 17)])
def test_trackmate_line_is_read_from_the_jar_classes(tmp_path, line, major, release):
    jar = _fake_trackmate_jar(tmp_path / "TrackMate-x.jar", line, major)
    assert trackmate_line_of_jar(jar) == (line, release)


def test_find_fiji_classifies_a_fiji_folder(tmp_path):
    jars = tmp_path / "Fiji.app" / "jars"
    (jars / "win64").mkdir(parents=True)
    (tmp_path / "Fiji.app" / "plugins").mkdir()
    _fake_trackmate_jar(jars / "TrackMate-8.1.6.jar", "tm8", 65)
    (jars / "win64" / "native.jar").write_bytes(b"")
    (jars / "imglib2-7.1.2.jar").write_bytes(b"")
    fiji = find_fiji(tmp_path / "Fiji.app")
    assert (fiji.line, fiji.trackmate_version, fiji.java_release) == ("tm8", "8.1.6", 21)
    assert all("win64" not in p.parts for p in fiji.jars)


def test_find_fiji_errors_are_clear(tmp_path):
    with pytest.raises(BackendUnavailableError, match="does not exist"):
        find_fiji(tmp_path / "nope")
    (tmp_path / "jars").mkdir()
    (tmp_path / "jars" / "ij-1.54f.jar").write_bytes(b"")
    with pytest.raises(BackendUnavailableError, match="no TrackMate jar"):
        find_fiji(tmp_path)


def test_glue_key_changes_with_sources_and_line(tmp_path):
    jars = tmp_path / "jars"
    jars.mkdir()
    _fake_trackmate_jar(jars / "TrackMate-7.13.2.jar", "tm7")
    fiji = find_fiji(tmp_path)
    assert glue_key(fiji) == glue_key(fiji)
    src = tmp_path / "src"
    import shutil

    shutil.copytree(glue_source_root(), src)
    k1 = glue_key(fiji, src)
    (src / "common" / "trackmatecellpose" / "glue" / "CellposePyKeys.java").write_text("// changed", "utf-8")
    assert glue_key(fiji, src) != k1


def test_importing_the_bridge_starts_no_jvm():
    code = ("import sys, trackmate_cellpose.bridge, trackmate_cellpose._cli.fiji; "
            "bad = [m for m in ('jpype', 'scyjava', 'imagej', 'torch', 'cellpose') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def javac():
    try:
        return find_javac()
    except BackendUnavailableError as e:
        pytest.skip(f"no JDK: {e}")


@pytest.mark.parametrize("line", sorted(SOURCE_SETS))
def test_glue_compiles_against_the_api_mirror(tmp_path, javac, line):
    mirror_classes = tmp_path / "mirror"
    mirror_classes.mkdir()
    mirror_src = sorted((MIRROR / "shared").rglob("*.java")) + sorted((MIRROR / line).rglob("*.java"))
    proc = subprocess.run([str(javac.path), "--release", "8", "-nowarn", "-Xlint:-options", "-d", str(mirror_classes),
                           *map(str, mirror_src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jar = compile_glue(line, [mirror_classes], tmp_path / f"glue-{line}.jar", release=8, javac=javac,
                       require_plugin_index=False)
    names = set(zipfile.ZipFile(jar).namelist())
    for cls in ("CellposePyDetectorFactory", "CellposePyDetector", "CellposePyConfigurationPanel", "SpotMaker",
                "CellposePyService", "DetectionRequest", "DetectionSink", "ImgPlusDetectionRequest", "SpotSink"):
        assert f"trackmatecellpose/glue/{cls}.class" in names, cls
    assert not any(n.startswith(("fiji/", "net/", "org/", "ij/")) for n in names), "the mirror must not be shipped"


def test_too_old_java_for_trackmate_fails_early_with_advice(tmp_path, monkeypatch):
    import scyjava

    from trackmate_cellpose.bridge._jvm import _check_java_version

    jars = tmp_path / "jars"
    jars.mkdir()
    _fake_trackmate_jar(jars / "TrackMate-8.1.6.jar", "tm8", 65)
    fiji = find_fiji(tmp_path)
    monkeypatch.setattr(scyjava, "jvm_version", lambda: (17, 0, 15))
    with pytest.raises(BackendUnavailableError, match="needs Java 21 or later.*JAVA_HOME"):
        _check_java_version(fiji)
    monkeypatch.setattr(scyjava, "jvm_version", lambda: (21, 0, 1))
    _check_java_version(fiji)
