"""The Python side of the glue: a JPype implementation of ``trackmatecellpose.glue.CellposePyService``.

TrackMate calls the service from its own threads; calls are serialized (one model on one device). Frames arrive as
primitive Java arrays copied in bulk by the glue (one array per frame, never per pixel) and become numpy arrays
without a Python loop; detections go back as flat primitive arrays, one call per frame. Python exceptions never
cross into Java: they become a one-line summary plus the traceback (:meth:`DetectionSink.fail`).
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable

import numpy as np

from ..axes import Calibration
from ..call import Hooks, Placement
from ..errors import Cancelled, TrackMateCellposeError
from ..settings import DetectorSettings, RuntimeOptions

__all__ = ["register_service", "request_to_numpy", "DetectFn", "set_detect_function", "set_runtime_options"]

#: ``detect``-compatible callable (tests substitute a fake engine); called with ``placement=`` and ``hooks=``.
DetectFn = Callable[..., Any]

_detect_fn: DetectFn | None = None
_runtime = RuntimeOptions()
_call_lock = threading.Lock()


def set_detect_function(fn: DetectFn | None) -> None:
    """Replace the detection engine (``trackmate_cellpose.detect`` by default); for tests and embedding."""
    global _detect_fn
    _detect_fn = fn


def set_runtime_options(runtime: RuntimeOptions) -> None:
    """Runtime knobs (device, frames per batch) used by detections run from TrackMate in this process."""
    global _runtime
    _runtime = runtime


def _java_value(v: Any) -> Any:
    """Java boxed value -> Python scalar (TrackMate maps hold Integer/Double/Boolean/String)."""
    if v is None or not hasattr(v, "getClass"):
        return v
    name = str(v.getClass().getName())
    if name == "java.lang.Boolean":
        return bool(v.booleanValue())
    if name in ("java.lang.Integer", "java.lang.Long", "java.lang.Short", "java.lang.Byte"):
        return int(v.longValue())
    if name in ("java.lang.Double", "java.lang.Float"):
        return float(v.doubleValue())
    return str(v)


def settings_from_java(jmap: Any) -> DetectorSettings:
    """TrackMate settings map (java.util.Map) -> validated :class:`DetectorSettings`."""
    return DetectorSettings.from_trackmate_map({str(k): _java_value(jmap.get(k)) for k in jmap.keySet()})


_DTYPES = {"uint8": np.uint8, "int8": np.int8, "uint16": np.uint16, "int16": np.int16, "float32": np.float32}


def request_to_numpy(request: Any, i: int) -> np.ndarray:
    """Frame ``i`` of a ``DetectionRequest`` as a (C, Z, Y, X) numpy array (bulk copy through the buffer protocol)."""
    shape = tuple(int(s) for s in request.frameShapeCZYX())
    dtype = _DTYPES[str(request.dtype())]
    raw = np.asarray(request.frame(i))  # byte[]/short[]/float[] -> int8/int16/float32, one memcpy
    return raw.view(dtype).reshape(shape)


def calibration_of(request: Any) -> Calibration:
    x, y, z, t = (float(v) for v in request.calibrationXYZT())
    return Calibration(x=x, y=y, z=z, t=t, space_unit=str(request.spaceUnit()), time_unit=str(request.timeUnit()))


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(e, TrackMateCellposeError) and first:
        return first
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _send_frame(sink: Any, fr: Any, is_3d: bool) -> None:
    from jpype import JArray, JDouble, JInt, JString

    dets = list(fr.detections)
    frame = int(fr.frame)
    sink.frameDone(frame)
    if not dets:
        return
    names = sorted({k for d in dets for k in d.features})
    feats = np.full((len(dets), len(names)), np.nan)
    for i, d in enumerate(dets):
        for j, k in enumerate(names):
            if k in d.features:
                feats[i, j] = float(d.features[k])
    jnames = JArray(JString)(names)
    jfeats = JArray(JDouble)(feats.ravel())
    quality = JArray(JDouble)(np.array([d.quality for d in dets], dtype=float))
    if not is_3d:
        rois = [np.asarray(d.roi_xy, dtype=float) for d in dets]
        npts = np.array([len(r) for r in rois], dtype=np.int32)
        xy = np.concatenate(rois) if rois else np.zeros((0, 2))
        sink.addRois(frame, JArray(JInt)(npts), JArray(JDouble)(np.ascontiguousarray(xy[:, 0])),
                     JArray(JDouble)(np.ascontiguousarray(xy[:, 1])), quality, jnames, jfeats)
        return
    centers = np.array([[d.x, d.y, d.z] for d in dets], dtype=float).ravel()
    radius = np.array([d.radius for d in dets], dtype=float)
    verts = [np.asarray(d.mesh.vertices, dtype=float) if d.mesh is not None else np.zeros((0, 3)) for d in dets]
    faces = [np.asarray(d.mesh.faces, dtype=np.int32) if d.mesh is not None else np.zeros((0, 3), np.int32)
             for d in dets]
    sink.addMeshes(frame, JArray(JDouble)(centers), JArray(JDouble)(radius), quality,
                   JArray(JInt)(np.array([len(v) for v in verts], dtype=np.int32)),
                   JArray(JDouble)(np.concatenate(verts).ravel()),
                   JArray(JInt)(np.array([len(f) for f in faces], dtype=np.int32)),
                   JArray(JInt)(np.concatenate(faces).ravel().astype(np.int32)), jnames, jfeats)


def run_request(request: Any, sink: Any, detect_fn: DetectFn, runtime: RuntimeOptions) -> None:
    """Detect every frame of ``request`` in batches, streaming results, progress and log lines to ``sink``."""
    settings = settings_from_java(request.settings())
    cal = calibration_of(request)
    n = int(request.nFrames())
    first = int(request.firstFrame())
    origin = tuple(int(v) for v in request.originXYZ())
    batch = max(1, runtime.frames_per_batch)
    if runtime.workers > 0 or runtime.scheduler:
        batch = n  # one call, so that dask spreads the whole interval over its workers
    sink.log(f"Cellpose advanced (Python): {n} frame(s) from frame {first}, origin {origin} px, "
             f"pixel size {cal.x:g} {cal.space_unit}.")
    logged: set[str] = set()

    def log(message: str) -> None:  # each notice once per request, however many batches repeat it
        if message not in logged:
            logged.add(message)
            sink.log(str(message))

    for start in range(0, n, batch):
        if sink.isCanceled():
            raise Cancelled("detection canceled")
        stop = min(n, start + batch)
        t0 = time.perf_counter()
        image = np.stack([request_to_numpy(request, i) for i in range(start, stop)])  # (T, C, Z, Y, X)
        t1 = time.perf_counter()

        def progress(fraction: float, message: str, _s=start, _e=stop) -> None:
            sink.progress((_s + fraction * (_e - _s)) / n, str(message))

        result = detect_fn(image, settings, axes="tczyx", calibration=cal, runtime=runtime,
                           placement=Placement(origin_xyz=origin, frame_offset=first + start),
                           hooks=Hooks(progress=progress, cancel=lambda: bool(sink.isCanceled()), log=log))
        t2 = time.perf_counter()
        for fr in result.frames:
            _send_frame(sink, fr, bool(result.is_3d))
        t3 = time.perf_counter()
        sink.log(f"  frames {first + start}-{first + stop - 1}: {result.n_detections} objects; image transfer "
                 f"{t1 - t0:.3f} s, cellpose + geometry {t2 - t1:.2f} s, spots {t3 - t2:.3f} s")
        sink.progress(stop / n, f"Cellpose: {stop}/{n} frames")


_registered: Any = None
_register_lock = threading.Lock()


def register_service() -> Any:
    """Register this process's detection service with the glue and return it. Needs a running JVM.

    Idempotent and thread-safe: the first call creates the JPype proxy of ``CellposePyService``; later calls return
    the same proxy (registering it again if the glue's registry was cleared). Called by ``start_fiji`` and, in a Fiji
    that Python started without this package's launcher, by the glue itself (``PyImageJDiscovery``).
    """
    global _registered
    from jpype import JClass

    Services = JClass("trackmatecellpose.glue.CellposePyServices")
    with _register_lock:
        if _registered is None:
            _registered = _new_service()
            Services.register(_registered)
            _publish_models(Services)
        elif Services.get() is None:
            Services.register(_registered)
        return _registered


def _new_service() -> Any:
    from jpype import JImplements, JOverride

    @JImplements("trackmatecellpose.glue.CellposePyService")
    class CellposePyService:
        @JOverride
        def detect(self, request, sink):
            try:
                with _call_lock:
                    fn = _detect_fn
                    if fn is None:
                        from ..detect import detect as fn
                    run_request(request, sink, fn, _runtime)
            except Cancelled:
                pass  # the Java detector reports the cancel itself
            except BaseException as e:  # noqa: BLE001 - nothing may cross into Java
                if sink.isCanceled():
                    return
                sink.fail(_one_line(e), "".join(traceback.format_exception(e)).rstrip())

        @JOverride
        def describe(self):
            from .. import __version__

            return f"trackmate-cellpose {__version__} (Python service)"

    return CellposePyService()


def _publish_models(services: Any) -> None:
    """Tell the Java side which models this Python's cellpose has, so TrackMate's defaults and panel follow it."""
    from jpype import JArray, JString

    from ..segment.models import BUILTIN_MODELS, cellpose_major_version
    from ..settings import default_model

    try:
        major = cellpose_major_version()
    except Exception:  # noqa: BLE001 - no cellpose: detection reports it; keep the Java defaults
        return
    services.setModels(default_model(major), JArray(JString)(list(BUILTIN_MODELS[major])))
