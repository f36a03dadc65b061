"""Benchmarks of trackmate-cellpose (GitHub issue #5): B1 Preview latency, B2 throughput, B3 geometry, B4 memory.

Run from the repository root with the project's virtual environment::

    .venv/bin/python scripts/bench.py [--quick] [--json out.json] [--only B1,B2] [--reps N]

Every comparison runs in one process, interleaved, with medians and min-max of the repetitions and paired
(same-repetition) ratios, because the machines are shared and noisy. Parts that need Fiji (B2 through TrackMate,
B3 vs TrackMate's LabelImageDetector, B4 copy cost) run in subprocesses when ``FIJI_DIR`` is set and are recorded as
skipped, with the reason, otherwise. Method and results: BENCHMARKS.md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import fmt_s, interleaved, loadavg, machine_info, paired_ratio, summary

SCRIPTS = Path(__file__).resolve().parent
CAL_XY_UM = 0.5  # bundled samples: xy 0.5 um, z 1.0 um
DIAMETER_UM = 10.0  # -> 20 px
#: B2 sizes: 2D+t frames (T, Y, X) and the 3D+t crop of the bundled 3dt sample (T, Z, Y, X); small because the
#: project's CPU machines are shared (see BENCHMARKS.md). Module-level so a smoke test can shrink them.
B2_2D_SHAPE = (20, 96, 96)
B2_3D_CROP = (2, 12, 48, 48)
#: B4: frames of 512 x 512 (full / quick) and the diameter used there (30 um = 60 px: rescale 0.5 keeps the CPU
#: run short; the per-frame arrays kept at the original size do not depend on it)
B4_FRAMES = (100, 10)
B4_DIAMETER_UM = 30.0


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _settings():
    from trackmate_cellpose import DetectorSettings
    from trackmate_cellpose.data import test_model_path

    return DetectorSettings(model="CUSTOM", model_path=str(test_model_path()), diameter=DIAMETER_UM, use_gpu=False)


def _cal():
    from trackmate_cellpose import Calibration

    return Calibration(x=CAL_XY_UM, y=CAL_XY_UM, z=1.0, space_unit="um")


def _bare_kwargs(settings, *, is_3d: bool, anisotropy: float = 2.0) -> dict[str, Any]:
    """The same settings as the detector, as plain ``CellposeModel.eval`` keywords (cellpose 3)."""
    kw = dict(channel_axis=-1, z_axis=0, channels=[0, 0], diameter=settings.diameter / CAL_XY_UM,
              cellprob_threshold=settings.cellprob_threshold, min_size=int(settings.min_size), batch_size=8,
              resample=settings.resample, normalize={"normalize": True, "norm3D": is_3d}, do_3D=is_3d)
    if is_3d:
        kw["anisotropy"] = anisotropy
    else:
        kw["flow_threshold"] = settings.flow_threshold
    return kw


def _same_objects(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Do two label images hold the same objects (up to renumbering)? Counts and the share of pixels that agree."""
    a, b = np.asarray(a).astype(np.int64), np.asarray(b).astype(np.int64)
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    bijective = (len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1])))
    return {"n_a": int(len(np.unique(a)) - 1), "n_b": int(len(np.unique(b)) - 1), "identical": bool(bijective),
            "foreground_agreement": float(np.mean((a > 0) == (b > 0)))}


