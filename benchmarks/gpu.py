"""Tutorial scale on a GPU: one 86 x 1024 x 1024 frame with ~600 cells, stage by stage, and the pipelined loop.

Prepared for a machine with a CUDA GPU (none was lent when it was written: its rows in BENCHMARKS.md are open). Run
``python -m benchmarks gpu`` there; ``--device cpu --shape 12x96x96`` checks the script on any machine.

Part A, stage by stage, for 3D mode (``do_3D``) and 2D+Z (stitching), on ``trackmate_cellpose.data.
synthetic_stack_tutorial`` at ``--shape`` (cells at the tutorial's density; 0.5 um pixels, z step 1.25 um,
cell diameter 15 um = 30 px = the bundled model's size): the network (three orientations in 3D), cellpose's flow
dynamics and masks (on the GPU: the model's device), the label clean-up and the spots (meshes), each with its wall
time, the GPU's peak allocated memory and the host's peak resident memory; the 14-frame movie projected from them.
Part B, the loop: ``--frames`` time points through ``detect`` pipelined (``pipeline_depth=1``) and sequential
(``0``) against a bare loop of ``CellposeModel.eval(do_3D=True)`` per time point, interleaved (``--reps``), with
every time point's masks compared (F1, matched IoU: on a GPU bit-identity is not promised). Part C (``--cli``): the
cellpose command line on one 512 x 512 frame (what TrackMate-Cellpose runs for every Preview) against ``detect`` on
the same frame, warm, on the same card. Part D (``--movies``, run first: the cheapest): the ``pipeline`` suite's table
on the card (pipelined vs sequential vs a bare ``eval`` loop on 2D+t and 3D movies, masks compared).

One command for a GPU machine: ``python -m benchmarks gpu --cli`` (not yet timed on a card: each part's results
are saved as it ends, so a run stopped by a time limit keeps what it measured). Without a GPU it stops at once with a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import _cases, pipeline
from ._measure import RssSampler, fmt_s, interleaved, loadavg, log, paired_ratio, timing_summaries

NAME = "gpu"
TUTORIAL_FRAMES = 14
Z_UM = 1.25  # the tutorial's anisotropy 2.5 at 0.5 um pixels


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cuda", help="cuda, mps or cpu [%(default)s]")
    parser.add_argument("--shape", default="86x1024x1024", help="ZxYxX of the stack [%(default)s]")
    parser.add_argument("--frames", type=int, default=2, help="time points of part B [%(default)s]")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of part B [%(default)s]")
    parser.add_argument("--cli", action="store_true", help="part C: cellpose's command line per Preview")
    parser.add_argument("--movies", default=pipeline.DEFAULT_MOVIES,
                        help="part D: the pipeline table's movies on the card ('' skips it) [%(default)s]")


def _gpu_peak_mb(device: str) -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else float("nan")


def _reset_gpu_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def stages(adapter, stack: np.ndarray, mode: str, settings, device: str) -> dict[str, Any]:
    """Wall time, GPU peak and host peak of each stage of one frame (the engine's own calls, in its order)."""
    from trackmate_cellpose.geometry import labels_to_detections
    from trackmate_cellpose.segment import clean_labels

    cal = _cases.calibration(Z_UM)
    s = settings.replace(do_2dz=mode == "2dz", iou_threshold=0.25)
    x = stack[..., None].astype(np.float32)
    row: dict[str, Any] = {}
    state: dict[str, Any] = {}
    steps = [
        ("network", lambda: state.update(out=adapter.run_network(x, mode=mode, settings=s, diameter_px=30.0,
                                                                 anisotropy=Z_UM / _cases.PX_UM))),
        ("dynamics + masks", lambda: state.update(masks=adapter.masks(state["out"]))),
        ("clean-up", lambda: state.update(labels=clean_labels(state["masks"], min_size=s.min_size, split=True))),
        ("spots (meshes)", lambda: state.update(spots=labels_to_detections(
            state["labels"], frame=0, calibration=cal, smoothing_scale=s.smoothing_scale,
            cellprob=state["out"].cellprob()))),
    ]
    for name, fn in steps:
        _reset_gpu_peak(device)
        with RssSampler() as rss:
            t0 = time.perf_counter()
            fn()
            if device == "cuda":
                import torch

                torch.cuda.synchronize()
            wall = time.perf_counter() - t0
        row[name] = {"wall_s": wall, "gpu_peak_mb": _gpu_peak_mb(device), "host_peak_mb": rss.peak_overall}
        log(f"  {mode} {name}: {wall:.2f} s, GPU peak {row[name]['gpu_peak_mb']:.0f} MiB, host peak "
            f"{rss.peak_overall:.0f} MiB")
    row["objects"] = int(state["labels"].max())
    row["spots"] = len(state["spots"])
    row["frame_s"] = sum(v["wall_s"] for v in row.values() if isinstance(v, dict))
    row["movie_projected_s"] = {"sequential": TUTORIAL_FRAMES * row["frame_s"],
                                "pipelined (network hidden)": row["frame_s"] + (TUTORIAL_FRAMES - 1) * max(
                                    row["network"]["wall_s"], row["frame_s"] - row["network"]["wall_s"])}
    return row


def run(args: argparse.Namespace) -> dict[str, Any]:
    z, y, x = _cases.parse_shape(args.shape, 3, "--shape")
    movies = pipeline.check_movies(args.movies)
    pipeline.check_device(args.device)  # before cellpose's import: a machine without the GPU is told at once

    import torch
    from cellpose import models

    from trackmate_cellpose import RuntimeOptions, detect
    from trackmate_cellpose.data import synthetic_stack_tutorial
    from trackmate_cellpose.segment import CellposeAdapter

    settings = _cases.settings(15.0, use_gpu=args.device != "cpu")
    device = args.device
    out: dict[str, Any] = {"device": device, "shape": [z, y, x], "load_before": loadavg(),
                           "gpu": torch.cuda.get_device_name(0) if device == "cuda" else "none"}
    if movies:
        log(f"part D: the pipeline table on {device}")
        out["table"] = pipeline.measure(movies, _cases.settings(), device=device, reps=1,
                                        checkpoint=lambda rows: args.checkpoint({**out, "table": rows}))
    adapter = CellposeAdapter.get(settings, runtime_device=device)
    out["inference"] = adapter.inference
    stacks = [synthetic_stack_tutorial((z, y, x), seed=15 + t)[0] for t in range(max(1, args.frames))]
    log(f"part A: stages of one {z}x{y}x{x} frame on {device}")
    adapter.run_network(stacks[0][:2, :64, :64, None].astype(np.float32), mode="3d", settings=settings,
                        diameter_px=30.0, anisotropy=Z_UM / _cases.PX_UM)  # warm-up (CUDA context, kernels)
    out["stages"] = {mode: stages(adapter, stacks[0], mode, settings, device) for mode in ("3d", "2dz")}
    args.checkpoint(out)

    log(f"part B: {len(stacks)} time points, pipelined vs sequential vs bare eval loop")
    movie = np.stack(stacks)
    cal = _cases.calibration(Z_UM)
    bare = models.CellposeModel(gpu=device != "cpu", device=torch.device(device),
                                pretrained_model=settings.model_path)
    kw: dict[str, Any] = dict(diameter=30.0, cellprob_threshold=settings.cellprob_threshold,
                              min_size=int(settings.min_size), do_3D=True, anisotropy=Z_UM / _cases.PX_UM, z_axis=0)
    if _cases.cellpose_major() == 3:
        kw["channels"] = [0, 0]

    def ours(depth: int):
        rt = RuntimeOptions(device=device, pipeline_depth=depth)
        return lambda: [f.labels for f in detect(movie, settings, axes="tzyx", calibration=cal, runtime=rt).frames]

    res = interleaved({"bare": lambda: [np.asarray(bare.eval(v, **kw)[0]) for v in movie],
                       "sequential": ours(0), "pipelined": ours(1)}, args.reps)
    loop: dict[str, Any] = {}
    for name, ts in res.items():
        loop.update(timing_summaries(name, ts))
    loop["bare / pipelined (wall)"] = paired_ratio(res["bare"], res["pipelined"], "wall")
    loop["sequential / pipelined (wall)"] = paired_ratio(res["sequential"], res["pipelined"], "wall")
    loop["pipelined_vs_bare"] = _cases.match_frames(res["pipelined"][-1].value, res["bare"][-1].value)
    loop["pipelined_vs_sequential"] = _cases.match_frames(res["pipelined"][-1].value, res["sequential"][-1].value)
    log(f"bare / pipelined wall {fmt_s(loop['bare / pipelined (wall)'], 'x', 2)}; masks {loop['pipelined_vs_bare']}")
    out["loop"] = loop
    args.checkpoint(out)

    if args.cli:
        out["preview"] = preview_cli(settings, device)
    out["load_after"] = loadavg()
    return out


def preview_cli(settings, device: str) -> dict[str, Any]:
    """Part C: ``python -m cellpose`` on one 512 x 512 frame (fresh process, files in and out) vs warm detect."""
    import tifffile

    from trackmate_cellpose import RuntimeOptions, detect
    from trackmate_cellpose.data import synthetic_movie_2d

    frame = synthetic_movie_2d(n_frames=1, shape_yx=(512, 512), n_objects=200, seed=11)[0]
    work = Path(tempfile.mkdtemp(prefix="tmcp-bench-gpu-"))
    try:
        tifffile.imwrite(work / "frame.tif", frame[0])
        cmd = [sys.executable, "-m", "cellpose", "--dir", str(work), "--pretrained_model", settings.model_path,
               "--diameter", "20", "--save_png", "--no_npy"] + (["--use_gpu"] if device != "cpu" else [])

        def cli() -> None:
            subprocess.run(cmd, check=True, capture_output=True)

        rt = RuntimeOptions(device=device)
        s = settings.replace(diameter=10.0)
        detect(frame, s, axes="tyx", calibration=_cases.calibration(), runtime=rt)  # warm

        def ours() -> None:
            detect(frame, s, axes="tyx", calibration=_cases.calibration(), runtime=rt)

        res = interleaved({"cli": cli, "ours": ours}, 3)
        row = {**timing_summaries("cli", res["cli"]), **timing_summaries("ours", res["ours"]),
               "cli / ours (wall)": paired_ratio(res["cli"], res["ours"], "wall")}
        log(f"Preview: cellpose CLI / ours wall {fmt_s(row['cli / ours (wall)'], 'x', 1)}")
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(results: dict[str, Any]) -> str:
    lines = [f"device {results['device']} ({results['gpu']}), inference {results['inference']}, stack "
             f"{'x'.join(map(str, results['shape']))}",
             "| mode | network | dynamics + masks | clean-up | spots | frame | 14 frames seq / pipelined | objects |",
             "|---|---|---|---|---|---|---|---|"]
    for mode, r in results["stages"].items():
        cells = [f"{r[k]['wall_s']:.1f} s (GPU {r[k]['gpu_peak_mb']:.0f} MiB, host {r[k]['host_peak_mb']:.0f} MiB)"
                 for k in ("network", "dynamics + masks", "clean-up", "spots (meshes)")]
        proj = r["movie_projected_s"]
        lines.append(f"| {mode} | {' | '.join(cells)} | {r['frame_s']:.1f} s | "
                     f"{proj['sequential']:.0f} / {proj['pipelined (network hidden)']:.0f} s | {r['objects']} |")
    if "loop" in results:
        lp = results["loop"]
        lines.append(f"\nloop: bare / pipelined wall {fmt_s(lp['bare / pipelined (wall)'], 'x', 2)}, sequential / "
                     f"pipelined {fmt_s(lp['sequential / pipelined (wall)'], 'x', 2)}; masks vs bare "
                     f"{lp['pipelined_vs_bare']}")
    if "preview" in results:
        lines.append(f"Preview: cellpose CLI / ours {fmt_s(results['preview']['cli / ours (wall)'], 'x', 1)}")
    if results.get("table"):
        lines.append("\n" + pipeline.markdown({"rows": results["table"]}))
    return "\n".join(lines)
