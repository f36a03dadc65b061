"""Training asked for by TrackMate's action "Retrain cellpose on these spots", on the Python side the detector uses.

The Java action (``trackmatecellpose.glue.RetrainCellposeAction``) writes the curated spots with TrackMate's own XML
writer (+ v9's ``.meshes``) to a private temporary file and hands a ``TrainingRequest`` (the pixels of TrackMate's
detection box, as a ``DetectionRequest``, plus the options: XML path, output file, epochs ...) and a ``TrainingSink``
(progress, log, cancel, failure, result) to the in-process service or to the Python worker. Either way the work is
:func:`serve_training`: frames are pulled from the request only when needed (the curated frames), then
:func:`trackmate_cellpose.training.train_from_trackmate` runs with the sink's progress, log and cancel. Nothing raises
into Java: a failure is a one-line summary plus the traceback (``sink.fail``); the result is a string map
(``sink.finished(keys, values)``).

Imports: jpype (lazily), numpy; package: bridge, errors, settings, training.
"""

from __future__ import annotations

import math
import traceback
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import Cancelled
from ..settings import RuntimeOptions
from ..training import FrameSource, TrainingOptions, parse_frames, train_from_trackmate
from ._service import _java_value, _one_line, calibration_of, request_to_numpy


#: Option keys of a TrainingRequest -> TrainingOptions fields (numbers <= 0 mean "the default" where noted).
_NUMBERS = {"EPOCHS": "epochs", "LEARNING_RATE": "learning_rate", "HOLDOUT_FRACTION": "holdout_fraction",
            "SEED": "seed", "BATCH_SIZE": "batch_size", "CROP": "crop", "IMAGES_PER_EPOCH": "images_per_epoch"}
_ZERO_IS_DEFAULT = {"learning_rate", "crop", "images_per_epoch"}


class RequestFrames(FrameSource):
    """The frames of a ``DetectionRequest`` (TrackMate's detection box), fetched one by one when asked for."""

    def __init__(self, request: Any):
        shape = tuple(int(s) for s in request.frameShapeCZYX())
        n = int(request.nFrames())
        self.request = request
        self.shape_tczyx = (n, *shape)
        self.calibration = calibration_of(request)
        self.origin_xyz = tuple(int(v) for v in request.originXYZ())
        self.first_frame = int(request.firstFrame())
        self.full_size_xyzt = None  # TrackMate wrote the XML from this very image
        self.name = str(request.imageName() or "image")

    def frame(self, t: int) -> np.ndarray:
        return request_to_numpy(self.request, int(t) - self.first_frame)


def _plain(options: Any) -> dict[str, Any]:
    if hasattr(options, "keySet"):  # a java.util.Map
        return {str(k): _java_value(options.get(k)) for k in options.keySet()}
    return dict(options)


def training_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """The request's options map -> keyword arguments of ``train_from_trackmate`` (without the image)."""
    opts = _plain(options)
    fields: dict[str, Any] = {}
    for key, name in _NUMBERS.items():
        if key not in opts or opts[key] is None or opts[key] == "":
            continue
        v = float(opts[key])
        if name in _ZERO_IS_DEFAULT and v <= 0:
            continue
        fields[name] = v if name in ("learning_rate", "holdout_fraction") else int(v)
    if opts.get("DEVICE"):
        fields["device"] = str(opts["DEVICE"])
    elif "USE_GPU" in opts and not opts["USE_GPU"]:
        fields["device"] = "cpu"
    frames = str(opts.get("FRAMES") or "").strip()
    kw: dict[str, Any] = {"xml": str(opts["XML"]), "output": str(opts["OUTPUT"]), "options": TrainingOptions(**fields),
                          "frames": parse_frames(frames) if frames else None,
                          "overwrite": bool(opts.get("OVERWRITE", False))}
    if opts.get("MODEL_PATH"):
        kw["model_path"] = str(opts["MODEL_PATH"])
    elif opts.get("MODEL"):
        kw["model"] = str(opts["MODEL"])
    return kw


def result_map(result: Any) -> dict[str, str]:
    """A TrainingResult as the string map the Java action reads."""
    out = {"model_path": str(result.model_path or ""), "report_path": str(result.report_path or ""),
           "picture_path": str(result.picture_path or ""), "stopped": result.stopped,
           "epochs_done": str(result.epochs_done), "best_epoch": str(result.best_epoch + 1),
           "diameter": repr(float(result.diameter)), "base_model": result.base_model, "summary": result.summary()}
    if result.report is not None:
        for key in ("base", "new"):
            b = result.report[key]
            out[f"f1_{key}"] = repr(float(b["f1"]))
            out[f"found_{key}"] = str(b["n_found"])
            out[f"mean_iou_{key}"] = "" if b["mean_iou"] is None or not math.isfinite(b["mean_iou"]) else repr(
                float(b["mean_iou"]))
        out["n_true"] = str(result.report["base"]["n_true"])
    return out


def serve_training(request: Any, sink: Any, runtime: RuntimeOptions | None = None,
                   finish: Callable[[Any, dict[str, str]], None] | None = None) -> str:
    """Train from a ``TrainingRequest``, reporting to a ``TrainingSink``; never raises.

    ``finish(sink, result)`` hands the result map over in the transport's form (default: ``sink.finished(keys,
    values)`` with Java string arrays). Returns ``"ok"``, ``"canceled"`` or ``"failed"``.
    """
    try:
        kw = training_kwargs(request.options())
        sink.log(f"Cellpose advanced (Python): retraining on the curated spots of {request.imageName()}, "
                 f"{kw['options'].epochs} epochs -> {kw['output']}")
        result = train_from_trackmate(
            RequestFrames(request), **kw, progress=lambda f, m: sink.progress(float(f), str(m)),
            cancel=lambda: bool(sink.isCanceled()), log=lambda m: sink.log(str(m)))
        (finish or _finish_java)(sink, result_map(result))
        return "canceled" if result.stopped else "ok"
    except Cancelled as e:
        sink.log(str(e))
        return "canceled"
    except BaseException as e:  # noqa: BLE001 - nothing may cross into Java
        sink.fail(_one_line(e), "".join(traceback.format_exception(e)).rstrip())
        return "failed"


def _finish_java(sink: Any, result: dict[str, str]) -> None:
    from jpype import JArray, JString

    sink.finished(JArray(JString)(list(result)), JArray(JString)(list(result.values())))