# ---- B1 -----------------------------------------------------------------------------------------------------------
def _cli_round_trip(frame: np.ndarray, settings, cal, home: Path) -> tuple[np.ndarray, list]:
    """What TrackMate-Cellpose does for one Preview: TIFF to a temp folder, a fresh ``python -m cellpose`` process,
    PNG mask read back, label image -> polygons."""
    import tifffile
    from PIL import Image

    from trackmate_cellpose.geometry import labels_to_detections

    tmp = Path(tempfile.mkdtemp(prefix="TrackMate-cellpose_"))
    try:
        tifffile.imwrite(tmp / "0.tif", frame)
        cmd = [sys.executable, "-m", "cellpose", "--dir", str(tmp), "--pretrained_model", settings.model_path,
               "--chan", "0", "--chan2", "0", "--diameter", f"{settings.diameter / cal.x:g}",
               "--flow_threshold", f"{settings.flow_threshold:g}",
               "--cellprob_threshold", f"{settings.cellprob_threshold:g}", "--save_png", "--no_npy"]
        env = dict(os.environ, HOME=str(home))  # cellpose writes ~/.cellpose/run.log
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        masks = np.asarray(Image.open(tmp / "0_cp_masks.png")).astype(np.int32)
        dets = labels_to_detections(masks, frame=0, calibration=cal, simplify=settings.simplify_contours)
        return masks, dets
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_b1(quick: bool, reps: int, big_frame: bool = False) -> dict[str, Any]:
    import tifffile

    from trackmate_cellpose import detect
    from trackmate_cellpose.data import sample_path
    from trackmate_cellpose.data import synthetic_frame

    settings, cal = _settings(), _cal()
    frames = {"128x128 (bundled 2dt sample, frame 0)": tifffile.imread(sample_path("2dt"))[0]}
    if big_frame:
        frames["256x256 (synthetic)"] = synthetic_frame((256, 256), n_objects=(25, 25), radius=(7.0, 12.0), seed=5)[0]
    home = Path(tempfile.mkdtemp(prefix="tmcp_bench_home_"))
    out: dict[str, Any] = {"settings": settings.to_trackmate_map(), "frames": {}}
    # what a fresh process pays before cellpose sees a pixel: interpreter + torch + cellpose imports
    imp = interleaved({"import": lambda: subprocess.run(
        [sys.executable, "-c", "import cellpose.models"], check=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)}, reps)["import"]
    out["fresh_process_import_cellpose_s"] = summary([t.wall for t in imp])
    out["fresh_process_import_cellpose_cpu_s"] = summary([t.cpu for t in imp])
    for name, frame in frames.items():
        _log(f"B1 {name}")
        ours_res = detect(frame, settings, axes="yx", calibration=cal)  # loads the model: not timed
        cli_masks, cli_dets = _cli_round_trip(frame, settings, cal, home)
        res = interleaved({
            "ours_warm": lambda: detect(frame, settings, axes="yx", calibration=cal),
            "cli_round_trip": lambda: _cli_round_trip(frame, settings, cal, home),
        }, reps, log=_log)
        out["frames"][name] = {
            "shape": list(frame.shape),
            "ours_warm_s": summary([t.wall for t in res["ours_warm"]]),
            "cli_round_trip_s": summary([t.wall for t in res["cli_round_trip"]]),
            "ours_warm_cpu_s": summary([t.cpu for t in res["ours_warm"]]),
            "cli_round_trip_cpu_s": summary([t.cpu for t in res["cli_round_trip"]]),
            "ratio_cli_over_ours": paired_ratio(res["cli_round_trip"], res["ours_warm"]),
            "ratio_cli_over_ours_cpu": paired_ratio(res["cli_round_trip"], res["ours_warm"], "cpu"),
            "same_masks": _same_objects(ours_res.frames[0].labels, cli_masks),
            "n_spots": {"ours": ours_res.n_detections, "cli": len(cli_dets)},
        }
    shutil.rmtree(home, ignore_errors=True)
    return out


