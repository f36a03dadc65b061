"""Real TrackMate (FIJI_DIR): headless runs of the "Cellpose advanced (Python)" detector inside a Fiji started by
this package. All scenarios share ONE subprocess and JVM (``fiji_scenarios.py``); each test asserts on one of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _shapes import SHAPE_3D

pytestmark = [pytest.mark.fiji, pytest.mark.jvm, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
SCENARIOS = ["provider", "headless_2dt", "preview", "crop_trange", "error_then_ok", "cancel", "cancel_3d", "truncated",
             "disk_full", "label_parity", "label_parity_simplified", "shapes_3d", "frame_copy"]


@pytest.fixture(scope="module")
def results(tmp_path_factory, fiji_dir, glue_cache) -> dict:
    work = tmp_path_factory.mktemp("fiji")
    out = work / "results.json"
    env = {**os.environ, "FIJI_DIR": str(fiji_dir), "XDG_CACHE_HOME": str(work / "cache"),
           "TRACKMATE_CELLPOSE_CACHE": str(glue_cache), "PYTHONDONTWRITEBYTECODE": "1",
           "HOME": str(work / "pyhome")}  # cellpose/torch caches stay out of the real home
    proc = subprocess.run([sys.executable, str(HERE / "fiji_scenarios.py"), str(out), str(work), *SCENARIOS],
                          capture_output=True, text=True, timeout=1800, cwd=work, env=env)
    if not out.is_file():
        pytest.fail(f"the Fiji scenarios produced no results (rc={proc.returncode}):\n{proc.stderr[-5000:]}")
    data = json.loads(out.read_text())
    data["_stderr"] = proc.stderr[-3000:]
    keep = os.environ.get("TMCP_TEST_ARTIFACTS")  # optional: keep results (timings, distances) for reports
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "fiji_results.json").write_text(out.read_text())
    return data


def _get(results: dict, name: str) -> dict:
    r = results.get(name)
    assert r is not None, f"scenario {name} did not run:\n{results.get('_stderr')}"
    assert r["ok"], r.get("error")
    return r


def test_detector_is_listed_by_trackmates_detector_provider(results, trackmate_line):
    r = _get(results, "provider")
    assert r["line"] == trackmate_line
    assert "CELLPOSE_ADVANCED_PY_DETECTOR" in r["visible_keys"]
    assert r["name"] == "Cellpose advanced (Python)"
    from trackmate_cellpose.settings import TRACKMATE_KEYS

    assert r["default_keys"] == sorted(TRACKMATE_KEYS)


def test_headless_run_gives_roi_spots_in_the_right_frames_and_places(results):
    r = _get(results, "headless_2dt")
    assert set(r["per_frame"]) == {"0", "1", "2"} and all(n > 0 for n in r["per_frame"].values())
    assert r["rois_ok"] and r["frames_ok"]
    assert r["gt_hit_fraction"] >= 0.9  # spot centres fall on ground-truth objects


def test_overlap_tracker_links_the_spots(results):
    r = _get(results, "headless_2dt")
    assert r["n_tracks"] >= 1 and r["n_edges"] >= r["n_tracks"]


def test_xml_is_written_and_read_back_by_trackmate(results):
    r = _get(results, "headless_2dt")
    assert r["xml_exists"] and r["reader_ok"], r["reader_error"]
    assert r["read_n_spots"] == r["n_spots"] and r["read_n_tracks"] == r["n_tracks"] and r["read_rois_ok"]
    assert r["read_detector_key"] == "CELLPOSE_ADVANCED_PY_DETECTOR"
    assert r["settings_roundtrip"], (r["written"], r["read"])
    assert r["space_units"] in ("µm", "um", "micron")


def test_preview_runs_one_frame_with_the_warm_model(results):
    r = _get(results, "preview")
    assert r["ok"] and r["frames"] == [5] and r["n_spots_frame5"] > 0, r["error"]


def test_crop_roi_and_t_range_are_honoured(results):
    r = _get(results, "crop_trange")
    assert set(r["per_frame"]) <= {"4", "5"} and r["n_spots"] > 0
    assert r["inside"] and r["gt_hit_fraction"] >= 0.9


def test_failing_model_path_gives_clean_error_and_next_run_works(results):
    r = _get(results, "error_then_ok")
    assert r["raised"] == "TrackMateError"
    assert "CELLPOSE_MODEL_FILEPATH" in r["message"] and "\n" not in r["message"]
    assert r["log_has_traceback"]
    assert r["next_run_spots"] > 0


def test_cancel_stops_promptly_and_the_jvm_stays_usable(results):
    r = _get(results, "cancel")
    assert r["outcome"] == "Cancelled", r
    assert r["batches"] <= 2  # one-frame batches: stops at the next check
    assert r["latency_s"] < max(10.0, 2 * r["per_batch_s"])
    assert r["after_cancel_spots"] > 0


def test_cancel_reaches_a_3d_stage_that_asks_nothing(results):
    """TrackMate's cancel in the middle of cellpose's masks of a 3D stack (a minute of work left): seconds (#25/3)."""
    r = _get(results, "cancel_3d")
    assert r["outcome"] == "Cancelled", r
    assert r["latency_s"] < 10, r
    assert r["armed_after"] == 0 and r["after_cancel_spots"] > 0


def test_a_truncated_image_is_refused_naming_it(results):
    r = _get(results, "truncated")
    assert r["raised"] == "InvalidImageError" and "trunc.tif is truncated" in r["message"], r
    assert "declares 3 frame(s)" in r["message"] and not r["saved"] and r["next_run_spots"] > 0


def test_a_full_disk_while_trackmate_saves_is_named_and_leaves_nothing(results):
    r = _get(results, "disk_full")
    if "skipped" in r:
        pytest.skip(r["skipped"])
    assert r["raised"] == "DiskFullError", r
    assert "no space left on device" in r["message"] and "run.xml" in r["message"], r["message"]
    assert r["path"].endswith("run.xml") and r["folder"].endswith("disk")
    assert r["left"] == ["filler.bin"] and r["next_run_spots"] > 0


def test_polygons_agree_with_trackmates_label_image_detector(results):
    """SIMPLIFY_CONTOURS=false: both trace the label outlines along pixel edges."""
    r = _get(results, "label_parity")
    assert r["n_theirs"] > 0 and r["n_ours"] == r["n_theirs"] and r["unmatched"] == 0
    assert r["max_centroid_px"] <= 0.5
    assert r["max_area_rel"] <= 0.02, r["worst"]


def test_simplified_polygons_agree_in_position_with_label_image_detector(results):
    r = _get(results, "label_parity_simplified")
    assert r["n_theirs"] > 0 and r["n_ours"] == r["n_theirs"] and r["unmatched"] == 0
    assert r["max_centroid_px"] <= 0.5, r["worst"]


def test_simplified_polygon_areas_within_2_percent_of_label_image_detector(results):
    r = _get(results, "label_parity_simplified")
    assert r["max_area_rel"] <= 0.02, r["worst"]


def test_jvm_is_the_one_asked_for_and_new_enough(results, fiji_dir):
    """The JVM that runs Fiji is JAVA_HOME's when it is set (8.1.6 needs Java 21+, the default java is 17), and never
    older than TrackMate's bytecode."""
    from trackmate_cellpose.bridge import find_fiji

    r = _get(results, "provider")
    major = int(r["java_version"].split(".")[0])
    assert major >= find_fiji(fiji_dir).java_release, r["java_version"]
    if os.environ.get("JAVA_HOME"):
        assert Path(r["java_home"]).resolve() == Path(os.environ["JAVA_HOME"]).resolve(), r["java_home"]


def test_3d_image_gives_each_lines_shape(results, trackmate_line):
    """3D objects: spheres of equal volume on 7.x/8.x (with a note in the log), SpotMesh on v9 (TrackMate writes them
    to its .meshes file and reads them back)."""
    r = _get(results, "shapes_3d")
    expected = SHAPE_3D[trackmate_line]
    assert r["n_spots"] > 0 and r["kinds"] == [expected] and r["radii_positive"]
    assert 0.0 <= r["z_range"][0] <= r["z_range"][1] <= 11.0
    assert r["xml_exists"] and r["read_ok"] and r["read_kinds"] == [expected]
    assert r["note_logged"] == (expected == "sphere")
    assert r["meshes_file"] == (expected == "mesh")
    if expected == "mesh":
        import math

        for s in r["spots"]:
            assert s["n_vertices"] >= 4 and s["n_triangles"] >= 4
            # SpotMesh's RADIUS is that of the sphere of the mesh's volume
            assert s["radius"] == pytest.approx((3 * s["volume"] / (4 * math.pi)) ** (1 / 3), rel=1e-6)
        sm = r["smoother"]  # v9's MeshSmoother smooths every one of our meshes, keeping them closed volumes
        assert sm["n_meshes"] == sm["n_smoothed"] == r["n_spots"]
        assert 0 < sm["min_moved"] and sm["max_moved"] < 5.0 and sm["volumes_positive"]
    else:
        assert "smoother" not in r


def test_frames_reach_python_exactly_with_a_bulk_copy_of_trackmates_images(results):
    """java-glue/README.md promises a bulk copy: on TrackMate's own view of an ImagePlus (8, 16, 32 bit; 2D+t and
    3D+t; cropped), frames come from the storage arrays, pixel for pixel; any other image gives the same pixels."""
    r = _get(results, "frame_copy")
    cases = {k: v for k, v in r.items() if isinstance(v, dict)}
    assert len(cases) == 12
    assert {k: v["equal"] for k, v in cases.items()} == {k: True for k in cases}
    assert {k: v["bulk"] for k, v in cases.items()} == {k: k.endswith("_storage") for k in cases}
    assert {v["dtype"] for v in cases.values()} == {"uint8", "uint16", "float32"}
