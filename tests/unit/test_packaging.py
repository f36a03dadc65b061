"""A built wheel carries what users need at run time: the Java glue sources, the test model, the samples."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_glue_sources_model_and_samples(tmp_path):
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
    for f in ("tmcp_test_model.pth", "sample_2dt.tif", "sample_3dt.tif"):
        assert f"trackmate_cellpose/data/{f}" in names
