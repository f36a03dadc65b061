"""Retraining cost and data needs: time per epoch and peak memory of ``train_from_trackmate`` (cellpose's own
training function underneath) for a 2D+t and a 3D case, and how many curated frames it takes to reach the held-out F1
(IoU 0.5) of the full training set, against the base model's F1 on the same held-out frames.

Data: synthetic membrane-stained cells (``trackmate_cellpose.data.membrane_movie_2d/3d``), a texture the bundled test
model was never trained on, written as a curated TrackMate XML by ``training.write_curated_xml`` (the XML reader and
rasteriser are tested against TrackMate's own files elsewhere). Base model: the bundled cellpose-3 test model, under
cellpose 4 the tests' tiny Cellpose-SAM, or ``--model-path``. Peak memory: the resident set sampled every 20 ms during
the call, minus the resident set before it (cases after the first reuse memory the first one took: run one case per
process for each case's own peak). On a loaded machine compare CPU-s, not wall seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import _cases
from ._measure import RssSampler, UsageError, loadavg, log, rss_mb

CASES = ("2d", "3d", "frames")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", default=",".join(CASES),
                        help="comma-separated subset of 2d (2D+t time/memory), 3d (3D time/memory), frames (held-out "
                             "F1 against the number of curated frames) [%(default)s]")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per training run [%(default)s]")
    parser.add_argument("--crop", type=int, default=None, help="training crop size [cellpose's: 224 / 256]")
    parser.add_argument("--frames-2d", type=int, default=10, help="frames of the 2D+t movie (2 held out) [%(default)s]")
    parser.add_argument("--size-2d", type=int, default=192, help="side of the 2D frames in pixels [%(default)s]")
    parser.add_argument("--shape-3d", default="16x96x96", help="Z x Y x X of the 3D stacks [%(default)s]")
    parser.add_argument("--stacks-3d", type=int, default=3, help="3D time points (1 held out) [%(default)s]")
    parser.add_argument("--images-per-epoch-3d", type=int, default=24,
                        help="planes drawn per epoch in 3D (of all YX/ZY/ZX planes with an object) [%(default)s]")
    parser.add_argument("--frame-counts", default="1,2,4,8", help="training-set sizes of the frames case [%(default)s]")
    parser.add_argument("--model-path", default=None, help="base model [the tests' model for the installed cellpose]")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps [%(default)s]")
    parser.add_argument("--seed", type=int, default=0)


def _write(work: Path, name: str, img_tzyx: np.ndarray, lab_tzyx: np.ndarray, cal) -> tuple[Path, Path]:
    """The image as an ImageJ hyperstack and its labels as a curated TrackMate XML (+ .meshes in 3D)."""
    import tifffile

    from trackmate_cellpose.training import write_curated_xml

    ip = work / f"{name}.tif"
    tifffile.imwrite(ip, img_tzyx[:, :, None], imagej=True, resolution=(1 / cal.x, 1 / cal.y),
                     metadata={"axes": "TZCYX", "spacing": cal.z, "unit": "micron", "finterval": cal.t})
    return ip, write_curated_xml(work / f"{name}.xml", lab_tzyx, cal, image_path=ip)


def _train(image, xml, out: Path, args, *, frames=None, holdout=None, images_per_epoch=None) -> tuple[Any, dict]:
    from trackmate_cellpose.training import TrainingOptions, train_from_trackmate

    opts = TrainingOptions(epochs=args.epochs, crop=args.crop, seed=args.seed, device=args.device,
                           images_per_epoch=images_per_epoch, holdout_frames=holdout)
    before = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    with RssSampler() as mem:
        res = train_from_trackmate(image, xml, out, frames=frames, model_path=args.model_path, options=opts,
                                   overwrite=True)
    row = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "train_s": res.seconds,
           "s_per_epoch": res.seconds_per_epoch, "epochs": res.epochs_done,
           "peak_rss_above_start_mb": mem.peak_overall - before, "load": loadavg()}
    r = res.report
    row.update(f1_base=r["base"]["f1"], f1_new=r["new"]["f1"], mean_iou_new=r["new"]["mean_iou"],
               n_true=r["new"]["n_true"], found_new=r["new"]["n_found"], best_epoch=res.best_epoch,
               n_train_images=r["training"]["n_train_images"])
    log(f"{out.stem}: {row['s_per_epoch']:.2f} s/epoch, peak +{row['peak_rss_above_start_mb']:.0f} MiB, F1 "
        f"{row['f1_base']:.2f} -> {row['f1_new']:.2f}, load {row['load']}")
    return res, row


def run(args: argparse.Namespace) -> dict[str, Any]:
    from trackmate_cellpose.data import membrane_movie_2d, membrane_movie_3d

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    bad = [c for c in cases if c not in CASES]
    if bad or not cases:
        raise UsageError(f"--cases: unknown case(s) {bad or args.cases!r}; expected a subset of {','.join(CASES)}")
    shape3d = _cases.parse_shape(args.shape_3d, 3, "--shape-3d")
    counts = [int(v) for v in args.frame_counts.split(",") if v.strip()]
    if args.model_path is None:
        args.model_path = _cases.model_path()
    cal = _cases.calibration(z_um=1.0)
    out: dict[str, Any] = {"epochs": args.epochs, "crop": args.crop, "base_model": args.model_path,
                           "cellpose_major": _cases.cellpose_major(), "device": args.device, "load_before": loadavg()}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        work = Path(tmp)
        held = (args.frames_2d // 2 - 1, args.frames_2d - 1)
        if "2d" in cases or "frames" in cases:
            n = args.frames_2d
            img, lab = membrane_movie_2d(n, shape_yx=(args.size_2d,) * 2,
                                         n_objects=max(4, int(12 * (args.size_2d / 112) ** 2)))
            ip, xp = _write(work, "movie2d", img[:, None], lab[:, None], cal)
        if "2d" in cases:
            out["2d"] = {**_train(ip, xp, work / "m2d.pth", args, holdout=held)[1], "frames": args.frames_2d,
                         "size": args.size_2d}
            args.checkpoint(out)
        if "3d" in cases:
            img3, lab3 = membrane_movie_3d(args.stacks_3d, shape_zyx=shape3d,
                                           n_objects=max(4, int(7 * np.prod(shape3d[1:]) / 64 ** 2)),
                                           anisotropy=cal.z / cal.x)
            ip3, xp3 = _write(work, "stack3d", img3, lab3, cal)
            out["3d"] = {**_train(ip3, xp3, work / "m3d.pth", args, holdout=(args.stacks_3d - 1,),
                                  images_per_epoch=args.images_per_epoch_3d)[1],
                         "stacks": args.stacks_3d, "shape_zyx": list(shape3d),
                         "images_per_epoch": args.images_per_epoch_3d}
            args.checkpoint(out)
        if "frames" in cases:
            pool = [f for f in range(args.frames_2d) if f not in held]
            curve = []
            for k in (k for k in counts if k <= len(pool)):
                row = _train(ip, xp, work / f"m{k}.pth", args, frames=sorted(pool[:k] + list(held)), holdout=held)[1]
                curve.append({"train_frames": k, **row})
                args.checkpoint({**out, "frames": {"curve": curve}})
            full = max(curve, key=lambda c: c["train_frames"])
            enough = [c["train_frames"] for c in curve if c["f1_new"] >= full["f1_new"] - 0.02]
            out["frames"] = {"curve": curve, "full_set_frames": full["train_frames"], "f1_full": full["f1_new"],
                             "frames_to_reach_full_minus_0.02": min(enough) if enough else None}
    out["load_after"] = loadavg()
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = ["| case | train images | s/epoch (wall) | CPU-s (whole call) | peak RSS above start | held-out F1 base -> new |",
             "|---|---|---|---|---|---|"]
    rows = [(c, results[c]) for c in ("2d", "3d") if c in results]
    rows += [(f"{c['train_frames']} frame(s)", c) for c in results.get("frames", {}).get("curve", [])]
    for name, r in rows:
        lines.append(f"| {name} | {r['n_train_images']} | {r['s_per_epoch']:.2f} | {r['cpu_s']:.0f} | "
                     f"{r['peak_rss_above_start_mb']:.0f} MiB | {r['f1_base']:.2f} -> {r['f1_new']:.2f} |")
    return "\n".join(lines)
