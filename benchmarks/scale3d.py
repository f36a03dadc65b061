"""The 3D path at the tutorial's scale (~600 cells per 86 x 1024 x 1024 frame), stage by stage, projected to a full
frame.

Test data: ``trackmate_cellpose.data.synthetic_stack_tutorial``: ellipsoids ~30 px across in XY (the bundled
model's ``diam_mean``, so cellpose's rescale is 1), z step 2.5 x the pixel size (calibration 0.5 x 0.5 x 1.25 um),
at the tutorial's density (a smaller stack holds proportionally fewer cells of the same size). Model: the bundled
test model (cellpose 3's standard CPnet), CELL_DIAMETER 15 um = 30 px, every other setting at its default.

Part A (the whole detector, 3D mode and 2D+Z): every (mode, size) runs :func:`trackmate_cellpose.detect` on one
time point in a fresh process (peak RSS is the case's own), after a warm-up call on a tiny stack that loads the
model. Stages are timed from outside, nothing in the measured code changed: the calls of the package's public
functions and of cellpose's own are followed (``sys.setprofile``), a stage being the time inside its function:

* ``detect``; ``labels``: ``CellposeAdapter.eval`` (cellpose: normalisation, network, dynamics), split into
  ``network`` (``CellposeModel._run_net``: the network plus the 3D resampling; ``net_only``: ``run_3D``/``run_net``)
  and ``dynamics`` (``CellposeModel._compute_masks``: ``follow_flows``, ``get_masks``, ``flow_check``
  (2D+Z), ``fill_holes``, ``stitch`` (2D+Z, ``utils.stitch3D``));
* ``clean``: our label clean-up (``trackmate_cellpose.segment.clean_labels``);
* ``spots``: ``trackmate_cellpose.geometry.labels_to_detections`` (in 3D: meshes, smoothing, decimation).

Per stage: wall seconds, CPU seconds (every thread of the process) and peak RSS (a 10 ms sampler), reported as the
peak above the RSS at the start of ``detect`` (after the warm-up), plus the process's ``VmHWM``. Memory that the
network freed stays in the process (allocator), so the later stages' "peak above the start" mostly shows the
network's leftovers: part B gives the post-processing's own memory. "Voxels through the dynamics" counts the voxels
above CELL_PROB_THRESHOLD.

Part B (post-processing alone, up to the full size): ``clean_labels`` and ``labels_to_detections`` on the synthetic
ground-truth labels (with the image as the cell-probability map), one process per case.

Part C (3D dynamics alone): the largest 3D case's network output (saved by that case; the saving time is taken off
its ``labels``/``detect`` times) through cellpose's ``resize_and_compute_masks`` tiled 1x, 2x2 (XY), 2x2x2 and 3x3
(XY), with torch on 1 and on 2 threads (interleaved, a fresh process each).

Part D (memory at the full size): the whole path as in part A with cellpose's ``core._forward`` replaced by a
stand-in (zero flows, the normalised image as cell probability), so every full-size array cellpose and the engine
allocate is real and only the network's own per-batch activations are missing; its times are not the real path's.
A size whose estimated memory exceeds 60 % of MemAvailable is skipped.

Output: growth exponents (least-squares slope of log(value) against log(voxels)) per stage for time and memory,
flagging any > 1.15, and a projection to one full frame: the network by its work (megapixels of network tiles,
counted with cellpose's own tiling rule, times the measured CPU-s per tile megapixel), every other stage linearly in
voxels from the largest case (and by the fitted power law beside it).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ._measure import UsageError, StageClock, log, loadavg, proc_field_mb, run_child, summary

NAME = "3d"
PX_UM, Z_UM = 0.5, 1.25  # anisotropy 2.5
DIAMETER_PX = 30.0
FULL = (86, 1024, 1024)
FULL_CELLS = 600
DEFAULT_SIZES = "20x128x128,26x184x184,86x128x128,32x256x256"
DEFAULT_POST_SIZES = "86x256x256,86x512x512,86x1024x1024"
DEFAULT_STUB_SIZES = "86x512x512,86x1024x1024"
STUB_BYTES_PER_VOXEL = {"3d": 120, "2dz": 60}  # part D's estimate (measured: ~110 and ~55 incl. the process)
DYN_TILINGS = [(1, 1, 1), (1, 2, 2), (2, 2, 2), (1, 3, 3)]  # part C: copies of the flows along Z, Y, X
SUPERLINEAR = 1.15  # exponents above this are flagged (noise on 3 sizes is a few hundredths)


def _parse_sizes(text: str, option: str) -> list[tuple[int, int, int]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            z, y, x = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise UsageError(f"{option}: each size must be ZxYxX (e.g. 24x176x176), got {part!r}") from None
        if min(z, y, x) < 8:
            raise UsageError(f"{option}: every axis must be >= 8, got {part!r}")
        out.append((z, y, x))
    return out


def _tiles_mpix(plane_yx: tuple[int, int], n_planes: int, bsize: int = 224, overlap: float = 0.1) -> float:
    """Megapixels the network processes for ``n_planes`` planes of ``plane_yx`` (cellpose 3's run_net tiling:
    padded to a multiple of 16 by ``get_pad_yx``, tiles of min(bsize, side) with 10 % overlap, no padding to 224)."""
    from cellpose.transforms import get_pad_yx

    ly, lx = plane_yx
    p1, p2, p3, p4 = get_pad_yx(ly, lx)
    ly, lx = ly + p1 + p2, lx + p3 + p4

    def n(side: int) -> int:
        return 1 if side <= bsize else int(math.ceil((1.0 + 2 * overlap) * side / bsize))

    return n_planes * n(ly) * n(lx) * min(bsize, ly) * min(bsize, lx) / 1e6


def network_mpix(mode: str, zyx: tuple[int, int, int], anisotropy: float = Z_UM / PX_UM, rescale: float = 1.0) -> float:
    """Tile megapixels of one frame's network pass (3D mode: YX, ZY and ZX passes on the upsampled stack)."""
    z, y, x = zyx
    if mode == "2dz":
        return _tiles_mpix((int(y * rescale), int(x * rescale)), z)
    zu, yu, xu = int(z * anisotropy * rescale), int(y * rescale), int(x * rescale)
    return _tiles_mpix((yu, xu), zu) + _tiles_mpix((zu, xu), yu) + _tiles_mpix((zu, yu), xu)




