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

from ..calibration import Calibration
from ..errors import Cancelled, TrackMateCellposeError
from ..settings import DetectorSettings, RuntimeOptions

#: ``detect``-compatible callable (tests substitute a fake engine); called with ``origin_xyz=``, ``frame_offset=``, ``progress=``, ``cancel=`` and ``log=``.
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
    """TrackMate settings map (java.util.Map, or a plain Python mapping from the worker) -> :class:`DetectorSettings`."""
    if not hasattr(jmap, "keySet"):  # a Python mapping (JPype's java.util.Map is a Mapping too: test keySet first)
        return DetectorSettings.from_trackmate_map(jmap)
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


def frame_arrays(fr: Any, is_3d: bool) -> dict[str, Any]:
    """The detections of one frame as the flat numpy arrays of ``DetectionSink.addRois``/``addMeshes`` (built once;
    each transport only converts them: Java arrays in-process, bytes for the worker).

    Keys: ``frame``, ``kind`` (``"none"`` for an empty frame, ``"rois"`` or ``"meshes"``), ``quality``, ``names``
    (feature names), ``features`` (n x f, NaN = missing, raveled); 2D: ``n_points``, ``x``, ``y``; 3D: ``centers``
    (3n), ``radius``, ``n_vertices``, ``vertices`` (xyz raveled), ``n_faces``, ``faces`` (raveled, int32).
    """
    dets = list(fr.detections)
    out: dict[str, Any] = {"frame": int(fr.frame), "kind": "none"}
    if not dets:
        return out
    names = sorted({k for d in dets for k in d.features})
    feats = np.full((len(dets), len(names)), np.nan)
    for i, d in enumerate(dets):
        for j, k in enumerate(names):
            if k in d.features:
                feats[i, j] = float(d.features[k])
    out.update(names=names, features=feats.ravel(), quality=np.array([d.quality for d in dets], dtype=float))
    if not is_3d:
        rois = [np.asarray(d.roi_xy, dtype=float) for d in dets]
        xy = np.concatenate(rois) if rois else np.zeros((0, 2))
        out.update(kind="rois", n_points=np.array([len(r) for r in rois], dtype=np.int32),
                   x=np.ascontiguousarray(xy[:, 0]), y=np.ascontiguousarray(xy[:, 1]))
        return out
    verts = [np.asarray(d.mesh.vertices, dtype=float) if d.mesh is not None else np.zeros((0, 3)) for d in dets]
    faces = [np.asarray(d.mesh.faces, dtype=np.int32) if d.mesh is not None else np.zeros((0, 3), np.int32)
             for d in dets]
    out.update(kind="meshes", centers=np.array([[d.x, d.y, d.z] for d in dets], dtype=float).ravel(),
               radius=np.array([d.radius for d in dets], dtype=float),
               n_vertices=np.array([len(v) for v in verts], dtype=np.int32),
               vertices=np.concatenate(verts).ravel(), n_faces=np.array([len(f) for f in faces], dtype=np.int32),
               faces=np.concatenate(faces).ravel().astype(np.int32))
    return out


def _send_frame(sink: Any, fr: Any, is_3d: bool) -> None:
    """In-process transport: the frame's arrays as Java arrays, to the Java ``DetectionSink``."""
    from jpype import JArray, JDouble, JInt, JString

    a = frame_arrays(fr, is_3d)
    sink.frameDone(a["frame"])
    if a["kind"] == "none":
        return
    names, feats, quality = JArray(JString)(a["names"]), JArray(JDouble)(a["features"]), JArray(JDouble)(a["quality"])
    if a["kind"] == "rois":
        sink.addRois(a["frame"], JArray(JInt)(a["n_points"]), JArray(JDouble)(a["x"]), JArray(JDouble)(a["y"]),
                     quality, names, feats)
        return
    sink.addMeshes(a["frame"], JArray(JDouble)(a["centers"]), JArray(JDouble)(a["radius"]), quality,
                   JArray(JInt)(a["n_vertices"]), JArray(JDouble)(a["vertices"]), JArray(JInt)(a["n_faces"]),
                   JArray(JInt)(a["faces"]), names, feats)


SendFrame = Callable[[Any, Any, bool], None]


def run_request(request: Any, sink: Any, detect_fn: DetectFn, runtime: RuntimeOptions,
                send_frame: SendFrame = _send_frame) -> None:
    """Detect every frame of ``request`` in batches, streaming results, progress and log lines to ``sink``.

    ``request``/``sink`` follow ``DetectionRequest``/``DetectionSink`` (Java objects in-process, the worker's numpy
    versions in a worker); ``send_frame`` hands one frame's detections to the sink in that transport's form.
    """
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
                           origin_xyz=origin, frame_offset=first + start, progress=progress,
                           cancel=lambda: bool(sink.isCanceled()), log=log)
        t2 = time.perf_counter()
        for fr in result.frames:
            send_frame(sink, fr, bool(result.is_3d))
        t3 = time.perf_counter()
        sink.log(f"  frames {first + start}-{first + stop - 1}: {result.n_detections} objects; image transfer "
                 f"{t1 - t0:.3f} s, cellpose + geometry {t2 - t1:.2f} s, spots {t3 - t2:.3f} s")
        sink.progress(stop / n, f"Cellpose: {stop}/{n} frames")


