"""Costs at the Java boundary: ImgLib2 pixels to numpy and back, and the glue's per-frame copy.

Needs a Fiji (``--fiji`` or ``FIJI_DIR``); each task runs in a fresh process with a plain JPype JVM on the Fiji's
jars (``-Djava.awt.headless=true``, Java preferences and ``user.home`` in a temporary folder). Tasks:

``copy_cost``
    An ImgLib2 ``ArrayImg`` (uint16, X, Y, T) to numpy through its primitive storage array: ``np.asarray`` (a
    zero-copy buffer view) plus one memcpy, the whole movie at once and frame by frame; int32 label frames back into
    new Java ``int[]``; and, as the baseline, ``np.array(java_array)`` without the buffer view.
``request_copy``
    The glue's frame copy as TrackMate's detector runs it: ``ImgPlusDetectionRequest.frame(i)`` for every frame of
    a uint16 X, Y, T movie, then ``np.asarray``, on three ImgLib2 layouts: ``PlanarImg`` (what ImageJ hands
    TrackMate), ``ArrayImg`` and ``CellImg`` (no single storage array: the per-pixel path); ms per frame and whether
    the bulk path ran. ``--glue-jar`` times another build of the glue (e.g. before and after a change).

TrackMate's own ``LabelImageDetector`` (:func:`label_image_detector`) is run from here by the ``geometry`` suite.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._measure import UsageError, log, run_child, summary

NAME = "jvm"
TASKS = ("copy_cost", "request_copy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fiji", default=os.environ.get("FIJI_DIR", ""), help="Fiji.app folder [$FIJI_DIR]")
    parser.add_argument("--tasks", default="copy_cost,request_copy", help=f"subset of {', '.join(TASKS)} "
                                                                          "[%(default)s]")
    parser.add_argument("--frames", type=int, default=100, help="frames of the uint16 movie [%(default)s]")
    parser.add_argument("--size", type=int, default=512, help="frame side in pixels [%(default)s]")
    parser.add_argument("--reps", type=int, default=10, help="repetitions after a warm-up [%(default)s]")
    parser.add_argument("--glue-jar", default="", help="request_copy: the glue jar to time [the glue built for "
                                                       "this Fiji's TrackMate line]")


def fiji_dir(path: str) -> str:
    """Check a Fiji folder given by option or ``FIJI_DIR``."""
    if not path:
        raise UsageError("needs a Fiji: --fiji DIR or FIJI_DIR")
    if not Path(path).is_dir():
        raise UsageError(f"--fiji: {path!r} is not a folder")
    return path


def start_jvm(fiji: str, extra_jars: list[str] | None = None) -> None:
    """A plain JPype JVM with every jar of ``fiji`` (no ImageJ context), preferences in a temporary folder."""
    import jpype

    from trackmate_cellpose.bridge import find_fiji

    home = tempfile.mkdtemp(prefix="tmcp-bench-home-")
    jpype.startJVM("-Djava.awt.headless=true", f"-Duser.home={home}", f"-Djava.util.prefs.userRoot={home}",
                   "-XX:-UsePerfData", "--add-opens=java.base/java.lang=ALL-UNNAMED",
                   classpath=[*(extra_jars or []), *(str(p) for p in find_fiji(fiji).jars)], convertStrings=False)


def label_image_detector(spec: dict[str, Any]) -> dict[str, Any]:
    """TrackMate's ``LabelImageDetector`` on the label images saved as .npy in ``spec["labels"]`` (a child)."""
    start_jvm(spec["fiji"])
    import jpype

    ArrayImgs = jpype.JClass("net.imglib2.img.array.ArrayImgs")  # noqa: N806 (Java classes)
    Detector = jpype.JClass("fiji.plugin.trackmate.detection.LabelImageDetector")  # noqa: N806
    loc = jpype.JClass("fiji.plugin.trackmate.Spot").class_.getProtectionDomain().getCodeSource().getLocation()
    out: dict[str, Any] = {"trackmate_jar": Path(str(loc.getPath())).name}
    for key, path in spec["labels"].items():
        lab = np.load(path).astype(np.int32)
        img = ArrayImgs.ints(jpype.JArray(jpype.JInt)(lab.ravel()), *lab.shape[::-1])  # ImgLib2: x fastest
        cal = jpype.JArray(jpype.JDouble)(spec["calibration"][key])
        secs, cpu, n = [], [], 0
        try:
            for _ in range(int(spec["reps"]) + 1):  # the first run warms the JIT: not recorded
                det = Detector(img, img, cal, True)
                c0, t0 = time.process_time(), time.perf_counter()  # process CPU: every JVM thread
                ok = det.process()
                secs.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                if not ok:
                    raise RuntimeError(str(det.getErrorMessage()))
                n = int(det.getResult().size())
        except Exception as e:  # noqa: BLE001 - record why TrackMate could not run on this Fiji
            out[key] = {"error": f"{type(e).__name__}: {e}"[:400], "shape": list(lab.shape)}
            continue
        out[key] = {"seconds": secs[1:], "cpu_seconds": cpu[1:], "n_spots": n, "shape": list(lab.shape),
                    "note": "TrackMate 7.x: 2D spots carry polygons (SIMPLIFY_CONTOURS=true); 3D spots are spheres "
                            "(no meshes before TrackMate v9)"}
    return out