# ---- B2 -----------------------------------------------------------------------------------------------------------
def bench_b2(quick: bool, reps: int, fiji: str | None, *, batch8: bool = False, only_2d: bool = False
             ) -> dict[str, Any]:
    import tifffile
    from cellpose import models

    from trackmate_cellpose import RuntimeOptions, detect
    from trackmate_cellpose.data import sample_path
    from trackmate_cellpose.data import synthetic_movie_2d

    settings, cal = _settings(), _cal()
    t2, y2, x2 = B2_2D_SHAPE
    movie2, _ = synthetic_movie_2d(n_frames=t2, shape_yx=(y2, x2), n_objects=10, seed=11)
    t3, z3, y3, x3 = B2_3D_CROP
    movie3 = np.ascontiguousarray(tifffile.imread(sample_path("3dt"))[:t3, :z3, :y3, :x3])
    # a second, independent copy of the same weights for the bare calls
    bare = models.CellposeModel(gpu=False, pretrained_model=settings.model_path)
    kw2, kw3 = _bare_kwargs(settings, is_3d=False), _bare_kwargs(settings, is_3d=True, anisotropy=cal.anisotropy)
    out: dict[str, Any] = {"bare_call": {
        "2d": "one CellposeModel.eval call on the whole (T, Y, X, 1) stack (all frames batched; min_size=15 inside "
              "cellpose), masks only",
        "3d": "one CellposeModel.eval(do_3D=True) call per time point on (Z, Y, X, 1), masks only"}}
    extra2 = {"ours_batch8": RuntimeOptions(frames_per_batch=8)} if batch8 else {}
    cases = {
        "2d": (movie2, "tyx", lambda: bare.eval(movie2[..., None], **kw2)[0], extra2),
        "3d": (movie3, "tzyx", lambda: [bare.eval(v[..., None], **kw3)[0] for v in movie3], {}),
    }
    if only_2d:
        del cases["3d"]
    for key, (movie, axes, bare_fn, extra) in cases.items():
        _log(f"B2 {key}: {movie.shape}")
        ours_res = detect(movie, settings, axes=axes, calibration=cal)  # warm-up (model load), outputs kept
        bare_masks = bare_fn()
        fns: dict[str, Callable[[], Any]] = {
            "ours": lambda m=movie, a=axes: detect(m, settings, axes=a, calibration=cal),
            "bare": bare_fn}
        for name, rt in extra.items():
            fns[name] = lambda m=movie, a=axes, r=rt: detect(m, settings, axes=a, calibration=cal, runtime=r)
        res = interleaved(fns, reps, log=_log)
        same = [_same_objects(fr.labels, bm) for fr, bm in zip(ours_res.frames, bare_masks)]
        out[key] = {
            "shape": list(movie.shape), "n_spots": ours_res.n_detections,
            "ours_s": summary([t.wall for t in res["ours"]]), "bare_s": summary([t.wall for t in res["bare"]]),
            "ours_cpu_s": summary([t.cpu for t in res["ours"]]), "bare_cpu_s": summary([t.cpu for t in res["bare"]]),
            "ratio_ours_over_bare": paired_ratio(res["ours"], res["bare"]),
            "ratio_ours_over_bare_cpu": paired_ratio(res["ours"], res["bare"], "cpu"),
            "frames_identical_to_bare": sum(s["identical"] for s in same), "n_frames": len(same),
            "ours_frames_per_s": len(movie) / summary([t.wall for t in res["ours"]])["median"],
        }
        for name in extra:
            out[key][f"{name}_s"] = summary([t.wall for t in res[name]])
            out[key][f"{name}_cpu_s"] = summary([t.cpu for t in res[name]])
            out[key][f"ratio_{name}_over_bare"] = paired_ratio(res[name], res["bare"])
            out[key][f"ratio_{name}_over_bare_cpu"] = paired_ratio(res[name], res["bare"], "cpu")
    if not fiji:
        out["trackmate"] = {"skipped": "FIJI_DIR not set"}
        return out
    tmp = Path(tempfile.mkdtemp(prefix="tmcp_bench_"))
    np.save(tmp / "m2.npy", movie2)
    np.save(tmp / "m3.npy", movie3)
    args = {"fiji": fiji, "reps": reps, "settings": {"model": "CUSTOM", "model_path": settings.model_path,
                                                     "diameter": settings.diameter, "use_gpu": False},
            "movies": {"2d": {"npy": str(tmp / "m2.npy"), "axes": "tyx"},
                       "3d": {"npy": str(tmp / "m3.npy"), "axes": "tzyx"}}}
    out["trackmate"] = _subprocess_json([str(SCRIPTS / "bench_trackmate.py")], args, tmp, timeout=3000)
    for key, m in out["trackmate"].get("movies", {}).items():
        m["ratio_detection_step_over_bare"] = summary(
            [a / b for a, b in zip(m["trackmate_detection_step_s"], m["bare_s"])])
        m["ratio_whole_run_trackmate_over_bare"] = summary([a / b for a, b in zip(m["trackmate_s"], m["bare_s"])])
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def _subprocess_json(argv: list[str], args: dict, tmp: Path, timeout: float) -> dict[str, Any]:
    """Run a helper script with an args file; return its last stdout line as JSON, or {"skipped": reason}."""
    path = tmp / "args.json"
    path.write_text(json.dumps(args))
    try:
        p = subprocess.run([sys.executable, *argv, str(path)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"{Path(argv[0]).name} timed out after {timeout:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"{Path(argv[0]).name} failed (exit {p.returncode}): {tail[:300]}"}
    return json.loads(lines[-1])


# ---- B3 -----------------------------------------------------------------------------------------------------------
def bench_b3(quick: bool, reps: int, fiji: str | None) -> dict[str, Any]:
    from bench_geometry import bench_geometry

    def java(task: str, *, labels: dict, reps: int, calibration: dict) -> dict:
        tmp = Path(tempfile.mkdtemp(prefix="tmcp_bench_"))
        try:
            paths = {}
            for k, lab in labels.items():
                paths[k] = str(tmp / f"{k}.npy")
                np.save(paths[k], lab)
            res = _subprocess_json([str(SCRIPTS / "bench_java.py"), task],
                                   {"labels": paths, "reps": reps, "calibration": calibration}, tmp, 1800)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if "skipped" in res:
            raise RuntimeError(res["skipped"])
        return res

    return bench_geometry(quick=quick, reps=reps, log=_log, java=java if fiji else None)


# ---- B4 -----------------------------------------------------------------------------------------------------------
def bench_b4(quick: bool, reps: int, fiji: str | None) -> dict[str, Any]:
    frames = B4_FRAMES[1] if quick else B4_FRAMES[0]
    out: dict[str, Any] = {}
    for mode in ("ours", "bare"):
        _log(f"B4 peak RSS, {mode}: {frames} frames of 512x512")
        p = subprocess.run([sys.executable, str(SCRIPTS / "bench_memory.py"), mode, str(frames), "512",
                            f"{B4_DIAMETER_UM:g}"], capture_output=True, text=True)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        out[f"rss_{mode}"] = json.loads(lines[-1]) if lines else {"skipped": p.stderr.strip()[-300:]}
        _log(f"  {out[f'rss_{mode}']}")
    if not fiji:
        out["copy_cost"] = {"skipped": "FIJI_DIR not set"}
        return out
    tmp = Path(tempfile.mkdtemp(prefix="tmcp_bench_"))
    cc = _subprocess_json([str(SCRIPTS / "bench_java.py"), "copy_cost"],
                          {"frames": 100, "size": 512, "reps": max(reps, 5) * 2}, tmp, 900)
    shutil.rmtree(tmp, ignore_errors=True)
    if "whole_s" in cc:
        gb = cc["bytes"] / 1e9
        w, f, b = summary(cc["whole_s"]), summary(cc["per_frame_s"]), summary(cc["labels_back_s"])
        cc["whole_gb_per_s"] = gb / w["median"]
        cc["whole_frames_per_s"] = cc["frames"] / w["median"]
        cc["per_frame_gb_per_s"] = gb / f["median"]
        cc["per_frame_frames_per_s"] = cc["frames"] / f["median"]
        cc["labels_back_gb_per_s"] = cc["labels_back_bytes"] / 1e9 / b["median"]
        cc["summary_s"] = {"whole": w, "per_frame": f, "labels_back": b}
    out["copy_cost"] = cc
    return out


# ---- main ---------------------------------------------------------------------------------------------------------
def _print_summary(res: dict[str, Any]) -> None:
    b1 = res.get("B1", {})
    for name, f in b1.get("frames", {}).items():
        r = f["ratio_cli_over_ours"]
        print(f"B1 {name}: ours {fmt_s(f['ours_warm_s'])}, CLI {fmt_s(f['cli_round_trip_s'])}, "
              f"CLI/ours {r['median']:.1f}x ({r['min']:.1f}-{r['max']:.1f}); same masks: {f['same_masks']}")
    b2 = res.get("B2", {})
    for k in ("2d", "3d"):
        if k in b2:
            r = b2[k]["ratio_ours_over_bare"]
            print(f"B2 {k} {b2[k]['shape']}: ours {fmt_s(b2[k]['ours_s'])}, bare {fmt_s(b2[k]['bare_s'])}, "
                  f"ours/bare {r['median']:.3f} ({r['min']:.3f}-{r['max']:.3f}); identical frames "
                  f"{b2[k]['frames_identical_to_bare']}/{b2[k]['n_frames']}")
    if "trackmate" in b2:
        print(f"B2 TrackMate: {json.dumps(b2['trackmate'])[:400]}")
    b3 = res.get("B3", {})
    for k in ("2d", "3d"):
        if k in b3:
            s = b3[k]["speedup_vs_skimage"]
            print(f"B3 {k}: {b3[k]['n_labels']} labels, ours {b3[k]['ours_objects_per_s']:.0f} obj/s, skimage "
                  f"{b3[k]['skimage_objects_per_s']:.1f} obj/s, speed-up {s['median']:.1f}x ({s['min']:.1f}-"
                  f"{s['max']:.1f})")
    if "trackmate" in b3:
        print(f"B3 TrackMate: {json.dumps(b3['trackmate'])[:400]}")
    b4 = res.get("B4", {})
    for k in ("rss_ours", "rss_bare"):
        if k in b4:
            print(f"B4 {k}: {json.dumps(b4[k])}")
    if "copy_cost" in b4:
        print(f"B4 copy: {json.dumps({k: v for k, v in b4['copy_cost'].items() if not k.endswith('_s')})}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes and 2 repetitions (a few minutes)")
    ap.add_argument("--json", default="", help="write all results to this JSON file")
    ap.add_argument("--only", default="B1,B2,B3,B4", help="comma-separated subset of B1,B2,B3,B4, run in that order")
    ap.add_argument("--reps", type=int, default=0, help="repetitions (default 2 with --quick, else 5)")
    ap.add_argument("--b1-256", action="store_true", help="B1: also a 256 x 256 frame")
    ap.add_argument("--b2-batch8", action="store_true", help="B2: also ours with RuntimeOptions(frames_per_batch=8)")
    ap.add_argument("--b2-only-2d", action="store_true", help="B2: the 2D+t movie only")
    ap.add_argument("--no-fiji", action="store_true", help="B2: skip the TrackMate part even with FIJI_DIR")
    args = ap.parse_args(argv)
    reps = args.reps or (2 if args.quick else 5)
    only = list(dict.fromkeys(s.strip().upper() for s in args.only.split(",") if s.strip()))  # run in this order
    bad = set(only) - {"B1", "B2", "B3", "B4"}
    if bad:
        ap.error(f"--only takes B1, B2, B3, B4, got {', '.join(sorted(bad))}")
    fiji = os.environ.get("FIJI_DIR") or None
    if fiji and not Path(fiji).is_dir():
        _log(f"FIJI_DIR={fiji} is not a folder: the Fiji parts are skipped")
        fiji = None
    results: dict[str, Any] = {"machine": machine_info(), "quick": args.quick, "reps": reps, "fiji_dir": fiji,
                               "gpu": "not measured in this session"}
    _log(f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, load {loadavg()}")
    runners = {"B1": lambda: bench_b1(args.quick, reps, args.b1_256),
               "B2": lambda: bench_b2(args.quick, reps, None if args.no_fiji else fiji, batch8=args.b2_batch8,
                                      only_2d=args.b2_only_2d),
               "B3": lambda: bench_b3(args.quick, reps, fiji), "B4": lambda: bench_b4(args.quick, reps, fiji)}
    for key in only:
        t0 = time.perf_counter()
        load0 = loadavg()
        try:
            results[key] = runners[key]()
        except Exception as e:  # noqa: BLE001 - record the failure, keep the other parts
            import traceback

            traceback.print_exc()
            results[key] = {"error": f"{type(e).__name__}: {e}"}
        results[key]["load"] = {"start": load0, "end": loadavg()}
        results[key]["bench_seconds"] = time.perf_counter() - t0
        _log(f"{key} done in {results[key]['bench_seconds']:.0f} s")
        if args.json:  # keep partial results if a later part fails
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    results["machine"]["load_at_end"] = loadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    _print_summary(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
