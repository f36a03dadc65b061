"""Score a test model on the bundled synthetic samples: per-frame F1@0.5 and CTC SEG, and 3D mesh soundness.

    python scripts/tools/eval_test_model.py [--model FILE] [--modes 2d,3d,2dz] [--json OUT.json]

Default model: the bundled cellpose-3 test model. For the tiny cellpose-4 model run it under cellpose 4 with
``PYTHONPATH=tests/support/cp4 TMCP_TEST_TINY_CPSAM=1`` (the test-only encoder builder). SEG is the Cell Tracking
Challenge's: the mean Jaccard index of ground-truth objects, matched to the predicted object covering more than
half of them (0 when none does).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import tifffile

from trackmate_cellpose import Calibration, DetectorSettings, detect
from trackmate_cellpose.data import sample_path, test_model_path

CAL = Calibration(x=0.5, y=0.5, z=1.0, t=5.0, space_unit="um", time_unit="s")


def overlaps(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersection table (pred x gt, background row/column dropped) and the object areas."""
    p, g = pred.ravel().astype(np.int64), gt.ravel().astype(np.int64)
    n_p, n_g = int(p.max()), int(g.max())
    inter = np.bincount(p * (n_g + 1) + g, minlength=(n_p + 1) * (n_g + 1)).reshape(n_p + 1, n_g + 1)
    return inter[1:, 1:], inter.sum(1)[1:], inter.sum(0)[1:]


def f1_at_iou(pred: np.ndarray, gt: np.ndarray, thr: float = 0.5) -> float:
    inter, ap, ag = overlaps(pred, gt)
    iou = inter / np.maximum(ap[:, None] + ag[None, :] - inter, 1)
    n_pred, n_gt = int((ap > 0).sum()), int((ag > 0).sum())
    return 2 * int((iou > thr).sum()) / max(n_pred + n_gt, 1)


def seg(pred: np.ndarray, gt: np.ndarray) -> float:
    inter, ap, ag = overlaps(pred, gt)
    scores = []
    for j in np.flatnonzero(ag):
        i = int(np.argmax(inter[:, j])) if inter.shape[0] else -1
        ok = i >= 0 and inter[i, j] > 0.5 * ag[j]
        scores.append(inter[i, j] / (ap[i] + ag[j] - inter[i, j]) if ok else 0.0)
    return float(np.mean(scores)) if scores else 1.0


def mesh_report(result) -> dict:
    import trimesh

    n = watertight = genus0 = 0
    for fr in result.frames:
        for d in fr.detections:
            m = trimesh.Trimesh(d.mesh.vertices, d.mesh.faces, process=True)
            n += 1
            watertight += bool(m.is_watertight)
            genus0 += bool(m.is_watertight and m.euler_number == 2)
    return {"meshes": n, "watertight": watertight, "sphere_like": genus0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=test_model_path())
    ap.add_argument("--modes", default="2d,3d,2dz")
    ap.add_argument("--diameter", type=float, default=10.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    base = DetectorSettings(model="CUSTOM", model_path=str(args.model), diameter=args.diameter, use_gpu=False)
    out = {"model": str(args.model)}
    for mode in args.modes.split(","):
        kind = "2dt" if mode == "2d" else "3dt"
        img, gt = tifffile.imread(sample_path(kind)), tifffile.imread(sample_path(kind, ground_truth=True))
        settings = base.replace(do_2dz=(mode == "2dz"))
        t0 = time.perf_counter()
        res = detect(img, settings, axes="tyx" if mode == "2d" else "tzyx", calibration=CAL)
        dt = time.perf_counter() - t0
        f1 = [f1_at_iou(fr.labels, g) for fr, g in zip(res.frames, gt)]
        s = [seg(fr.labels, g) for fr, g in zip(res.frames, gt)]
        row = {"seconds": round(dt, 1), "f1": [round(v, 3) for v in f1], "min_f1": round(min(f1), 3),
               "seg": round(float(np.mean(s)), 3),
               "objects": [len(fr.detections) for fr in res.frames], "truth": [len(np.unique(g)) - 1 for g in gt]}
        if mode != "2d":
            row.update(mesh_report(res))
        out[mode] = row
        print(f"{mode:>3}: min F1@0.5 {row['min_f1']:.3f}  SEG {row['seg']:.3f}  objects {row['objects']} "
              f"(truth {row['truth']})  {dt:.0f} s" + (f"  meshes {row['meshes']}, watertight {row['watertight']}, "
                                                      f"sphere-like {row['sphere_like']}" if mode != "2d" else ""))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
