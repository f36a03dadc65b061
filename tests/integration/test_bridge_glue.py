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
from trackmate_cellpose.settings import (DETECTOR_KEY, SETTINGS_RESOURCE, TRACKMATE_KEYS,
                                         settings_resource_json)

from support.fake_fiji import fake_trackmate_jar

REPO = Path(__file__).resolve().parents[2]
MIRROR = REPO / "java-glue" / "api-mirror"
KEYS_JAVA = REPO / "java-glue" / "src" / "common" / "trackmatecellpose" / "glue" / "CellposePyKeys.java"


def _java_keys() -> dict[str, str]:
    text = KEYS_JAVA.read_text(encoding="utf-8")
    return dict(re.findall(r'public static final String (KEY_\w+) = "(\w+)";', text))


def test_java_key_constants_name_python_settings():
    """The KEY_* constants the Java code refers to name settings of the Python table (the table itself reaches Java as
    the jar's settings resource: test_settings_java_parity.py)."""
    consts = _java_keys()
    assert consts and set(consts.values()) <= set(TRACKMATE_KEYS)
    for const, key in consts.items():
        assert const == f"KEY_{key}", f"constant {const} should be named KEY_{key}"
    text = KEYS_JAVA.read_text(encoding="utf-8")
    assert f'DETECTOR_KEY = "{DETECTOR_KEY}"' in text


def test_worker_classes_use_the_same_keys():
    """The JDK-only worker classes carry their own copies of two keys and the detector name (no link to
    CellposePyKeys, which needs jdom2): they must equal CellposePyKeys'."""
    text = (KEYS_JAVA.parent / "WorkerPython.java").read_text(encoding="utf-8")
    mine = dict(re.findall(r'static final String (\w+) = "([^"]+)";', text))
    keys = _java_keys()
    assert mine["KEY_PYTHON_EXECUTABLE"] == keys["KEY_PYTHON_EXECUTABLE"] == "PYTHON_EXECUTABLE"
    assert mine["KEY_USE_GPU"] == keys["KEY_USE_GPU"]
    name = re.search(r'DETECTOR_NAME = "([^"]+)";', KEYS_JAVA.read_text(encoding="utf-8")).group(1)
    assert mine["DETECTOR_NAME"] == name


@pytest.mark.parametrize("line,major,release", [("tm7", 52, 8), ("tm8", 65, 21), ("tm9", 61, 17)])
def test_trackmate_line_is_read_from_the_jar_classes(tmp_path, line, major, release):
    jar = fake_trackmate_jar(tmp_path / "TrackMate-x.jar", line, major)
    assert trackmate_line_of_jar(jar) == (line, release)


def test_find_fiji_classifies_a_fiji_folder(tmp_path):
    jars = tmp_path / "Fiji.app" / "jars"
    (jars / "win64").mkdir(parents=True)
    (tmp_path / "Fiji.app" / "plugins").mkdir()
    fake_trackmate_jar(jars / "TrackMate-8.1.6.jar", "tm8", 65)
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
    fake_trackmate_jar(jars / "TrackMate-7.13.2.jar", "tm7")
    fiji = find_fiji(tmp_path)
    assert glue_key(fiji) == glue_key(fiji)
    src = tmp_path / "src"
    import shutil

    shutil.copytree(glue_source_root(), src)
    k1 = glue_key(fiji, src)
    (src / "common" / "trackmatecellpose" / "glue" / "CellposePyKeys.java").write_text("// changed", "utf-8")
    assert glue_key(fiji, src) != k1


