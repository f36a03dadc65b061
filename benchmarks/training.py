"""Retraining cost and data needs (issue 21): time per epoch and peak memory of ``train_from_trackmate`` for a 2D+t
and a 3D case, and how many curated frames it takes to reach the held-out F1 of the full set.

Data: synthetic membrane-stained cells (``trackmate_cellpose.data.membrane_movie_2d/3d``), a texture the bundled test
model was never trained on, written as a curated TrackMate XML by the package's own writer (the XML reader and the
rasteriser are tested against TrackMate's own files elsewhere). Base model: the bundled cellpose-3 test model, or ``--model-path``
(the tiny Cellpose-SAM under cellpose 4). Peak memory is the resident set sampled every 20 ms during the call,
minus the resident set before it (the process's own baseline excluded). Uses the package's public surface only.

    python benchmarks/training.py [--cases 2d,3d,frames] [--epochs 20] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument("--cases", default="2d,3d,frames",
                        help="comma-separated subset of 2d (2D+t time/memory), 3d (3D time/memory), frames (F1 against "
                             "the number of curated frames) [2d,3d,frames]")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per training run [20]")
    parser.add_argument("--crop", type=int, default=None, help="training crop size [cellpose's: 224 / 256]")
    parser.add_argument("--frames-2d", type=int, default=10, help="frames of the 2D+t movie (2 held out) [10]")
    parser.add_argument("--size-2d", type=int, default=192, help="side of the 2D frames in pixels [192]")
    parser.add_argument("--shape-3d", default="16,96,96", help="Z,Y,X of the 3D stacks [16,96,96]")
    parser.add_argument("--stacks-3d", type=int, default=3, help="3D time points (1 held out) [3]")
    parser.add_argument("--images-per-epoch-3d", type=int, default=24,
                        help="planes drawn per epoch in 3D (of all YX/ZY/ZX planes with an object) [24]")
    parser.add_argument("--frame-counts", default="1,2,4,8", help="training-set sizes of the frames case [1,2,4,8]")
    parser.add_argument("--model-path", default=None, help="base model [the bundled cellpose-3 test model]")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps [auto]")
    parser.add_argument("--seed", type=int, default=0)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2 ** 20


class _PeakRss:
    """Peak resident set (MB) above the level at entry, sampled every 20 ms."""

    def __enter__(self):
        self.base = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._sample, daemon=True)
        self._t.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_mb())
        self.delta = self.peak - self.base


def _write(work: Path, name: str, img_tzyx: np.ndarray, lab_tzyx: np.ndarray, cal) -> tuple[Path, Path]:
    """The image as an ImageJ hyperstack and its labels as a curated TrackMate XML (+ .meshes in 3D)."""
    import tifffile

    from trackmate_cellpose.export import ImageInfo, write_meshes, write_trackmate_xml
    from trackmate_cellpose.geometry import labels_to_detections
    from trackmate_cellpose.results import DetectionResult, FrameResult
    from trackmate_cellpose.tracking import track_overlap

    ip = work / f"{name}.tif"
    tifffile.imwrite(ip, img_tzyx[:, :, None], imagej=True, resolution=(1 / cal.x, 1 / cal.y),
                     metadata={"axes": "TZCYX", "spacing": cal.z, "unit": "micron", "finterval": cal.t})
    is_3d = lab_tzyx.shape[1] > 1
    frames = [FrameResult(frame=t, labels=lab, detections=labels_to_detections(
        lab if is_3d else lab[0], frame=t, calibration=cal, simplify=False)) for t, lab in enumerate(lab_tzyx)]
    shape = (len(lab_tzyx), 1, *lab_tzyx.shape[1:])
    tr = track_overlap(DetectionResult(frames=frames, calibration=cal, is_3d=is_3d, image_shape_tczyx=shape))
    xp = work / f"{name}.xml"
    write_trackmate_xml(xp, tr, cal, image=ImageInfo.from_path(ip, shape))
    if is_3d:
        write_meshes(xp, tr)
    return ip, xp


def _data_2d(work: Path, n: int, size: int, cal):
    from trackmate_cellpose.data import membrane_movie_2d

    img, lab = membrane_movie_2d(n, shape_yx=(size, size), n_objects=max(4, int(12 * (size / 112) ** 2)))
    return _write(work, "movie2d", img[:, None], lab[:, None], cal)


def _data_3d(work: Path, n: int, shape_zyx, cal):
    from trackmate_cellpose.data import membrane_movie_3d

    img, lab = membrane_movie_3d(n, shape_zyx=shape_zyx, n_objects=max(4, int(7 * np.prod(shape_zyx[1:]) / 64 ** 2)),
                                 anisotropy=cal.z / cal.x)
    return _write(work, "stack3d", img, lab, cal)


def _train(image, xml, out: Path, args, *, frames=None, holdout=None, report=True, images_per_epoch=None):
    from trackmate_cellpose.training import TrainingOptions, train_from_trackmate

    opts = TrainingOptions(epochs=args.epochs, crop=args.crop, seed=args.seed, device=args.device,
                           images_per_epoch=images_per_epoch, holdout_frames=holdout)
    t0 = time.perf_counter()
    c0 = time.process_time()
    with _PeakRss() as mem:
        res = train_from_trackmate(image, xml, out, frames=frames, model_path=args.model_path, options=opts,
                                   report=report, overwrite=True)
    return res, {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                 "train_s": res.seconds, "s_per_epoch": res.seconds_per_epoch, "epochs": res.epochs_done,
                 "peak_rss_mb": mem.delta}


def _scores(res) -> dict:
    r = res.report
    return {"f1_base": r["base"]["f1"], "f1_new": r["new"]["f1"], "mean_iou_new": r["new"]["mean_iou"],
            "n_true": r["new"]["n_true"], "found_new": r["new"]["n_found"], "best_epoch": res.best_epoch}


def run(args: argparse.Namespace) -> dict:
    """Run the chosen cases; return their numbers (and the machine's load) as a JSON-ready dict."""
    from trackmate_cellpose import Calibration, test_model_path

    if args.model_path is None:
        args.model_path = str(test_model_path())
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    out: dict = {"load_before": os.getloadavg(), "cpus": os.cpu_count(), "epochs": args.epochs, "crop": args.crop,
                 "base_model": args.model_path}
    import torch

    out["torch_threads"] = torch.get_num_threads()
    cal = Calibration(x=0.5, y=0.5, z=1.0, t=1.0, space_unit="um", time_unit="s")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        work = Path(tmp)
        if "2d" in cases or "frames" in cases:
            ip, xp = _data_2d(work, args.frames_2d, args.size_2d, cal)
            held = (args.frames_2d // 2 - 1, args.frames_2d - 1)
        if "2d" in cases:
            res, m = _train(ip, xp, work / "m2d.pth", args, holdout=held)
            out["2d"] = {**m, **_scores(res), "frames": args.frames_2d, "size": args.size_2d,
                         "n_train_images": res.report["training"]["n_train_images"]}
        if "3d" in cases:
            shape = tuple(int(v) for v in args.shape_3d.split(","))
            ip3, xp3 = _data_3d(work, args.stacks_3d, shape, Calibration(x=0.5, y=0.5, z=1.0, t=1.0,
                                                                          space_unit="um", time_unit="s"))
            res, m = _train(ip3, xp3, work / "m3d.pth", args, holdout=(args.stacks_3d - 1,),
                            images_per_epoch=args.images_per_epoch_3d)
            out["3d"] = {**m, **_scores(res), "stacks": args.stacks_3d, "shape_zyx": shape,
                         "n_train_images": res.report["training"]["n_train_images"],
                         "images_per_epoch": args.images_per_epoch_3d}
        if "frames" in cases:
            pool = [f for f in range(args.frames_2d) if f not in held]
            curve = []
            for k in (int(v) for v in args.frame_counts.split(",")):
                if k > len(pool):
                    continue
                chosen = sorted(pool[:k] + list(held))
                res, m = _train(ip, xp, work / f"m{k}.pth", args, frames=chosen, holdout=held)
                curve.append({"train_frames": k, **_scores(res), **m})
            full = max(curve, key=lambda c: c["train_frames"])
            enough = [c["train_frames"] for c in curve if c["f1_new"] >= full["f1_new"] - 0.02]
            out["frames"] = {"curve": curve, "full_set_frames": full["train_frames"], "f1_full": full["f1_new"],
                             "frames_to_reach_full_minus_0.02": min(enough) if enough else None}
    out["load_after"] = os.getloadavg()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.add_argument("--out", type=Path, help="also write the JSON here")
    args = p.parse_args(argv)
    res = run(args)
    text = json.dumps(res, indent=1, default=float)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
