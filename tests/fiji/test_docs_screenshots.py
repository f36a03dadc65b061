"""The docs' tutorial, in real TrackMate: the screenshot scenario drives TrackMate's wizard through every step of
docs/tutorial-3d.md (crop, detector, Preview in 3D mode and 2D+Z, two smoothing scales, detection, the Overlap tracker
at IoU 0.25, the display options, the action list) and the tutorial's script runs headless. What the pictures show is
asserted: cells found in each Preview, spots in the three cropped frames only, tracks, the 3D rows of the panel.
``scripts/tools/make_docs_screenshots.py`` runs the same scenario to refresh docs/images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trackmate_cellpose.settings import TRACKMATE_KEYS

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory, fiji_dir, xvfb_display, glue_cache) -> dict:
    work = tmp_path_factory.mktemp("docs-shots")
    out = work / "result.json"
    env = {**os.environ, "FIJI_DIR": str(fiji_dir), "DISPLAY": xvfb_display, "TRACKMATE_CELLPOSE_CACHE": str(glue_cache),
           "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(work / "pyhome")}
    proc = subprocess.run([sys.executable, str(HERE / "docs_screenshots_scenario.py"), str(out), str(work)],
                          capture_output=True, text=True, timeout=3600, cwd=HERE, env=env)
    if not out.is_file():
        pytest.fail(f"the screenshot scenario produced no result (rc={proc.returncode}):\n{proc.stderr[-5000:]}")
    res = json.loads(out.read_text())
    assert res["ok"], res.get("error")
    return res


def test_every_step_was_screenshotted(tutorial):
    for key in ("panel_2d", "panel_3d", "tutorial_start", "tutorial_chooser", "tutorial_preview_panel",
                "tutorial_preview_3d", "tutorial_preview_2dz", "tutorial_preview_smooth0", "tutorial_preview_smooth2",
                "tutorial_tracker", "tutorial_tracks", "tutorial_views"):
        assert Path(tutorial[key]).stat().st_size > 1000, key


def test_previews_find_cells_and_the_run_tracks_them(tutorial, trackmate_line):
    assert set(tutorial["panel_3d_keys"]) == set(TRACKMATE_KEYS)  # the 3D rows are shown
    for tag in ("3d", "2dz", "smooth0", "smooth2"):
        assert tutorial[f"preview_{tag}_spots"] and tutorial[f"preview_{tag}_spots"][-1] > 0, tag
    assert tutorial["spots"] > 0 and tutorial["tracks"] > 0
    if trackmate_line == "tm9":  # the mesh smoothing action exists on v9 only
        assert "MESH_SMOOTHER" in tutorial["action_keys"]
        assert Path(tutorial["tutorial_smoother"]).stat().st_size > 1000
        assert tutorial["smoothing_changed_the_picture"]  # it ran on the visible spots, not an empty selection


def test_the_tutorial_script_runs_headless(tmp_path, fiji_dir, glue_cache):
    import runpy

    runpy.run_path(str(REPO / "docs" / "tutorial" / "make_tutorial_movie.py"))["make_movie"](
        str(tmp_path / "tutorial_3dt.tif"))
    env = {**os.environ, "TRACKMATE_CELLPOSE_CACHE": str(glue_cache), "HOME": str(tmp_path / "pyhome"),
           "JAVA_TOOL_OPTIONS": f"-Duser.home={tmp_path / 'home'}"}
    proc = subprocess.run([sys.executable, str(REPO / "docs" / "tutorial" / "tutorial_3d.py"), str(fiji_dir),
                           str(tmp_path / "tutorial_3dt.tif")], capture_output=True, text=True, timeout=3600,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert (tmp_path / "tutorial_3dt.xml").is_file()
    spots = proc.stdout.strip().splitlines()[-1]
    n_spots, n_tracks = int(spots.split()[0]), int(spots.split()[2])
    assert n_spots > 0 and n_tracks > 0, spots
