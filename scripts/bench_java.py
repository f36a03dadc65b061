"""JVM parts of scripts/bench.py, run in a subprocess (JPype starts one JVM per process and cannot restart it).

Usage (by bench.py): ``python scripts/bench_java.py TASK ARGS.json`` prints one JSON line on stdout.

Tasks
-----
``label_image_detector``
    TrackMate's own ``LabelImageDetector`` (the label image -> spots step that TrackMate-Cellpose runs on the
    cellpose masks) on the label images saved by B3, timed over ``reps`` runs.
``copy_cost``
    Bridge copy cost: an ImgLib2 ``ArrayImg`` (uint16, X, Y, T) -> its primitive storage array -> ``np.asarray``
    (a zero-copy buffer view) -> one memcpy, the whole movie at once and frame by frame; numpy -> Java the other
    way (label images back); and, for the record, ``np.array(java_array)`` without the buffer view.

``request_copy``
    The glue's frame copy as TrackMate's detector runs it: ``ImgPlusDetectionRequest.frame(i)`` (Java) for every
    frame of a uint16 X, Y, T movie (``size`` x ``size`` x ``frames``, the crop is the whole image), then
    ``np.asarray`` of the returned array, on three ImgLib2 layouts: ``PlanarImg`` (what ImageJ hands TrackMate),
    ``ArrayImg``, and ``CellImg`` (no single storage array: the per-pixel path). ``glue_jar`` names the glue jar to
    time (e.g. one built before and one after a change). Reports ms per frame and whether the bulk path was taken.

The JVM gets every jar of ``FIJI_DIR`` (jars/ recursively, plugins/) and ``-Djava.awt.headless=true``; Java
preferences and ``user.home`` go to a temporary folder.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _start_jvm(fiji: str, extra: list[str] | None = None) -> None:
    import jpype

    from trackmate_cellpose.bridge._fiji import find_fiji

    inst = find_fiji(fiji)
    home = tempfile.mkdtemp(prefix="tmcp_bench_home_")
    jpype.startJVM("-Djava.awt.headless=true", f"-Duser.home={home}", f"-Djava.util.prefs.userRoot={home}",
                   "-XX:-UsePerfData", "--add-opens=java.base/java.lang=ALL-UNNAMED",
                   classpath=[*(extra or []), *(str(p) for p in inst.jars)], convertStrings=False)


def label_image_detector(args: dict) -> dict:
    import jpype

    ArrayImgs = jpype.JClass("net.imglib2.img.array.ArrayImgs")
    Detector = jpype.JClass("fiji.plugin.trackmate.detection.LabelImageDetector")
    loc = jpype.JClass("fiji.plugin.trackmate.Spot").class_.getProtectionDomain().getCodeSource().getLocation()
    out: dict = {"trackmate_jar": Path(str(loc.getPath())).name}
    for key, path in args["labels"].items():
        lab = np.load(path).astype(np.int32)
        dims = list(lab.shape[::-1])  # ImgLib2 is x-fastest: numpy C order (.., y, x) -> dims (x, y, ..)
        img = ArrayImgs.ints(jpype.JArray(jpype.JInt)(lab.ravel()), *dims)
        cal = jpype.JArray(jpype.JDouble)(args["calibration"][key])
        secs, cpu, n = [], [], 0
        try:
            for _ in range(int(args["reps"]) + 1):  # first run = JIT warm-up, not recorded
                det = Detector(img, img, cal, True)
                c0, t0 = time.process_time(), time.perf_counter()  # process CPU: every JVM thread included
                ok = det.process()
                t1, c1 = time.perf_counter(), time.process_time()
                cpu.append(c1 - c0)
                if not ok:
                    raise RuntimeError(str(det.getErrorMessage()))
                n = int(det.getResult().size())
                secs.append(t1 - t0)
        except Exception as e:  # noqa: BLE001 - record why TrackMate could not run on this Fiji
            out[key] = {"error": f"{type(e).__name__}: {e}"[:400], "shape": list(lab.shape)}
            continue
        out[key] = {"seconds": secs[1:], "cpu_seconds": cpu[1:], "n_spots": n, "shape": list(lab.shape),
                    "note": "TrackMate 7.x: 2D spots carry polygons (SIMPLIFY_CONTOURS=true); 3D spots are spheres "
                            "(no meshes before TrackMate v9)"}
    return out


def copy_cost(args: dict) -> dict:
    import jpype

    t, y, x = int(args["frames"]), int(args["size"]), int(args["size"])
    ArrayImgs = jpype.JClass("net.imglib2.img.array.ArrayImgs")
    rng = np.random.default_rng(0)
    movie = rng.integers(0, 4000, size=(t, y, x), dtype=np.uint16)
    img = ArrayImgs.unsignedShorts(jpype.JArray(jpype.JShort)(movie.view(np.int16).ravel()), x, y, t)
    reps = int(args["reps"])
    nbytes = movie.nbytes
    whole, per_frame, back, slow = [], [], [], []
    for r in range(reps + 1):
        # whole movie: ImgLib2 ArrayImg -> short[] -> numpy (one bulk copy, then a reshape view)
        t0 = time.perf_counter()
        storage = img.update(None).getCurrentStorageArray()
        arr = np.asarray(storage).copy().view(np.uint16).reshape(t, y, x)  # buffer protocol view, then one memcpy
        t1 = time.perf_counter()
        if r == 0:
            assert np.array_equal(arr, movie), "copy changed the pixels"
        # frame by frame: slice of the storage array (TrackMate hands detectors one frame at a time)
        frames = []
        t2 = time.perf_counter()
        storage = img.update(None).getCurrentStorageArray()
        view = np.asarray(storage)  # zero-copy view of the Java array
        for k in range(t):
            frames.append(view[k * x * y:(k + 1) * x * y].copy().view(np.uint16).reshape(y, x))
        t3 = time.perf_counter()
        # for the record: np.array(java_array) without the buffer view takes a much slower element path
        t6 = time.perf_counter()
        np.array(storage, copy=True)
        t7 = time.perf_counter()
        # numpy -> Java: one int32 label frame per time point into a new int[] (what spot creation needs)
        lab = movie[0].astype(np.int32)
        t4 = time.perf_counter()
        for _ in range(t):
            jpype.JArray(jpype.JInt)(lab.ravel())
        t5 = time.perf_counter()
        if r:
            whole.append(t1 - t0)
            per_frame.append(t3 - t2)
            back.append(t5 - t4)
            slow.append(t7 - t6)
    return {"np_array_of_java_array_s": slow, "frames": t, "shape_yx": [y, x], "bytes": nbytes, "whole_s": whole,
            "per_frame_s": per_frame, "labels_back_s": back, "labels_back_bytes": t * lab.nbytes}


def request_copy(args: dict) -> dict:
    import jpype

    t, y, x = int(args["frames"]), int(args["size"]), int(args["size"])
    reps = int(args["reps"])
    rng = np.random.default_rng(0)
    movie = rng.integers(0, 4000, size=(t, y, x), dtype=np.uint16)
    flat = jpype.JArray(jpype.JShort)(movie.view(np.int16).ravel())
    ArrayImgs = jpype.JClass("net.imglib2.img.array.ArrayImgs")
    PlanarImgs = jpype.JClass("net.imglib2.img.planar.PlanarImgs")
    CellImgFactory = jpype.JClass("net.imglib2.img.cell.CellImgFactory")
    UnsignedShortType = jpype.JClass("net.imglib2.type.numeric.integer.UnsignedShortType")
    ImgUtil = jpype.JClass("net.imglib2.util.ImgUtil")
    ImgPlus = jpype.JClass("net.imagej.ImgPlus")
    Axes = jpype.JClass("net.imagej.axis.Axes")
    AxisType = jpype.JClass("net.imagej.axis.AxisType")
    Intervals = jpype.JClass("net.imglib2.util.Intervals")
    Request = jpype.JClass("trackmatecellpose.glue.ImgPlusDetectionRequest")
    HashMap = jpype.JClass("java.util.HashMap")
    source = ArrayImgs.unsignedShorts(flat, x, y, t)
    planar = PlanarImgs.unsignedShorts(x, y, t)
    cell = CellImgFactory(UnsignedShortType(), 64).create(x, y, t)
    out: dict = {"frames": t, "shape_yx": [y, x], "glue_jar": Path(args["glue_jar"]).name}
    for name, img in (("ArrayImg", source), ("PlanarImg", planar), ("CellImg", cell)):
        if img is not source:  # the same pixels, through ImgLib2's own copy (x fastest)
            ImgUtil.copy(jpype.JArray(jpype.JInt)(movie.astype(np.int32).ravel()), 0,
                         jpype.JArray(jpype.JInt)([1, x, x * y]), img)
        axes = jpype.JArray(AxisType)([Axes.X, Axes.Y, Axes.TIME])
        imp = ImgPlus(img, "bench", axes)
        req = Request(imp, Intervals.createMinMax(0, 0, 0, x - 1, y - 1, t - 1), HashMap())
        secs = []
        for r in range(reps + 1):
            t0 = time.perf_counter()
            frames = [np.asarray(req.frame(i)) for i in range(t)]
            t1 = time.perf_counter()
            if r == 0:
                got = np.stack(frames).view(np.uint16).reshape(t, y, x)
                assert np.array_equal(got, movie), f"{name}: the copy changed the pixels"
            else:
                secs.append(t1 - t0)
        bulk = bool(req.copiesInBulk()) if hasattr(req, "copiesInBulk") else None
        out[name] = {"ms_per_frame": [1000 * s_ / t for s_ in secs], "bulk": bulk}
    return out


def main() -> int:
    task, args_path = sys.argv[1], sys.argv[2]
    args = json.loads(Path(args_path).read_text())
    _start_jvm(os.environ["FIJI_DIR"], [args["glue_jar"]] if "glue_jar" in args else None)
    fn = {"label_image_detector": label_image_detector, "copy_cost": copy_cost, "request_copy": request_copy}[task]
    print(json.dumps(fn(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
