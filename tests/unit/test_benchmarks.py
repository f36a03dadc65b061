"""The benchmarks package (``python -m benchmarks``): every suite is importable and well formed, the entry point
lists them, a cheap suite runs end to end into a dated result file that ``report`` renders, and the shared
measurement helpers measure what they say. Nothing here runs cellpose (seconds in all)."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import benchmarks
from benchmarks import _cases, _measure

REPO = Path(__file__).resolve().parents[2]
#: what the old scripts measured, by suite: dropping one of these drops numbers BENCHMARKS.md quotes
EXPECTED = {"engine", "network", "profile", "geometry", "memory", "3d", "trackmate", "distributed", "jvm", "report",
            "envbuild"}


def test_every_suite_is_a_module_with_add_arguments_run_and_a_docstring():
    suites = benchmarks.suites()
    assert EXPECTED <= set(suites)
    for name, mod in suites.items():
        assert callable(mod.add_arguments) and callable(mod.run), name
        assert list(inspect.signature(mod.run).parameters) == ["args"], name
        doc = mod.__doc__ or ""
        assert len(doc.split()) > 15, f"{name}: the docstring says what the suite measures and against what"
        assert not re.search(r"\bissue\s*#?\s*\d", doc, re.I), f"{name}: name the measurement, not the issue"


def test_entry_point_help_lists_every_suite():
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    listed = set(re.findall(r"^    (\S+)\s", out.stdout, re.M))
    assert listed == set(benchmarks.suites()), out.stdout


def test_invalid_arguments_exit_2_with_the_value_named():
    out = subprocess.run([sys.executable, "-m", "benchmarks", "engine", "--cases", "2d:4x64", "--json", "/dev/null"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "2d:4x64" in out.stderr, out.stderr
    with pytest.raises(_measure.UsageError, match="no-such-case"):
        _cases.check_cases("2d256,no-such-case")
    with pytest.raises(_measure.UsageError, match="--builds 'hot'"):  # before anything is built
        benchmarks.run_suite(["envbuild", "--builds", "hot", "--json", "/dev/null"])


def test_geometry_suite_end_to_end_writes_a_dated_result_that_report_renders(tmp_path, capsys):
    record = benchmarks.run_suite(["geometry", "--size-2d", "160x160", "--size-3d", "16x96x96", "--reps", "1",
                                   "--baseline-labels", "4", "--fiji", "", "--out", str(tmp_path)])
    path = Path(record["path"])
    assert path.parent == tmp_path and re.fullmatch(r"\d{4}-\d{2}-\d{2}-geometry\.json", path.name)
    saved = json.loads(path.read_text())
    assert saved["partial"] is False and saved["suite"] == "geometry"
    machine = saved["machine"]
    for key in ("cpu", "cores", "load_at_start", "load_at_end", "date_utc", "versions"):
        assert machine[key], key
    assert machine["versions"]["numpy"] == np.__version__
    res = saved["results"]
    assert res["2d"]["n_labels"] == 9 and res["2d"]["n_polygons"] == 9
    assert res["3d"]["n_labels"] >= 4 and res["3d"]["max_rel_volume_diff_vs_baseline"] < 1e-3
    assert res["2d"]["speedup_vs_skimage"]["median"] > 0 and res["trackmate"]["skipped"]
    # a second run the same day keeps the first file
    args = benchmarks.build_parser().parse_args(["geometry", "--out", str(tmp_path)])
    assert benchmarks._result_path(args, "geometry") == path.with_name(path.stem + "-2.json")
    assert benchmarks.main(["report", str(path)]) == 0
    text = capsys.readouterr().out
    assert "### geometry" in text and "| 2D (160, 160) -> polygons (simplified) | 9 |" in text
    assert machine["cpu"] in text


def test_report_refuses_a_file_that_is_not_a_result(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert benchmarks.main(["report", str(bad)]) == 2
    assert "x.json" in capsys.readouterr().err


def _outer(n: int) -> int:
    return _inner(n) + (_outer(n - 1) if n else 0)


def _inner(n: int) -> int:
    time.sleep(0.01)
    return n


def test_stage_clock_follows_calls_without_patching_and_counts_nested_calls_once():
    held = {"fn": _outer}  # a caller holding its own reference: a wrapper put on the module would not be seen
    clock = _measure.StageClock()
    clock.watch("outer", _outer)
    clock.watch("inner", _inner)
    events = []
    clock.listener = lambda name, event: events.append((name, event))
    with clock:
        held["fn"](2)
    rec = clock.records
    assert rec["outer"]["calls"] == 1 and rec["inner"]["calls"] == 3
    assert rec["outer"]["wall_s"] >= rec["inner"]["wall_s"] >= 0.03
    assert events[0] == ("outer", "enter") and events[-1] == ("outer", "leave")
    assert held["fn"] is _outer and sys.getprofile() is None
    wrapped = _measure.StageClock()  # nothing watched: no profile hook, the wrapped call is timed
    with wrapped:
        assert sys.getprofile() is None
        assert wrapped.wrap("inner", _inner)(5) == 5
    assert wrapped.records["inner"]["calls"] == 1 and wrapped.records["inner"]["wall_s"] >= 0.01


def test_match_objects_sees_renumbering_as_identical_and_scores_a_missing_object():
    a = np.zeros((20, 20), np.int32)
    a[2:8, 2:8], a[10:18, 10:18] = 1, 2
    b = np.where(a == 1, 7, np.where(a == 2, 3, 0))
    same = _cases.match_objects(a, b)
    assert same["identical"] and same["matched"] == 2 and same["mean_matched_iou"] == 1.0 and same["f1"] == 1.0
    b[b == 3] = 0
    less = _cases.match_objects(a, b)
    assert not less["identical"] and less["matched"] == 1 and less["f1"] == pytest.approx(2 / 3)


def test_run_child_returns_the_child_result_and_reports_its_failure():
    out = _measure.run_child(_cases.parse_shape_spec, {"text": "4x64x64", "n": 3})
    assert out["shape"] == [4, 64, 64] and out["process_wall_s"] > 0
    with pytest.raises(RuntimeError, match="expected 3 sizes"):
        _measure.run_child(_cases.parse_shape_spec, {"text": "4x64", "n": 3})


def test_asv_geometry_cases_run():
    from benchmarks import benchmark_geometry

    for cls, method in ((benchmark_geometry.Polygons, "time_spots_2d"), (benchmark_geometry.Meshes,
                                                                         "time_meshes_smoothed_decimated")):
        case = cls()
        case.setup()
        getattr(case, method)()


def test_asv_modules_expose_only_benchmarks_under_asv_prefixes():
    """asv takes every module-level name starting with time_, timeraw_, mem_, peakmem_ or track_ (imports too) for
    a benchmark."""
    import importlib
    import pkgutil

    prefixes = ("time_", "timeraw_", "mem_", "peakmem_", "track_")
    for info in pkgutil.iter_modules(benchmarks.__path__):
        mod = importlib.import_module(f"benchmarks.{info.name}")
        stray = [n for n in vars(mod) if n.startswith(prefixes)]
        assert stray == [], f"benchmarks.{info.name}: {stray}"
