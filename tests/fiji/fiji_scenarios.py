"""Scenarios run against a real Fiji/TrackMate in ONE subprocess (JPype starts one JVM per process).

Usage: ``python fiji_scenarios.py OUT.json WORKDIR SCENARIO...`` with ``FIJI_DIR`` set. Each scenario records plain
facts (counts, distances, messages, timings) in OUT.json; the pytest functions in ``test_fiji_trackmate.py`` assert
on them. A failing scenario records its traceback and the others still run.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from trackmate_cellpose import DetectorSettings, RuntimeOptions, sample_path, test_model_path
from trackmate_cellpose.bridge import TrackMateError, run_trackmate, start_fiji
from trackmate_cellpose.bridge._jvm import jvm_options_for_tests
from trackmate_cellpose.bridge._headless import open_image, to_java_map
from trackmate_cellpose.bridge._service import set_detect_function, set_runtime_options
from trackmate_cellpose.errors import Cancelled
from trackmate_cellpose.tracking import OverlapTrackerSettings

from _shapes import Shapes  # test support next to this script

# the test model of the installed cellpose (tests/conftest.py sets TMCP_TEST_MODEL)
SETTINGS = DetectorSettings(model="CUSTOM", model_path=os.environ.get("TMCP_TEST_MODEL") or str(test_model_path()),
                            diameter=10.0, use_gpu=False)
KEY = "CELLPOSE_ADVANCED_PY_DETECTOR"


def _jc(name):
    from jpype import JClass

    return JClass(name)


def _spots(model, frame=None, visible=True):
    sc = model.getSpots()
    it = sc.iterable(visible) if frame is None else sc.iterable(int(frame), visible)
    return list(it)


def _gt_hit_fraction(spots, gt_tyx, cal_xy):
    hits = 0
    for s in spots:
        f = int(s.getFeature("FRAME"))
        x = int(round(float(s.getFeature("POSITION_X")) / cal_xy))
        y = int(round(float(s.getFeature("POSITION_Y")) / cal_xy))
        if 0 <= y < gt_tyx.shape[1] and 0 <= x < gt_tyx.shape[2] and gt_tyx[f, y, x] > 0:
            hits += 1
    return hits / max(1, len(spots))


def _read_gt(name):
    import tifffile

    return tifffile.imread(sample_path(name, ground_truth=True))


def sc_provider(work: Path, ctx: dict) -> dict:
    DP = _jc("fiji.plugin.trackmate.providers.DetectorProvider")
    prov = DP()
    keys = [str(k) for k in prov.getVisibleKeys()]
    fac = prov.getFactory(KEY)
    System = _jc("java.lang.System")
    return {"visible_keys": keys, "name": str(fac.getName()) if fac else None,
            "default_keys": sorted(str(k) for k in fac.getDefaultSettings().keySet()) if fac else [],
            "line": ctx["session"].line, "trackmate_version": ctx["session"].fiji.trackmate_version,
            "java_version": str(System.getProperty("java.version")), "java_home": str(System.getProperty("java.home")),
            "timings": ctx["session"].timings}


def sc_headless_2dt(work: Path, ctx: dict) -> dict:
    out = work / "run_2dt.xml"
    t0 = time.perf_counter()
    run = run_trackmate(sample_path("2dt"), SETTINGS, output=out, t_range=(0, 2), tracker="overlap",
                        tracker_settings=OverlapTrackerSettings(min_iou=0.25))
    wall = time.perf_counter() - t0
    spots = _spots(run.model)
    gt = _read_gt("2dt")
    shapes = ctx["shapes"]
    rois_ok = all(shapes.kind(s) == "roi" and len(shapes.roi_relative(s)[0]) >= 3 for s in spots)
    edges = int(run.model.getTrackModel().edgeSet().size())
    # Read back with TrackMate's own reader.
    reader = _jc("fiji.plugin.trackmate.io.TmXmlReader")(_jc("java.io.File")(str(out)))
    rmodel = reader.getModel()
    ok = bool(reader.isReadingOk())
    imp = open_image(sample_path("2dt"))
    rsettings = reader.readSettings(imp)
    rspots = _spots(rmodel)
    written = {str(k): str(v) for k, v in run.settings.detectorSettings.items()}
    read = {str(k): str(v) for k, v in rsettings.detectorSettings.items()} if rsettings is not None else {}
    ctx["per_frame_s"] = run.timings["trackmate"] / 3
    return {"per_frame": {str(k): v for k, v in run.spots_per_frame.items()}, "n_spots": run.n_spots,
            "n_tracks": run.n_tracks, "n_edges": edges, "rois_ok": rois_ok,
            "frames_ok": all(int(s.getFeature("FRAME")) in (0, 1, 2) for s in spots),
            "gt_hit_fraction": _gt_hit_fraction(spots, gt, 0.5), "xml_exists": out.is_file(),
            "reader_ok": ok, "reader_error": str(reader.getErrorMessage() or ""),
            "read_n_spots": len(rspots), "read_n_tracks": int(rmodel.getTrackModel().nTracks(True)),
            "read_rois_ok": all(shapes.kind(s) == "roi" for s in rspots),
            "read_detector_key": str(rsettings.detectorFactory.getKey()) if rsettings is not None
            and rsettings.detectorFactory is not None else None,
            "settings_roundtrip": written == read, "written": written, "read": read,
            "space_units": str(rmodel.getSpaceUnits()), "seconds": wall, "trackmate_seconds": run.timings["trackmate"],
            "batch_timings": [ln.strip() for ln in run.log.splitlines() if "image transfer" in ln],
            "mode_lines": [ln.strip() for ln in run.log.splitlines() if "Cellpose advanced (Python): in-process" in ln],
            "pid": os.getpid()}


def sc_preview(work: Path, ctx: dict) -> dict:
    # What TrackMate's DetectionPreview does on the Preview button: a one-frame Settings copy, execDetection().
    Settings, TrackMate, Model = (_jc(f"fiji.plugin.trackmate.{c}") for c in ("Settings", "TrackMate", "Model"))
    imp = open_image(sample_path("2dt"))
    s = Settings(imp)
    s.tstart = s.tend = 5
    s.detectorFactory = _jc("fiji.plugin.trackmate.providers.DetectorProvider")().getFactory(KEY).copy()
    s.detectorSettings = to_java_map(SETTINGS)
    tm = TrackMate(Model(), s)
    t0 = time.perf_counter()
    ok = bool(tm.execDetection())
    secs = time.perf_counter() - t0
    frames = sorted(int(f) for f in tm.getModel().getSpots().keySet())
    n = int(tm.getModel().getSpots().getNSpots(5, False))
    return {"ok": ok, "error": str(tm.getErrorMessage() or ""), "frames": frames, "n_spots_frame5": n,
            "seconds": secs}


def sc_crop_trange(work: Path, ctx: dict) -> dict:
    roi = (40, 30, 64, 64)
    run = run_trackmate(sample_path("2dt"), SETTINGS, t_range=(4, 5), roi=roi, tracker="overlap")
    spots = _spots(run.model)
    x0, y0, w, h = (v * 0.5 for v in roi)
    inside = all(x0 - 0.25 <= float(s.getFeature("POSITION_X")) <= x0 + w + 0.25
                 and y0 - 0.25 <= float(s.getFeature("POSITION_Y")) <= y0 + h + 0.25 for s in spots)
    return {"per_frame": {str(k): v for k, v in run.spots_per_frame.items()}, "n_spots": run.n_spots,
            "inside": inside, "gt_hit_fraction": _gt_hit_fraction(spots, _read_gt("2dt"), 0.5)}


def sc_error_then_ok(work: Path, ctx: dict) -> dict:
    bad = SETTINGS.replace(model_path=str(work / "no-such-model.pth"))
    res: dict = {}
    try:
        run_trackmate(sample_path("2dt"), bad, t_range=(0, 0), tracker="none")
        res["raised"] = None
    except TrackMateError as e:
        res.update(raised="TrackMateError", message=str(e), log_has_traceback="Traceback" in e.log)
    except Exception as e:  # noqa: BLE001
        res.update(raised=type(e).__name__, message=str(e))
    run = run_trackmate(sample_path("2dt"), SETTINGS, t_range=(1, 1), tracker="none")
    res["next_run_spots"] = run.n_spots
    return res


def _outcome(run) -> dict:
    """How a run that may be cancelled ended: ``outcome`` (finished, Cancelled or the error's type) and its message."""
    try:
        run()
        return {"outcome": "finished"}
    except Cancelled as e:
        return {"outcome": "Cancelled", "message": str(e)}
    except Exception as e:  # noqa: BLE001
        return {"outcome": type(e).__name__, "message": str(e)}


def sc_cancel(work: Path, ctx: dict) -> dict:
    """Cancel through TrackMate's own cancel right after the first one-frame batch has been segmented."""
    from trackmate_cellpose import detect

    set_runtime_options(RuntimeOptions(frames_per_batch=1))
    ev = threading.Event()
    box: dict = {"batches": 0}

    def detect_then_cancel(*args, **kwargs):
        result = detect(*args, **kwargs)
        box["batches"] += 1
        if not ev.is_set():
            box["t_cancel"] = time.perf_counter()
            ev.set()
        return result

    set_detect_function(detect_then_cancel)
    t0 = time.perf_counter()
    try:
        box.update(_outcome(lambda: run_trackmate(sample_path("2dt"), SETTINGS, tracker="none", cancel=ev)))
    finally:
        set_detect_function(None)
        set_runtime_options(RuntimeOptions())
    end = time.perf_counter()
    after = run_trackmate(sample_path("2dt"), SETTINGS, t_range=(2, 2), tracker="none")
    return {**box, "latency_s": end - box.get("t_cancel", t0), "per_batch_s": (box.get("t_cancel", end) - t0),
            "after_cancel_spots": after.n_spots}


def sc_cancel_3d(work: Path, ctx: dict) -> dict:
    """TrackMate's cancel while cellpose computes the masks of one 3D time point (2D+Z), the stage a Preview of a large
    stack spends minutes in without asking anything: here it is made a minute long with its own real work (#25 item 3).
    The cancel must stop it within seconds, and nothing stays armed or running."""
    from cellpose import dynamics
    from trackmate_cellpose import _cancel

    real = dynamics.compute_masks
    ev = threading.Event()
    box: dict = {}

    def stage(*args, **kwargs):
        if not ev.is_set():
            box["t_cancel"] = time.perf_counter()
            ev.set()
        end = time.monotonic() + 60
        out = real(*args, **kwargs)
        while time.monotonic() < end:
            out = real(*args, **kwargs)
        return out

    dynamics.compute_masks = stage
    try:
        box.update(_outcome(lambda: run_trackmate(sample_path("3dt"), SETTINGS.replace(do_2dz=True), t_range=(0, 0),
                                                  tracker="none", cancel=ev)))
    finally:
        dynamics.compute_masks = real
    end = time.perf_counter()
    armed = len(_cancel._active)
    after = run_trackmate(sample_path("2dt"), SETTINGS, t_range=(2, 2), tracker="none")
    return {**box, "latency_s": end - box.get("t_cancel", end), "armed_after": armed,
            "after_cancel_spots": after.n_spots}


def sc_truncated(work: Path, ctx: dict) -> dict:
    """The first half of a 3-frame ImageJ hyperstack given to TrackMate through this package (#25 items 1 and 7):
    refused naming the file, nothing saved, and the next run works."""
    import tifffile

    from trackmate_cellpose.errors import InvalidImageError

    whole = work / "whole.tif"
    tifffile.imwrite(whole, tifffile.imread(sample_path("2dt"))[:3], imagej=True, metadata={"axes": "TYX"})
    cut = work / "trunc.tif"
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    out = work / "trunc.xml"
    res: dict = {}
    try:
        run_trackmate(cut, SETTINGS, tracker="none", output=out)
        res["raised"] = None
    except InvalidImageError as e:
        res.update(raised="InvalidImageError", message=str(e))
    except Exception as e:  # noqa: BLE001
        res.update(raised=type(e).__name__, message=str(e))
    res["saved"] = out.exists()
    res["next_run_spots"] = run_trackmate(whole, SETTINGS, t_range=(0, 0), tracker="none").n_spots
    return res


def sc_disk_full(work: Path, ctx: dict) -> dict:
    """TrackMate's XML saved onto a full disk (a real tmpfs, mounted here as root; #25 items 4 and 7): our error
    naming the file and the folder, no partial XML or staging folder left, and the next run works."""
    import shutil
    import subprocess

    from trackmate_cellpose.errors import DiskFullError

    disk = work / "disk"
    disk.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=262144", "tmpfs", str(disk)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        return {"skipped": f"cannot mount a tmpfs here: {proc.stderr.strip()}"}
    res: dict = {}
    try:
        with open(disk / "filler.bin", "wb") as f:
            f.write(b"\0" * max(0, shutil.disk_usage(disk).free - 8192))
        try:
            run_trackmate(sample_path("2dt"), SETTINGS, t_range=(0, 1), tracker="none", output=disk / "run.xml")
            res["raised"] = None
        except DiskFullError as e:
            res.update(raised="DiskFullError", message=str(e), path=str(e.path), folder=str(e.folder))
        except Exception as e:  # noqa: BLE001
            res.update(raised=type(e).__name__, message=str(e))
        res["left"] = sorted(p.name for p in disk.iterdir())
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    res["next_run_spots"] = run_trackmate(sample_path("2dt"), SETTINGS, t_range=(0, 0), tracker="none").n_spots
    return res


def _label_parity(work: Path, ctx: dict, simplify: bool) -> dict:
    """Our polygons (geometry via the whole glue) vs TrackMate's LabelImageDetector on the same label image."""
    from trackmate_cellpose.axes import to_tczyx
    from trackmate_cellpose.geometry import labels_to_detections
    from trackmate_cellpose.results import DetectionResult, FrameResult

    def fake_detect(image, settings, *, axes, calibration, runtime, origin_xyz, frame_offset, **_hooks):
        arr, cal = to_tczyx(image, axes, calibration)
        out = []
        for i in range(arr.shape[0]):
            lab = arr[i, 0, 0].astype(np.int32)
            dets = labels_to_detections(lab, frame=frame_offset + i, calibration=cal, origin_xyz=origin_xyz,
                                        simplify=settings.simplify_contours)
            out.append(FrameResult(frame=frame_offset + i, labels=lab, detections=dets))
        return DetectionResult(frames=out, calibration=cal, is_3d=False)

    Settings, TrackMate, Model = (_jc(f"fiji.plugin.trackmate.{c}") for c in ("Settings", "TrackMate", "Model"))
    labels_path = sample_path("2dt", ground_truth=True)

    def run_with(factory_key, dmap):
        imp = open_image(labels_path)
        s = Settings(imp)
        s.tstart, s.tend = 0, 2
        s.detectorFactory = _jc("fiji.plugin.trackmate.providers.DetectorProvider")().getFactory(factory_key)
        s.detectorSettings = dmap
        tm = TrackMate(Model(), s)
        assert tm.execDetection(), str(tm.getErrorMessage())
        return tm.getModel()

    lab_map = _jc("java.util.HashMap")()
    lab_map.put("TARGET_CHANNEL", _jc("java.lang.Integer")(1))
    lab_map.put("SIMPLIFY_CONTOURS", _jc("java.lang.Boolean")(simplify))
    if ctx["session"].line == "tm9":  # v9's label-image detector reads SMOOTHING_SCALE (absent from its defaults)
        lab_map.put("SMOOTHING_SCALE", _jc("java.lang.Double")(-1.0))
    theirs = run_with("LABEL_IMAGE_DETECTOR", lab_map)
    set_detect_function(fake_detect)
    try:
        ours = run_with(KEY, to_java_map(SETTINGS.replace(simplify_contours=simplify)))
    finally:
        set_detect_function(None)
    cal = 0.5
    max_d, max_area, n_theirs, n_ours, unmatched = 0.0, 0.0, 0, 0, 0
    pairs = []
    shapes = ctx["shapes"]
    for f in range(3):
        a = [(float(s.getFeature("POSITION_X")), float(s.getFeature("POSITION_Y")), shapes.roi_area(s))
             for s in _spots(theirs, f, False)]
        b = [(float(s.getFeature("POSITION_X")), float(s.getFeature("POSITION_Y")), shapes.roi_area(s))
             for s in _spots(ours, f, False)]
        n_theirs += len(a)
        n_ours += len(b)
        for x, y, area in a:
            if not b:
                unmatched += 1
                continue
            d = [math.hypot(x - bx, y - by) for bx, by, _ in b]
            j = int(np.argmin(d))
            if d[j] / cal > 2.0:
                unmatched += 1
                continue
            max_d = max(max_d, d[j] / cal)
            max_area = max(max_area, abs(b[j][2] - area) / area)
            pairs.append({"frame": f, "x": x, "y": y, "area_theirs": area, "area_ours": b[j][2], "d_px": d[j] / cal})
    pairs.sort(key=lambda p: -abs(p["area_ours"] - p["area_theirs"]) / p["area_theirs"])
    return {"n_theirs": n_theirs, "n_ours": n_ours, "unmatched": unmatched, "max_centroid_px": max_d,
            "max_area_rel": max_area, "worst": pairs[:6]}


def sc_label_parity(work: Path, ctx: dict) -> dict:
    return _label_parity(work, ctx, simplify=False)


def sc_label_parity_simplified(work: Path, ctx: dict) -> dict:
    return _label_parity(work, ctx, simplify=True)


def sc_shapes_3d(work: Path, ctx: dict) -> dict:
    """A 3D+t image: spheres of equal volume on 7.x/8.x, SpotMesh on v9 (with TrackMate's .meshes file)."""
    out = work / "run_3dt.xml"
    # 2D+Z mode keeps this CPU test short (full 3D cellpose takes minutes on a small CPU); spots are 3D either way.
    run = run_trackmate(sample_path("3dt"), SETTINGS.replace(do_2dz=True), t_range=(0, 0), tracker="none", output=out)
    shapes = ctx["shapes"]
    spots = [shapes.describe(s) for s in _spots(run.model)]
    meshes_file = Path(str(out) + ".meshes")
    res = {"n_spots": run.n_spots, "kinds": sorted({s["kind"] for s in spots}), "spots": spots[:50],
           "radii_positive": all(s["radius"] > 0 for s in spots),
           "z_range": [min((s["z"] for s in spots), default=None), max((s["z"] for s in spots), default=None)],
           "note_logged": "Meshes need TrackMate v9" in run.log, "xml_exists": out.is_file(),
           "meshes_file": meshes_file.is_file(), "seconds": run.timings["trackmate"]}
    if out.is_file():  # TrackMate's reader gives back the same shapes
        reader = _jc("fiji.plugin.trackmate.io.TmXmlReader")(_jc("java.io.File")(str(out)))
        res["read_kinds"] = sorted({shapes.kind(s) for s in _spots(reader.getModel())})
        res["read_ok"] = bool(reader.isReadingOk())
    if ctx["session"].line == "tm9":  # v9's own "Smooth 3D meshes" action works on our meshes
        res["smoother"] = _smooth_meshes([s for s in _spots(run.model) if shapes.kind(s) == "mesh"])
    return res


def _imp_of(path: Path, bits: int):
    """The sample at ``path`` as an 8-bit or 32-bit ImageJ hyperstack (1 channel, Z, T), built plane by plane."""
    import tifffile
    from jpype import JArray, JByte, JFloat

    arr = tifffile.imread(path)
    arr = arr[:, None] if arr.ndim == 3 else arr  # (T, Z, Y, X)
    t, z, h, w = arr.shape
    stack = _jc("ij.ImageStack")(w, h)
    for ti in range(t):
        for zi in range(z):
            plane = arr[ti, zi].ravel()
            proc = (_jc("ij.process.ByteProcessor")(w, h, JArray(JByte)((plane % 256).astype(np.uint8).view(np.int8)))
                    if bits == 8 else _jc("ij.process.FloatProcessor")(w, h, JArray(JFloat)(plane.astype(np.float32))))
            stack.addSlice(proc)
    imp = _jc("ij.ImagePlus")(f"{path.stem}_{bits}bit", stack)
    imp.setDimensions(1, z, t)
    imp.setOpenAsHyperStack(True)
    return imp


def sc_frame_copy(work: Path, ctx: dict) -> dict:
    """The glue's frame copy (``ImgPlusDetectionRequest.frame``) on TrackMate's own view of ImageJ images
    (``TMUtils.rawWraps``, as its detectors get them), against the ImagePlus's own pixel arrays: 8, 16 and 32 bit,
    2D+t and 3D+t, a crop in X, Y (Z) and T. Records whether the bulk path was taken, and the same request over an
    ``ImgView`` of the image (no storage arrays: the per-pixel path)."""
    TMUtils = _jc("fiji.plugin.trackmate.util.TMUtils")
    Request = _jc("trackmatecellpose.glue.ImgPlusDetectionRequest")
    Intervals = _jc("net.imglib2.util.Intervals")
    ImgView = _jc("net.imglib2.img.ImgView")
    ImgPlus = _jc("net.imagej.ImgPlus")
    AxisType = _jc("net.imagej.axis.AxisType")
    from jpype import JArray

    out: dict = {}
    for name, crop in (("2dt", {"x": (10, 73), "y": (5, 60), "t": (1, 2)}),
                       ("3dt", {"x": (7, 50), "y": (3, 40), "z": (2, 6), "t": (1, 2)})):
        for bits in (8, 16, 32):
            imp = open_image(sample_path(name)) if bits == 16 else _imp_of(sample_path(name), bits)
            imgplus = TMUtils.rawWraps(imp)
            keys = ["x", "y"] + (["z"] if "z" in crop else []) + ["t"]
            lo = [crop[k][0] for k in keys]
            hi = [crop[k][1] for k in keys]
            interval = Intervals.createMinMax(*lo, *hi)
            axes = JArray(AxisType)([imgplus.axis(d).type() for d in range(imgplus.numDimensions())])
            raw = imgplus.getImg()  # an Img is its own ImgView: wrap a View of it to lose the storage arrays
            viewed = ImgPlus(ImgView.wrap(_jc("net.imglib2.view.Views").interval(raw, raw), None), "view", axes)
            for path, img in (("storage", imgplus), ("view", viewed)):
                req = Request(img, interval, _jc("java.util.HashMap")())
                dtype = np.dtype(str(req.dtype()))
                c, z, y, x = (int(v) for v in req.frameShapeCZYX())
                equal = int(req.nFrames()) == crop["t"][1] - crop["t"][0] + 1
                for i in range(int(req.nFrames())):
                    got = np.asarray(req.frame(i)).view(dtype).reshape(c, z, y, x)
                    t = crop["t"][0] + i
                    for zi in range(z):
                        zz = (crop["z"][0] + zi) if "z" in crop else 0
                        plane = np.asarray(imp.getStack().getPixels(imp.getStackIndex(1, zz + 1, t + 1)))
                        plane = plane.view(dtype).reshape(imp.getHeight(), imp.getWidth())
                        want = plane[crop["y"][0]:crop["y"][1] + 1, crop["x"][0]:crop["x"][1] + 1]
                        equal = equal and np.array_equal(got[0, zi], want)
                out[f"{name}_{bits}bit_{path}"] = {"bulk": bool(req.copiesInBulk()), "equal": bool(equal),
                                                   "dtype": str(dtype), "img": str(img.getImg().getClass().getName())}
    return out


def _smooth_meshes(spots: list) -> dict:
    """Run v9's MeshSmoother (Taubin smoothing, 10 iterations) on SpotMesh spots; how far did the vertices move?"""
    def vertices(spot):
        v = spot.getMesh().vertices()
        return np.array([[v.x(i), v.y(i), v.z(i)] for i in range(v.size())]) + [spot.getDoublePosition(d)
                                                                               for d in range(3)]

    before = [vertices(s) for s in spots]
    model = _jc("fiji.plugin.trackmate.action.meshtools.MeshSmootherModel")()
    model.setNIters(10)
    smoother = _jc("fiji.plugin.trackmate.action.meshtools.MeshSmoother")(_jc("fiji.plugin.trackmate.Logger").VOID_LOGGER)
    smoothed = smoother.smooth(model, _jc("java.util.ArrayList")(spots))
    moved = [float(np.abs(vertices(s) - b).max()) if len(b) == len(vertices(s)) else float("inf")
             for s, b in zip(spots, before)]
    return {"n_meshes": len(spots), "n_smoothed": int(smoothed.size()), "max_moved": max(moved, default=0.0),
            "min_moved": min(moved, default=0.0), "volumes_positive": all(float(s.volume()) > 0 for s in spots)}


SCENARIOS = {name[3:]: fn for name, fn in globals().items() if name.startswith("sc_")}


def main(argv: list[str]) -> int:
    out, work, names = Path(argv[0]), Path(argv[1]), argv[2:]
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    t0 = time.perf_counter()
    session = start_fiji(os.environ["FIJI_DIR"], jvm_options=jvm_options_for_tests(work / "home"))
    results["_start_s"] = time.perf_counter() - t0
    ctx = {"session": session, "shapes": Shapes(session.line)}
    for name in names:
        t = time.perf_counter()
        try:
            results[name] = {"ok": True, **SCENARIOS[name](work, ctx)}
        except BaseException as e:  # noqa: BLE001 - record and go on
            results[name] = {"ok": False, "error": "".join(traceback.format_exception(e))}
        results[name]["scenario_s"] = time.perf_counter() - t
        out.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