def serve_request(request: Any, sink: Any, detect_fn: DetectFn | None, runtime: RuntimeOptions,
                  send_frame: SendFrame = _send_frame) -> str:
    """:func:`run_request` with nothing escaping: a failure goes to ``sink.fail`` (one line + traceback).

    Returns ``"ok"``, ``"canceled"`` or ``"failed"``. ``detect_fn`` None = :func:`trackmate_cellpose.detect`.
    """
    try:
        if detect_fn is None:
            from ..detect import detect as detect_fn
        run_request(request, sink, detect_fn, runtime, send_frame)
        return "ok"
    except Cancelled:
        return "canceled"  # the Java detector reports the cancel itself
    except BaseException as e:  # noqa: BLE001 - nothing may cross into Java
        if sink.isCanceled():
            return "canceled"
        sink.fail(_one_line(e), "".join(traceback.format_exception(e)).rstrip())
        return "failed"


def python_facts(*, use_gpu: bool = True, runtime_device: str = "auto") -> dict[str, str]:
    """What the TrackMate log shows about this Python side: package version, executable, pid, cellpose version,
    torch device, default and built-in models. ``error`` is set (and cellpose facts missing) when cellpose cannot
    be imported here."""
    import os
    import sys

    from .. import __version__

    facts = {"version": __version__, "python": sys.executable, "pid": str(os.getpid())}
    try:
        from ..segment._adapter import import_cellpose_models, select_device
        from ..segment._models import BUILTIN_MODELS, cellpose_major_version, cellpose_version
        from ..settings import default_model

        import_cellpose_models()
        major = cellpose_major_version()
        facts.update(cellpose=cellpose_version(), device=select_device(use_gpu, runtime_device)[0],
                     default_model=default_model(major), models=",".join(BUILTIN_MODELS[major]))
    except Exception as e:  # noqa: BLE001 - reported to the Java side, which says what to fix
        facts["error"] = _one_line(e)
    return facts


def mode_line(mode: str, facts: dict[str, str]) -> str:
    """The one line TrackMate's log shows about the Python side (the Java worker builds the same line)."""
    return (f"Cellpose advanced (Python): {mode} (pid {facts.get('pid')}, {facts.get('python')}), trackmate-cellpose "
            f"{facts.get('version')}, cellpose {facts.get('cellpose', '?')}, device {facts.get('device', '?')}")


_registered: Any = None
_register_lock = threading.Lock()


def glue_class(name: str) -> Any:
    """The glue's Java class ``name`` (``trackmatecellpose.glue.*``): on the class path (install-fiji, start_fiji), or
    in the class loader of the update site's loader (``trackmatecellpose.loader.GlueLoader``), which keeps each
    TrackMate line's glue jar off the class path and loads the running line's."""
    from jpype import JClass

    try:
        return JClass(name)
    except TypeError:  # JPype: "Class ... is not found"
        try:
            loader = JClass("trackmatecellpose.loader.GlueLoader").glueClassLoader()
        except TypeError:
            loader = None
        if loader is None:
            raise
        return JClass(name, loader=loader)


def register_service() -> Any:
    """Register this process's detection service with the glue and return it. Needs a running JVM.

    Idempotent and thread-safe: the first call creates the JPype proxy of ``CellposePyService``; later calls return
    the same proxy (registering it again if the glue's registry was cleared). Called by ``start_fiji`` and, in a Fiji
    that Python started without this package's launcher, by the glue itself (``PyImageJDiscovery``).
    """
    global _registered

    Services = glue_class("trackmatecellpose.glue.CellposePyServices")
    with _register_lock:
        if _registered is None:
            _registered = _new_service()
            Services.register(_registered)
            _publish_models(Services)
        elif Services.get() is None:
            Services.register(_registered)
        return _registered


def _new_service() -> Any:
    """The JPype proxy: ``CellposePyService`` (detection) and ``CellposePyTrainer`` (TrackMate's action "Retrain
    cellpose on these spots"; left out when the glue on the class path predates it)."""
    from jpype import JImplements, JOverride

    interfaces = [glue_class("trackmatecellpose.glue.CellposePyService")]
    try:
        interfaces.append(glue_class("trackmatecellpose.glue.CellposePyTrainer"))
    except TypeError:  # JPype's "Class ... is not found": an older glue jar, detection only
        pass

    class CellposePyService:
        @JOverride
        def detect(self, request, sink):
            with _call_lock:
                try:
                    use_gpu = bool(_java_value(request.settings().get("USE_GPU")))
                    sink.log(mode_line("in-process", python_facts(use_gpu=use_gpu, runtime_device=_runtime.device)))
                except BaseException:  # noqa: BLE001 - the log line is informative only; detection reports errors
                    pass
                serve_request(request, sink, _detect_fn, _runtime)

        @JOverride
        def train(self, request, sink):
            from ._training import serve_training

            with _call_lock:
                serve_training(request, sink, _runtime)

        @JOverride
        def describe(self):
            from .. import __version__

            return f"trackmate-cellpose {__version__} (Python service)"

    return JImplements(*interfaces)(CellposePyService)()


def _publish_models(services: Any) -> None:
    """Tell the Java side which models this Python's cellpose has, so TrackMate's defaults and panel follow it."""
    from jpype import JArray, JString

    from ..segment._models import BUILTIN_MODELS, cellpose_major_version
    from ..settings import default_model

    try:
        major = cellpose_major_version()
    except Exception:  # noqa: BLE001 - no cellpose: detection reports it; keep the Java defaults
        return
    services.setModels(default_model(major), JArray(JString)(list(BUILTIN_MODELS[major])))
