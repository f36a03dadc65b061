"""Label image to TrackMate shapes: our polygons (2D) and meshes (3D) against per-label scikit-image and against
TrackMate's own ``LabelImageDetector``.

Ours: ``labels_to_polygons(simplify=True)`` (what ``detect`` uses) and ``labels_to_meshes`` with calibration zyx
(1, 0.5, 0.5) um, raw and with detect's defaults (smoothing 1 um, decimation). **Baseline: the straightforward
per-label scikit-image loop** on the full image: ``find_contours(labels == id, 0.5)`` + ``approximate_polygon(...,
0.5)``, and ``marching_cubes(labels == id, 0.5, spacing)``; its cost per label is one full-image pass, so it is timed
on a regular sample of the labels and extrapolated. Our raw meshes are checked to enclose the baseline's volumes.
With a Fiji (``--fiji`` or ``FIJI_DIR``), TrackMate's ``LabelImageDetector`` runs on the same label images in a JVM
process (warm; not paired with ours: compare the CPU columns).

Synthetic label images: ellipses / ellipsoids (anisotropy 2) on a jittered grid, some touching, none on the border.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from . import _cases
from ._measure import interleaved, log, run_child, summary
from .jvm import fiji_dir, label_image_detector

NAME = "geometry"
CAL_ZYX = (1.0, 0.5, 0.5)  # z step 1 um, xy 0.5 um: anisotropy 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size-2d", default="1024x1024", help="2D label image YxX [%(default)s]")
    parser.add_argument("--size-3d", default="64x512x512", help="3D label volume ZxYxX [%(default)s]")
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions [%(default)s]")
    parser.add_argument("--baseline-labels", type=int, default=100,
                        help="2D labels the per-label baseline is timed on (3D: an eighth of the labels) "
                             "[%(default)s]")
    parser.add_argument("--fiji", default=os.environ.get("FIJI_DIR", ""),
                        help="a Fiji for TrackMate's LabelImageDetector [$FIJI_DIR; none: not measured]")


def _ellipse_stamp(ry: float, rx: float, angle: float) -> np.ndarray:
    h = int(math.ceil(max(ry, rx)))
    yy, xx = np.mgrid[-h:h + 1, -h:h + 1].astype(np.float64)
    c, s = math.cos(angle), math.sin(angle)
    u, v = (xx * c + yy * s) / rx, (-xx * s + yy * c) / ry
    return u * u + v * v <= 1.0


def grid_labels_2d(shape: tuple[int, int] = (1024, 1024), spacing: int = 40, seed: int = 0) -> np.ndarray:
    """int32 labels: one ellipse (radii 8-19 px) per grid cell, jittered, painted in order (later ones on top)."""
    rng = np.random.default_rng(seed)
    lab = np.zeros(shape, np.int32)
    n = 0
    for cy in range(spacing, shape[0] - spacing + 1, spacing):
        for cx in range(spacing, shape[1] - spacing + 1, spacing):
            ry, rx = rng.uniform(8, 19, 2)
            st = _ellipse_stamp(ry, rx, rng.uniform(0, math.pi))
            h = st.shape[0] // 2
            y, x = cy + int(rng.integers(-4, 5)), cx + int(rng.integers(-4, 5))
            n += 1
            lab[y - h:y + h + 1, x - h:x + h + 1][st] = n
    return lab


def grid_labels_3d(shape: tuple[int, int, int] = (64, 512, 512), spacing: int = 30, seed: int = 0) -> np.ndarray:
    """int32 labels: ellipsoids (yx radii 7-13 px, z radius half of that) on a jittered grid, in two layers (at 5/16
    and 11/16 of the depth) offset by half a cell."""
    rng = np.random.default_rng(seed)
    lab = np.zeros(shape, np.int32)
    n = 0
    for k, cz0 in enumerate((shape[0] * 5 // 16, shape[0] * 11 // 16)):
        off = (spacing // 2) * k
        for cy in range(spacing + off, shape[1] - spacing + 1, spacing):
            for cx in range(spacing + off, shape[2] - spacing + 1, spacing):
                ry, rx = rng.uniform(7, 13, 2)
                rz = 0.5 * min(ry, rx) * rng.uniform(0.8, 1.0)
                h, hz = int(math.ceil(max(ry, rx))), int(math.ceil(rz))
                zz, yy, xx = np.mgrid[-hz:hz + 1, -h:h + 1, -h:h + 1].astype(np.float64)
                st = (zz / rz) ** 2 + (yy / ry) ** 2 + (xx / rx) ** 2 <= 1.0
                z = min(max(cz0 + int(rng.integers(-3, 4)), hz), shape[0] - hz - 1)
                y, x = cy + int(rng.integers(-3, 4)), cx + int(rng.integers(-3, 4))
                n += 1
                lab[z - hz:z + hz + 1, y - h:y + h + 1, x - h:x + h + 1][st] = n
    return lab


def baseline_polygons(lab: np.ndarray, ids: np.ndarray) -> int:
    """Per-label scikit-image: ``find_contours`` of (labels == id) on the full image, then ``approximate_polygon``
    at 0.5 px (the simplification TrackMate applies). Returns the vertex count."""
    from skimage.measure import approximate_polygon, find_contours

    return sum(len(approximate_polygon(c, 0.5)) for i in ids for c in find_contours((lab == i).astype(np.float32), 0.5))


def baseline_meshes(lab: np.ndarray, ids: np.ndarray, spacing: tuple[float, float, float]) -> list[float]:
    """Per-label ``marching_cubes`` of (labels == id) on the full volume. Returns the enclosed volumes."""
    from skimage.measure import marching_cubes

    from trackmate_cellpose.geometry import mesh_volume_centroid_area

    vols = []
    for i in ids:
        v, f, _, _ = marching_cubes((lab == i).astype(np.float32), 0.5, spacing=spacing, allow_degenerate=False)
        vols.append(abs(mesh_volume_centroid_area(v, f)[0]))
    return vols


def _rates(prefix: str, n: int, wall: list[float], cpu: list[float]) -> dict[str, Any]:
    return {f"{prefix}_s": summary(wall), f"{prefix}_cpu_s": summary(cpu),
            f"{prefix}_objects_per_s": n / summary(wall)["median"],
            f"{prefix}_objects_per_cpu_s": n / summary(cpu)["median"]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from trackmate_cellpose.geometry import labels_to_meshes, labels_to_polygons

    shape2 = _cases.parse_shape(args.size_2d, 2, "--size-2d")
    shape3 = _cases.parse_shape(args.size_3d, 3, "--size-3d")
    fiji = fiji_dir(args.fiji) if args.fiji else None
    out: dict[str, Any] = {"baseline": "per-label scikit-image on the full image (timed on a sample, extrapolated)"}
    # ---- 2D
    lab2 = grid_labels_2d(shape2)
    ids2 = np.unique(lab2)[1:]
    n2 = len(ids2)
    sample2 = ids2[::max(1, n2 // max(1, args.baseline_labels))]
    log(f"geometry 2D: {lab2.shape}, {n2} labels; baseline on {len(sample2)}")
    polys = labels_to_polygons(lab2, simplify=True)  # also warms ours up (imports), as the next line the baseline
    baseline_polygons(lab2, sample2[:1])
    res2 = interleaved({"ours_simplified": lambda: labels_to_polygons(lab2, simplify=True),
                        "ours_raw": lambda: labels_to_polygons(lab2, simplify=False),
                        "skimage_per_label": lambda: baseline_polygons(lab2, sample2)}, args.reps)
    k2 = n2 / len(sample2)
    base_w, base_c = [t.wall * k2 for t in res2["skimage_per_label"]], [t.cpu * k2 for t in res2["skimage_per_label"]]
    ours_w, ours_c = [t.wall for t in res2["ours_simplified"]], [t.cpu for t in res2["ours_simplified"]]
    out["2d"] = {"shape": list(shape2), "n_labels": n2, "n_polygons": len(polys), "baseline_labels_timed": len(sample2),
                 **_rates("ours_simplified", n2, ours_w, ours_c), **_rates("skimage", n2, base_w, base_c),
                 "ours_raw_s": summary([t.wall for t in res2["ours_raw"]]),
                 "speedup_vs_skimage": summary([b / o for b, o in zip(base_w, ours_w)]),
                 "speedup_vs_skimage_cpu": summary([b / o for b, o in zip(base_c, ours_c)])}
    args.checkpoint(out)
    # ---- 3D
    lab3 = grid_labels_3d(shape3)
    ids3 = np.unique(lab3)[1:]
    n3 = len(ids3)
    sample3 = ids3[::max(1, n3 // 8)]
    log(f"geometry 3D: {lab3.shape}, {n3} labels, calibration zyx {CAL_ZYX}; baseline on {len(sample3)}")
    ours_meshes = {m.label: m for m in labels_to_meshes(lab3, calibration_zyx=CAL_ZYX)}  # and warm-ups
    labels_to_meshes(lab3 * (lab3 == ids3[0]), calibration_zyx=CAL_ZYX, smoothing_scale=1.0, simplify=True)
    res3 = interleaved({"ours_raw": lambda: labels_to_meshes(lab3, calibration_zyx=CAL_ZYX),
                        "ours_smoothed_decimated": lambda: labels_to_meshes(lab3, calibration_zyx=CAL_ZYX,
                                                                            smoothing_scale=1.0, simplify=True),
                        "skimage_per_label": lambda: baseline_meshes(lab3, sample3, CAL_ZYX)}, args.reps)
    rel = max(abs(ours_meshes[int(i)].volume - v) / v for i, v in zip(sample3, baseline_meshes(lab3, sample3, CAL_ZYX)))
    k3 = n3 / len(sample3)
    base_w, base_c = [t.wall * k3 for t in res3["skimage_per_label"]], [t.cpu * k3 for t in res3["skimage_per_label"]]
    ours_w, ours_c = [t.wall for t in res3["ours_raw"]], [t.cpu for t in res3["ours_raw"]]
    out["3d"] = {"shape": list(shape3), "n_labels": n3, "calibration_zyx": list(CAL_ZYX),
                 "baseline_labels_timed": len(sample3), "max_rel_volume_diff_vs_baseline": rel,
                 **_rates("ours_raw", n3, ours_w, ours_c), **_rates("skimage", n3, base_w, base_c),
                 **_rates("ours_smoothed_decimated", n3, [t.wall for t in res3["ours_smoothed_decimated"]],
                          [t.cpu for t in res3["ours_smoothed_decimated"]]),
                 "speedup_vs_skimage": summary([b / o for b, o in zip(base_w, ours_w)]),
                 "speedup_vs_skimage_cpu": summary([b / o for b, o in zip(base_c, ours_c)])}
    args.checkpoint(out)
    # ---- TrackMate's LabelImageDetector
    if fiji is None:
        out["trackmate"] = {"skipped": "no Fiji (--fiji or FIJI_DIR)"}
        return out
    with tempfile.TemporaryDirectory(prefix="tmcp-bench-") as tmp:
        paths = {}
        for key, lab in (("2d", lab2), ("3d", lab3)):
            paths[key] = str(Path(tmp) / f"{key}.npy")
            np.save(paths[key], lab)
        try:
            tm = run_child(label_image_detector, {"fiji": fiji, "labels": paths, "reps": args.reps,
                                                  "calibration": {"2d": [0.5, 0.5, 1.0], "3d": [0.5, 0.5, 1.0]}},
                           timeout=1800)
        except RuntimeError as e:
            out["trackmate"] = {"skipped": str(e)[-600:]}
            return out
    for key, n, ours in (("2d", n2, "ours_simplified"), ("3d", n3, "ours_smoothed_decimated")):
        if "seconds" in tm.get(key, {}):
            w, c = summary(tm[key]["seconds"]), summary(tm[key]["cpu_seconds"])
            tm[key].update(seconds_summary=w, cpu_summary=c, objects_per_s=n / w["median"],
                           objects_per_cpu_s=n / c["median"],
                           trackmate_over_ours=w["median"] / out[key][f"{ours}_s"]["median"],
                           trackmate_over_ours_cpu=c["median"] / out[key][f"{ours}_cpu_s"]["median"])
    out["trackmate"] = tm
    return out


def markdown(results: dict[str, Any]) -> str:
    def s(d: dict, digits: int = 3) -> str:
        return f"{d['median']:.{digits}f} s ({d['min']:.{digits}f}-{d['max']:.{digits}f})"

    def r(d: dict) -> str:
        return f"**{d['median']:.0f}x** ({d['min']:.0f}-{d['max']:.0f})"

    d2, d3 = results["2d"], results.get("3d")
    lines = ["| case | objects | ours | per-label scikit-image | speed-up (wall) | speed-up (CPU) | ours obj/CPU-s | "
             "scikit-image obj/CPU-s |", "|---|---|---|---|---|---|---|---|",
             f"| 2D {tuple(d2['shape'])} -> polygons (simplified) | {d2['n_labels']} | {s(d2['ours_simplified_s'])} | "
             f"{s(d2['skimage_s'], 2)} | {r(d2['speedup_vs_skimage'])} | {r(d2['speedup_vs_skimage_cpu'])} | "
             f"{d2['ours_simplified_objects_per_cpu_s']:.0f} | {d2['skimage_objects_per_cpu_s']:.1f} |"]
    if d3:
        lines += [f"| 3D {tuple(d3['shape'])} -> meshes (raw) | {d3['n_labels']} | {s(d3['ours_raw_s'])} | "
                  f"{s(d3['skimage_s'], 2)} | {r(d3['speedup_vs_skimage'])} | {r(d3['speedup_vs_skimage_cpu'])} | "
                  f"{d3['ours_raw_objects_per_cpu_s']:.0f} | {d3['skimage_objects_per_cpu_s']:.1f} |",
                  f"| 3D, detect's defaults (smoothing + decimation) | {d3['n_labels']} | "
                  f"{s(d3['ours_smoothed_decimated_s'])} | - | - | - | "
                  f"{d3['ours_smoothed_decimated_objects_per_cpu_s']:.0f} | - |",
                  "", f"Our raw meshes enclose the baseline's volumes within {d3['max_rel_volume_diff_vs_baseline']:.1e}"
                  " (relative)."]
    tm = results.get("trackmate", {})
    for key in ("2d", "3d"):
        t = tm.get(key, {})
        if "seconds_summary" in t:
            lines.append(f"TrackMate {tm.get('trackmate_jar')} `LabelImageDetector` {key}: wall "
                         f"{s(t['seconds_summary'])}, CPU {s(t['cpu_summary'])}, {t['n_spots']} spots; TrackMate / ours"
                         f" {t['trackmate_over_ours']:.2f} (wall), {t['trackmate_over_ours_cpu']:.2f} (CPU).")
        elif "error" in t:
            lines.append(f"TrackMate `LabelImageDetector` {key}: not measured: `{t['error']}`")
    if "skipped" in tm:
        lines.append(f"TrackMate `LabelImageDetector`: not measured: {tm['skipped']}")
    return "\n".join(lines)
