"""The pipelined detection loop against the sequential one and a bare ``CellposeModel.eval`` loop (CPU or GPU).

Three cases on the same movie, in one process, interleaved (``--reps``), after a warm-up of each: ``pipelined``
(``detect`` with ``RuntimeOptions(pipeline_depth=1)``, the default: masks, ROIs and meshes built in threads while
the network runs on the next frames), ``sequential`` (``pipeline_depth=0``) and ``bare`` (a user's loop: one
``CellposeModel.eval`` per frame, or per 3D time point, on an independently loaded copy of the model with
cellpose's own defaults; masks only, no spots). Every frame's masks are compared with the bare loop's
(``frames_identical``, F1, matched IoU) and the pipelined with the sequential run's. Movies: ``2d:TxYxX`` (synthetic
2D+t) and ``3d:TxZxYxX`` (synthetic 3D+t, anisotropy 2). ``--device cuda`` runs ours and the bare loop on the GPU
(the ``gpu`` suite runs this table there too).

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
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps: where both sides run [%(default)s]")
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


def check_movies(text: str) -> list[str]:
    """The ``--movies`` list, each checked (``2d:TxYxX`` or ``3d:TxZxYxX``)."""
    specs = [s.strip() for s in text.split(",") if s.strip()]
    for s in specs:
        if s.partition(":")[0] not in ("2d", "3d"):
            raise UsageError(f"unknown movie {s!r}: expected 2d:TxYxX or 3d:TxZxYxX")
    return specs


def check_device(device: str) -> None:
    """Refuse a GPU the machine does not have, naming it (before any measurement)."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA GPU on this machine (--device cpu checks the script)")
    if device == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps: torch sees no MPS device on this machine")
    if device not in ("cpu", "cuda", "mps"):
        raise UsageError(f"--device {device!r}: expected cpu, cuda or mps")


def run(args: argparse.Namespace) -> dict[str, Any]:
    specs = check_movies(args.movies)
    check_device(args.device)
    settings = _cases.settings()
    if args.model:
        settings = settings.replace(model_path=args.model)
    rows = measure(specs, settings, device=args.device, inference=args.inference,
                   frames_per_batch=args.frames_per_batch, reps=args.reps, bare_float32=args.bare_float32,
                   checkpoint=lambda rows: args.checkpoint({"rows": rows}))
    return {"rows": rows}


def measure(specs: list[str], settings, *, device: str = "cpu", inference: str = "auto", frames_per_batch: int = 2,
            reps: int = 2, bare_float32: str = "auto", checkpoint=None) -> list[dict[str, Any]]:
    """One row per movie: ours pipelined and sequential against the bare loop on ``device``, masks compared."""
    import torch
    from cellpose import models

    from trackmate_cellpose import RuntimeOptions, detect
    from trackmate_cellpose.segment import cpu_has_native_bf16

    settings = settings.replace(use_gpu=device != "cpu")
    major = _cases.cellpose_major()
    kw: dict[str, Any] = {}
    if major == 4:  # cellpose's own default is bfloat16; on a CPU without native bfloat16 the bare loop is float32
        f32 = bare_float32 == "yes" or (bare_float32 == "auto" and device == "cpu" and not cpu_has_native_bf16())
        kw["use_bfloat16"] = not f32
    bare_model = models.CellposeModel(gpu=device != "cpu", device=torch.device(device),
                                      pretrained_model=settings.model_path, **kw)
    cal = _cases.calibration()
    rows: list[dict[str, Any]] = []
    for spec in specs:
        frames, axes = movie(spec)
        row: dict[str, Any] = {"movie": spec, "device": device, "cellpose_major": major, "inference": inference,
                               "bare_dtype": "bfloat16" if kw.get("use_bfloat16", major == 4) else "float32",
                               "native_bf16": cpu_has_native_bf16(), "load_before": loadavg()}

        def ours(depth: int):
            rt = RuntimeOptions(device=device, inference=inference, pipeline_depth=depth,
                                frames_per_batch=frames_per_batch)
            return lambda: [fr.labels for fr in detect(frames, settings, axes=axes, calibration=cal, runtime=rt).frames]

        cases = {"bare": bare_loop(bare_model, frames, axes, settings), "sequential": ours(0), "pipelined": ours(1)}
        log(f"{spec}: warm-up")
        res = interleaved(cases, reps, warmup=1)
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
        if checkpoint is not None:
            checkpoint(rows)
    return rows


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
