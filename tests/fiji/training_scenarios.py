"""Real TrackMate (FIJI_DIR) for the retraining tests, in ONE subprocess (one JVM): ``python training_scenarios.py
OUT.json WORKDIR``.

1. TrackMate's own label-image detector runs on the truth labels of synthetic membrane-stained cells (2D+t; on v9 also
   3D+t, with ``SMOOTHING_SCALE = -1``) and TrackMate's own ``TmXmlWriter`` saves the curated XML (+ v9 ``.meshes``):
   the files the pytest side trains from.
2. The action "Retrain cellpose on these spots" runs through TrackMate's action API (``ActionProvider`` -> factory ->
   ``execute``) in this Fiji, which Python started (in-process service): train, apply the model to the detector
   settings, detect with it; then a run cancelled after its first epoch.

Facts (counts, paths, the action's result map, log excerpts) go to OUT.json; ``test_training_fiji.py`` asserts on them.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: support.*

from support.curated import write_image  # noqa: E402
from trackmate_cellpose.data import membrane_movie_2d, membrane_movie_3d  # noqa: E402
from trackmate_cellpose import Calibration, DetectorSettings, test_model_path  # noqa: E402

CAL = Calibration(x=0.5, y=0.5, z=1.0, t=1.0, space_unit="um", time_unit="s")
MODEL = os.environ.get("TMCP_TEST_MODEL") or str(test_model_path())
#: the action's options for a short run (the pytest side trains the long one itself)
ACTION_OPTIONS = {"EPOCHS": 3, "CROP": 64, "BATCH_SIZE": 4, "HOLDOUT_FRACTION": 0.34, "SEED": 0}


def _jc(name):
    from jpype import JClass

    return JClass(name)


def write_data(work: Path) -> dict:
    """The synthetic images and truth labels (ImageJ hyperstacks, 0.5 um pixels)."""
    img, lab = membrane_movie_2d(6, shape_yx=(96, 96), n_objects=9)
    out = {"image2d": str(write_image(work / "membranes2d.tif", img[:, None], CAL)),
           "labels2d": str(write_image(work / "membranes2d_labels.tif", lab[:, None].astype(np.uint16), CAL))}
    img3, lab3 = membrane_movie_3d(3, shape_zyx=(12, 64, 64), n_objects=6, anisotropy=CAL.z / CAL.x)
    out["image3d"] = str(write_image(work / "membranes3d.tif", img3, CAL))
    out["labels3d"] = str(write_image(work / "membranes3d_labels.tif", lab3.astype(np.uint16), CAL))
    return out


def label_image_xml(labels: str, xml: Path, line: str) -> dict:
    """TrackMate's LabelImageDetector on the truth labels, every spot kept visible, saved by TmXmlWriter."""
    from trackmate_cellpose.bridge._headless import open_image

    imp = open_image(labels)
    s = _jc("fiji.plugin.trackmate.Settings")(imp)
    s.detectorFactory = _jc("fiji.plugin.trackmate.providers.DetectorProvider")().getFactory("LABEL_IMAGE_DETECTOR")
    m = _jc("java.util.HashMap")()
    m.put("TARGET_CHANNEL", _jc("java.lang.Integer")(1))
    m.put("SIMPLIFY_CONTOURS", _jc("java.lang.Boolean")(False))
    if line == "tm9":  # v9's label-image detector reads SMOOTHING_SCALE (absent from its defaults)
        m.put("SMOOTHING_SCALE", _jc("java.lang.Double")(-1.0))
    s.detectorSettings = m
    model = _jc("fiji.plugin.trackmate.Model")()
    tm = _jc("fiji.plugin.trackmate.TrackMate")(model, s)
    ok = bool(tm.execDetection()) and bool(tm.execInitialSpotFiltering()) and bool(tm.computeSpotFeatures(False)) \
        and bool(tm.execSpotFiltering(False))
    writer = _jc("fiji.plugin.trackmate.io.TmXmlWriter")(_jc("java.io.File")(str(xml)))
    writer.appendModel(model)
    writer.appendSettings(s)
    writer.writeToFile()
    spots = list(model.getSpots().iterable(True))
    return {"ok": ok, "error": str(tm.getErrorMessage() or ""), "xml": str(xml), "n_spots": len(spots),
            "classes": sorted({str(sp.getClass().getSimpleName()) for sp in spots}),
            "meshes_file": Path(str(xml) + ".meshes").is_file()}


def _trackmate_with(xml: str, image: str):
    """A TrackMate whose model holds the XML's spots, on ``image``, with this detector (the bundled test model)."""
    from trackmate_cellpose.bridge._headless import open_image, to_java_map

    reader = _jc("fiji.plugin.trackmate.io.TmXmlReader")(_jc("java.io.File")(xml))
    model = reader.getModel()
    logger = _jc("fiji.plugin.trackmate.Logger$StringBuilderLogger")()
    model.setLogger(logger)
    s = _jc("fiji.plugin.trackmate.Settings")(open_image(image))
    factory = _jc("fiji.plugin.trackmate.providers.DetectorProvider")().getFactory("CELLPOSE_ADVANCED_PY_DETECTOR")
    s.detectorFactory = factory.copy()
    s.detectorSettings = to_java_map(DetectorSettings(model="CUSTOM", model_path=MODEL, diameter=10.0,
                                                      use_gpu=False))
    return _jc("fiji.plugin.trackmate.TrackMate")(model, s), model, logger


