"""A built wheel carries what users need at run time: the prebuilt glue jars (current with the glue sources it also
ships), the test model, the samples."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_prebuilt_glue_jars_sources_model_and_samples(tmp_path):
    from trackmate_cellpose.bridge._prebuilt import find_javac_simple

    if find_javac_simple() is None:
        pytest.skip("building the wheel needs a JDK (setup.py compiles the prebuilt glue jars)")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "-w", str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = tmp_path.glob("trackmate_cellpose-*.whl")
    from trackmate_cellpose import __version__

    assert whl.name.startswith(f"trackmate_cellpose-{__version__}-")  # pyproject reads the version from _version.py
    names = zipfile.ZipFile(whl).namelist()
    glue = {n.split("data/java/src/")[1] for n in names if "data/java/src/" in n}
    expected = {str(p.relative_to(REPO / "java-glue" / "src")) for p in (REPO / "java-glue" / "src").rglob("*.java")}
    assert expected and expected <= glue
    assert not any("api-mirror" in n for n in names)  # CI-only compile stubs are never shipped
    from trackmate_cellpose.bridge._prebuilt import SOURCE_SETS, load_env_builder, source_hash
    from trackmate_cellpose.bridge._glue import glue_table_json
    from trackmate_cellpose.settings import SETTINGS_RESOURCE

    wheel_dir = tmp_path / "unpacked"
    zipfile.ZipFile(whl).extractall(wheel_dir)
    pkg = wheel_dir / "trackmate_cellpose" / "data" / "java"
    for line in SOURCE_SETS:
        jar = pkg / "glue" / f"trackmate-cellpose-glue-{line}.jar"
        with zipfile.ZipFile(jar) as z:
            manifest = z.read("META-INF/MANIFEST.MF").decode()
            assert not any(n.startswith(("fiji/", "net/", "org/", "ij/")) for n in z.namelist())
            assert z.read(SETTINGS_RESOURCE).decode() == glue_table_json()
        builder = load_env_builder(wheel_dir / "trackmate_cellpose")[1]
        assert f"Glue-Source-Hash: {source_hash(pkg / 'src', line, glue_table_json(), builder)}" in manifest
        assert source_hash(pkg / "src", line, "") == source_hash(REPO / "java-glue" / "src", line, "")
    for f in ("tmcp_test_model.pth", "sample_2dt.tif", "sample_3dt.tif"):
        assert f"trackmate_cellpose/data/{f}" in names