def _settings(mode: str):
    from trackmate_cellpose import DetectorSettings
    from trackmate_cellpose.data import test_model_path

    return DetectorSettings(model="CUSTOM", model_path=str(test_model_path()), diameter=DIAMETER_PX * PX_UM,
                            use_gpu=False, do_2dz=(mode == "2dz"))


def _calibration():
    from trackmate_cellpose import Calibration

    return Calibration(x=PX_UM, y=PX_UM, z=Z_UM, space_unit="um")


def _watch_cellpose(clock: StageClock, model: Any) -> None:
    """Stages inside cellpose: the model's network and dynamics, and the module functions they call."""
    import cellpose.dynamics as cp_dynamics
    import cellpose.models as cp_models
    import cellpose.utils as cp_utils

    for attr, name in (("_run_net", "network"), ("_compute_masks", "dynamics")):
        if hasattr(model, attr):
            clock.watch(name, getattr(model, attr))
    for module, attr, name in ((cp_models, "run_3D", "net_only"), (cp_models, "run_net", "net_only"),
                               (cp_utils, "stitch3D", "stitch"), (cp_dynamics, "follow_flows", "follow_flows"),
                               (cp_dynamics, "get_masks_torch", "get_masks"),
                               (cp_dynamics, "remove_bad_flow_masks", "flow_check"),
                               (cp_utils, "fill_holes_and_remove_small_masks", "fill_holes")):
        fn = getattr(module, attr, None)
        if fn is not None and hasattr(fn, "__code__"):
            clock.watch(name, fn)


def _stub_forward(net: Any, x: Any) -> tuple[Any, Any]:
    """Part D's stand-in for cellpose's ``core._forward``: no network, outputs of the right shape (zero flows, the
    normalised image as cell probability), so that every array cellpose and the engine allocate is real."""
    import numpy as np

    y = np.zeros((x.shape[0], 3, *x.shape[2:]), np.float32)
    y[:, 2] = (x[:, 0] - 0.5) * 10.0
    return y, np.zeros((x.shape[0], 256), np.float32)