def copy_cost(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``copy_cost`` task (a child)."""
    start_jvm(spec["fiji"])
    import jpype

    t, y, x = int(spec["frames"]), int(spec["size"]), int(spec["size"])
    ArrayImgs = jpype.JClass("net.imglib2.img.array.ArrayImgs")  # noqa: N806
    movie = np.random.default_rng(0).integers(0, 4000, size=(t, y, x), dtype=np.uint16)
    img = ArrayImgs.unsignedShorts(jpype.JArray(jpype.JShort)(movie.view(np.int16).ravel()), x, y, t)
    whole, per_frame, back, slow = [], [], [], []
    lab = movie[0].astype(np.int32)
    for r in range(int(spec["reps"]) + 1):
        t0 = time.perf_counter()
        storage = img.update(None).getCurrentStorageArray()
        arr = np.asarray(storage).copy().view(np.uint16).reshape(t, y, x)  # buffer view, then one memcpy
        t1 = time.perf_counter()
        if r == 0 and not np.array_equal(arr, movie):
            raise RuntimeError("the copy changed the pixels")
        t2 = time.perf_counter()
        view = np.asarray(img.update(None).getCurrentStorageArray())  # zero-copy view of the Java array
        frames = [view[k * x * y:(k + 1) * x * y].copy().view(np.uint16).reshape(y, x) for k in range(t)]
        t3 = time.perf_counter()
        np.array(storage, copy=True)  # the baseline: no buffer view, an element path
        t4 = time.perf_counter()
        for _ in range(t):
            jpype.JArray(jpype.JInt)(lab.ravel())
        t5 = time.perf_counter()
        del frames
        if r:
            whole.append(t1 - t0)
            per_frame.append(t3 - t2)
            slow.append(t4 - t3)
            back.append(t5 - t4)
    return {"frames": t, "shape_yx": [y, x], "bytes": movie.nbytes, "whole_s": whole, "per_frame_s": per_frame,
            "np_array_of_java_array_s": slow, "labels_back_s": back, "labels_back_bytes": t * lab.nbytes}


def request_copy(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``request_copy`` task (a child)."""
    start_jvm(spec["fiji"], [spec["glue_jar"]])
    import jpype

    t, y, x = int(spec["frames"]), int(spec["size"]), int(spec["size"])
    movie = np.random.default_rng(0).integers(0, 4000, size=(t, y, x), dtype=np.uint16)
    J = {n.rsplit(".", 1)[1]: jpype.JClass(n) for n in (  # noqa: N806
        "net.imglib2.img.array.ArrayImgs", "net.imglib2.img.planar.PlanarImgs", "net.imglib2.img.cell.CellImgFactory",
        "net.imglib2.type.numeric.integer.UnsignedShortType", "net.imglib2.util.ImgUtil", "net.imagej.ImgPlus",
        "net.imagej.axis.Axes", "net.imagej.axis.AxisType", "net.imglib2.util.Intervals",
        "trackmatecellpose.glue.ImgPlusDetectionRequest", "java.util.HashMap")}
    source = J["ArrayImgs"].unsignedShorts(jpype.JArray(jpype.JShort)(movie.view(np.int16).ravel()), x, y, t)
    planar = J["PlanarImgs"].unsignedShorts(x, y, t)
    cell = J["CellImgFactory"](J["UnsignedShortType"](), 64).create(x, y, t)
    out: dict[str, Any] = {"frames": t, "shape_yx": [y, x], "glue_jar": Path(spec["glue_jar"]).name}
    for name, img in (("ArrayImg", source), ("PlanarImg", planar), ("CellImg", cell)):
        if img is not source:  # the same pixels, through ImgLib2's own copy (x fastest)
            J["ImgUtil"].copy(jpype.JArray(jpype.JInt)(movie.astype(np.int32).ravel()), 0,
                              jpype.JArray(jpype.JInt)([1, x, x * y]), img)
        axes = jpype.JArray(J["AxisType"])([J["Axes"].X, J["Axes"].Y, J["Axes"].TIME])
        req = J["ImgPlusDetectionRequest"](J["ImgPlus"](img, "bench", axes),
                                           J["Intervals"].createMinMax(0, 0, 0, x - 1, y - 1, t - 1), J["HashMap"]())
        secs = []
        for r in range(int(spec["reps"]) + 1):
            t0 = time.perf_counter()
            frames = [np.asarray(req.frame(i)) for i in range(t)]
            t1 = time.perf_counter()
            if r == 0 and not np.array_equal(np.stack(frames).view(np.uint16).reshape(t, y, x), movie):
                raise RuntimeError(f"{name}: the copy changed the pixels")
            if r:
                secs.append(t1 - t0)
        bulk = bool(req.copiesInBulk()) if hasattr(req, "copiesInBulk") else None
        out[name] = {"ms_per_frame": [1000 * s / t for s in secs], "bulk": bulk}
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    fiji = fiji_dir(args.fiji)
    tasks = [t for t in args.tasks.split(",") if t]
    if not tasks or set(tasks) - set(TASKS):
        raise UsageError(f"--tasks: expected a subset of {', '.join(TASKS)}, got {args.tasks!r}")
    spec = {"fiji": fiji, "frames": args.frames, "size": args.size, "reps": args.reps}
    out: dict[str, Any] = {"fiji": fiji}
    if "copy_cost" in tasks:
        log(f"copy_cost: {args.frames} x {args.size}^2 uint16")
        cc = run_child(copy_cost, spec, timeout=1800)
        gb = cc["bytes"] / 1e9
        w, f, b = summary(cc["whole_s"]), summary(cc["per_frame_s"]), summary(cc["labels_back_s"])
        s = summary(cc["np_array_of_java_array_s"])
        cc.update(whole_gb_per_s=gb / w["median"], whole_frames_per_s=cc["frames"] / w["median"],
                  per_frame_gb_per_s=gb / f["median"], per_frame_frames_per_s=cc["frames"] / f["median"],
                  np_array_gb_per_s=gb / s["median"], labels_back_gb_per_s=cc["labels_back_bytes"] / 1e9 / b["median"],
                  summary_s={"whole": w, "per_frame": f, "labels_back": b, "np_array_of_java_array": s})
        out["copy_cost"] = cc
        args.checkpoint(out)
    if "request_copy" in tasks:
        from trackmate_cellpose.bridge import build_glue, find_fiji

        jar = args.glue_jar or str(build_glue(find_fiji(fiji), log=log))
        log(f"request_copy: {args.frames} x {args.size}^2 uint16, {Path(jar).name}")
        rc = run_child(request_copy, {**spec, "glue_jar": jar}, timeout=1800)
        for layout in ("ArrayImg", "PlanarImg", "CellImg"):
            rc[layout]["ms_per_frame_summary"] = summary(rc[layout]["ms_per_frame"])
        out["request_copy"] = rc
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = []
    cc = results.get("copy_cost")
    if cc:
        s = cc["summary_s"]
        lines.append(f"ImgLib2 `ArrayImg` (uint16, {cc['frames']} x {cc['shape_yx'][0]}²) -> numpy: whole movie "
                     f"{s['whole']['median']:.4f} s = **{cc['whole_gb_per_s']:.2f} GB/s**; frame by frame "
                     f"{cc['per_frame_gb_per_s']:.2f} GB/s; `np.array(java_array)` {cc['np_array_gb_per_s']:.2f} "
                     f"GB/s; int32 labels numpy -> Java `int[]` {cc['labels_back_gb_per_s']:.2f} GB/s.")
    rc = results.get("request_copy")
    if rc:
        lines += ["", f"| layout ({rc['glue_jar']}) | ms per frame | bulk path |", "|---|---|---|"]
        for layout in ("PlanarImg", "ArrayImg", "CellImg"):
            m = rc[layout]["ms_per_frame_summary"]
            lines.append(f"| {layout} | {m['median']:.2f} ({m['min']:.2f}-{m['max']:.2f}) | {rc[layout]['bulk']} |")
    return "\n".join(lines)
