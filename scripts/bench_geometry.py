"""B3 of scripts/bench.py: label image -> polygons (2D) and label volume -> meshes (3D), ours vs per-label
scikit-image baselines (and vs TrackMate's LabelImageDetector through scripts/bench_java.py when FIJI_DIR is set).

The label images are synthetic: ellipses/ellipsoids on a jittered grid, some touching, none on the border (a
per-label ``find_contours`` on the full image would leave border objects open).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from bench_common import interleaved, summary

__all__ = ["grid_labels_2d", "grid_labels_3d", "bench_geometry"]


def _ellipse_stamp(ry: float, rx: float, angle: float) -> np.ndarray:
    h = int(math.ceil(max(ry, rx)))
    yy, xx = np.mgrid[-h:h + 1, -h:h + 1].astype(np.float64)
    c, s = math.cos(angle), math.sin(angle)
    u = (xx * c + yy * s) / rx
    v = (-xx * s + yy * c) / ry
    return u * u + v * v <= 1.0


def grid_labels_2d(shape=(1024, 1024), spacing: int = 40, seed: int = 0) -> np.ndarray:
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


def grid_labels_3d(shape=(64, 512, 512), spacing: int = 30, z_layers=(20, 44), seed: int = 0) -> np.ndarray:
    """int32 labels: ellipsoids (yx radii 7-13 px, z radius half of that: anisotropy 2) on a jittered grid, in
    ``len(z_layers)`` layers offset by half a cell."""
    rng = np.random.default_rng(seed)
    lab = np.zeros(shape, np.int32)
    n = 0
    for k, cz0 in enumerate(z_layers):
        off = (spacing // 2) * k
        for cy in range(spacing + off, shape[1] - spacing + 1, spacing):
            for cx in range(spacing + off, shape[2] - spacing + 1, spacing):
                ry, rx = rng.uniform(7, 13, 2)
                rz = 0.5 * min(ry, rx) * rng.uniform(0.8, 1.0)
                h, hz = int(math.ceil(max(ry, rx))), int(math.ceil(rz))
                zz, yy, xx = np.mgrid[-hz:hz + 1, -h:h + 1, -h:h + 1].astype(np.float64)
                st = (zz / rz) ** 2 + (yy / ry) ** 2 + (xx / rx) ** 2 <= 1.0
                z = cz0 + int(rng.integers(-3, 4))
                y, x = cy + int(rng.integers(-3, 4)), cx + int(rng.integers(-3, 4))
                n += 1
                lab[z - hz:z + hz + 1, y - h:y + h + 1, x - h:x + h + 1][st] = n
    return lab


def _baseline_polygons(lab: np.ndarray, ids: np.ndarray) -> int:
    """Straightforward per-label scikit-image: find_contours of (labels == id) on the full image, then
    approximate_polygon at 0.5 px (the simplification TrackMate applies). Returns the vertex count."""
    from skimage.measure import approximate_polygon, find_contours

    n = 0
    for i in ids:
        for c in find_contours((lab == i).astype(np.float32), 0.5):
            n += len(approximate_polygon(c, 0.5))
    return n


def _baseline_meshes(lab: np.ndarray, ids: np.ndarray, spacing: tuple[float, float, float]) -> list[float]:
    """Per-label marching_cubes of (labels == id) on the full volume. Returns the enclosed volumes."""
    from skimage.measure import marching_cubes

    from trackmate_cellpose.geometry import mesh_volume_centroid_area

    vols = []
    for i in ids:
        v, f, _, _ = marching_cubes((lab == i).astype(np.float32), 0.5, spacing=spacing, allow_degenerate=False)
        vols.append(abs(mesh_volume_centroid_area(v, f)[0]))
    return vols


def bench_geometry(*, quick: bool, reps: int, log: Callable[[str], None], java: Callable[..., Any] | None
                   ) -> dict[str, Any]:
    """Run B3; ``java(task, **kw)`` runs a JVM task through scripts/bench_java.py (None: no Fiji)."""
    from trackmate_cellpose.geometry import labels_to_meshes, labels_to_polygons

    out: dict[str, Any] = {}
    # ---- 2D ----------------------------------------------------------------------------------------------------
    lab2 = grid_labels_2d()
    ids2 = np.unique(lab2)[1:]
    n2 = len(ids2)
    # the baseline's cost per label is constant (one full-image pass each): time a regular sample, extrapolate
    sample2 = ids2[:: max(1, n2 // (50 if quick else 100))]
    log(f"B3 2D: {lab2.shape}, {n2} labels; baseline on {len(sample2)} labels"
        f"{' (extrapolated to all)' if len(sample2) < n2 else ''}")
    polys = labels_to_polygons(lab2, simplify=True)
    res2 = interleaved({
        "ours_simplified": lambda: labels_to_polygons(lab2, simplify=True),
        "ours_raw": lambda: labels_to_polygons(lab2, simplify=False),
        "skimage_per_label": lambda: _baseline_polygons(lab2, sample2),
    }, reps, log=log)
    scale = n2 / len(sample2)
    base = [t.wall * scale for t in res2["skimage_per_label"]]
    ours = [t.wall for t in res2["ours_simplified"]]
    base_cpu = [t.cpu * scale for t in res2["skimage_per_label"]]
    ours_cpu = [t.cpu for t in res2["ours_simplified"]]
    out["2d"] = {
        "shape": list(lab2.shape), "n_labels": n2, "n_polygons": len(polys), "baseline_labels_timed": len(sample2),
        "ours_simplified_s": summary(ours), "ours_raw_s": summary([t.wall for t in res2["ours_raw"]]),
        "skimage_per_label_s": summary(base),
        "ours_simplified_cpu_s": summary(ours_cpu), "skimage_per_label_cpu_s": summary(base_cpu),
        "speedup_vs_skimage": summary([b / o for b, o in zip(base, ours)]),
        "speedup_vs_skimage_cpu": summary([b / o for b, o in zip(base_cpu, ours_cpu)]),
        "ours_objects_per_s": n2 / summary(ours)["median"], "skimage_objects_per_s": n2 / summary(base)["median"],
        "ours_objects_per_cpu_s": n2 / summary(ours_cpu)["median"],
        "skimage_objects_per_cpu_s": n2 / summary(base_cpu)["median"],
    }
    # ---- 3D ----------------------------------------------------------------------------------------------------
    lab3 = grid_labels_3d()
    ids3 = np.unique(lab3)[1:]
    n3 = len(ids3)
    cal = (1.0, 0.5, 0.5)  # z step 1 um, xy 0.5 um: anisotropy 2
    sample3 = ids3[:: max(1, n3 // 8)]
    log(f"B3 3D: {lab3.shape}, {n3} labels, calibration zyx {cal}; baseline on {len(sample3)} labels (extrapolated)")
    res3 = interleaved({
        "ours_raw": lambda: labels_to_meshes(lab3, calibration_zyx=cal),
        "ours_detect_defaults": lambda: labels_to_meshes(lab3, calibration_zyx=cal, smoothing_scale=1.0,
                                                         simplify=True),
        "skimage_per_label": lambda: _baseline_meshes(lab3, sample3, cal),
    }, reps, log=log)
    # identical geometry: our raw meshes enclose the same volumes as the full-volume marching cubes
    ours_meshes = {m.label: m for m in labels_to_meshes(lab3, calibration_zyx=cal)}
    base_vols = _baseline_meshes(lab3, sample3, cal)
    rel = max(abs(ours_meshes[int(i)].volume - v) / v for i, v in zip(sample3, base_vols))
    scale = n3 / len(sample3)
    base = [t.wall * scale for t in res3["skimage_per_label"]]
    ours = [t.wall for t in res3["ours_raw"]]
    dflt = [t.wall for t in res3["ours_detect_defaults"]]
    base_cpu = [t.cpu * scale for t in res3["skimage_per_label"]]
    ours_cpu = [t.cpu for t in res3["ours_raw"]]
    dflt_cpu = [t.cpu for t in res3["ours_detect_defaults"]]
    out["3d"] = {
        "shape": list(lab3.shape), "n_labels": n3, "calibration_zyx": list(cal),
        "baseline_labels_timed": len(sample3), "max_rel_volume_diff_vs_baseline": rel,
        "ours_raw_s": summary(ours), "ours_smoothed_decimated_s": summary(dflt), "skimage_per_label_s": summary(base),
        "ours_raw_cpu_s": summary(ours_cpu), "ours_smoothed_decimated_cpu_s": summary(dflt_cpu),
        "skimage_per_label_cpu_s": summary(base_cpu),
        "speedup_vs_skimage": summary([b / o for b, o in zip(base, ours)]),
        "speedup_vs_skimage_cpu": summary([b / o for b, o in zip(base_cpu, ours_cpu)]),
        "ours_objects_per_s": n3 / summary(ours)["median"],
        "ours_smoothed_decimated_objects_per_s": n3 / summary(dflt)["median"],
        "skimage_objects_per_s": n3 / summary(base)["median"],
        "ours_objects_per_cpu_s": n3 / summary(ours_cpu)["median"],
        "ours_smoothed_decimated_objects_per_cpu_s": n3 / summary(dflt_cpu)["median"],
        "skimage_objects_per_cpu_s": n3 / summary(base_cpu)["median"],
    }
    # ---- TrackMate's LabelImageDetector -------------------------------------------------------------------------
    if java is None:
        out["trackmate"] = {"skipped": "FIJI_DIR not set"}
    else:
        try:
            tm = java("label_image_detector", labels={"2d": lab2, "3d": lab3}, reps=reps,
                      calibration={"2d": [0.5, 0.5, 1.0], "3d": [0.5, 0.5, 1.0]})
        except Exception as e:  # noqa: BLE001 - a benchmark records why a part could not run
            out["trackmate"] = {"skipped": f"{type(e).__name__}: {e}"}
        else:
            out["trackmate"] = tm
            if "2d" in tm and "seconds" in tm["2d"]:
                t2 = summary(tm["2d"]["seconds"])
                out["trackmate"]["2d"]["speedup_ours_vs_trackmate"] = t2["median"] / out["2d"]["ours_simplified_s"][
                    "median"]
                out["trackmate"]["2d"]["objects_per_s"] = n2 / t2["median"]
                if tm["2d"].get("cpu_seconds"):
                    c2 = summary(tm["2d"]["cpu_seconds"])
                    out["trackmate"]["2d"]["speedup_ours_vs_trackmate_cpu"] = (
                        c2["median"] / out["2d"]["ours_simplified_cpu_s"]["median"])
                    out["trackmate"]["2d"]["objects_per_cpu_s"] = n2 / c2["median"]
            if "3d" in tm and "seconds" in tm["3d"]:
                t3 = summary(tm["3d"]["seconds"])
                out["trackmate"]["3d"]["objects_per_s"] = n3 / t3["median"]
                out["trackmate"]["3d"]["ratio_ours_smoothed_decimated_vs_trackmate_spheres"] = (
                    out["3d"]["ours_smoothed_decimated_s"]["median"] / t3["median"])
    return out