def detect_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Part A, or part D with ``spec["stub"]`` (a child process): one detect() of one synthetic frame, stage by
    stage."""
    import numpy as np

    import trackmate_cellpose
    from trackmate_cellpose import RuntimeOptions, detect, geometry, segment
    from trackmate_cellpose.data import synthetic_stack_tutorial

    mode, zyx, stub = spec["mode"], tuple(spec["zyx"]), bool(spec.get("stub"))
    cal, settings = _calibration(), _settings(mode)
    runtime = RuntimeOptions(device="cpu", inference=spec["inference"])
    warm_img, _ = synthetic_stack_tutorial((8, 64, 64), seed=99)
    t0 = time.perf_counter()
    detect(warm_img, settings, axes="zyx", calibration=cal, runtime=runtime)  # loads the model; tiny
    warmup_s = time.perf_counter() - t0
    g0 = time.perf_counter()
    img, truth = synthetic_stack_tutorial(zyx)
    gen_s = time.perf_counter() - g0
    cells_true = int(truth.max())
    del truth
    if stub:
        import cellpose.core as cp_core

        cp_core._forward = _stub_forward
    adapter = segment.CellposeAdapter.get(settings, runtime_device="cpu", inference=runtime.inference)
    model = adapter.model
    clock = StageClock()
    clock.watch("detect", trackmate_cellpose.detect)
    clock.watch("labels", segment.CellposeAdapter.eval)
    clock.watch("clean", segment.clean_labels)
    clock.watch("spots", geometry.labels_to_detections)
    _watch_cellpose(clock, model)
    fg: list[int] = []
    saving = [0.0, 0.0]  # CPU-s, wall-s spent saving the network output (taken off "labels" and "detect")
    inner = model._compute_masks

    def counted(shape, flows, cellprob, *a, **k):
        fg.append(int(np.count_nonzero(cellprob > k.get("cellprob_threshold", 0.0))))
        if spec.get("save_flows") and mode == "3d" and not stub:  # part C's input; its time is taken off
            c0, t0 = time.process_time(), time.perf_counter()
            np.savez(spec["save_flows"], dP=flows, cellprob=cellprob, kwargs=json.dumps(k, default=str))
            saving[0] += time.process_time() - c0
            saving[1] += time.perf_counter() - t0
        return inner(shape, flows, cellprob, *a, **k)

    model._compute_masks = counted  # on this cellpose object only
    load0 = loadavg()
    with clock:
        res = detect(img, settings, axes="zyx", calibration=cal, runtime=runtime)
    model._compute_masks = inner
    stages = clock.records
    for st in ("labels", "detect"):
        if st in stages:
            stages[st]["cpu_s"] -= saving[0]
            stages[st]["wall_s"] -= saving[1]
    if "labels" in stages:
        other = {k: stages["labels"][k] - sum(stages.get(s, {}).get(k, 0.0) for s in ("network", "dynamics"))
                 for k in ("wall_s", "cpu_s")}
        stages["labels_other"] = {"calls": stages["labels"]["calls"], **other}
    dets = [d for fr in res.frames for d in fr.detections]
    return {
        "part": "stub" if stub else "detect", "mode": f"{mode} (no network)" if stub else mode, "zyx": list(zyx),
        "voxels": int(np.prod(zyx)), "cells_true": cells_true, "spots": len(dets),
        "mesh_vertices": int(sum(len(d.mesh.vertices) for d in dets if d.mesh is not None)),
        "mesh_faces": int(sum(len(d.mesh.faces) for d in dets if d.mesh is not None)),
        "network_mpix": None if stub else network_mpix(mode, zyx), "inference_requested": spec["inference"],
        "inference_used": [adapter.inference], "dynamics_voxels": sum(fg), "stages": stages,
        "rss_base_mb": clock.base_rss, "vmhwm_mb": proc_field_mb("/proc/self/status", "VmHWM"),
        "warmup_s": warmup_s, "generate_s": gen_s, "load_before": load0, "load_after": loadavg(),
    }


def post_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Part B (a child process): label clean-up and spot/mesh building on ground-truth labels, no network."""
    import numpy as np

    from trackmate_cellpose import geometry, segment
    from trackmate_cellpose.data import synthetic_stack_tutorial

    zyx = tuple(spec["zyx"])
    cal, settings = _calibration(), _settings("3d")
    g0 = time.perf_counter()
    img, truth = synthetic_stack_tutorial(zyx)
    gen_s = time.perf_counter() - g0
    prob = img.astype(np.float32)
    del img
    clock = StageClock()  # called here directly: wrapped, no profile hook
    load0 = loadavg()
    with clock:
        lab = clock.wrap("clean", segment.clean_labels)(truth, min_size=settings.min_size, split=True)
        dets = clock.wrap("spots", geometry.labels_to_detections)(
            lab, frame=0, calibration=cal, simplify=settings.simplify_contours,
            smoothing_scale=settings.smoothing_scale, cellprob=prob)
    return {"part": "post", "mode": "post", "zyx": list(zyx), "voxels": int(np.prod(zyx)),
            "cells_true": int(truth.max()), "spots": len(dets),
            "mesh_faces": int(sum(len(d.mesh.faces) for d in dets)), "stages": clock.records,
            "rss_base_mb": clock.base_rss, "vmhwm_mb": proc_field_mb("/proc/self/status", "VmHWM"),
            "generate_s": gen_s, "load_before": load0, "load_after": loadavg()}


