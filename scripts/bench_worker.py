"""Issue #9 benchmark: our detector in-process vs through the warm Python worker vs the real TrackMate-Cellpose peer,
all three through ``TrackMate.execDetection()`` in ONE TrackMate JVM, interleaved (not part of the test suite).

    FIJI_DIR=/work/hosts/fiji-peer .venv/bin/python scripts/bench_worker.py \
        [--peer-python P] [--worker-python P] [--reps 3] [--reps-large 2] [--cases p256,p512,m256,m512]
        [--modes inproc,worker,peer] [--json out]

The Fiji must hold TrackMate 7.x and the TrackMate-Cellpose plugin (as for ``bench_peer.py``). This process starts it
with our glue (``bridge.start_fiji``, which registers the in-process Python service). The three modes:

* ``inproc``: "Cellpose advanced (Python)" with the in-process service registered (``CellposePyServices.register``);
* ``worker``: the same detector after ``CellposePyServices.register(null)``: ``resolve()`` then falls through to the
  warm worker (``CellposePyWorker``), started with ``PYTHON_EXECUTABLE`` = ``--worker-python``. pyimagej put its
  ``PythonScriptRunner`` into SciJava's ObjectService when this Fiji started, so discovery would register the
  in-process service again: the runner is removed from the ObjectService first (recorded), which makes this JVM
  resolve like a classic launch;
* ``peer``: "Cellpose advanced" (``python -m cellpose`` in a new process every call).

Same model file (CUSTOM), diameter and thresholds. One first call of each mode (in this order: in-process model load,
worker start + its model load, peer) is reported apart as the one-time cost; then every repetition runs the three in
an order rotating by one. CPU = this process (JVM + in-process Python) + its reaped children (the peer's cellpose)
+ the worker process (``psutil``, it stays alive); wall; load average. Spots of the first calls are compared per
frame with the in-process ones (counts, one-to-one matches IoU > 0.5, mean matched IoU).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import fmt_s, loadavg, machine_info, summary
from bench_peer import DIAMETER_UM, PX_UM, _matched_iou, _spot_labels, peer_settings

CASES = {  # name -> (n_frames, side); "p" = a Preview (one 2D frame), "m" = the detection step of a 2D+t movie
    "p256": (1, 256), "p512": (1, 512), "m256": (4, 256), "m512": (3, 512), "p1024": (1, 1024),
}
MODES = ("inproc", "worker", "peer")
LARGE = {"m512", "p1024"}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _image(case: str) -> np.ndarray:
    from trackmate_cellpose.data import synthetic_movie_2d

    n_t, side = CASES[case]
    return synthetic_movie_2d(n_frames=n_t, shape_yx=(side, side), n_objects=max(8, side * side // 2500),
                              radius=(11.0, 17.0), seed=7)[0]


class Cpu:
    """CPU seconds of this process + its reaped children + the worker process (alive, read through psutil)."""

    def __init__(self) -> None:
        self.worker_pid: int | None = None

    def worker(self) -> float:
        if self.worker_pid is None:
            return 0.0
        import psutil

        try:
            t = psutil.Process(self.worker_pid).cpu_times()
        except psutil.Error:
            return 0.0
        return t.user + t.system

    def worker_rss_mib(self) -> float | None:
        import psutil

        try:
            return psutil.Process(self.worker_pid).memory_info().rss / 2 ** 20 if self.worker_pid else None
        except psutil.Error:
            return None

    def now(self) -> tuple[float, float]:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + ru.ru_utime + ru.ru_stime, self.worker()


def _timed(cpu: Cpu, fn: Callable[[], Any]) -> dict[str, Any]:
    (c0, w0), t0 = cpu.now(), time.perf_counter()
    value = fn()
    t1 = time.perf_counter()
    c1, w1 = cpu.now()
    return {"wall": t1 - t0, "cpu": (c1 - c0) + (w1 - w0), "worker_cpu": w1 - w0, "value": value}


def _compare(ref: Any, other: Any, n_t: int, side: int) -> dict[str, Any]:
    la, lb = _spot_labels(ref, (side, side), n_t), _spot_labels(other, (side, side), n_t)
    m = [_matched_iou(a, b) for a, b in zip(la, lb)]
    return {"inproc": sum(x[2] for x in m), "other": sum(x[3] for x in m), "matched_iou_gt_0.5": sum(x[1] for x in m),
            "mean_matched_iou": float(np.mean([x[0] for x in m]))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fiji", default=os.environ.get("FIJI_DIR", ""))
    ap.add_argument("--peer-python", default=sys.executable)
    ap.add_argument("--worker-python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--reps-large", type=int, default=2, help=f"repetitions of {', '.join(sorted(LARGE))}")
    ap.add_argument("--cases", default="p256,p512,m256,m512")
    ap.add_argument("--modes", default=",".join(MODES), help="a subset of inproc,worker,peer (inproc always runs)")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    modes = tuple(m for m in MODES if m in {"inproc", *args.modes.split(",")})
    if any(m not in MODES for m in args.modes.split(",") if m):
        ap.error(f"--modes must be among {', '.join(MODES)}, got {args.modes!r}")
    if not args.fiji:
        ap.error("--fiji (or FIJI_DIR) must name a Fiji with TrackMate 7 and TrackMate-Cellpose")
    cases = [c for c in args.cases.split(",") if c]
    if any(c not in CASES for c in cases):
        ap.error(f"--cases must be among {', '.join(CASES)}, got {args.cases!r}")
    import tifffile

    from trackmate_cellpose import DetectorSettings
    from trackmate_cellpose.bridge import start_fiji
    from trackmate_cellpose.bridge._jvm import jvm_options_for_tests
    from trackmate_cellpose.bridge._headless import to_java_map
    from trackmate_cellpose.data import test_model_path
    from trackmate_cellpose.settings import DETECTOR_KEY

    model_path = str(test_model_path())
    home = Path(tempfile.mkdtemp(prefix="tmcp_worker_home_"))
    os.environ["HOME"] = str(home)  # the peer's cellpose writes ~/.cellpose/run.log there
    result: dict[str, Any] = {"machine": machine_info(), "peer_python": args.peer_python,
                              "worker_python": args.worker_python, "model": model_path, "diameter_um": DIAMETER_UM,
                              "pixel_um": PX_UM, "cases": {}}
    t0 = time.perf_counter()
    start_fiji(args.fiji, jvm_options=jvm_options_for_tests(home))
    result["fiji_start_s"] = time.perf_counter() - t0
    from jpype import JClass

    Settings, Model, TrackMate = (JClass(f"fiji.plugin.trackmate.{c}")  # noqa: N806 (Java classes)
                                  for c in ("Settings", "Model", "TrackMate"))
    Services = JClass("trackmatecellpose.glue.CellposePyServices")  # noqa: N806
    Worker = JClass("trackmatecellpose.glue.CellposePyWorker")  # noqa: N806
    Discovery = JClass("trackmatecellpose.glue.PyImageJDiscovery")  # noqa: N806
    inproc_service = Services.get()
    if inproc_service is None:
        raise SystemExit("start_fiji registered no in-process service")
    # pyimagej's PythonScriptRunner would let discovery re-register the in-process service: remove it (this JVM then
    # resolves like a classic launch once no service is registered)
    objects = JClass("fiji.plugin.trackmate.util.TMUtils").getContext().getService(
        JClass("org.scijava.object.ObjectService"))
    runners = [f for f in objects.getObjects(JClass("java.util.function.Function"))
               if str(objects.getName(f)) == "PythonScriptRunner"]
    for f in runners:
        objects.removeObject(f)
    result["pyimagej_runner_removed"] = len(runners)
    provider = JClass("fiji.plugin.trackmate.providers.DetectorProvider")()
    ours_factory = provider.getFactory(DETECTOR_KEY)
    peer_factory = provider.getFactory("CELLPOSE_ADVANCED_DETECTOR")
    if ours_factory is None or peer_factory is None:
        raise SystemExit(f"TrackMate lists ours: {ours_factory is not None}, the peer: {peer_factory is not None}")
    ours_settings = DetectorSettings(model="CUSTOM", model_path=model_path, diameter=DIAMETER_UM, use_gpu=False,
                                     python_executable=args.worker_python)
    cpu = Cpu()
    resolved: dict[str, str] = {}

    def run(imp: Any, mode: str) -> Any:
        Services.register(inproc_service if mode == "inproc" else None)
        if mode != "peer":
            service = Services.resolve()
            if (mode == "worker") != bool(service.equals(Worker.shared())):
                raise RuntimeError(f"{mode} mode resolved to {service.describe()}")
        ts = Settings(imp)
        ts.detectorFactory = (peer_factory if mode == "peer" else ours_factory).copy()
        ts.detectorSettings = (peer_settings(peer_factory, args.peer_python, model_path) if mode == "peer"
                               else to_java_map(ours_settings))
        tm = TrackMate(Model(), ts)
        tm.setNumThreads(1)
        if not tm.execDetection():
            raise RuntimeError(f"{mode}: {tm.getErrorMessage()}")
        if mode != "peer":
            resolved[mode] = str(Services.resolve().describe())
        if mode == "worker" and cpu.worker_pid is None:
            found = re.search(r"Python worker \(pid (\d+)", str(Worker.shared().describe()))
            cpu.worker_pid = int(found.group(1)) if found else None
        return tm.getModel()

    for case in cases:
        n_t, side = CASES[case]
        img = _image(case)
        tif = home / f"{case}.tif"
        axes = "TYX" if n_t > 1 else "YX"
        tifffile.imwrite(tif, img if n_t > 1 else img[0], imagej=True, resolution=(1 / PX_UM, 1 / PX_UM),
                         metadata={"axes": axes, "unit": "um", "finterval": 1.0})
        imp = JClass("ij.IJ").openImage(str(tif))
        row: dict[str, Any] = {"shape": list(img.shape), "load_before": loadavg()}
        first: dict[str, Any] = {}
        for mode in modes:
            t = _timed(cpu, lambda m=mode: run(imp, m))
            first[mode] = t.pop("value")
            row[f"{mode}_first_call"] = t
            _log(f"{case} first {mode}: wall {t['wall']:.2f} s, cpu {t['cpu']:.2f} s, load {loadavg()}")
        row["spots"] = {m: _compare(first["inproc"], first[m], n_t, side) for m in modes[1:]}
        reps = args.reps_large if case in LARGE else args.reps
        times: dict[str, list] = {m: [] for m in modes}
        for r in range(reps):
            for mode in modes[r % len(modes):] + modes[:r % len(modes)]:
                t = _timed(cpu, lambda m=mode: run(imp, m))
                t.pop("value")
                t["load"] = loadavg()
                times[mode].append(t)
                _log(f"{case} rep {r + 1}/{reps} {mode}: wall {t['wall']:.2f} s, cpu {t['cpu']:.2f} s "
                     f"(worker {t['worker_cpu']:.2f}), load {t['load']}")
        for m, ts_ in times.items():
            row[f"{m}_wall_s"] = summary([t["wall"] for t in ts_])
            row[f"{m}_cpu_s"] = summary([t["cpu"] for t in ts_])
            row[f"{m}_runs"] = ts_
        for num in modes[1:]:
            for k in ("cpu", "wall"):
                row[f"{num}_over_inproc_{k}"] = summary([a[k] / b[k] for a, b in zip(times[num], times["inproc"])])
        row["load_after"] = loadavg()
        row["rss_mib"] = {"this_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # peak
                          "worker": cpu.worker_rss_mib()}  # now
        _log(f"{case}: " + "; ".join(f"{m}/inproc CPU {fmt_s(row[f'{m}_over_inproc_cpu'], 'x', 2)}, wall "
                                     f"{fmt_s(row[f'{m}_over_inproc_wall'], 'x', 2)}" for m in modes[1:])
             + f"; spots {row['spots']}")
        result["cases"][case] = row
        result["resolved"] = resolved
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    result["load_at_end"] = loadavg()
    result["resolved"] = resolved
    result["discovery"] = str(Discovery.lastResult().reason) if Discovery.lastResult() is not None else None
    text = json.dumps(result, indent=1, default=str)
    if args.json:
        Path(args.json).write_text(text)
    print(text, flush=True)
    Worker.shared().stop()
    # a non-daemon thread pool left in this JVM (not the glue's threads) blocks JPype's JVM shutdown: leave at once
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
