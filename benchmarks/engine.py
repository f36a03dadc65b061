"""Our detector end to end against bare cellpose, in one process.

Measures :func:`trackmate_cellpose.detect` (numpy image in, cleaned labels and TrackMate-ready spots out) with each
``RuntimeOptions.inference`` mode against the **baseline a user would write: one bare ``CellposeModel.eval``** on
the same frames with the same settings (cellpose's defaults otherwise: ``batch_size=8``, its own network path; one
call on the whole 2D+t stack, one ``do_3D`` call per 3D time point), from an independently loaded copy of the same
weights. With ``--cli`` also **the cellpose command-line round trip** that TrackMate-Cellpose makes for every call
(frames written as TIFFs into a temporary folder, a new ``python -m cellpose`` process, PNG masks read back, spots
built with our geometry): a simulation of that plugin; the real one, inside TrackMate, is the ``trackmate`` suite.

Interleaved in one process, the order rotating each repetition; CPU (process time, children included) and wall;
medians (min-max) and per-repetition paired ratios bare / ours (> 1: ours is faster). Every frame's masks are
compared with the bare call's: identical up to renumbering, else matched IoU and F1. The first calls (model load,
ONNX export) are reported apart.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _cases
from ._measure import fmt_s, interleaved, log, loadavg, paired_ratio, summary, timing_summaries

NAME = "engine"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", default="2d256,2d512,3d",
                        help=f"comma-separated cases: {', '.join(_cases.NAMED_CASES)}, or 2d:TxYxX, 3d:ZxYxX, "
                             "sample2d:T, sample3d:TxZxYxX [%(default)s]")
    parser.add_argument("--modes", default="auto,fast",
                        help="RuntimeOptions.inference values, each optionally ':N' for tile_batch_size N "
                             "[%(default)s]")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions [%(default)s]")
    parser.add_argument("--cli", action="store_true",
                        help="also the cellpose command-line round trip per call (2D cases, cellpose 3)")
    parser.add_argument("--diameter", type=float, default=10.0, help="CELL_DIAMETER in um, 0.5 um pixels "
                                                                     "[%(default)s]")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps"),
                        help="where ours and bare cellpose run [%(default)s]")


def _runtime(mode: str, device: str):
    from trackmate_cellpose import RuntimeOptions

    inference, _, tile_batch = mode.partition(":")
    return RuntimeOptions(device=device, inference=inference, tile_batch_size=int(tile_batch or 8))


def cli_round_trip(movie: np.ndarray, settings, cal, home: Path) -> list[np.ndarray]:
    """What TrackMate-Cellpose does per call: TIFFs into a fresh folder, ``python -m cellpose`` in a new process,
    PNG masks read back, labels -> polygon spots. Returns the masks per frame."""
    import tifffile
    from PIL import Image

    from trackmate_cellpose.geometry import labels_to_detections

    tmp = Path(tempfile.mkdtemp(prefix="TrackMate-cellpose_"))
    try:
        for t, frame in enumerate(movie):
            tifffile.imwrite(tmp / f"{t}.tif", frame)
        cmd = [sys.executable, "-m", "cellpose", "--dir", str(tmp), "--pretrained_model", settings.model_path,
               "--chan", "0", "--chan2", "0", "--diameter", f"{settings.diameter / cal.x:g}",
               "--flow_threshold", f"{settings.flow_threshold:g}",
               "--cellprob_threshold", f"{settings.cellprob_threshold:g}", "--save_png", "--no_npy"]
        env = dict(os.environ, HOME=str(home))  # cellpose writes ~/.cellpose/run.log
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        masks = [np.asarray(Image.open(tmp / f"{t}_cp_masks.png")).astype(np.int32) for t in range(len(movie))]
        for t, m in enumerate(masks):
            labels_to_detections(m, frame=t, calibration=cal, simplify=settings.simplify_contours)
        return masks
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from trackmate_cellpose import detect
    from trackmate_cellpose.segment import CellposeAdapter

    cases = _cases.check_cases(args.cases)
    modes = [m for m in args.modes.split(",") if m]
    runtimes = {m: _runtime(m, args.device) for m in modes}  # invalid modes fail here, before any work
    settings, cal = _cases.settings(args.diameter, use_gpu=args.device != "cpu"), _cases.calibration()
    major = _cases.cellpose_major()
    out: dict[str, Any] = {"settings": settings.to_trackmate_map(), "cellpose_major": major, "device": args.device,
                           "calibration_um": [cal.x, cal.y, cal.z], "modes": modes, "reps": args.reps,
                           "baseline": "bare CellposeModel.eval (one call on the 2D+t stack, one do_3D call per 3D "
                                       "time point), batch_size=8, an independent copy of the weights",
                           "cases": {}}
    home = Path(tempfile.mkdtemp(prefix="tmcp-bench-home-"))
    if args.cli and major == 3:
        imp = interleaved({"import": lambda: subprocess.run(
            [sys.executable, "-c", "import cellpose.models"], check=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)}, max(1, args.reps))["import"]
        out.update(timing_summaries("fresh_process_import_cellpose", imp))
    bare_model = _cases.bare_model(settings.model_path, device=args.device)
    for case in cases:
        movie, axes = _cases.image(case)
        log(f"engine {case}: {movie.shape}, load {loadavg()}")
        bare = _cases.bare_call(bare_model, movie, axes, settings, anisotropy=cal.anisotropy)
        t0 = time.perf_counter()
        bare_masks = bare()
        row: dict[str, Any] = {"shape": list(movie.shape), "axes": axes, "bare_first_call_s": time.perf_counter() - t0,
                               "load_before": loadavg()}
        fns: dict[str, Callable[[], Any]] = {"bare": bare}
        for mode, rt in runtimes.items():
            t0 = time.perf_counter()
            res = detect(movie, settings, axes=axes, calibration=cal, runtime=rt)  # warm-up: load, export
            row[f"{mode}_first_call_s"] = time.perf_counter() - t0
            row[f"{mode}_ran_as"] = CellposeAdapter.get(settings, runtime_device=args.device,
                                                        inference=rt.inference).inference
            row[f"{mode}_vs_bare"] = _cases.match_frames([fr.labels for fr in res.frames], bare_masks)
            row[f"{mode}_spots"] = res.n_detections
            fns[mode] = lambda m=movie, a=axes, r=rt: detect(m, settings, axes=a, calibration=cal, runtime=r)
        if args.cli:
            if major != 3 or axes != "tyx":
                row["cli_skipped"] = "the cellpose-3 command line on 2D frames only"
            else:
                row["cli_vs_bare"] = _cases.match_frames(cli_round_trip(movie, settings, cal, home), bare_masks)
                fns["cli"] = lambda m=movie: cli_round_trip(m, settings, cal, home)
        res_t = interleaved(fns, args.reps)
        for name, ts in res_t.items():
            row.update(timing_summaries(name, ts))
            if name != "bare":
                row[f"speedup_{name}_cpu"] = paired_ratio(res_t["bare"], ts, "cpu")
                row[f"speedup_{name}_wall"] = paired_ratio(res_t["bare"], ts, "wall")
        row["frames_per_s"] = {m: len(movie) / summary([t.wall for t in res_t[m]])["median"] for m in res_t}
        row["load_after"] = loadavg()
        for name in (m for m in res_t if m != "bare"):
            log(f"{case} {name}: bare/ours CPU {fmt_s(row[f'speedup_{name}_cpu'], 'x', 2)}, wall "
                f"{fmt_s(row[f'speedup_{name}_wall'], 'x', 2)}; vs bare {row.get(f'{name}_vs_bare')}")
        out["cases"][case] = row
        args.checkpoint(out)
    shutil.rmtree(home, ignore_errors=True)
    return out


def markdown(results: dict[str, Any]) -> str:
    """One row per (case, mode): CPU and wall of bare and ours, bare / ours, masks against bare."""
    lines = ["| case | mode (ran as) | bare CPU | ours CPU | **bare / ours (CPU)** | bare / ours (wall) | first call "
             "bare / ours (wall) | masks vs bare |", "|---|---|---|---|---|---|---|---|"]
    for case, row in results.get("cases", {}).items():
        others = [k[:-len("_cpu_s")] for k in row if k.endswith("_cpu_s") and k != "bare_cpu_s"]
        for name in others:
            vs = row.get(f"{name}_vs_bare", {})
            first = row.get(f"{name}_first_call_s")
            lines.append(
                f"| {case} {tuple(row['shape'])} | {name} ({row.get(f'{name}_ran_as', '-')}) | "
                f"{fmt_s(row['bare_cpu_s'], digits=2)} | {fmt_s(row[f'{name}_cpu_s'], digits=2)} | "
                f"**{fmt_s(row[f'speedup_{name}_cpu'], 'x', 2)}** | {fmt_s(row[f'speedup_{name}_wall'], 'x', 2)} | "
                f"{row['bare_first_call_s']:.1f} / {'-' if first is None else f'{first:.1f}'} s | "
                f"{vs.get('frames_identical', '-')} identical, IoU {vs.get('mean_matched_iou', 0):.3f} |")
    return "\n".join(lines)
