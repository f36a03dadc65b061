"""Our detector inside real TrackMate, against the real TrackMate-Cellpose plugin, our warm worker, and bare
cellpose, all in one TrackMate JVM.

One Fiji (``--fiji`` or ``FIJI_DIR``) is started from Python with our glue (``trackmate_cellpose.bridge.start_fiji``)
in a fresh process; every timing is one fresh ``TrackMate(model, settings).execDetection()`` on the same
``ImagePlus`` (what a Preview, one 2D frame, or the detection step of a run costs), in these modes:

* ``inproc``: "Cellpose advanced (Python)" with the in-process Python service (the model warm after the first call);
* ``worker``: the same detector through the warm Python worker a classic Fiji launch uses (``CellposePyWorker``,
  ``PYTHON_EXECUTABLE`` = ``--worker-python``): the in-process service is unregistered, and pyimagej's
  ``PythonScriptRunner`` removed from SciJava's ObjectService so that discovery does not register it again (this
  JVM then resolves like a classic launch);
* ``peer``: **the real TrackMate-Cellpose** ("Cellpose advanced": ``python -m cellpose`` in a new process on TIFFs
  it writes, every call; ``CELLPOSE_PYTHON_FILEPATH`` = ``--peer-python``); the Fiji must hold TrackMate 7.x and that
  plugin (built outside this repository: it is GPL);
* ``headless``: ``trackmate_cellpose.bridge.run_trackmate(tif, tracker="none")``: ImageJ opening the TIFF, the
  detection step and TrackMate's spot features; its own detection-step timing is recorded beside it;
* ``bare``: **bare cellpose** ``CellposeModel.eval`` on the same frames in this process (as the ``engine`` suite).

The same model file (CUSTOM), diameter and thresholds everywhere. One first call of each mode (model load, worker
start) is reported apart; then every repetition runs the modes in an order rotating by one, and ratios are paired
against the first mode given. CPU = this process (JVM threads and in-process Python) + its reaped children (the
peer's cellpose) + the worker process (alive, ``psutil``). Spots of the first calls are rasterised per frame and
compared with the first mode's (counts, one-to-one matches IoU > 0.5, mean matched IoU; 3D: counts). The peer
(TrackMate-Cellpose for TrackMate 7) refuses images with a Z axis: its error is recorded.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _cases
from ._measure import UsageError, children_cpu, fmt_s, log, loadavg, run_child, summary
from .jvm import fiji_dir

NAME = "trackmate"
MODES = ("inproc", "worker", "peer", "headless", "bare")
#: name -> (axes, shape): "p" a Preview (one 2D frame), "m" the detection step of a 2D+t movie
CASES = {"p256": ("yx", (256, 256)), "p512": ("yx", (512, 512)), "p1024": ("yx", (1024, 1024)),
         "m256": ("tyx", (4, 256, 256)), "m512": ("tyx", (3, 512, 512)), "3d": ("zyx", (16, 128, 128))}
LARGE = {"m512", "p1024"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fiji", default=os.environ.get("FIJI_DIR", ""), help="Fiji.app folder [$FIJI_DIR]")
    parser.add_argument("--modes", default="inproc,peer",
                        help=f"comma-separated, the first is the reference: {', '.join(MODES)} [%(default)s]")
    parser.add_argument("--cases", default="p256,p512,m256",
                        help=f"{', '.join(CASES)} (objects 22-34 px), or the engine suite's cases "
                             "[%(default)s]")
    parser.add_argument("--reps", type=int, default=3, help="repetitions [%(default)s]")
    parser.add_argument("--reps-large", type=int, default=2, help=f"repetitions of {', '.join(sorted(LARGE))} "
                                                                  "[%(default)s]")
    parser.add_argument("--diameter", type=float, default=15.0,
                        help="CELL_DIAMETER in um at 0.5 um pixels (15: 30 px, cellpose rescale 1) [%(default)s]")
    parser.add_argument("--peer-python", default=sys.executable, help="the peer's CELLPOSE_PYTHON_FILEPATH")
    parser.add_argument("--worker-python", default=sys.executable, help="the worker's PYTHON_EXECUTABLE")


def image(case: str) -> tuple[np.ndarray, str]:
    """A case's image and axes (yx, tyx, zyx or tzyx)."""
    if case not in CASES:
        return _cases.image(case)
    from trackmate_cellpose.data import synthetic_movie_2d, synthetic_movie_3d

    axes, shape = CASES[case]
    if axes == "zyx":
        return synthetic_movie_3d(n_frames=1, shape_zyx=shape, n_objects=10, radius=(11.0, 16.0), seed=5)[0][0], axes
    yx = shape[-2:]
    movie = synthetic_movie_2d(n_frames=shape[0] if axes == "tyx" else 1, shape_yx=yx,
                               n_objects=max(8, yx[0] * yx[1] // 2500), radius=(11.0, 17.0), seed=7)[0]
    return (movie if axes == "tyx" else movie[0]), axes


def spot_labels(model: Any, shape_yx: tuple[int, int], n_t: int) -> list[np.ndarray]:
    """Every 2D spot's polygon (``spot.getRoi()``) rasterised into one label image per frame."""
    from skimage.draw import polygon

    out = [np.zeros(shape_yx, np.int32) for _ in range(n_t)]
    for k, spot in enumerate(model.getSpots().iterable(False), start=1):
        roi = spot.getRoi()
        if roi is None:
            continue
        x = (float(spot.getDoublePosition(0)) + np.asarray(roi.x, float)) / _cases.PX_UM - 0.5
        y = (float(spot.getDoublePosition(1)) + np.asarray(roi.y, float)) / _cases.PX_UM - 0.5
        rr, cc = polygon(y, x, shape_yx)
        out[int(spot.getFeature("FRAME"))][rr, cc] = k
    return out


def peer_settings(factory: Any, peer_python: str, model_path: str, diameter_um: float) -> Any:
    """The peer's settings map: CUSTOM model file, grayscale, the same diameter and thresholds as ours, CPU."""
    from jpype import JClass

    JDouble, JInteger, JBoolean = (JClass(f"java.lang.{c}") for c in ("Double", "Integer", "Boolean"))  # noqa: N806
    m = factory.getDefaultSettings()
    for key, value in (("CELLPOSE_PYTHON_FILEPATH", peer_python), ("CELLPOSE_MODEL_FILEPATH", model_path),
                       ("CELLPOSE_MODEL", JClass("fiji.plugin.trackmate.cellpose.CellposeSettings$"
                                                 "PretrainedModelCellpose").CUSTOM),
                       ("TARGET_CHANNEL", JInteger(0)), ("OPTIONAL_CHANNEL_2", JInteger(0)),
                       ("CELL_DIAMETER", JDouble(diameter_um)), ("USE_GPU", JBoolean(False)),
                       ("SIMPLIFY_CONTOURS", JBoolean(True)), ("FLOW_THRESHOLD", JDouble(0.4)),
                       ("CELL_PROB_THRESHOLD", JDouble(0.0))):
        m.put(key, value)
    return m


class WorkerCpu:
    """CPU seconds of the live worker process (it is not a reaped child), through psutil."""

    def __init__(self) -> None:
        self.pid: int | None = None

    def __call__(self) -> float:
        if self.pid is None:
            return 0.0
        import psutil

        try:
            t = psutil.Process(self.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return t.user + t.system

    def rss_mib(self) -> float | None:
        import psutil

        try:
            return psutil.Process(self.pid).memory_info().rss / 2 ** 20 if self.pid else None
        except psutil.Error:
            return None


def session(spec: dict[str, Any]) -> dict[str, Any]:
    """Every case and mode in one Fiji (a child process)."""
    import tifffile

    from trackmate_cellpose import DETECTOR_KEY
    from trackmate_cellpose.bridge import run_trackmate, start_fiji, to_java_map

    modes: list[str] = spec["modes"]
    home = Path(tempfile.mkdtemp(prefix="tmcp-bench-home-"))
    os.environ["HOME"] = str(home)  # the peer's cellpose writes ~/.cellpose/run.log there
    model_path = _cases.model_path()
    settings = _cases.settings(spec["diameter"], python_executable=spec["worker_python"])
    out: dict[str, Any] = {"modes": modes, "model": model_path, "diameter_um": spec["diameter"],
                           "pixel_um": _cases.PX_UM, "cases": {}}
    t0 = time.perf_counter()
    start_fiji(spec["fiji"], jvm_options=[f"-Duser.home={home}", f"-Djava.util.prefs.userRoot={home / 'prefs'}",
                                          "-XX:-UsePerfData"])
    out["fiji_start_s"] = time.perf_counter() - t0
    from jpype import JClass

    Settings, Model, TrackMate = (JClass(f"fiji.plugin.trackmate.{c}")  # noqa: N806 (Java classes)
                                  for c in ("Settings", "Model", "TrackMate"))
    Services = JClass("trackmatecellpose.glue.CellposePyServices")  # noqa: N806
    Worker = JClass("trackmatecellpose.glue.CellposePyWorker")  # noqa: N806
    inproc_service = Services.get()
    if inproc_service is None:
        raise RuntimeError("start_fiji registered no in-process service")
    if "worker" in modes:  # pyimagej's runner would let discovery register the in-process service again
        objects = JClass("fiji.plugin.trackmate.util.TMUtils").getContext().getService(
            JClass("org.scijava.object.ObjectService"))
        runners = [f for f in objects.getObjects(JClass("java.util.function.Function"))
                   if str(objects.getName(f)) == "PythonScriptRunner"]
        for f in runners:
            objects.removeObject(f)
        out["pyimagej_runner_removed"] = len(runners)
    provider = JClass("fiji.plugin.trackmate.providers.DetectorProvider")()
    ours_factory = provider.getFactory(DETECTOR_KEY)
    peer_factory = provider.getFactory("CELLPOSE_ADVANCED_DETECTOR")
    if ours_factory is None or ("peer" in modes and peer_factory is None):
        raise RuntimeError(f"TrackMate lists ours: {ours_factory is not None}, the peer (TrackMate-Cellpose): "
                           f"{peer_factory is not None}; detector keys: {list(map(str, provider.getVisibleKeys()))}")
    out["detectors"] = {"ours": str(ours_factory.getName()),
                        "peer": str(peer_factory.getName()) if peer_factory is not None else None}
    worker_cpu = WorkerCpu()
    resolved: dict[str, str] = {}
    bare_model = _cases.bare_model(model_path) if "bare" in modes else None

    def exec_detection(imp: Any, mode: str) -> Any:
        Services.register(inproc_service if mode == "inproc" else None)
        if mode != "peer":
            service = Services.resolve()
            if (mode == "worker") != bool(service.equals(Worker.shared())):
                raise RuntimeError(f"{mode} mode resolved to {service.describe()}")
        ts = Settings(imp)
        ts.detectorFactory = (peer_factory if mode == "peer" else ours_factory).copy()
        ts.detectorSettings = (peer_settings(peer_factory, spec["peer_python"], model_path, spec["diameter"])
                               if mode == "peer" else to_java_map(settings))
        tm = TrackMate(Model(), ts)
        tm.setNumThreads(1)
        if not tm.execDetection():
            raise RuntimeError(f"{mode}: {tm.getErrorMessage()}")
        if mode != "peer":
            resolved[mode] = str(Services.resolve().describe())
        if mode == "worker" and worker_cpu.pid is None:
            found = re.search(r"Python worker \(pid (\d+)", str(Worker.shared().describe()))
            worker_cpu.pid = int(found.group(1)) if found else None
        return tm.getModel()

    for case in spec["cases"]:
        img, axes = image(case)
        tif = home / f"{case.replace(':', '_')}.tif"
        tifffile.imwrite(tif, img, imagej=True, resolution=(1 / _cases.PX_UM, 1 / _cases.PX_UM),
                         metadata={"axes": axes.upper(), "spacing": _cases.Z_UM, "unit": "um", "finterval": 1.0})
        imp = JClass("ij.IJ").openImage(str(tif))
        movie = img if axes.startswith("t") else img[None]  # (T, Y, X) or (T, Z, Y, X) for bare cellpose
        bare_axes = "tzyx" if "z" in axes else "tyx"
        inner_s: list[float] = []

        def headless() -> Any:
            Services.register(inproc_service)
            res = run_trackmate(str(tif), settings, tracker="none")
            inner_s.append(float(res.timings.get("trackmate", float("nan"))))
            return res

        fns: dict[str, Callable[[], Any]] = {
            m: (lambda m=m: exec_detection(imp, m)) for m in modes if m in ("inproc", "worker", "peer")}
        if "headless" in modes:
            fns["headless"] = headless
        if "bare" in modes:
            fns["bare"] = _cases.bare_call(bare_model, movie, bare_axes, settings)
        row: dict[str, Any] = {"shape": list(img.shape), "axes": axes, "load_before": loadavg()}
        first: dict[str, Any] = {}
        for mode in modes:
            c0, k0, w0, t0 = time.process_time(), children_cpu(), worker_cpu(), time.perf_counter()
            try:
                first[mode] = fns[mode]()
            except Exception as e:  # noqa: BLE001 - the peer refuses 3D: record its message, time the others
                row[f"{mode}_error"] = f"{type(e).__name__}: {e}"[:500]
                log(f"{case} {mode}: {row[f'{mode}_error']}")
                continue
            row[f"{mode}_first_call"] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0
                                         + children_cpu() - k0 + worker_cpu() - w0}
        timed_modes = [m for m in modes if m in first]
        row["spots"] = _compare_spots(first, timed_modes, img, axes)
        reps = spec["reps_large"] if case in LARGE else spec["reps"]
        times: dict[str, list[dict[str, float]]] = {m: [] for m in timed_modes}
        inner_s.clear()
        for r in range(reps):
            for mode in timed_modes[r % len(timed_modes):] + timed_modes[:r % len(timed_modes)]:
                c0, k0, w0, t0 = time.process_time(), children_cpu(), worker_cpu(), time.perf_counter()
                fns[mode]()
                w1 = worker_cpu()
                times[mode].append({"wall": time.perf_counter() - t0, "worker_cpu": w1 - w0,
                                    "cpu": time.process_time() - c0 + children_cpu() - k0 + w1 - w0, "load": loadavg()})
                log(f"{case} rep {r + 1}/{reps} {mode}: wall {times[mode][-1]['wall']:.2f} s, cpu "
                    f"{times[mode][-1]['cpu']:.2f} s, load {loadavg()}")
        for m, ts in times.items():
            row[f"{m}_wall_s"] = summary([t["wall"] for t in ts])
            row[f"{m}_cpu_s"] = summary([t["cpu"] for t in ts])
            row[f"{m}_runs"] = ts
        if "headless" in times and inner_s:
            row["headless_detection_step_s"] = summary(inner_s)
        ref = timed_modes[0] if timed_modes else None
        for m in timed_modes[1:]:
            for k in ("cpu", "wall"):
                row[f"{m}_over_{ref}_{k}"] = summary([a[k] / b[k] for a, b in zip(times[m], times[ref])])
            log(f"{case}: {m}/{ref} CPU {fmt_s(row[f'{m}_over_{ref}_cpu'], 'x', 2)}, wall "
                f"{fmt_s(row[f'{m}_over_{ref}_wall'], 'x', 2)}; spots {row['spots'].get(m)}")
        row["load_after"] = loadavg()
        row["rss_mib"] = {"this_process_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          "worker_now": worker_cpu.rss_mib()}
        out["cases"][case] = row
        out["resolved"] = resolved
    if "worker" in modes:
        Worker.shared().stop()
    return out


def _compare_spots(first: dict[str, Any], modes: list[str], img: np.ndarray, axes: str) -> dict[str, Any]:
    """Each mode's first-call objects against the first mode's (2D: rasterised polygons; 3D: counts)."""
    def labels(mode: str) -> list[np.ndarray] | None:
        value = first[mode]
        if mode == "bare":
            return value
        if mode == "headless":
            value = value.model
        if "z" in axes:
            return None
        n_t = img.shape[0] if axes == "tyx" else 1
        return spot_labels(value, img.shape[-2:], n_t)

    if not modes:
        return {}
    if "z" in axes:
        return {m: (sum(int(f.max()) for f in first[m]) if m == "bare" else
                    int((first[m].model if m == "headless" else first[m]).getSpots().getNSpots(False)))
                for m in modes}
    ref = labels(modes[0])
    out = {m: _cases.match_frames(ref, labels(m)) for m in modes[1:]}
    for m in out:
        if "bare" in (m, modes[0]):  # masks against spots: TrackMate's outlines are simplified, IoU < 1 by design
            out[m]["compared"] = "cellpose's masks against rasterised (simplified) spot polygons"
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    fiji = fiji_dir(args.fiji)
    modes = list(dict.fromkeys(m for m in args.modes.split(",") if m))
    if not modes or set(modes) - set(MODES):
        raise UsageError(f"--modes: expected a subset of {', '.join(MODES)}, got {args.modes!r}")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for c in cases:
        if c not in CASES:
            _cases.image(c, dry=True)
    spec = {"fiji": fiji, "modes": modes, "cases": cases, "reps": args.reps, "reps_large": args.reps_large,
            "diameter": args.diameter, "peer_python": args.peer_python, "worker_python": args.worker_python}
    log(f"trackmate: {', '.join(modes)} on {', '.join(cases)} in {fiji}")
    return run_child(session, spec)


def markdown(results: dict[str, Any]) -> str:
    modes = results["modes"]
    ref = modes[0]
    head = ["case"] + [f"{m} CPU" for m in modes] + [f"**{m} / {ref} (CPU)**" for m in modes[1:]] + \
        [f"{m} / {ref} (wall)" for m in modes[1:]] + ["first call CPU (s)", "objects vs " + ref, "load"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for case, row in results["cases"].items():
        cells = [f"{case} {tuple(row['shape'])}"]
        cells += [fmt_s(row[f"{m}_cpu_s"], digits=2) if f"{m}_cpu_s" in row else row.get(f"{m}_error", "-")[:60]
                  for m in modes]
        for k in ("cpu", "wall"):
            cells += [fmt_s(row[f"{m}_over_{ref}_{k}"], "x", 2) if f"{m}_over_{ref}_{k}" in row else "-"
                      for m in modes[1:]]
        cells.append(" / ".join(f"{row[f'{m}_first_call']['cpu_s']:.1f}" if f"{m}_first_call" in row else "-"
                                for m in modes))
        cells.append("; ".join(f"{m}: {v['matched']}/{v['n_a']} matched, IoU {v['mean_matched_iou']:.3f}"
                               if isinstance(v, dict) else f"{m}: {v}" for m, v in row.get("spots", {}).items()))
        cells.append(f"{row['load_before']} -> {row['load_after']}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
