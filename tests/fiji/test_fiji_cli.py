"""Real TrackMate: the ``trackmate-cellpose fiji`` command headless (--run) and running a Fiji script (--script)
that selects the detector by key. One process (one JVM) per command."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from trackmate_cellpose import DetectorSettings, sample_path
from trackmate_cellpose.data import test_model_path as bundled_model_path

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent


def _env(tmp_path: Path, fiji_dir: Path, cache: Path) -> dict:
    return {**os.environ, "FIJI_DIR": str(fiji_dir), "TRACKMATE_CELLPOSE_CACHE": str(cache),
            "JAVA_TOOL_OPTIONS": f"-Duser.home={tmp_path / 'home'} -XX:-UsePerfData", "HOME": str(tmp_path / "pyhome"),
            "PYTHONDONTWRITEBYTECODE": "1"}


def _spots_by_frame(xml: Path) -> dict[int, int]:
    root = ET.parse(xml).getroot()
    return {int(f.get("frame")): len(f.findall("Spot")) for f in root.iter("SpotsInFrame")}


def test_cli_run_headless_writes_trackmate_xml(tmp_path, fiji_dir, glue_cache):
    settings = tmp_path / "s.json"
    settings.write_text(DetectorSettings(model="CUSTOM", model_path=str(bundled_model_path()), diameter=10.0,
                                         use_gpu=False).to_json())
    out = tmp_path / "out.xml"
    proc = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "fiji", "--fiji", str(fiji_dir),
                           "--run", str(sample_path("2dt")), "--settings", str(settings), "--tracker", "overlap",
                           "--min-iou", "0.25", "--t-range", "0:1", "-o", str(out)],
                          capture_output=True, text=True, timeout=1200, cwd=tmp_path,
                          env=_env(tmp_path, fiji_dir, glue_cache))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "spots in 2 frames" in proc.stdout
    per_frame = _spots_by_frame(out)
    assert set(per_frame) == {0, 1} and all(n > 0 for n in per_frame.values())
    root = ET.parse(out).getroot()
    det = next(root.iter("DetectorSettings"))
    assert det.get("DETECTOR_NAME") == "CELLPOSE_ADVANCED_PY_DETECTOR" and det.get("CELL_DIAMETER") == "10.0"
    assert next(root.iter("TrackerSettings")).get("MIN_IOU") == "0.25"
    assert len(list(root.iter("Track"))) >= 1


def test_cli_runs_a_fiji_script_that_selects_the_detector_by_key(tmp_path, fiji_dir, glue_cache):
    out = tmp_path / "script.xml"
    proc = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "fiji", "--fiji", str(fiji_dir),
                           "--script", str(HERE / "trackmate_cellpose_script.bsh"),
                           "--arg", f"imageFile={sample_path('2dt')}", "--arg", f"outFile={out}",
                           "--arg", f"modelPath={bundled_model_path()}", "--arg", "lastFrame=1"],
                          capture_output=True, text=True, timeout=1200, cwd=tmp_path,
                          env=_env(tmp_path, fiji_dir, glue_cache))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    per_frame = _spots_by_frame(out)
    assert set(per_frame) == {0, 1} and all(n > 0 for n in per_frame.values())