def _action(logger):
    factory = _jc("fiji.plugin.trackmate.providers.ActionProvider")().getFactory("RETRAIN_CELLPOSE_PY")
    action = factory.create()
    action.setLogger(logger)
    return factory, action


def _options(extra: dict):
    m = _jc("java.util.HashMap")()
    for k, v in {**ACTION_OPTIONS, **extra}.items():
        if isinstance(v, bool):
            m.put(k, _jc("java.lang.Boolean")(v))
        elif isinstance(v, int):
            m.put(k, _jc("java.lang.Integer")(v))
        elif isinstance(v, float):
            m.put(k, _jc("java.lang.Double")(v))
        else:
            m.put(k, str(v))
    return m


def action_run(work: Path, xml: str, image: str) -> dict:
    """Train through the action, apply the model, detect with it."""
    tm, model, logger = _trackmate_with(xml, image)
    factory, action = _action(logger)
    out = work / "action.pth"
    action.setOptions(_options({"OUTPUT": str(out), "APPLY": True}))
    sel = _jc("fiji.plugin.trackmate.SelectionModel")(model)
    t0 = time.perf_counter()
    action.execute(tm, sel, None, None)
    seconds = time.perf_counter() - t0
    result = {str(k): str(v) for k, v in action.result().items()}
    det = {str(k): str(v) for k, v in tm.getSettings().detectorSettings.items()}
    s = tm.getSettings()
    s.tstart, s.tend = 0, 1
    detected = bool(tm.execDetection())
    n = len(list(tm.getModel().getSpots().iterable(False)))
    return {"name": str(factory.getName()), "key": str(factory.getKey()), "seconds": seconds, "result": result,
            "applied": bool(action.applied()), "error": str(action.errorMessage() or ""), "detector": det,
            "detected": detected, "detect_error": str(tm.getErrorMessage() or ""), "n_spots_new_model": n,
            "model_exists": out.is_file(), "log": str(logger.toString())[-6000:]}


def action_cancel(work: Path, xml: str, image: str) -> dict:
    """Cancel through the action's Cancelable after the first epoch ended: the best epoch so far is kept."""
    tm, model, logger = _trackmate_with(xml, image)
    _, action = _action(logger)
    out = work / "cancelled.pth"
    action.setOptions(_options({"OUTPUT": str(out), "EPOCHS": 200}))
    sel = _jc("fiji.plugin.trackmate.SelectionModel")(model)
    box: dict = {}

    def go():
        try:
            action.execute(tm, sel, None, None)
        except Exception as e:  # noqa: BLE001 - recorded for the test
            box["raised"] = repr(e)
        box["t_end"] = time.perf_counter()

    th = threading.Thread(target=go)
    th.start()
    deadline = time.perf_counter() + 600
    while "epoch 1/200" not in str(logger.toString()) and th.is_alive() and time.perf_counter() < deadline:
        time.sleep(0.2)
    t_cancel = time.perf_counter()
    action.cancel("cancelled by the test")
    th.join(600)
    result = {str(k): str(v) for k, v in action.result().items()}
    return {"result": result, "latency_s": box.get("t_end", time.perf_counter()) - t_cancel,
            "model_exists": out.is_file(), "report_exists": Path(str(out)[:-4] + ".report.json").exists(),
            "canceled": bool(action.isCanceled()), "error": str(action.errorMessage() or ""),
            "log": str(logger.toString())[-4000:], **box}


def main(argv: list[str]) -> int:
    out, work = Path(argv[0]), Path(argv[1])
    work.mkdir(parents=True, exist_ok=True)
    facts: dict = {}

    def save() -> None:  # after every step: a run stopped by the test's timeout still shows how far it got
        out.write_text(json.dumps({**facts, "partial": True}, indent=1, default=str))

    try:
        from trackmate_cellpose.bridge import start_fiji
        from trackmate_cellpose.bridge._jvm import jvm_options_for_tests

        data = write_data(work)
        facts["data"] = data
        session = start_fiji(os.environ["FIJI_DIR"], jvm_options=jvm_options_for_tests(work / "home"))
        facts["line"] = session.line
        save()
        facts["xml2d"] = label_image_xml(data["labels2d"], work / "curated2d.xml", session.line)
        if session.line == "tm9":
            facts["xml3d"] = label_image_xml(data["labels3d"], work / "curated3d.xml", session.line)
        save()
        for name, fn in (("action", action_run), ("cancel", action_cancel)):
            try:
                facts[name] = fn(work, facts["xml2d"]["xml"], data["image2d"])
            except BaseException as e:  # noqa: BLE001 - recorded; the other scenario still runs
                facts[name] = {"error": "".join(traceback.format_exception(e))}
            save()
    except BaseException as e:  # noqa: BLE001 - recorded for the test to show
        facts["error"] = "".join(traceback.format_exception(e))
    out.write_text(json.dumps(facts, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
