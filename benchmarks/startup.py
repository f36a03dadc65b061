"""End to end from process start: ``python -m trackmate_cellpose run`` against a bare cellpose script.

Both are fresh processes on the same small movie (default 8 frames of 192 x 224): ours reads
the TIFF, detects, tracks and writes its files (``--formats xml,labels``); the bare script imports cellpose, loads
the model, runs one ``CellposeModel.eval`` on the frames (a list) and writes one label TIFF per frame. Wall and CPU
time of each child process, interleaved, ``--reps`` times. ``ours (cold cache)`` runs with an empty package cache
(a first run on a machine: numba compiles cellpose's dynamics, the network is exported to ONNX), ``ours`` with the
cache the first runs filled (every later run). The masks of the last repetition are compared frame by frame.
Under cellpose 4 the bare script loads float32 weights where the CPU has no native bfloat16 (``--bare-float32``):
ours then runs float32 too, and cellpose's bfloat16 default would be ~100x slower per matrix product.
Under cellpose 4 run with ``TMCP_TEST_TINY_CPSAM=1 PYTHONPATH=tests/support/cp4`` (the tests' tiny Cellpose-SAM);
both children inherit it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


from . import _cases
from ._measure import child_env, fmt_s, interleaved, loadavg, log, paired_ratio, timing_summaries

BARE_SCRIPT = """
import sys
import numpy as np, tifffile
from cellpose import models
model_path, movie, out, diameter, major, bf16 = sys.argv[1:7]
frames = list(tifffile.imread(movie))
extra = {"use_bfloat16": bf16 == "1"} if major == "4" else {}
model = models.CellposeModel(gpu=False, pretrained_model=model_path, **extra)
kw = dict(diameter=float(diameter), flow_threshold=0.4, cellprob_threshold=0.0, min_size=15)
if major == "3":
    kw["channels"] = [0, 0]
masks = model.eval(frames, **kw)[0]
for i, m in enumerate(masks):
    tifffile.imwrite(f"{out}/bare_{i:03d}.tif", np.asarray(m).astype(np.uint16))
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--movie", default="8x192x224", help="TxYxX of the synthetic movie [%(default)s]")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions [%(default)s]")
    parser.add_argument("--bare-float32", choices=("auto", "yes", "no"), default="auto",
                        help="cellpose 4: the bare script with float32 weights (auto: where the CPU has no native "
                             "bfloat16, as ours then runs) [%(default)s]")


def _native_bf16() -> bool:
    from trackmate_cellpose.segment import cpu_has_native_bf16

    return cpu_has_native_bf16()


def run(args: argparse.Namespace) -> dict[str, Any]:
    import tifffile

    from trackmate_cellpose.data import synthetic_movie_2d

    t, y, x = _cases.parse_shape(args.movie, 3, "--movie")
    work = Path(tempfile.mkdtemp(prefix="tmcp-bench-startup-"))
    try:
        movie = synthetic_movie_2d(n_frames=t, shape_yx=(y, x), n_objects=max(10, y * x // 2000), seed=11)[0]
        path = work / "movie.tif"
        tifffile.imwrite(path, movie, imagej=True, metadata={"axes": "TYX"},
                         resolution=(1 / _cases.PX_UM, 1 / _cases.PX_UM))
        (work / "bare.py").write_text(BARE_SCRIPT)
        model = _cases.model_path()
        major = str(_cases.cellpose_major())
        bf16 = major == "4" and (args.bare_float32 == "no" or (args.bare_float32 == "auto" and _native_bf16()))
        diameter_px = 10.0 / _cases.PX_UM
        env = child_env()
        warm, cold = work / "cache-warm", work / "cache-cold"

        def ours(cache: Path, fresh: bool):
            def go() -> None:
                if fresh:
                    shutil.rmtree(cache, ignore_errors=True)
                out = work / "ours"
                subprocess.run([sys.executable, "-m", "trackmate_cellpose", "run", str(path), "-o", str(out),
                                "--overwrite", "--quiet", "--formats", "xml,labels", "--tracker", "none",
                                "--model", "CUSTOM", "--model-path", model, "--diameter", "10",
                                "--pixel-size", str(_cases.PX_UM)],
                               check=True, env={**env, "TRACKMATE_CELLPOSE_CACHE": str(cache)},
                               capture_output=True)
            return go

        def bare() -> None:
            (work / "bare").mkdir(exist_ok=True)
            subprocess.run([sys.executable, str(work / "bare.py"), model, str(path), str(work / "bare"),
                            str(diameter_px), major, "1" if bf16 else "0"], check=True, env=env, capture_output=True)

        ours(warm, True)()  # fills the warm cache
        row: dict[str, Any] = {"movie": [t, y, x], "cellpose_major": int(major), "model": Path(model).name,
                               "bare_dtype": "bfloat16" if bf16 else "float32", "load_before": loadavg()}
        cases = {"bare": bare, "ours": ours(warm, False), "ours (cold cache)": ours(cold, True)}
        res = interleaved(cases, args.reps)
        for name, ts in res.items():
            row.update(timing_summaries(name, ts))
        for name in ("ours", "ours (cold cache)"):
            for attr in ("cpu", "wall"):
                row[f"{name} / bare ({attr})"] = paired_ratio(res[name], res["bare"], attr)
            log(f"{name} / bare: CPU {fmt_s(row[f'{name} / bare (cpu)'], 'x', 2)}, "
                f"wall {fmt_s(row[f'{name} / bare (wall)'], 'x', 2)}")
        ours_labels = tifffile.imread(work / "ours" / "movie_labels.tif")
        bare_labels = [tifffile.imread(p) for p in sorted((work / "bare").glob("bare_*.tif"))]
        ours_labels = ours_labels.reshape(len(bare_labels), *bare_labels[0].shape)
        row["masks_vs_bare"] = _cases.match_frames(list(ours_labels), bare_labels)
        row["load_after"] = loadavg()
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(results: dict[str, Any]) -> str:
    lines = ["| case | wall-s | CPU-s | / bare (wall) | / bare (CPU) |", "|---|---|---|---|---|"]
    for name in ("bare", "ours", "ours (cold cache)"):
        r_w, r_c = results.get(f"{name} / bare (wall)"), results.get(f"{name} / bare (cpu)")
        lines.append(f"| {name} | {fmt_s(results[f'{name}_wall_s'], digits=1)} | "
                     f"{fmt_s(results[f'{name}_cpu_s'], digits=1)} | {fmt_s(r_w, 'x', 2) if r_w else '-'} | "
                     f"{fmt_s(r_c, 'x', 2) if r_c else '-'} |")
    m = results["masks_vs_bare"]
    lines.append(f"\nmasks vs bare: {m['frames_identical']} frames identical, F1 {m['f1']:.3f}, matched IoU "
                 f"{m['mean_matched_iou']:.4f}; load {results['load_before']} -> {results['load_after']}")
    return "\n".join(lines)
