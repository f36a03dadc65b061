"""Run TrackMate itself, headless, with the "Cellpose advanced (Python)" detector (Python API of ``fiji --run``).

Everything after detection is TrackMate's own code: the initial quality filter, spot features, the tracker, and
``TmXmlWriter``. The detector is selected by its key through TrackMate's ``DetectorProvider``, as a script would.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import (BackendUnavailableError, Cancelled, InvalidImageError, InvalidSettingsError,
                      TrackMateError)
from ..settings import DETECTOR_KEY, DetectorSettings
from ..tracking import OverlapTrackerSettings
from ._jvm import FijiSession, current_session, start_fiji

#: Trackers selectable by name: "overlap" (TrackMate's Overlap tracker) or "none" (detection only).
TRACKERS = ("overlap", "none")


@dataclass
class TrackMateRun:
    """Outcome of :func:`run_trackmate`.

    Attributes
    ----------
    model, settings, trackmate : Java objects
        TrackMate's ``Model``, ``Settings`` and ``TrackMate`` (usable while the JVM runs).
    n_spots, n_tracks : int
    spots_per_frame : dict[int, int]
    output : Path or None
        The TrackMate XML written.
    log : str
        TrackMate's log of the run.
    seconds : float
    """

    model: Any
    settings: Any
    trackmate: Any
    n_spots: int
    n_tracks: int
    spots_per_frame: dict[int, int]
    output: Path | None
    log: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def to_java_map(settings: DetectorSettings) -> Any:
    """DetectorSettings -> ``java.util.HashMap`` with exactly-typed boxed values (TrackMate checks classes)."""
    from jpype import JClass

    HashMap, JInteger, JDouble, JBoolean = (JClass(c) for c in ("java.util.HashMap", "java.lang.Integer",
                                                                "java.lang.Double", "java.lang.Boolean"))
    m = HashMap()
    for key, value in settings.to_trackmate_map().items():
        if isinstance(value, bool):
            m.put(key, JBoolean(value))
        elif isinstance(value, int):
            m.put(key, JInteger(value))
        elif isinstance(value, float):
            m.put(key, JDouble(value))
        else:
            m.put(key, value)
    return m


def open_image(image: str | Path | Any) -> Any:
    """Open an image file with ImageJ (hyperstack + calibration), or pass an ``ImagePlus`` through; a truncated TIFF
    is refused (``InvalidImageError``) rather than opened as a shorter movie."""
    from jpype import JClass

    if not isinstance(image, (str, Path)):
        return image
    path = Path(image)
    if not path.is_file():
        from ..errors import PathNotFoundError

        raise PathNotFoundError(f"image {str(path)!r} does not exist", path=path)
    from ..reader import refuse_truncated

    refuse_truncated(path)  # ImageJ reads what it can of a truncated hyperstack, and says nothing
    imp = JClass("ij.IJ").openImage(str(path.resolve()))
    if imp is None:
        raise InvalidImageError(f"ImageJ could not open {str(path)!r} as an image")
    return imp


def _session(fiji_dir: str | Path | None) -> FijiSession:
    s = current_session()
    return s if s is not None else start_fiji(fiji_dir)


def run_trackmate(image: str | Path | Any, settings: DetectorSettings | None = None, *,
                  fiji_dir: str | Path | None = None, output: str | Path | None = None, tracker: str = "overlap",
                  tracker_settings: OverlapTrackerSettings | None = None, min_iou: float | None = None,
                  iou_calculation: str | None = None, roi: tuple[int, int, int, int] | None = None,
                  t_range: tuple[int, int] | None = None,
                  initial_quality: float = 0.0, cancel: threading.Event | None = None,
                  log: Callable[[str], None] | None = None, overwrite: bool = True) -> TrackMateRun:
    """Detect with "Cellpose advanced (Python)", track with TrackMate's tracker, and save TrackMate's XML.

    Parameters
    ----------
    image : path or ImagePlus
        Any image ImageJ opens (an ImageJ hyperstack TIFF keeps its axes and calibration).
    settings : DetectorSettings, optional
    fiji_dir : path, optional
        Fiji to start if none runs in this process yet (see :func:`start_fiji`).
    output : path, optional
        TrackMate XML to write (with ``TmXmlWriter``), or, when it ends in ``.geff``, a GEFF of the same model
        (TrackMate's XML of the model converted with ``export.convert``; needs the ``geff`` package).
    tracker : {"overlap", "none"}
    tracker_settings : OverlapTrackerSettings, optional
        ``MIN_IOU``, ``SCALE_FACTOR``, ``IOU_CALCULATION`` of TrackMate's overlap tracker; the same object and
        defaults as the standalone pipeline (``mode_3d`` does not apply: TrackMate's tracker compares XY shapes).
    min_iou, iou_calculation
        Deprecated: pass ``tracker_settings``. Given, they override its fields (with a ``DeprecationWarning``).
    roi : (x, y, width, height), optional
        Crop rectangle in pixels (TrackMate's ROI).
    t_range : (first, last), optional
        Inclusive 0-based frame range (TrackMate's T start/end).
    initial_quality : float
        TrackMate's initial QUALITY filter (spots below are discarded).
    cancel : threading.Event, optional
        Setting it cancels the run through TrackMate's own cancel.
    log : callable, optional
        Receives TrackMate's log at the end.
    overwrite : bool
        Replace an existing ``output`` (only a TrackMate XML file, or a GEFF this package wrote; anything else there
        is refused before TrackMate runs). The output is written beside its place first and moved in when complete:
        a full disk is a :class:`~trackmate_cellpose.errors.DiskFullError` and leaves no partial file.

    Raises
    ------
    TrackMateError
        TrackMate failed (its message); ``Cancelled`` when canceled.
    """
    if tracker not in TRACKERS:
        raise InvalidSettingsError(f"tracker must be one of {', '.join(TRACKERS)}, got {tracker!r}",
                                   key="tracker", value=tracker)
    tracker_settings = tracker_settings or OverlapTrackerSettings()
    old = {k: v for k, v in (("min_iou", min_iou), ("iou_calculation", iou_calculation)) if v is not None}
    if old:
        import warnings

        warnings.warn(f"run_trackmate({', '.join(old)}=...) is deprecated; pass tracker_settings="
                      "OverlapTrackerSettings(...)", DeprecationWarning, stacklevel=2)
        tracker_settings = dataclasses.replace(tracker_settings, **old)  # validated again
    settings = settings or DetectorSettings()
    if output is not None:
        from .._outputs import check_output

        check_output(Path(output), "geff" if Path(output).suffix.lower() == ".geff" else "trackmate-xml",
                     overwrite=overwrite)
    t0 = time.perf_counter()
    _session(fiji_dir)
    from jpype import JClass

    Settings = JClass("fiji.plugin.trackmate.Settings")
    Model = JClass("fiji.plugin.trackmate.Model")
    TrackMate = JClass("fiji.plugin.trackmate.TrackMate")
    DetectorProvider = JClass("fiji.plugin.trackmate.providers.DetectorProvider")
    TrackerProvider = JClass("fiji.plugin.trackmate.providers.TrackerProvider")
    StringBuilderLogger = JClass("fiji.plugin.trackmate.Logger$StringBuilderLogger")

    imp = open_image(image)
    n_frames = int(imp.getNFrames())
    if roi is not None:
        x, y, w, h = (int(v) for v in roi)
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > imp.getWidth() or y + h > imp.getHeight():
            raise InvalidSettingsError(
                f"roi must be (x, y, width, height) inside the {imp.getWidth()}x{imp.getHeight()} image, got {roi}",
                key="roi", value=roi)
        imp.setRoi(JClass("ij.gui.Roi")(x, y, w, h))
    else:
        imp.deleteRoi()
    ts = Settings(imp)
    if t_range is not None:
        a, b = (int(v) for v in t_range)
        if not 0 <= a <= b < n_frames:
            raise InvalidSettingsError(f"t_range must satisfy 0 <= first <= last < {n_frames}, got {t_range}",
                                       key="t_range", value=t_range)
        ts.tstart, ts.tend = a, b
    factory = DetectorProvider().getFactory(DETECTOR_KEY)
    if factory is None:
        raise BackendUnavailableError(
            f"TrackMate does not list the detector {DETECTOR_KEY}: the glue jar is not on Fiji's class path")
    ts.detectorFactory = factory
    ts.detectorSettings = to_java_map(settings)
    ts.initialSpotFilterValue = JClass("java.lang.Double")(float(initial_quality))
    if tracker == "overlap":
        tf = TrackerProvider().getFactory("OVERLAP_TRACKER")
        tmap = tf.getDefaultSettings()
        for key, value in tracker_settings.to_trackmate_map().items():
            tmap.put(key, JClass("java.lang.Double")(value) if isinstance(value, float) else value)
        ts.trackerFactory = tf
        ts.trackerSettings = tmap
    ts.addAllAnalyzers()

    model = Model()
    logger = StringBuilderLogger()
    model.setLogger(logger)
    cal = imp.getCalibration()
    model.setPhysicalUnits(cal.getUnit(), cal.getTimeUnit())  # 7.x keeps "pixels"/"frames" otherwise
    from ._service import glue_class

    glue_class("trackmatecellpose.glue.CellposePyLogging").setFallbackLogger(logger)
    trackmate = TrackMate(model, ts)
    trackmate.setNumThreads(1)

    watcher = None
    done = threading.Event()
    if cancel is not None:
        def _watch() -> None:
            while not done.is_set():
                if cancel.wait(0.05):
                    trackmate.cancel("canceled from Python")
                    return

        watcher = threading.Thread(target=_watch, name="trackmate-cellpose-cancel", daemon=True)
        watcher.start()
    t_run = time.perf_counter()
    try:
        if tracker == "none":
            ok = trackmate.execDetection() \
                and trackmate.execInitialSpotFiltering() and trackmate.computeSpotFeatures(True) \
                and trackmate.execSpotFiltering(True)
        else:
            ok = trackmate.checkInput() and trackmate.process()
    finally:
        done.set()
    seconds = time.perf_counter() - t_run
    text = str(logger.toString())
    if log:
        log(text)
    if not ok:
        if (cancel is not None and cancel.is_set()) or trackmate.isCanceled():
            raise Cancelled(f"TrackMate run canceled: {trackmate.getErrorMessage()}")
        msg = str(trackmate.getErrorMessage() or "TrackMate failed").strip()
        raise TrackMateError(" ".join(msg.split()), log=text)

    spots = model.getSpots()
    per_frame = {int(f): int(spots.getNSpots(int(f), True)) for f in spots.keySet()}
    out = None
    if output is not None:
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        _save(out, model, ts, logger, text, overwrite=overwrite)
    return TrackMateRun(model=model, settings=ts, trackmate=trackmate, n_spots=int(spots.getNSpots(True)),
                        n_tracks=int(model.getTrackModel().nTracks(True)), spots_per_frame=per_frame, output=out,
                        log=text, seconds=time.perf_counter() - t0, timings={"trackmate": seconds})


def _save(out: Path, model: Any, ts: Any, logger: Any, text: str, *, overwrite: bool) -> None:
    """TrackMate's XML of the run (TrackMate's ``TmXmlWriter``; v9 adds ``.meshes``) at ``out``, or a GEFF of it
    when ``out`` ends in ``.geff``; written beside ``out`` first and moved into place when complete."""
    import shutil

    from jpype import JClass

    from .._outputs import disk_full_as_error, make_stage, write_replacing

    def write_xml(xml: Path) -> None:
        writer = JClass("fiji.plugin.trackmate.io.TmXmlWriter")(JClass("java.io.File")(str(xml.resolve())), logger)
        writer.appendLog(text)
        writer.appendModel(model)
        writer.appendSettings(ts)
        writer.writeToFile()

    if out.suffix.lower() != ".geff":
        write_replacing(out, "trackmate-xml", write_xml, overwrite=overwrite, sidecars=(".meshes",))
        return
    from ..export._convert import xml_to_geff

    with disk_full_as_error(out, out.parent):
        tmp = make_stage(out.parent, f"{out.name}.source")  # a stale one (SIGKILL) is removed by the next run
    try:
        xml = tmp / f"{out.stem}.xml"
        with disk_full_as_error(out, out.parent):
            write_xml(xml)
        xml_to_geff(xml, out, overwrite=overwrite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
