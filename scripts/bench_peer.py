"""Issue #15 item 1: our detector against the real TrackMate-Cellpose plugin, both through ``TrackMate.execDetection()``
in ONE TrackMate JVM, interleaved (not part of the test suite).

    FIJI_DIR=/path/to/Fiji-with-TrackMate-Cellpose .venv/bin/python scripts/bench_peer.py \
        [--peer-python /path/to/python-with-cellpose] [--reps 3] [--cases p256,p512,p1024,movie,3d] [--json out.json]

The Fiji must hold TrackMate 7.x and the TrackMate-Cellpose plugin (``CELLPOSE_ADVANCED_DETECTOR``; build it with
``../shared/tools/build_trackmate_cellpose_peer.sh``, outside the repository: GPL). This process starts that Fiji
with our glue (``bridge.start_fiji``), so TrackMate lists both detectors. Every repetition runs, for each case and in
alternating order, a fresh ``TrackMate(model, settings).execDetection()`` with

* ours: "Cellpose advanced (Python)" (in-process, warm model after the first call: what a second Preview costs);
* the peer: "Cellpose advanced" (``python -m cellpose`` in a new process on TIFFs it writes, every call),
  ``CELLPOSE_PYTHON_FILEPATH`` = ``--peer-python``, the same model file (CUSTOM), the same diameter and thresholds.

Timed: wall and CPU of the whole process (JVM + Python threads, ``time.process_time``) plus its finished child
processes (the peer's cellpose), load average before/after. The first call of each detector (model load, JIT)
is reported apart. Spots of the two are compared per frame: counts and the mean IoU of the one-to-one matches
(IoU > 0.5) of their rasterised polygons. The peer (TrackMate-Cellpose for TrackMate 7) refuses images with a Z axis,
so the 3D case times ours only and records the peer's error message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import fmt_s, loadavg, machine_info, summary, timed

PX_UM = 0.5
DIAMETER_UM = 15.0  # 30 px: cellpose rescale 1.0 for the bundled test model (its diam_mean is 30)
CASES = {  # name -> (axes, shape); frames of a "Preview" are one 2D time point
    "p256": ("yx", (256, 256)), "p512": ("yx", (512, 512)), "p1024": ("yx", (1024, 1024)),
    "movie": ("tyx", (4, 256, 256)), "3d": ("zyx", (16, 128, 128)),
}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _image(case: str) -> np.ndarray:
    from trackmate_cellpose.data import synthetic_movie_2d, synthetic_movie_3d

    axes, shape = CASES[case]
    if axes == "zyx":
        return synthetic_movie_3d(n_frames=1, shape_zyx=shape, n_objects=10, radius=(11.0, 16.0), seed=5)[0][0]
    yx = shape[-2:]
    n_t = shape[0] if axes == "tyx" else 1
    movie = synthetic_movie_2d(n_frames=n_t, shape_yx=yx, n_objects=max(8, yx[0] * yx[1] // 2500),
                               radius=(11.0, 17.0), seed=7)[0]
    return movie if axes == "tyx" else movie[0]


def _spot_labels(model: Any, shape_yx: tuple[int, int], n_t: int) -> list[np.ndarray]:
    """Rasterise every spot's polygon (``spot.getRoi()``, TrackMate 7) into one label image per frame (after
    ``execDetection`` alone no spot is "visible" yet: TrackMate sets that in its spot filtering)."""
    from skimage.draw import polygon

    out = [np.zeros(shape_yx, np.int32) for _ in range(n_t)]
    spots = model.getSpots()
    k = 0
    for spot in spots.iterable(False):
        roi = spot.getRoi()
        if roi is None:
            continue
        t = int(spot.getFeature("FRAME"))
        x = (float(spot.getDoublePosition(0)) + np.asarray(roi.x, float)) / PX_UM - 0.5
        y = (float(spot.getDoublePosition(1)) + np.asarray(roi.y, float)) / PX_UM - 0.5
        rr, cc = polygon(y, x, shape_yx)
        k += 1
        out[t][rr, cc] = k
    return out


def _matched_iou(a: np.ndarray, b: np.ndarray) -> tuple[float, int, int, int]:
    """Mean IoU of the one-to-one matches (IoU > 0.5), the number matched, and the counts."""
    a, b = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
    inter = np.zeros((a.max() + 1, b.max() + 1), np.int64)
    np.add.at(inter, (a, b), 1)
    union = inter.sum(1)[:, None] + inter.sum(0)[None, :] - inter
    iou = (inter / np.maximum(union, 1))[1:, 1:]
    hits = iou > 0.5
    n_a, n_b = len(np.unique(a)) - 1, len(np.unique(b)) - 1
    return (float(iou[hits].mean()) if hits.any() else 0.0), int(hits.sum()), n_a, n_b


def peer_settings(peer_factory: Any, peer_python: str, model_path: str) -> Any:
    """The peer's settings map: CUSTOM model file, grayscale, the same diameter and thresholds as ours, CPU."""
    from jpype import JClass

    JDouble, JInteger, JBoolean = (JClass(f"java.lang.{c}")  # noqa: N806 (Java classes)
                                   for c in ("Double", "Integer", "Boolean"))
    m = peer_factory.getDefaultSettings()
    m.put("CELLPOSE_PYTHON_FILEPATH", peer_python)
    m.put("CELLPOSE_MODEL", JClass("fiji.plugin.trackmate.cellpose.CellposeSettings$PretrainedModelCellpose").CUSTOM)
    m.put("CELLPOSE_MODEL_FILEPATH", model_path)
    m.put("TARGET_CHANNEL", JInteger(0))  # cellpose's convention: 0 = grayscale
    m.put("OPTIONAL_CHANNEL_2", JInteger(0))
    m.put("CELL_DIAMETER", JDouble(DIAMETER_UM))
    m.put("USE_GPU", JBoolean(False))
    m.put("SIMPLIFY_CONTOURS", JBoolean(True))
    m.put("FLOW_THRESHOLD", JDouble(0.4))
    m.put("CELL_PROB_THRESHOLD", JDouble(0.0))
    return m


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fiji", default=os.environ.get("FIJI_DIR", ""))
    ap.add_argument("--peer-python", default=sys.executable)
    ap.add_argument("--model", default="")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--reps-large", type=int, default=2, help="repetitions of the 1024 x 1024 Preview")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
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

    model_path = args.model or str(test_model_path())
    home = Path(tempfile.mkdtemp(prefix="tmcp_peer_home_"))
    os.environ["HOME"] = str(home)  # the peer's cellpose writes ~/.cellpose/run.log (its progress) there
    result: dict[str, Any] = {"machine": machine_info(), "peer_python": args.peer_python, "model": model_path,
                              "diameter_um": DIAMETER_UM, "pixel_um": PX_UM, "cases": {}}
    t0 = time.perf_counter()
    start_fiji(args.fiji, jvm_options=jvm_options_for_tests(home))
    result["fiji_start_s"] = time.perf_counter() - t0
    from jpype import JClass

    Settings, Model, TrackMate = (JClass(f"fiji.plugin.trackmate.{c}")  # noqa: N806 (Java classes)
                                  for c in ("Settings", "Model", "TrackMate"))
    provider = JClass("fiji.plugin.trackmate.providers.DetectorProvider")()
    ours_factory = provider.getFactory(DETECTOR_KEY)
    peer_factory = provider.getFactory("CELLPOSE_ADVANCED_DETECTOR")
    if ours_factory is None or peer_factory is None:
        raise SystemExit(f"TrackMate lists ours: {ours_factory is not None}, the peer: {peer_factory is not None}; "
                         f"detector keys: {list(map(str, provider.getVisibleKeys()))}")
    result["detectors"] = {"ours": str(ours_factory.getName()), "peer": str(peer_factory.getName())}
    ours_settings = DetectorSettings(model="CUSTOM", model_path=model_path, diameter=DIAMETER_UM, use_gpu=False)
    def peer_map():
        return peer_settings(peer_factory, args.peer_python, model_path)

    def run(imp, which: str):
        ts = Settings(imp)
        ts.detectorFactory = (ours_factory if which == "ours" else peer_factory).copy()
        ts.detectorSettings = to_java_map(ours_settings) if which == "ours" else peer_map()
        tm = TrackMate(Model(), ts)
        tm.setNumThreads(1)
        ok = tm.execDetection()
        if not ok:
            raise RuntimeError(f"{which}: {tm.getErrorMessage()}")
        return tm.getModel()

    for case in cases:
        axes, _ = CASES[case]
        img = _image(case)
        tif = home / f"{case}.tif"
        tifffile.imwrite(tif, img, imagej=True, resolution=(1 / PX_UM, 1 / PX_UM),
                         metadata={"axes": axes.upper(), "spacing": 2 * PX_UM, "unit": "um", "finterval": 1.0})
        imp = JClass("ij.IJ").openImage(str(tif))
        row: dict[str, Any] = {"shape": list(img.shape), "axes": axes, "load_before": loadavg()}
        which_list = ["ours", "peer"]
        first: dict[str, Any] = {}
        for which in which_list:
            try:
                t = timed(lambda w=which: run(imp, w))
            except Exception as e:  # noqa: BLE001 (the peer refuses 3D: record its message, time ours only)
                row[f"{which}_error"] = f"{type(e).__name__}: {e}"
                _log(f"{case} {which}: {row[f'{which}_error']}")
                continue
            first[which] = t.value
            row[f"{which}_first_call"] = {"wall_s": t.wall, "cpu_s": t.cpu}
        which_list = [w for w in which_list if w in first]
        n_t = img.shape[0] if axes == "tyx" else 1
        yx = img.shape[-2:]
        if axes != "zyx" and len(first) == 2:
            la, lb = _spot_labels(first["ours"], yx, n_t), _spot_labels(first["peer"], yx, n_t)
            m = [_matched_iou(a, b) for a, b in zip(la, lb)]
            row["spots"] = {"ours": sum(x[2] for x in m), "peer": sum(x[3] for x in m),
                            "matched_iou_gt_0.5": sum(x[1] for x in m),
                            "mean_matched_iou": float(np.mean([x[0] for x in m]))}
        else:
            row["spots"] = {w: int(first[w].getSpots().getNSpots(False)) for w in which_list}
        reps = args.reps_large if case == "p1024" else args.reps
        times: dict[str, list] = {w: [] for w in which_list}
        for r in range(reps):
            for which in (which_list if r % 2 == 0 else which_list[::-1]):
                t = timed(lambda w=which: run(imp, w))
                times[which].append(t)
                _log(f"{case} rep {r + 1}/{reps} {which}: wall {t.wall:.2f} s, cpu {t.cpu:.2f} s, load {loadavg()}")
        for w, ts_ in times.items():
            row[f"{w}_wall_s"] = summary([t.wall for t in ts_])
            row[f"{w}_cpu_s"] = summary([t.cpu for t in ts_])
        if len(times) == 2:
            row["peer_over_ours_wall"] = summary([p.wall / o.wall for p, o in zip(times["peer"], times["ours"])])
            row["peer_over_ours_cpu"] = summary([p.cpu / o.cpu for p, o in zip(times["peer"], times["ours"])])
            _log(f"{case}: peer/ours CPU {fmt_s(row['peer_over_ours_cpu'], 'x', 2)}, wall "
                 f"{fmt_s(row['peer_over_ours_wall'], 'x', 2)}; spots {row['spots']}")
        row["load_after"] = loadavg()
        result["cases"][case] = row
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    result["load_at_end"] = loadavg()
    text = json.dumps(result, indent=1, default=str)
    if args.json:
        Path(args.json).write_text(text)
    print(text, flush=True)
    # a non-daemon thread pool left in this JVM (not the glue's) blocks JPype's JVM shutdown: leave at once
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
