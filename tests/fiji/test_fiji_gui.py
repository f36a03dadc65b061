"""GUI check under Xvfb with real TrackMate, on every line: the detector chooser lists "Cellpose advanced (Python)",
its panel opens with every field (3D-only fields only for 3D images), Preview runs the current frame and TrackMate
draws the spots found: ROIs in 2D; in 3D spheres on 7.x/8.x and meshes on v9 (``_shapes.SHAPE_3D``). Screenshots are
kept in the test's tmp folder (their paths are printed; ``TMCP_TEST_ARTIFACTS=DIR`` copies them there too)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _shapes import SHAPE_3D
from trackmate_cellpose.settings import TRACKMATE_KEYS

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
KEYS_3D_ONLY = {"DO2DZ", "IOUTHRESHOLD", "SMOOTHING_SCALE"}


@pytest.fixture(scope="module")
def gui(tmp_path_factory, fiji_dir, xvfb_display, glue_cache) -> dict:
    work = tmp_path_factory.mktemp("gui")
    out = work / "gui.json"
    env = {**os.environ, "FIJI_DIR": str(fiji_dir), "DISPLAY": xvfb_display,
           "TRACKMATE_CELLPOSE_CACHE": str(glue_cache), "PYTHONDONTWRITEBYTECODE": "1",
           "HOME": str(work / "pyhome")}
    proc = subprocess.run([sys.executable, str(HERE / "fiji_gui_scenario.py"), str(out), str(work)],
                          capture_output=True, text=True, timeout=1200, cwd=work, env=env)
    if not out.is_file():
        pytest.fail(f"GUI scenario produced no result (rc={proc.returncode}):\n{proc.stderr[-5000:]}")
    res = json.loads(out.read_text())
    keep = os.environ.get("TMCP_TEST_ARTIFACTS")  # optional: keep the screenshots
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in work.glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)
    assert res["ok"], res.get("error")
    return res


def test_detector_chooser_lists_the_detector(gui):
    # TrackMate 7.13's chooser holds keys and renders names (see the screenshot).
    assert "CELLPOSE_ADVANCED_PY_DETECTOR" in gui["2d_chooser_items"]
    assert gui["2d_chooser_selected"] == "CELLPOSE_ADVANCED_PY_DETECTOR"
    assert Path(gui["2d_chooser_png"]).stat().st_size > 1000


def test_panel_shows_every_setting_2d(gui):
    assert set(gui["2d_shown_keys"]) == set(TRACKMATE_KEYS) - KEYS_3D_ONLY
    assert set(gui["2d_settings"]) == set(TRACKMATE_KEYS)  # hidden 3D settings still travel
    assert Path(gui["2d_panel_png"]).stat().st_size > 1000


def test_panel_shows_3d_only_settings_for_3d_images(gui):
    assert set(gui["3d_shown_keys"]) == set(TRACKMATE_KEYS)
    # 3D mode (cellpose 3D or 2D+Z), the stitching IoU threshold, removal of small cells, mesh smoothing
    for words in ("2D+Z", "IoU threshold", "Minimum size", "smoothing scale"):
        assert any(words in label for label in gui["3d_labels"]), (words, gui["3d_labels"])
    for words in ("2D+Z", "IoU threshold", "smoothing scale"):  # 3D only
        assert not any(words in label for label in gui["2d_labels"]), (words, gui["2d_labels"])
    assert Path(gui["3d_panel_png"]).stat().st_size > 1000


def test_preview_button_runs_the_current_frame(gui):
    assert gui["preview_calls"] and gui["preview_calls"][0] == {"frame_offset": 3, "n_frames": 1}
    assert gui["preview_detections"] and gui["preview_detections"][0] > 0
    assert gui["preview_panel_showing"]


def test_preview_draws_roi_spots_on_the_2d_image(gui, capsys):
    assert gui["2d_preview_kinds"] == ["roi"]
    assert gui["2d_coloured_px_before"] == 0 < gui["2d_coloured_px_after"]  # TrackMate's overlay drew them
    with capsys.disabled():
        print(f"\n2D preview screenshots: {gui['preview_png']} {gui['2d_image_png']}")


def test_3d_preview_draws_each_lines_shape_on_the_current_frame(gui, trackmate_line, capsys):
    """3D image, frame 2 / plane 6: Preview segments that frame only; TrackMate keeps the spots in that frame, as
    spheres (7.x/8.x) or SpotMesh (v9), and draws them where they cut the plane shown."""
    assert gui["line"] == trackmate_line
    assert gui["3d_preview_calls"] == [{"frame_offset": 1, "n_frames": 1}]
    assert gui["3d_preview_detections"] and gui["3d_preview_detections"][0] > 0
    assert gui["3d_preview_frames"] == [1]
    spots = gui["3d_preview_spots"]
    assert len(spots) == gui["3d_preview_detections"][0]
    assert {s["kind"] for s in spots} == {SHAPE_3D[trackmate_line]}
    if SHAPE_3D[trackmate_line] == "mesh":
        assert all(s["n_vertices"] >= 4 and s["n_triangles"] >= 4 and s["volume"] > 0 for s in spots)
    assert gui["3d_coloured_px_before"] == 0 < gui["3d_coloured_px_after"]
    for key in ("3d_preview_png", "3d_image_png"):
        assert Path(gui[key]).stat().st_size > 1000
    with capsys.disabled():
        print(f"\n3D preview screenshots ({trackmate_line}): {gui['3d_preview_png']} {gui['3d_image_png']}")


def test_cli_opens_the_fiji_gui(xvfb_display, fiji_dir, tmp_path, glue_cache):
    """``trackmate-cellpose fiji --fiji DIR`` shows Fiji (screenshot of the virtual screen saved)."""
    env = {**os.environ, "DISPLAY": xvfb_display, "TRACKMATE_CELLPOSE_CACHE": str(glue_cache),
           "JAVA_TOOL_OPTIONS": f"-Duser.home={tmp_path / 'home'} -XX:-UsePerfData", "PYTHONDONTWRITEBYTECODE": "1",
           "HOME": str(tmp_path / "pyhome")}
    proc = subprocess.Popen([sys.executable, "-m", "trackmate_cellpose", "fiji", "--fiji", str(fiji_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    lines = []
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Fiji is up" in line:
                break
        assert any("Fiji is up" in ln for ln in lines), "".join(lines[-40:])
        time.sleep(3)
        shot = tmp_path / "fiji_gui.png"
        if shutil.which("import"):
            subprocess.run(["import", "-display", xvfb_display, "-window", "root", str(shot)], timeout=60)
            assert shot.stat().st_size > 1000
        assert proc.poll() is None, "the GUI command must keep running until Fiji is closed"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(20)


def test_a_3d_preview_is_cancelled_with_its_button_and_the_next_preview_runs(gui):
    """TrackMate 8.x / v9: the Preview's Cancel button during cellpose's masks stage of a full-3D Preview (a stage that
    asks no cancel check, stretched to a minute): the detection stops within seconds, TrackMate gives the Preview
    button back, no stage keeps running, and the next Preview works. TrackMate 7.13's Preview has no Cancel button."""
    if not gui["3d_cancel_button"]:
        assert gui["line"] == "tm7", "only TrackMate 7.13's Preview lacks a Cancel button"
        pytest.skip("TrackMate 7.13's Preview has no Cancel button (a TrackMate run's cancel is tested elsewhere)")
    assert gui["3d_cancel_stage_reached"] and gui["3d_cancel_button_shown"]
    assert gui["3d_cancel_raised"] in (["Interrupted"], ["Cancelled"]) and gui["3d_cancel_returned"] == []
    assert gui["3d_cancel_s"] < 8, f"the cancel took {gui['3d_cancel_s']:.1f} s"
    assert gui["3d_cancel_preview_button_back_s"] is not None and gui["3d_cancel_preview_button_back_s"] < 15
    assert gui["3d_cancel_stage_still_running"] == 0
    assert gui["3d_after_cancel_detections"] and gui["3d_after_cancel_detections"][-1] > 0
