"""The pipelined detection loop against the sequential one and a bare ``CellposeModel.eval`` loop, on the CPU.

Three cases on the same movie, in one process, interleaved (``--reps``), after a warm-up of each: ``pipelined``
(``detect`` with ``RuntimeOptions(pipeline_depth=1)``, the default: masks, ROIs and meshes built in threads while
the network runs on the next frames), ``sequential`` (``pipeline_depth=0``) and ``bare`` (a user's loop: one
``CellposeModel.eval`` per frame, or per 3D time point, on an independently loaded copy of the model with
cellpose's own defaults; masks only, no spots). Every frame's masks are compared with the bare loop's
(``frames_identical``, F1, matched IoU) and the pipelined with the sequential run's. Movies: ``2d:TxYxX`` (synthetic
2D+t) and ``3d:TxZxYxX`` (synthetic 3D+t, anisotropy 2).

Under cellpose 4 the bare loop runs cellpose's own default, bfloat16 weights: on a CPU without native bfloat16
that is ~100x slower per matrix product, so ``--bare-float32`` (default under cellpose 4) loads it with
``use_bfloat16=False`` and the comparison is with cellpose's float32 call; the result records which.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from . import _cases
from ._measure import UsageError, fmt_s, interleaved, loadavg, log, paired_ratio, timing_summaries

DEFAULT_MOVIES = "2d:6x256x256,2d:4x512x512,2d:2x1024x1024,3d:2x16x96x96"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--movies", default=DEFAULT_MOVIES, help="comma-separated movies [%(default)s]")
    parser.add_argument("--reps", type=int, default=2, help="interleaved repetitions [%(default)s]")
    parser.add_argument("--frames-per-batch", type=int, default=2, help="2D frames per network call [%(default)s]")
    parser.add_argument("--inference", default="auto", help="RuntimeOptions.inference of ours [%(default)s]")
    parser.add_argument("--model", default="", help="a model file (default: the tests' model for the cellpose)")
    parser.add_argument("--bare-float32", choices=("auto", "yes", "no"), default="auto",
                        help="cellpose 4: the bare loop with float32 weights (auto: where the CPU has no native "
                             "bfloat16) [%(default)s]")


def movie(spec: str) -> tuple[np.ndarray, str]:
    kind, _, size = spec.partition(":")
    if kind == "2d":
        t, y, x = _cases.parse_shape(size, 3, spec)
        from trackmate_cellpose.data import synthetic_movie_2d

        return synthetic_movie_2d(n_frames=t, shape_yx=(y, x), n_objects=max(10, y * x // 1200), seed=11)[0], "tyx"
    if kind == "3d":
        t, z, y, x = _cases.parse_shape(size, 4, spec)
        from trackmate_cellpose.data import synthetic_movie_3d

        return synthetic_movie_3d(n_frames=t, shape_zyx=(z, y, x), n_objects=max(6, y * x // 1500), seed=3)[0], "tzyx"
    raise UsageError(f"unknown movie {spec!r}: expected 2d:TxYxX or 3d:TxZxYxX")


def bare_loop(model, frames: np.ndarray, axes: str, settings) -> Any:
    """A user's loop: one ``eval`` per frame (2D) or time point (``do_3D``) with the detector's settings."""
    kw: dict[str, Any] = dict(diameter=settings.diameter / _cases.PX_UM, cellprob_threshold=settings.cellprob_threshold,
                              min_size=int(settings.min_size))
    if _cases.cellpose_major() == 3:
        kw["channels"] = [0, 0]
    if axes == "tzyx":
        kw.update(do_3D=True, anisotropy=_cases.Z_UM / _cases.PX_UM, z_axis=0)
    else:
        kw["flow_threshold"] = settings.flow_threshold
    return lambda: [np.asarray(model.eval(f, **kw)[0]) for f in frames]


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from cellpose import models

    from trackmate_cellpose import RuntimeOptions, detect
    from trackmate_cellpose.segment import cpu_has_native_bf16

    specs = [s.strip() for s in args.movies.split(",") if s.strip()]
    for s in specs:
        kind = s.partition(":")[0]
        if kind not in ("2d", "3d"):
            raise UsageError(f"unknown movie {s!r}: expected 2d:TxYxX or 3d:TxZxYxX")
    settings = _cases.settings()
    if args.model:
        settings = settings.replace(model_path=args.model)
    major = _cases.cellpose_major()
    kw: dict[str, Any] = {}
    if major == 4:
        f32 = args.bare_float32 == "yes" or (args.bare_float32 == "auto" and not cpu_has_native_bf16())
        kw["use_bfloat16"] = not f32
    bare_model = models.CellposeModel(gpu=False, device=torch.device("cpu"), pretrained_model=settings.model_path,
                                      **kw)
    cal = _cases.calibration()
    rows = []
    for spec in specs:
        frames, axes = movie(spec)
        row: dict[str, Any] = {"movie": spec, "cellpose_major": major, "inference": args.inference,
                               "bare_dtype": "bfloat16" if kw.get("use_bfloat16", major == 4) else "float32",
                               "native_bf16": cpu_has_native_bf16(), "load_before": loadavg()}

        def ours(depth: int):
            rt = RuntimeOptions(device="cpu", inference=args.inference, pipeline_depth=depth,
                                frames_per_batch=args.frames_per_batch)
            return lambda: [fr.labels for fr in detect(frames, settings, axes=axes, calibration=cal, runtime=rt).frames]

        cases = {"bare": bare_loop(bare_model, frames, axes, settings), "sequential": ours(0), "pipelined": ours(1)}
        log(f"{spec}: warm-up")
        res = interleaved(cases, args.reps, warmup=1)
        for name, ts in res.items():
            row.update(timing_summaries(name, ts))
        for name in ("sequential", "pipelined"):
            for attr in ("cpu", "wall"):
                row[f"bare / {name} ({attr})"] = paired_ratio(res["bare"], res[name], attr)
        for attr in ("cpu", "wall"):
            row[f"sequential / pipelined ({attr})"] = paired_ratio(res["sequential"], res["pipelined"], attr)
        outs = {n: ts[-1].value for n, ts in res.items()}
        row["pipelined_vs_bare"] = _cases.match_frames(outs["pipelined"], outs["bare"])
        row["pipelined_vs_sequential"] = _cases.match_frames(outs["pipelined"], outs["sequential"])
        row["load_after"] = loadavg()
        log(f"{spec}: bare/pipelined CPU {fmt_s(row['bare / pipelined (cpu)'], 'x', 2)}, wall "
            f"{fmt_s(row['bare / pipelined (wall)'], 'x', 2)}; sequential/pipelined wall "
            f"{fmt_s(row['sequential / pipelined (wall)'], 'x', 2)}; vs bare {row['pipelined_vs_bare']}")
        rows.append(row)
        args.checkpoint({"rows": rows})
    return {"rows": rows}


def markdown(results: dict[str, Any]) -> str:
    lines = ["| movie (load) | bare wall-s / CPU-s | sequential | pipelined | bare / pipelined wall (CPU) | "
             "sequential / pipelined wall (CPU) | pipelined vs bare | pipelined vs sequential |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        def ws(n: str) -> str:
            return f"{r[f'{n}_wall_s']['median']:.1f} / {r[f'{n}_cpu_s']['median']:.1f}"
        m, s = r["pipelined_vs_bare"], r["pipelined_vs_sequential"]
        lines.append(f"| {r['movie']} ({r['load_before']}) | {ws('bare')} | {ws('sequential')} | {ws('pipelined')} | "
                     f"{fmt_s(r['bare / pipelined (wall)'], 'x', 2)} ({r['bare / pipelined (cpu)']['median']:.2f}x) | "
                     f"{fmt_s(r['sequential / pipelined (wall)'], 'x', 2)} "
                     f"({r['sequential / pipelined (cpu)']['median']:.2f}x) | {m['frames_identical']}, F1 {m['f1']:.3f},"
                     f" IoU {m['mean_matched_iou']:.4f} | {s['frames_identical']} |")
    return "\n".join(lines)
