"""Issue #15 item 3: the 3D path at the tutorial's scale (~600 cells per 86 x 1024 x 1024 frame), stage by stage.

Usage::

    python scripts/bench_3d_scale.py [--modes 3d,2dz] [--sizes 20x128x128,26x184x184,86x128x128,32x256x256]
        [--inference fast] [--post-sizes 86x256x256,86x512x512,86x1024x1024] [--reps 1] [--post-reps 3]
        [--stub-sizes 86x512x512,86x1024x1024] [--dyn-reps 2]
        [--json out.json]

Test data: ``trackmate_cellpose.data.synthetic_stack_tutorial``: ellipsoids ~30 px across in XY (the
bundled model's ``diam_mean``, so cellpose's rescale is 1), z step 2.5 x the pixel size (calibration 0.5 x 0.5 x
1.25 um), at the tutorial's density (600 cells per 86 x 1024 x 1024 voxels: a smaller stack holds proportionally
fewer cells of the same size). Model: the bundled test model (``trackmate_cellpose.data.test_model_path()``),
CELL_DIAMETER 15 um = 30 px, every other setting at its default (SMOOTHING_SCALE 1 um, SIMPLIFY_CONTOURS on).

Part A (the whole detector): every (mode, size) runs :func:`trackmate_cellpose.detect` on one time point in a fresh
subprocess (peak RSS is the case's own), after a warm-up call on a tiny stack that loads the model. Stages are timed
from outside by wrapping the package's and cellpose's own functions in that subprocess (nothing in the package
changes):

* ``labels``: ``CellposeAdapter.eval`` (cellpose: normalisation, network, dynamics; the raw label image), split into
  ``network`` (``CellposeModel._run_net``: the network plus the 3D up/down-sampling) and ``dynamics``
  (``CellposeModel._compute_masks``: flow following and mask assembly; in 2D+Z also ``stitch``, cellpose's
  ``utils.stitch3D``, reported apart as well);
* ``clean``: our label clean-up (``segment.labels.clean_labels``: split disconnected objects, CELL_MIN_SIZE,
  renumbering);
* ``spots``: ``geometry.labels_to_detections`` (spots), of which ``meshes`` (``geometry._meshes._meshes``:
  smoothing, marching cubes, decimation, volumes).

Per stage: wall seconds, CPU seconds (``time.process_time``: every thread of the process) and peak RSS: a thread
samples ``/proc/self/statm`` every 10 ms and every open stage keeps the maximum; reported as the peak above the RSS at
the start of ``detect`` (after the warm-up), plus the process's ``VmHWM``.

Inside cellpose (module functions wrapped the same way): ``net_only`` (``run_3D``/``run_net``: the network without
the resampling), ``follow_flows``, ``get_masks`` (``get_masks_torch``), ``flow_check`` (``remove_bad_flow_masks``,
2D+Z only) and ``fill_holes``; "voxels through the dynamics" counts the voxels above CELL_PROB_THRESHOLD.

Memory per stage in one process is only as good as RSS allows: memory freed by the network stays in the process
(allocator), so the later stages' "peak above the start" mostly shows the network's leftovers; the network stage's
peak and ``VmHWM`` are the meaningful numbers there, and part B gives the post-processing's own memory.

Part B (post-processing alone, up to the full size): ``clean_labels`` and ``labels_to_detections`` (meshes) on the
synthetic ground-truth labels (with the image as the cell-probability map), at sizes up to the full 86 x 1024 x 1024
with 600 cells, one subprocess per case; so the post-processing at the tutorial's size is measured, not projected.

Part D (memory at the full size): the whole path (detect, stage clocks as in part A) with cellpose's ``core._forward``
replaced by a stand-in that returns zero flows and the normalised image as cell probability, so that every
full-size array cellpose and the engine allocate (resampled stacks, the three-orientation network output, flows,
dynamics, labels) is real and only the network's own per-batch activations are missing (a few hundred MB, part A),
at sizes up to the full 86 x 1024 x 1024; its times are not the real path's (no network, trivial dynamics).

Part C (3D dynamics alone): the largest 3D case's network output (saved by that case; the saving time is taken off
its ``labels``/``detect`` times) is run through cellpose's ``resize_and_compute_masks`` tiled 1x, 2x2 (XY), 2x2x2 and
3x3 (XY), with torch on 1 and on 2 threads (interleaved, fresh process each): on a loaded 2-core machine torch's
intra-op threads make this stage's time grow worse than linearly once more than 32768 voxels (torch's grain size)
go through the dynamics; on 1 thread it is linear, with the same masks.

Output: growth exponents (least-squares slope of log(value) vs log(voxels)) per stage for time and memory, flagging
any > 1.15, and a projection to one full frame: the network by its work (megapixels of network tiles, counted with
cellpose's own tiling rule, times the measured CPU-s per tile megapixel; tiles are not padded to 224 px, so this is
linear in the work), every other stage linearly in voxels from the largest case (and by the fitted power law beside
it). Printed as a markdown table and a JSON summary. Machine info and load are recorded per case.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import loadavg, machine_info, summary

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


def _parse_sizes(text: str) -> list[tuple[int, int, int]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            z, y, x = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise SystemExit(f"--sizes: each size must be ZxYxX (e.g. 24x176x176), got {part!r}") from None
        if min(z, y, x) < 8:
            raise SystemExit(f"--sizes: every axis must be >= 8, got {part!r}")
        out.append((z, y, x))
    return out


# ---------------------------------------------------------------------------------------------- in the subprocess

def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _proc_field_mb(path: str, key: str) -> float:
    """A ``key: N kB`` field of a /proc file (``/proc/meminfo``, ``/proc/self/status``) in MiB; NaN if absent."""
    with open(path) as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _meminfo_mb(key: str) -> float:
    return _proc_field_mb("/proc/meminfo", key)


def _status_mb(key: str) -> float:
    return _proc_field_mb("/proc/self/status", key)


class StageClock:
    """Wall, CPU and peak RSS of named stages, by wrapping functions; a 10 ms sampler feeds the open stages' peaks."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, float]] = {}
        self._open: dict[int, list[float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.base_rss = _rss_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            rss = _rss_mb()
            with self._lock:
                for slot in self._open.values():
                    slot[0] = max(slot[0], rss)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed_stage(*args: Any, **kwargs: Any) -> Any:
            rss0 = _rss_mb()
            slot = [rss0]
            with self._lock:
                self._open[id(slot)] = slot
            c0, t0 = time.process_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                with self._lock:
                    del self._open[id(slot)]
                peak = max(slot[0], _rss_mb())
                rec = self.records.setdefault(name, {"calls": 0, "wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mb": 0.0,
                                                     "peak_above_base_mb": 0.0, "peak_above_start_mb": 0.0})
                rec["calls"] += 1
                rec["wall_s"] += wall
                rec["cpu_s"] += cpu
                rec["peak_rss_mb"] = max(rec["peak_rss_mb"], peak)
                rec["peak_above_base_mb"] = max(rec["peak_above_base_mb"], peak - self.base_rss)
                rec["peak_above_start_mb"] = max(rec["peak_above_start_mb"], peak - rss0)
        return timed_stage


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


def _stub_forward(net: Any, x: Any) -> tuple[Any, Any]:
    """Part D's stand-in for cellpose's ``core._forward``: no network, outputs of the right shape (zero flows, the
    normalised image as cell probability), so that every array cellpose and the engine allocate is real."""
    import numpy as np

    y = np.zeros((x.shape[0], 3, *x.shape[2:]), np.float32)
    y[:, 2] = (x[:, 0] - 0.5) * 10.0
    return y, np.zeros((x.shape[0], 256), np.float32)


def run_case(mode: str, zyx: tuple[int, int, int], inference: str, stub: bool = False) -> dict[str, Any]:
    """One detect() of one synthetic frame, stage by stage (runs in its own process); ``stub``: part D."""
    import numpy as np
    from trackmate_cellpose.data import synthetic_stack_tutorial

    import trackmate_cellpose._engine as engine
    import trackmate_cellpose.geometry as geometry
    import trackmate_cellpose.geometry._detections as detections
    from trackmate_cellpose import Calibration, RuntimeOptions, detect
    from trackmate_cellpose.segment import _adapter as adapter_mod

    cal = Calibration(x=PX_UM, y=PX_UM, z=Z_UM, space_unit="um")
    runtime = RuntimeOptions(device="cpu", inference=inference)
    settings = _settings(mode)
    warm_img, _ = synthetic_stack_tutorial((8, 64, 64), seed=99)
    t0 = time.perf_counter()
    detect(warm_img, settings, axes="zyx", calibration=cal, runtime=runtime)  # loads the model; tiny
    warmup_s = time.perf_counter() - t0
    g0 = time.perf_counter()
    img, truth = synthetic_stack_tutorial(zyx)
    gen_s = time.perf_counter() - g0
    del truth

    if stub:
        import cellpose.core as cp_core

        cp_core._forward = _stub_forward
    clock = StageClock()
    adapters = list(adapter_mod._CACHE.values())
    adapter_mod.CellposeAdapter.eval = clock.wrap("labels", adapter_mod.CellposeAdapter.eval)
    used = sorted({getattr(a, "inference", "?") for a in adapters})
    for ad in adapters:
        model = getattr(ad, "model", None)
        for attr, name in (("_run_net", "network"), ("_compute_masks", "dynamics")):
            if model is not None and hasattr(model, attr):
                setattr(model, attr, clock.wrap(name, getattr(model, attr)))
    import cellpose.dynamics as cp_dynamics
    import cellpose.models as cp_models
    import cellpose.utils as cp_utils

    # inside cellpose (module globals, looked up at call time): the network alone, and the dynamics' parts
    cp_models.run_3D = clock.wrap("net_only", cp_models.run_3D)
    cp_models.run_net = clock.wrap("net_only", cp_models.run_net)
    cp_utils.stitch3D = clock.wrap("stitch", cp_utils.stitch3D)
    cp_dynamics.follow_flows = clock.wrap("follow_flows", cp_dynamics.follow_flows)
    cp_dynamics.get_masks_torch = clock.wrap("get_masks", cp_dynamics.get_masks_torch)
    cp_dynamics.remove_bad_flow_masks = clock.wrap("flow_check", cp_dynamics.remove_bad_flow_masks)
    cp_utils.fill_holes_and_remove_small_masks = clock.wrap("fill_holes", cp_utils.fill_holes_and_remove_small_masks)
    fg: list[int] = []
    saving = [0.0, 0.0]  # CPU-s, wall-s spent saving the network output (taken off "labels" and "detect")
    for ad in adapters:
        model = getattr(ad, "model", None)
        if model is not None and hasattr(model, "_compute_masks"):
            inner = model._compute_masks

            def counted(shape, flows, cellprob, *a, _inner=inner, **k):
                fg.append(int(np.count_nonzero(cellprob > k.get("cellprob_threshold", 0.0))))
                if mode == "3d" and not stub and os.environ.get("BENCH3D_SAVE_FLOWS"):  # part C; time taken off
                    c0, t0 = time.process_time(), time.perf_counter()
                    np.savez(Path(os.environ["BENCH3D_SAVE_FLOWS"]) / f"flows_{mode}_{'x'.join(map(str, zyx))}.npz",
                             dP=flows, cellprob=cellprob, kwargs=json.dumps(k, default=str))
                    saving[0] += time.process_time() - c0
                    saving[1] += time.perf_counter() - t0
                return _inner(shape, flows, cellprob, *a, **k)
            model._compute_masks = counted
    engine.clean_labels = clock.wrap("clean", engine.clean_labels)
    geometry.labels_to_detections = clock.wrap("spots", geometry.labels_to_detections)
    detections._meshes = clock.wrap("meshes", detections._meshes)
    detect_wrapped = clock.wrap("detect", detect)
    load0 = loadavg()
    res = detect_wrapped(img, settings, axes="zyx", calibration=cal, runtime=runtime)
    clock.stop()
    for st in ("labels", "detect"):
        if st in clock.records:
            clock.records[st]["cpu_s"] -= saving[0]
            clock.records[st]["wall_s"] -= saving[1]
    dets = [d for fr in res.frames for d in fr.detections]
    stages = clock.records
    if "labels" in stages:
        other = {k: stages["labels"][k] - sum(stages.get(s, {}).get(k, 0.0) for s in ("network", "dynamics"))
                 for k in ("wall_s", "cpu_s")}
        stages["labels_other"] = {"calls": stages["labels"]["calls"], **other}
    return {
        "part": "stub" if stub else "detect", "mode": f"{mode} (no network)" if stub else mode, "zyx": list(zyx), "voxels": int(np.prod(zyx)),
        "cells_true": int(truth_count(zyx)), "spots": len(dets),
        "mesh_vertices": int(sum(len(d.mesh.vertices) for d in dets if d.mesh is not None)),
        "mesh_faces": int(sum(len(d.mesh.faces) for d in dets if d.mesh is not None)),
        "network_mpix": None if stub else network_mpix(mode, zyx), "inference_requested": inference,
        "inference_used": used,
        "dynamics_voxels": sum(fg),
        "stages": stages, "rss_base_mb": clock.base_rss, "vmhwm_mb": _status_mb("VmHWM"),
        "warmup_s": warmup_s, "generate_s": gen_s, "load_before": load0, "load_after": loadavg(),
    }


def truth_count(zyx: tuple[int, int, int]) -> int:
    from trackmate_cellpose.data import tutorial_cell_count

    return tutorial_cell_count(zyx)


def run_post_case(zyx: tuple[int, int, int]) -> dict[str, Any]:
    """Label clean-up and spot/mesh building on ground-truth labels (no network), in its own process."""
    import numpy as np
    from trackmate_cellpose.data import synthetic_stack_tutorial

    from trackmate_cellpose import Calibration
    from trackmate_cellpose.geometry import labels_to_detections
    from trackmate_cellpose.geometry import _detections as detections
    from trackmate_cellpose.segment._label_cleanup import clean_labels

    cal = Calibration(x=PX_UM, y=PX_UM, z=Z_UM, space_unit="um")
    g0 = time.perf_counter()
    img, truth = synthetic_stack_tutorial(zyx)
    gen_s = time.perf_counter() - g0
    prob = img.astype(np.float32)
    del img
    settings = _settings("3d")
    clock = StageClock()
    detections._meshes = clock.wrap("meshes", detections._meshes)
    load0 = loadavg()
    lab = clock.wrap("clean", clean_labels)(truth, min_size=settings.min_size, split=True)
    dets = clock.wrap("spots", labels_to_detections)(
        lab, frame=0, calibration=cal, simplify=settings.simplify_contours, smoothing_scale=settings.smoothing_scale,
        cellprob=prob)
    clock.stop()
    return {"part": "post", "mode": "post", "zyx": list(zyx), "voxels": int(np.prod(zyx)),
            "cells_true": int(truth.max()), "spots": len(dets),
            "mesh_faces": int(sum(len(d.mesh.faces) for d in dets)), "stages": clock.records,
            "rss_base_mb": clock.base_rss, "vmhwm_mb": _status_mb("VmHWM"), "generate_s": gen_s,
            "load_before": load0, "load_after": loadavg()}


def run_dynamics_case(flows_file: str, threads: int, tilings: list[tuple[int, int, int]]) -> dict[str, Any]:
    """Part C: cellpose's 3D dynamics alone (``dynamics.resize_and_compute_masks``, as ``_compute_masks`` calls it) on
    the flows the network gave the largest 3D case, tiled to bigger stacks, with torch limited to ``threads``."""
    import numpy as np
    import torch
    from cellpose import dynamics

    torch.set_num_threads(threads)
    f = np.load(flows_file)
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


# ---------------------------------------------------------------------------------------------------- the parent

def _subprocess(args: list[str], log: Callable[[str], None]) -> dict[str, Any]:
    env = dict(os.environ)
    repo = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo / "python"), env.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        log(proc.stderr[-3000:])
        raise SystemExit(f"case {args} failed with exit code {proc.returncode}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = time.perf_counter() - t0
    return out


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
               "fill_holes", "stitch", "labels_other", "clean", "spots", "meshes"]


def markdown(analysis: dict[str, Any]) -> str:
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", default="3d,2dz", help="comma-separated: 3d (cellpose 3D mode), 2dz (2D+Z stitching)")
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="ZxYxX,... for part A (default %(default)s)")
    ap.add_argument("--post-sizes", default=DEFAULT_POST_SIZES,
                    help="ZxYxX,... for part B (post-processing on ground-truth labels); empty to skip")
    ap.add_argument("--inference", default=None,
                    help="RuntimeOptions.inference, passed through (default: RuntimeOptions' default)")
    ap.add_argument("--reps", type=int, default=1, help="repetitions of each part A case (interleaved)")
    ap.add_argument("--post-reps", type=int, default=3, help="repetitions of each part B case")
    ap.add_argument("--stub-sizes", default=DEFAULT_STUB_SIZES,
                    help="ZxYxX,... for part D (the whole path with a stand-in network: memory at the full size); "
                         "a size whose estimated memory exceeds 60%% of MemAvailable is skipped; empty to skip")
    ap.add_argument("--dyn-reps", type=int, default=2,
                    help="repetitions of part C (3D dynamics with torch on 1 vs 2 threads); 0 to skip")
    ap.add_argument("--json", default="", help="also write the JSON summary to this file")
    ap.add_argument("--case", nargs=3, metavar=("PART", "MODE", "ZYX"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.case:  # child process: one case, one JSON line
        part, mode, zyx_text = args.case
        zyx = _parse_sizes(zyx_text)[0] if part != "dyn" else None
        if part == "dyn":
            res = run_dynamics_case(zyx_text, int(mode), DYN_TILINGS)
        else:
            res = run_post_case(zyx) if part == "post" else run_case(mode, zyx, args.inference, stub=part == "stub")
        print(json.dumps(res, default=str))
        return 0

    from trackmate_cellpose import RuntimeOptions

    inference = args.inference or RuntimeOptions().inference
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in ("3d", "2dz"):
            raise SystemExit(f"--modes: expected 3d and/or 2dz, got {m!r}")
    sizes, post_sizes = _parse_sizes(args.sizes), _parse_sizes(args.post_sizes)
    stub_sizes = _parse_sizes(args.stub_sizes)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result: dict[str, Any] = {"machine": machine_info(), "inference": inference, "modes": modes,
                              "sizes": sizes, "post_sizes": post_sizes, "stub_sizes": stub_sizes, "calibration_um": [PX_UM, PX_UM, Z_UM],
                              "diameter_px": DIAMETER_PX, "full_frame": list(FULL), "full_cells": FULL_CELLS,
                              "cases": []}
    flows_dir = tempfile.mkdtemp(prefix="bench3d_flows_")
    os.environ["BENCH3D_SAVE_FLOWS"] = flows_dir  # the 3D cases save their network output for part C
    t_all = time.perf_counter()
    for rep in range(args.reps):
        for i, zyx in enumerate(sizes):
            order = modes if (rep + i) % 2 == 0 else modes[::-1]  # alternate which mode runs first
            for mode in order:
                log(f"[{time.perf_counter() - t_all:6.0f} s] detect {mode} {zyx} rep {rep + 1}, load {loadavg()}")
                r = _subprocess(["--case", "detect", mode, "x".join(map(str, zyx)), "--inference", inference], log)
                s = r["stages"]
                log(f"    spots {r['spots']}/{r['cells_true']}, detect cpu {s['detect']['cpu_s']:.1f} s wall "
                    f"{s['detect']['wall_s']:.1f} s, VmHWM {r['vmhwm_mb']:.0f} MB, used {r['inference_used']}")
                result["cases"].append(r)
    for rep in range(args.post_reps if post_sizes else 0):
        for zyx in post_sizes:
            log(f"[{time.perf_counter() - t_all:6.0f} s] post {zyx} rep {rep + 1}, load {loadavg()}")
            r = _subprocess(["--case", "post", "post", "x".join(map(str, zyx))], log)
            log(f"    spots {r['spots']}/{r['cells_true']}, clean {r['stages']['clean']['cpu_s']:.1f} s, "
                f"meshes {r['stages']['meshes']['cpu_s']:.1f} s, VmHWM {r['vmhwm_mb']:.0f} MB")
            result["cases"].append(r)
    for zyx in stub_sizes:
        for mode in modes:
            need = STUB_BYTES_PER_VOXEL[mode] * math.prod(zyx) / 2 ** 20
            avail = _meminfo_mb("MemAvailable")
            if need > 0.6 * avail:
                log(f"part D: skipping {mode} {zyx}: needs ~{need:.0f} MB, {avail:.0f} MB available")
                continue
            log(f"[{time.perf_counter() - t_all:6.0f} s] {mode} without the network {zyx}, load {loadavg()}")
            r = _subprocess(["--case", "stub", mode, "x".join(map(str, zyx)), "--inference", inference], log)
            log(f"    detect cpu {r['stages']['detect']['cpu_s']:.1f} s, VmHWM {r['vmhwm_mb']:.0f} MB")
            result["cases"].append(r)
    flows_file = None
    if "3d" in modes and sizes:
        flows_file = Path(flows_dir) / f"flows_3d_{'x'.join(map(str, max(sizes, key=math.prod)))}.npz"
    result["dynamics_threads"] = []
    for rep in range(args.dyn_reps if flows_file is not None and flows_file.exists() else 0):
        for threads in ((1, 2) if rep % 2 == 0 else (2, 1)):
            log(f"[{time.perf_counter() - t_all:6.0f} s] 3D dynamics alone, torch threads {threads}, rep {rep + 1}, "
                f"load {loadavg()}")
            r = _subprocess(["--case", "dyn", str(threads), str(flows_file)], log)
            log("    " + ", ".join(f"{'x'.join(map(str, row['zyx']))}: {row['cpu_s']:.1f} CPU-s {row['wall_s']:.1f} s"
                                   for row in r["rows"]))
            result["dynamics_threads"].append(r)
    shutil.rmtree(flows_dir, ignore_errors=True)
    result["total_wall_s"] = time.perf_counter() - t_all
    result["load_at_end"] = loadavg()
    result["analysis"] = analyse(result["cases"], FULL[0] * FULL[1] * FULL[2])
    text = json.dumps(result, indent=1, default=str)
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    print(markdown(result["analysis"]))
    print(markdown_dynamics(result["dynamics_threads"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