def test_importing_the_bridge_starts_no_jvm():
    code = ("import sys, trackmate_cellpose.bridge, trackmate_cellpose.cli._fiji; "
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
    fake_trackmate_jar(jars / "TrackMate-8.1.6.jar", "tm8", 65)
    fiji = find_fiji(tmp_path)
    monkeypatch.setattr(scyjava, "jvm_version", lambda: (17, 0, 15))
    with pytest.raises(BackendUnavailableError, match="needs Java 21 or later.*JAVA_HOME"):
        _check_java_version(fiji)
    monkeypatch.setattr(scyjava, "jvm_version", lambda: (21, 0, 1))
    _check_java_version(fiji)


def test_prebuilt_jars_build_from_the_mirror_with_plugin_index_and_manifest(tmp_path, javac):
    """What setup.py ships: one jar per line, Java 8 bytecode, only our classes, SciJava's plugin index (written from
    the compiled @Plugin annotation), and the hash of the sources in the manifest. The same sources give the same
    bytes. (That real TrackMate loads these jars: tests/fiji/test_install_fiji.py.)"""

    from trackmate_cellpose.bridge._prebuilt import (LOADER_JAR, PLUGIN_INDEX, build_prebuilt_jars, load_env_builder,
                                                     plugin_index_entries, read_manifest, source_hash)

    table = (SETTINGS_RESOURCE, settings_resource_json())
    builder = load_env_builder(REPO / "python" / "trackmate_cellpose")
    jars = build_prebuilt_jars(glue_source_root(), MIRROR, tmp_path / "a", javac=javac.path, version="9.9.9",
                               table=table, builder=builder)
    again = build_prebuilt_jars(glue_source_root(), MIRROR, tmp_path / "b", javac=javac.path, version="9.9.9",
                                table=table, builder=builder)
    assert [j.name for j in jars] == [*(f"trackmate-cellpose-glue-{line}.jar" for line in SOURCE_SETS), LOADER_JAR]
    # the update site's loader: Java 8, only its own class, a SciJava Service in the index
    loader, loader_twin = jars.pop(), again.pop()
    assert loader.read_bytes() == loader_twin.read_bytes(), "reproducible"
    with zipfile.ZipFile(loader) as z:
        assert sorted(z.namelist()) == ["META-INF/MANIFEST.MF", PLUGIN_INDEX,
                                        "trackmatecellpose/loader/GlueLoader.class"]
        assert struct.unpack(">H", z.read("trackmatecellpose/loader/GlueLoader.class")[6:8])[0] == 52
        assert plugin_index_entries(z.read(PLUGIN_INDEX).decode()) == [
            {"class": "trackmatecellpose.loader.GlueLoader", "values": {"type": "org.scijava.service.Service"}}]
    assert read_manifest(loader)["TrackMate-Cellpose-Version"] == "9.9.9"
    factory = (REPO / "java-glue" / "src" / "tm8" / "trackmatecellpose" / "glue" / "CellposePyDetectorFactory.java")
    assert "priority = Priority.LOW - 2." in factory.read_text()  # -100 - 2 in the mirror's and SciJava's Priority
    for jar, twin, line in zip(jars, again, SOURCE_SETS):
        assert jar.read_bytes() == twin.read_bytes(), "reproducible"
        z = zipfile.ZipFile(jar)
        names = z.namelist()
        assert all(n.startswith(("META-INF/", "trackmatecellpose/glue/")) for n in names), names
        majors = {struct.unpack(">H", z.read(n)[6:8])[0] for n in names if n.endswith(".class")}
        assert majors == {52}, "Java 8 bytecode runs on every line's Java"
        index = plugin_index_entries(z.read(PLUGIN_INDEX).decode())
        assert index == [{"class": "trackmatecellpose.glue.CellposePyDetectorFactory",
                          "values": {"priority": -102.0, "type": "fiji.plugin.trackmate.detection.SpotDetectorFactory"}},
                         {"class": "trackmatecellpose.glue.RetrainCellposeActionFactory",
                          "values": {"type": "fiji.plugin.trackmate.action.TrackMateActionFactory"}},
                         {"class": "trackmatecellpose.glue.SetUpPythonCommand",
                          "values": {"headless": True, "menuPath": "Plugins>Tracking>TrackMate-Cellpose>Set up a "
                                     "Python environment", "type": "org.scijava.command.Command"}}]
        m = read_manifest(jar)
        assert (m["TrackMate-Line"], m["TrackMate-Cellpose-Version"], m["TrackMate-Cellpose-Glue"]) == (
            line, "9.9.9", "true")
        assert m["Glue-Source-Hash"] == source_hash(glue_source_root(), line, table[1], builder[1])
        assert z.read(SETTINGS_RESOURCE).decode() == table[1]
        assert z.read(builder[0]).decode() == builder[1]


def test_source_hash_follows_the_lines_sources_only(tmp_path):
    import shutil

    from trackmate_cellpose.bridge._prebuilt import source_hash

    src = tmp_path / "src"
    shutil.copytree(glue_source_root(), src)
    table = settings_resource_json()
    before = {line: source_hash(src, line, table) for line in SOURCE_SETS}
    assert len(set(before.values())) == 3
    f = src / "spots-v9" / "trackmatecellpose" / "glue" / "SpotMaker.java"
    f.write_bytes(f.read_bytes().replace(b"\n", b"\r\n"))  # a Windows checkout hashes the same
    assert {line: source_hash(src, line, table) for line in SOURCE_SETS} == before
    f.write_text(f.read_text() + "// changed\n")
    after = {line: source_hash(src, line, table) for line in SOURCE_SETS}
    assert after["tm9"] != before["tm9"] and after["tm7"] == before["tm7"] and after["tm8"] == before["tm8"]
    edited = table.replace('"label": "Cell diameter"', '"label": "Cell size"')
    assert edited != table, "the settings table has the label this test edits"
    assert all(source_hash(src, line, edited) != after[line] for line in SOURCE_SETS), "a changed table is stale"
    assert all(source_hash(src, line, table, "x = 1\n") != source_hash(src, line, table, "x = 2\n")
               for line in SOURCE_SETS), "a changed environment builder is stale"


def test_the_packages_prebuilt_jars_are_current_with_the_sources(javac):
    """The jars the build hook put into this installation (wheel: site-packages; editable: the source tree) were built
    from the sources it holds. Fails after editing java-glue/src without rebuilding: run
    `python scripts/tools/build_glue_jars.py` (or `pip install -e .`)."""
    from trackmate_cellpose.bridge._glue import current_source_hash, prebuilt_dir
    from trackmate_cellpose.bridge._prebuilt import prebuilt_jar_name, read_manifest

    for line in SOURCE_SETS:
        jar = prebuilt_dir() / prebuilt_jar_name(line)
        assert jar.is_file(), (
            f"{jar} missing: the build hook did not run (pip install -e . or python scripts/tools/build_glue_jars.py)")
        assert read_manifest(jar)["Glue-Source-Hash"] == current_source_hash(line), (
            f"{jar} is stale: run python scripts/tools/build_glue_jars.py")


def test_every_shipped_jar_holds_the_environment_builder_of_the_package():
    """The Fiji side builds Python environments with this resource: the package's envs/_builder.py, unchanged since the
    jar was built."""
    from trackmate_cellpose.bridge._glue import prebuilt_dir
    from trackmate_cellpose.bridge._prebuilt import ENV_BUILDER_RESOURCE, prebuilt_jar_name

    builder = (REPO / "python" / "trackmate_cellpose" / "envs" / "_builder.py").read_text()
    for line in SOURCE_SETS:
        with zipfile.ZipFile(prebuilt_dir() / prebuilt_jar_name(line)) as z:
            assert z.read(ENV_BUILDER_RESOURCE).decode("utf-8") == builder, f"{line} jar is stale"


def test_every_shipped_jar_holds_the_settings_table_python_makes_now():
    """The Java side's defaults, checks and panel read this resource: it must be the Python table, unchanged since the
    jar was built (a drift means the jar is stale: run python scripts/tools/build_glue_jars.py)."""
    from trackmate_cellpose.bridge._glue import prebuilt_dir
    from trackmate_cellpose.bridge._prebuilt import load_settings_table, prebuilt_jar_name

    from trackmate_cellpose.bridge._glue import glue_table_json

    # the detector's settings and the retrain action's options
    assert load_settings_table(REPO / "python" / "trackmate_cellpose") == (SETTINGS_RESOURCE, glue_table_json())
    for line in SOURCE_SETS:
        jar = prebuilt_dir() / prebuilt_jar_name(line)
        assert jar.is_file(), f"{jar} missing: run python scripts/tools/build_glue_jars.py"
        with zipfile.ZipFile(jar) as z:
            assert z.read(SETTINGS_RESOURCE).decode("utf-8") == glue_table_json(), f"{jar} is stale"