def dynamics_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Part C (a child process): cellpose's 3D dynamics alone (``dynamics.resize_and_compute_masks``, as
    ``_compute_masks`` calls it) on the flows the network gave the largest 3D case, tiled to bigger stacks, with
    torch limited to ``spec["threads"]`` threads."""
    import numpy as np
    import torch
    from cellpose import dynamics

    threads, tilings = int(spec["threads"]), [tuple(t) for t in spec["tilings"]]
    torch.set_num_threads(threads)
    f = np.load(spec["flows_file"])
    kw = json.loads(str(f["kwargs"]))
    thr = float(kw.get("cellprob_threshold", 0.0))
    rows, first = [], None
    for reps in tilings:
        flows, prob = np.tile(f["dP"], (1, *reps)), np.tile(f["cellprob"], reps)
        c0, t0 = time.process_time(), time.perf_counter()
        masks = dynamics.resize_and_compute_masks(
            flows, prob, niter=float(kw.get("niter", 200)), cellprob_threshold=thr, interp=True, do_3D=True,
            min_size=-1, max_size_fraction=float(kw.get("max_size_fraction", 0.4)), resize=None,
            device=torch.device("cpu"))
        rows.append({"tiling": list(reps), "zyx": list(prob.shape), "voxels": int(prob.size),
                     "dynamics_voxels": int(np.count_nonzero(prob > thr)), "masks": int(masks.max()),
                     "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0})
        if first is None:
            first = masks
    return {"part": "dynamics", "threads": threads, "rows": rows, "load_after": loadavg(),
            "masks_digest": int(np.asarray(first, dtype=np.int64).sum() % 1_000_003)}



def fit_exponent(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x); None with < 2 usable points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sum((p[0] - mx) ** 2 for p in pts)


def _affine(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept of y = a + b x."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return slope, my - slope * mx


def _median_stage(cases: list[dict], stage: str, key: str) -> dict[str, float] | None:
    vals = [c["stages"][stage][key] for c in cases if stage in c["stages"] and key in c["stages"][stage]]
    return summary(vals) if vals else None


def analyse(results: list[dict], full_voxels: int) -> dict[str, Any]:
    """Per mode: medians per size, exponents per stage, projection to one full frame."""
    out: dict[str, Any] = {}
    for mode in sorted({r["mode"] for r in results}):
        rows = [r for r in results if r["mode"] == mode]
        sizes = sorted({tuple(r["zyx"]) for r in rows}, key=lambda s: s[0] * s[1] * s[2])
        stages = sorted({s for r in rows for s in r["stages"]})
        per_size = []
        for zyx in sizes:
            cases = [r for r in rows if tuple(r["zyx"]) == zyx]
            entry = {"zyx": list(zyx), "voxels": cases[0]["voxels"], "cells_true": cases[0]["cells_true"],
                     "dynamics_voxels": cases[0].get("dynamics_voxels"),
                     "spots": summary([c["spots"] for c in cases]), "n": len(cases),
                     "vmhwm_mb": summary([c["vmhwm_mb"] for c in cases]),
                     "network_mpix": cases[0].get("network_mpix"),
                     "load": [c["load_before"] for c in cases], "stages": {}}
            for st in stages:
                entry["stages"][st] = {k: _median_stage(cases, st, k) for k in ("cpu_s", "wall_s",
                                                                                  "peak_above_base_mb")}
            per_size.append(entry)
        vox = [e["voxels"] for e in per_size]
        scale = full_voxels / vox[-1]
        fit, proj = {}, {}
        for st in stages:
            f = {}
            for k in ("cpu_s", "wall_s", "peak_above_base_mb"):
                ys = [e["stages"][st][k]["median"] if e["stages"][st][k] else 0.0 for e in per_size]
                f[k] = fit_exponent(vox, ys)
                last = ys[-1]
                p = {"linear": last * scale}
                if f[k] is not None:
                    p["power_law"] = last * scale ** f[k]
                if st in ("network", "net_only") and k != "peak_above_base_mb" and per_size[-1]["network_mpix"]:
                    # per tile megapixel at the largest size (the small ones carry fixed costs)
                    p["by_network_work"] = last / per_size[-1]["network_mpix"] * network_mpix(mode, FULL)
                if k == "peak_above_base_mb" and len(vox) >= 2:
                    slope, icpt = _affine(vox, ys)
                    p["affine"] = icpt + slope * full_voxels
                proj.setdefault(st, {})[k] = p
            fit[st] = f
        flagged = sorted(f"{st}.{k}={v:.2f}" for st, f in fit.items() for k, v in f.items()
                         if v is not None and v > SUPERLINEAR)
        out[mode] = {"per_size": per_size, "exponent_vs_voxels": fit, "projection_full_frame": proj,
                     "full_network_mpix": network_mpix(mode, FULL) if mode in ("3d", "2dz") else None,
                     "superlinear": flagged}
    return out


def _fmt(s: dict | None, digits: int = 1) -> str:
    if not s:
        return "-"
    if s["n"] > 1 and s["max"] > s["min"]:
        return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"
    return f"{s['median']:.{digits}f}"


STAGE_ORDER = ["detect", "labels", "network", "net_only", "dynamics", "follow_flows", "get_masks", "flow_check",
               "fill_holes", "stitch", "labels_other", "clean", "spots"]


def markdown_stages(analysis: dict[str, Any]) -> str:
    """One table per mode: a row per stage, a column per size (CPU-s / wall-s / peak MB), exponents, projection."""
    lines = []
    for mode, a in analysis.items():
        sizes = a["per_size"]
        stages = [s for s in STAGE_ORDER if any(s in e["stages"] for e in sizes)]
        lines.append(f"\n**{mode}**: per size CPU-s / wall-s / peak MB above the process at the start (median, "
                     "min-max if repeated); growth exponents vs voxels; one full "
                     f"{'×'.join(map(str, FULL))} frame with {FULL_CELLS} cells (linear in voxels from the largest "
                     "size; network: by its tile work at the largest size; memory: linear from the largest size "
                     "or an affine fit over the sizes)\n")
        head = [f"{'×'.join(map(str, e['zyx']))} ({e['voxels'] / 1e6:.2f} M vox)" for e in sizes]
        lines.append("| stage | " + " | ".join(head) + " | exp. CPU / wall / mem | full frame CPU-s / wall-s / MB |")
        lines.append("|---" * (len(sizes) + 3) + "|")
        for st in stages:
            cols = []
            for e in sizes:
                d = e["stages"].get(st)
                cols.append("-" if not d else f"{_fmt(d['cpu_s'])} / {_fmt(d['wall_s'])} / "
                                              f"{_fmt(d['peak_above_base_mb'], 0)}")
            f, p = a["exponent_vs_voxels"][st], a["projection_full_frame"][st]
            ex = " / ".join("-" if f.get(k) is None else f"{f[k]:.2f}" for k in ("cpu_s", "wall_s",
                                                                                 "peak_above_base_mb"))
            pr = []
            for k in ("cpu_s", "wall_s"):
                d = p.get(k, {})
                v = d.get("by_network_work", d.get("linear"))
                pr.append("-" if v is None else f"{v:.0f}")
            d = p.get("peak_above_base_mb", {})
            pr.append(" or ".join(f"{d[x]:.0f}" for x in ("linear", "affine") if d.get(x) is not None) or "-")
            lines.append(f"| {st} | " + " | ".join(cols) + f" | {ex} | {' / '.join(pr)} |")
        lines.append("| cells (spots) | " + " | ".join(f"{e['cells_true']} ({_fmt(e['spots'], 0)})" for e in sizes)
                     + " | | |")
        lines.append("| VmHWM MB | " + " | ".join(_fmt(e["vmhwm_mb"], 0) for e in sizes) + " | | |")
        if any(e.get("network_mpix") for e in sizes):
            rates = []
            for e in sizes:
                net = e["stages"].get("network", {}).get("cpu_s")
                rates.append(f"{e['network_mpix']:.1f} / {net['median'] / e['network_mpix']:.1f}" if net else "-")
            lines.append("| net tile MP / CPU-s per MP | " + " | ".join(rates)
                         + f" | | {a['full_network_mpix']:.0f} MP |")
        if any(e.get("dynamics_voxels") for e in sizes):
            lines.append("| voxels through the dynamics | " + " | ".join(str(e.get("dynamics_voxels", "-"))
                                                                    for e in sizes) + " | | |")
        lines.append("| load (1 min) | " + " | ".join(",".join(x.split("/")[0] for x in e["load"]) for e in sizes)
                     + " | | |")
        if a["superlinear"]:
            lines.append(f"\nFlagged (exponent > {SUPERLINEAR}): {', '.join(a['superlinear'])}")
    return "\n".join(lines)


def markdown_dynamics(runs: list[dict[str, Any]]) -> str:
    """Part C table: 3D dynamics CPU-s / wall-s per tiled size, torch on 1 vs 2 threads (median, min-max)."""
    if not runs:
        return ""
    rows = runs[0]["rows"]
    lines = ["\n**3D dynamics alone** (cellpose's `resize_and_compute_masks` on the largest 3D case's network output, "
             "tiled): CPU-s / wall-s, median (min-max)\n",
             "| stack | voxels through the dynamics | masks | torch 1 thread | torch 2 threads |", "|---|---|---|---|---|"]
    for i, row in enumerate(rows):
        cols = []
        for threads in (1, 2):
            rs = [r["rows"][i] for r in runs if r["threads"] == threads]
            cols.append(f"{_fmt(summary([x['cpu_s'] for x in rs]), 2)} / {_fmt(summary([x['wall_s'] for x in rs]), 2)}"
                        if rs else "-")
        lines.append(f"| {'×'.join(map(str, row['zyx']))} | {row['dynamics_voxels']} | {row['masks']} | "
                     + " | ".join(cols) + " |")
    digests = {r["masks_digest"] for r in runs}
    lines.append(f"\nSame masks on 1 and 2 threads (checksum of the untiled masks): {len(digests) == 1}")
    for threads in (1, 2):
        rs = [r for r in runs if r["threads"] == threads]
        if rs:
            vox = [row["voxels"] for row in rs[0]["rows"]]
            cpu = [statistics_median([r["rows"][i]["cpu_s"] for r in rs]) for i in range(len(vox))]
            ex = fit_exponent(vox, cpu)
            lines.append(f"Growth exponent of the CPU time vs voxels, torch {threads} thread(s): "
                         f"{'-' if ex is None else f'{ex:.2f}'}")
    return "\n".join(lines)


def statistics_median(values: list[float]) -> float:
    return summary(values)["median"]




def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modes", default="3d,2dz", help="comma-separated: 3d (cellpose 3D mode), 2dz (2D+Z "
                                                         "stitching) [%(default)s]")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="ZxYxX,... for part A [%(default)s]; empty to skip")
    parser.add_argument("--post-sizes", default=DEFAULT_POST_SIZES,
                        help="ZxYxX,... for part B (post-processing on ground-truth labels) [%(default)s]; empty to "
                             "skip")
    parser.add_argument("--stub-sizes", default=DEFAULT_STUB_SIZES,
                        help="ZxYxX,... for part D (the whole path with a stand-in network: memory at the full size) "
                             "[%(default)s]; empty to skip")
    parser.add_argument("--inference", default=None, help="RuntimeOptions.inference [RuntimeOptions' default]")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of each part A case (interleaved) "
                                                           "[%(default)s]")
    parser.add_argument("--post-reps", type=int, default=3, help="repetitions of each part B case [%(default)s]")
    parser.add_argument("--dyn-reps", type=int, default=2,
                        help="repetitions of part C (3D dynamics, torch on 1 vs 2 threads); 0 to skip [%(default)s]")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from trackmate_cellpose import RuntimeOptions

    inference = args.inference or RuntimeOptions().inference
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - {"3d", "2dz"}:
        raise UsageError(f"--modes: expected 3d and/or 2dz, got {args.modes!r}")
    sizes = _parse_sizes(args.sizes, "--sizes")
    post_sizes = _parse_sizes(args.post_sizes, "--post-sizes")
    stub_sizes = _parse_sizes(args.stub_sizes, "--stub-sizes")
    result: dict[str, Any] = {"inference": inference, "modes": modes, "sizes": sizes, "post_sizes": post_sizes,
                              "stub_sizes": stub_sizes, "calibration_um": [PX_UM, PX_UM, Z_UM],
                              "diameter_px": DIAMETER_PX, "full_frame": list(FULL), "full_cells": FULL_CELLS,
                              "cases": [], "dynamics_threads": []}
    flows_dir = Path(tempfile.mkdtemp(prefix="tmcp-bench-3d-flows-"))
    largest = max(sizes, key=math.prod) if sizes else None
    flows_file = flows_dir / "flows_3d.npz"
    t_all = time.perf_counter()

    def case(part: str, fn: Any, spec: dict[str, Any]) -> dict[str, Any]:
        log(f"[{time.perf_counter() - t_all:6.0f} s] {part} {spec.get('mode', '')} {spec['zyx']}, load {loadavg()}")
        r = run_child(fn, spec)
        s = r["stages"]
        log(f"    spots {r['spots']}/{r['cells_true']}, " + ", ".join(
            f"{k} {s[k]['cpu_s']:.1f} CPU-s" for k in ("detect", "clean", "spots") if k in s)
            + f", VmHWM {r['vmhwm_mb']:.0f} MB")
        result["cases"].append(r)
        args.checkpoint(result)
        return r

    for rep in range(args.reps):
        for i, zyx in enumerate(sizes):
            for mode in (modes if (rep + i) % 2 == 0 else modes[::-1]):  # alternate which mode runs first
                case("detect", detect_case, {"mode": mode, "zyx": zyx, "inference": inference,
                                             "save_flows": str(flows_file) if zyx == largest else ""})
    for _ in range(args.post_reps if post_sizes else 0):
        for zyx in post_sizes:
            case("post", post_case, {"zyx": zyx})
    for zyx in stub_sizes:
        for mode in modes:
            need = STUB_BYTES_PER_VOXEL[mode] * math.prod(zyx) / 2 ** 20
            avail = proc_field_mb("/proc/meminfo", "MemAvailable")
            if need > 0.6 * avail:
                log(f"part D: skipping {mode} {zyx}: needs ~{need:.0f} MB, {avail:.0f} MB available")
                continue
            case("without the network", detect_case, {"mode": mode, "zyx": zyx, "inference": inference, "stub": True})
    for rep in range(args.dyn_reps if "3d" in modes and flows_file.exists() else 0):
        for threads in ((1, 2) if rep % 2 == 0 else (2, 1)):
            log(f"[{time.perf_counter() - t_all:6.0f} s] 3D dynamics alone, torch threads {threads}, rep {rep + 1}, "
                f"load {loadavg()}")
            r = run_child(dynamics_case, {"flows_file": str(flows_file), "threads": threads, "tilings": DYN_TILINGS})
            result["dynamics_threads"].append(r)
            args.checkpoint(result)
    shutil.rmtree(flows_dir, ignore_errors=True)
    result["total_wall_s"] = time.perf_counter() - t_all
    result["analysis"] = analyse(result["cases"], math.prod(FULL))
    return result


def markdown(results: dict[str, Any]) -> str:
    """Part A/B/D per mode (a row per stage, a column per size), then part C."""
    return markdown_stages(results["analysis"]) + "\n" + markdown_dynamics(results["dynamics_threads"])
