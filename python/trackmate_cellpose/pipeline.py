"""The standalone pipeline: TIFF in, TrackMate files out, no Fiji involved.

``run_pipeline`` reads the image (axes and calibration from the file), runs the detector, links the detections with the
overlap tracker and writes the requested outputs into OUTDIR, named after the input. Outputs are written to a hidden
staging folder inside OUTDIR and moved into place only when every one succeeded, so a failed run leaves nothing that
looks complete; earlier results are never replaced unless ``overwrite`` (see ``_outputs``). ``check_input`` checks an
input (file, axes, channels, calibration, OUTDIR) without reading its pixels, so that a caller with several inputs
can refuse a bad one before any detection. Both ``trackmate-cellpose run`` and ``trackmate-cellpose demo`` use it.

May import every module of the package except ``bridge``; cellpose/torch load only when detection starts.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ._input import check_run_limits
from ._outputs import (OutDir, check_outdir, commit_outputs, deferred_sigint, disk_full_as_error, make_stage,
                       refuse_existing, remove_stale_stages)
from .calibration import Calibration
from .export._tables import CSV_STYLES, check_csv_style
from .errors import BackendUnavailableError, InvalidSettingsError, PathNotFoundError
from .results import DetectionResult
from .reader import ImageData, ImageHeader, inspect_image, read_image
from .settings import DetectorSettings, RuntimeOptions
from .tracking import OverlapTrackerSettings, TrackingResult, track_overlap

__all__ = ["run_pipeline", "check_input", "require_geff", "PipelineResult", "FORMATS", "DEFAULT_FORMATS",
           "CSV_STYLES", "output_stem", "parse_formats"]

#: Output formats, as help texts and messages list them ("all" = every one of them). They are written in this order
#: except the pictures ("png"), which are written last.
FORMATS = ("xml", "labels", "csv", "ctc", "png", "geff")
#: Formats written when none are asked for: every one that needs no optional package (GEFF needs ``geff``).
DEFAULT_FORMATS = ("xml", "labels", "csv", "ctc", "png")
_TRACKERS = ("overlap", "none")


@dataclass
class PipelineResult:
    """What a pipeline run produced.

    Attributes
    ----------
    image : ImageData
        The input as read (array, axes, calibration).
    detection : DetectionResult
    tracking : TrackingResult
    files : list of Path
        Files written (final locations).
    timings : dict[str, float]
        Seconds spent reading, detecting, tracking, exporting.
    """

    image: ImageData
    detection: DetectionResult
    tracking: TrackingResult
    outdir: Path
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """Human-readable multi-line summary: objects per frame, tracks, files, timings."""
        det, tr = self.detection, self.tracking
        per_frame = [len(fr.detections) for fr in det.frames]
        kind = ("3D" if det.is_3d else "2D") + ("+t" if len(per_frame) > 1 else "")
        out_degree = Counter(lk.source for lk in tr.links)
        n_split = sum(1 for n in out_degree.values() if n > 1)
        lengths = [len(t) for t in tr.tracks]
        lines = [
            f"{self.image.path.name}: {kind}, {len(per_frame)} frame(s), {det.n_detections} object(s)",
            f"  objects per frame: {' '.join(map(str, per_frame))}",
            (f"  tracks: {len(tr.tracks)} (length min/median/max "
             f"{min(lengths)}/{sorted(lengths)[len(lengths) // 2]}/{max(lengths)}, {n_split} split(s), "
             f"{int((tr.track_of < 0).sum())} untracked object(s))"
             if tr.tracks else f"  tracks: 0 ({'no tracker' if tr.settings is None else 'no links'})"),
            "  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items()),
            f"  files ({self.outdir}):",
        ]
        lines += [f"    {p.relative_to(self.outdir)}" for p in self.files if p.parent == self.outdir]
        ctc = [p for p in self.files if p.parent != self.outdir]
        if ctc:
            lines.append(f"    {ctc[0].parent.relative_to(self.outdir)}/ ({len(ctc)} files, Cell Tracking Challenge)")
        return "\n".join(lines)


def output_stem(path: str | Path) -> str:
    """Name of the outputs of an input file: its name without ``.ome.tif``/``.tif``/``.tiff``."""
    name = Path(path).name
    for ext in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return Path(name).stem


def parse_formats(formats: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"xml,labels"`` or an iterable -> validated tuple (None = ``DEFAULT_FORMATS``, ``"all"`` = every format)."""
    if formats is None:
        return DEFAULT_FORMATS
    items = [f.strip().lower() for f in (formats.split(",") if isinstance(formats, str) else formats) if f.strip()]
    if items == ["all"]:
        return FORMATS
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise InvalidSettingsError(f"formats must be a comma-separated subset of {','.join(FORMATS)}, got "
                                   f"{','.join(items) or '(nothing)'}", key="formats", value=formats)
    return tuple(f for f in FORMATS if f in items)


def check_input(input_path: str | Path, outdir: str | Path, settings: DetectorSettings, *,
                formats: str | Iterable[str] | None = None, axes: str | None = None, pixel_size: float | None = None,
                z_step: float | None = None, dt: float | None = None, overwrite: bool = False,
                t_range: tuple[int, int] | None = None, warn: bool = True) -> ImageHeader:
    """Everything about one input that can be checked without reading its pixels or running cellpose.

    The file is a readable TIFF with usable axes, its channels hold TARGET_CHANNEL / OPTIONAL_CHANNEL_2, the
    calibration overrides are valid, ``t_range`` lies in the movie, OUTDIR can be written, and OUTDIR holds no
    earlier results for this input (unless ``overwrite``) and nothing of another program at an output's name.

    Raises
    ------
    FileNotFoundError, InvalidImageError, InvalidSettingsError, NotADirectoryError, PermissionError,
    OutputExistsError
    """
    fmts = parse_formats(formats)
    src = Path(input_path).expanduser()
    if not src.exists():
        raise PathNotFoundError(f"input image not found: {src}", path=src)
    out = Path(outdir).expanduser()
    check_outdir(out)
    head = inspect_image(src, axes=axes, pixel_size=pixel_size, z_step=z_step, dt=dt, warn=warn)
    n_c = head.n_channels
    if settings.target_channel > n_c:
        raise InvalidSettingsError(
            f"TARGET_CHANNEL must be between 1 and {n_c} for {src.name} (it has {n_c} channel(s)), got "
            f"{settings.target_channel}", key="TARGET_CHANNEL", value=settings.target_channel)
    if settings.channel_2 > n_c:
        raise InvalidSettingsError(
            f"OPTIONAL_CHANNEL_2 must be 0 or between 1 and {n_c} for {src.name} (it has {n_c} channel(s)), got "
            f"{settings.channel_2}", key="OPTIONAL_CHANNEL_2", value=settings.channel_2)
    check_t_range(t_range, head.shape_tczyx[0], src.name)
    check_run_limits(settings, head.calibration, head.shape_tczyx)  # no OpenCV assertion, no huge allocation later
    refuse_existing(out, output_stem(src), fmts, src.name, overwrite=overwrite)
    return head


def check_t_range(t_range: tuple[int, int] | None, n_frames: int, name: str = "the image") -> None:
    """``t_range`` (first, last), 0-based and inclusive as TrackMate's T range, must lie in ``0 .. n_frames - 1``."""
    if t_range is None:
        return
    try:
        a, b = (int(v) for v in t_range)
    except (TypeError, ValueError):
        raise InvalidSettingsError(f"t_range must be (first, last), got {t_range!r}", key="t_range",
                                   value=t_range) from None
    if not 0 <= a <= b < n_frames:
        raise InvalidSettingsError(f"t_range must satisfy 0 <= first <= last <= {n_frames - 1} for {name} (it has "
                                   f"{n_frames} frame(s)), got {a}:{b}", key="t_range", value=t_range)


def run_pipeline(input_path: str | Path, outdir: str | Path, settings: DetectorSettings | None = None, *,
                 tracker: str = "overlap", tracker_settings: OverlapTrackerSettings | None = None,
                 formats: str | Iterable[str] | None = None, axes: str | None = None,
                 pixel_size: float | None = None, z_step: float | None = None, dt: float | None = None,
                 runtime: RuntimeOptions | None = None, progress: bool = True, csv_style: str = "trackmate",
                 log: Callable[[str], None] | None = None, overwrite: bool = False,
                 t_range: tuple[int, int] | None = None) -> PipelineResult:
    """Detect, track and export one image file.

    Parameters
    ----------
    input_path : str or Path
        TIFF / OME-TIFF / ImageJ hyperstack: 2D, 2D+t, 3D or 3D+t, optional channels.
    outdir : str or Path
        Output folder (created if needed). Outputs are named after the input (``<stem>.xml`` ...).
    settings : DetectorSettings, optional
        Detector settings (defaults if omitted).
    tracker : {"overlap", "none"}
    tracker_settings : OverlapTrackerSettings, optional
    formats : str or iterable of str, optional
        Subset of ``xml, labels, csv, ctc, png, geff`` (default: all but ``geff``; ``"all"``: every one). ``xml``
        includes the ``.meshes`` file in 3D; ``geff`` needs the ``geff`` package (``trackmate-cellpose[geff]``).
    axes, pixel_size, z_step, dt
        Override the axes / calibration read from the file (lengths in micrometres).
    runtime : RuntimeOptions, optional
    progress : bool
        Show progress bars (tqdm, on stderr).
    csv_style : {"trackmate", "plain"}
        CSV header layout: TrackMate's four header rows and number format, or one header row of feature keys.
    log : callable(str), optional
        Receives notices.
    overwrite : bool
        Replace the outputs of an earlier run for this input (only files this program writes; stale files of the
        same formats are removed, nothing else). Without it, existing outputs are an error before any work.
    t_range : (first, last), optional
        Frames to process, 0-based and inclusive (TrackMate's T range); the others get no spots. Frame numbers stay
        those of the movie (the XML records the range as TrackMate does; label movies keep every frame).

    Returns
    -------
    PipelineResult

    Raises
    ------
    FileNotFoundError, InvalidImageError, InvalidSettingsError, NotADirectoryError, PermissionError,
    OutputExistsError
        Bad input, unusable OUTDIR or earlier results in the way (checked before any computation). A run that
        fails or is interrupted leaves no output, and removes OUTDIR again if it created it.
    """
    fmts = parse_formats(formats)
    check_csv_style(csv_style, key="csv_style")
    if "geff" in fmts:
        require_geff()
    if tracker not in _TRACKERS:
        raise InvalidSettingsError(f"tracker must be one of {', '.join(_TRACKERS)}, got {tracker!r}",
                                   key="tracker", value=tracker)
    settings = settings or DetectorSettings()
    tracker_settings = tracker_settings or OverlapTrackerSettings()
    src = Path(input_path).expanduser()
    if not src.exists():
        raise PathNotFoundError(f"input image not found: {src}", path=src)
    from .segment import check_model

    check_model(settings)  # a missing or foreign model fails before the image is read
    check_input(src, outdir, settings, formats=fmts, axes=axes, pixel_size=pixel_size, z_step=z_step, dt=dt,
                overwrite=overwrite, t_range=t_range, warn=False)
    outd = OutDir(Path(outdir).expanduser())
    for note in remove_stale_stages(outd.path):  # the staging folders of runs killed outright (SIGKILL)
        (log or (lambda msg: None))(note)
    try:
        return _run(src, outd.path, settings, tracker, tracker_settings, fmts,
                    dict(axes=axes, pixel_size=pixel_size, z_step=z_step, dt=dt), runtime=runtime,
                    progress=progress, say=log or (lambda msg: None), overwrite=overwrite, csv_style=csv_style,
                    t_range=t_range)
    except BaseException:
        with deferred_sigint():  # a second Ctrl-C (or its re-delivery) cannot cut the clean-up short
            outd.discard_if_empty()  # a failed or interrupted run leaves no empty folder it made
        raise


def _run(src: Path, out: Path, settings: DetectorSettings, tracker: str, tracker_settings: OverlapTrackerSettings,
         fmts: tuple[str, ...], read_kw: dict, *, runtime, progress: bool, say, overwrite: bool,
         csv_style: str, t_range: tuple[int, int] | None = None) -> PipelineResult:
    """The body of :func:`run_pipeline` once its inputs are checked and OUTDIR exists."""
    from tqdm.auto import tqdm

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    image = read_image(src, **read_kw)
    timings["read"] = time.perf_counter() - t0
    say(image.describe())

    t0 = time.perf_counter()
    selected = list(range(t_range[0], t_range[1] + 1)) if t_range else None
    n_frames = len(selected) if selected else image.n_frames
    fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total} frames [{elapsed}<{remaining}]{postfix}"
    with tqdm(total=n_frames, desc="detect", disable=not progress, leave=False, bar_format=fmt) as bar:
        def on_progress(fraction: float, message: str) -> None:
            # fractional frames: the engine reports progress inside a frame (3D planes, network batches)
            bar.update(max(0.0, min(1.0, fraction) * n_frames - bar.n))
            if message:
                bar.set_postfix_str(message[:40], refresh=False)

        # frames= only when a range is asked for (tests wrap _detect with its five positional parameters)
        detection = _detect(image, settings, runtime, on_progress, say, **({"frames": selected} if selected else {}))
    timings["detection"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if tracker == "none":
        tracking = TrackingResult.untracked(detection)
    else:
        with tqdm(total=max(n_frames - 1, 0), desc="track", unit="frame", disable=not progress, leave=False) as bar:
            tracking = track_overlap(detection, tracker_settings, log=say,
                                     progress=lambda k, total: bar.update(k - bar.n))
    timings["tracking"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stem = output_stem(src)
    with disk_full_as_error(out / f".{stem}.partial-*", out):
        stage = make_stage(out, stem)
    try:
        written = _export(stage, stem, image, detection, tracking, settings, fmts,
                          progress=progress, tracker_name=tracker, csv_style=csv_style, t_range=t_range)
        files = commit_outputs(stage, out, written, stem=stem, formats=fmts, overwrite=overwrite,
                               source_name=src.name)
    finally:
        with deferred_sigint():
            shutil.rmtree(stage, ignore_errors=True)
    timings["export"] = time.perf_counter() - t0
    return PipelineResult(image=image, detection=detection, tracking=tracking, outdir=out, files=files,
                          timings=timings)


def require_geff() -> None:
    try:
        import geff  # noqa: F401
    except ImportError as e:
        raise BackendUnavailableError("the geff format needs the geff package: pip install "
                                      "'trackmate-cellpose[geff]' (or pip install geff)") from e


def _detect(image: ImageData, settings, runtime, on_progress, say, frames: list[int] | None = None) -> DetectionResult:
    from .detect import detect

    return detect(image.array, settings, axes="tczyx", calibration=image.calibration, runtime=runtime,
                  frames=frames, progress=on_progress, log=say)


def _export(stage: Path, stem: str, image: ImageData, detection: DetectionResult, tracking: TrackingResult,
            settings: DetectorSettings, fmts: tuple[str, ...], *, progress: bool, tracker_name: str,
            csv_style: str = "trackmate", t_range: tuple[int, int] | None = None) -> list[Path]:
    from tqdm.auto import tqdm

    from . import export

    cal: Calibration = image.calibration
    frames = sorted(detection.frames, key=lambda f: f.frame)
    written: list[Path] = []
    p = stage / f"{stem}_settings.json"

    def guard(name: str):  # a full disk names the output and OUTDIR, not the hidden staging folder
        return disk_full_as_error(stage.parent / name, stage.parent, stage=stage)

    with guard(p.name):
        p.write_text(settings.to_json() + "\n")
    written.append(p)
    steps = [f for f in fmts if f != "png"] + (["png"] if "png" in fmts else [])
    log_text = (f"Created by trackmate-cellpose (standalone pipeline) from {image.path}\n"
                f"{image.describe()}\nTracker: {tracker_name}"
                + (f" ({tracking.settings})" if tracking.settings else "") + "\n")

    def write_xml(xml: Path) -> Path:
        return export.write_trackmate_xml(xml, tracking, cal,
                                          image=dataclasses.replace(export.ImageInfo.from_path(
                                              image.path, image.array.shape), t_range=t_range),
                                          detector_settings=settings.to_trackmate_map(), log_text=log_text)

    for fmt in tqdm(steps, desc="export", unit="format", disable=not progress, leave=False):
        with guard(_FORMAT_FILE[fmt].format(stem=stem)):
            written += _export_one(fmt, stage, stem, image, detection, tracking, frames, cal, write_xml,
                                   csv_style=csv_style, t_range=t_range)
    return written


#: The output a format's step writes first (named in a "no space left on device" error when no file was begun).
_FORMAT_FILE = {"xml": "{stem}.xml", "labels": "{stem}_labels.tif", "csv": "{stem}_spots.csv", "ctc": "{stem}_ctc",
                "png": "{stem}_overlay.png", "geff": "{stem}.geff"}


def _export_one(fmt: str, stage: Path, stem: str, image: ImageData, detection: DetectionResult,
                tracking: TrackingResult, frames, cal: Calibration, write_xml, *, csv_style: str,
                t_range: tuple[int, int] | None) -> list[Path]:
    """Write one format into the staging folder; return its files."""
    from . import export
    from .export._pictures import pick_frames

    written: list[Path] = []
    if fmt == "xml":
        xml = write_xml(stage / f"{stem}.xml")
        written.append(xml)
        meshes = export.write_meshes(xml, tracking)
        if meshes is not None:
            written.append(meshes)
    elif fmt == "labels":
        # frame by frame: the label movies are never held whole in memory (long movies); every frame of the
        # movie is there (empty outside a T range), so that the labels overlay the input in Fiji
        shape = (image.n_frames, *image.array.shape[2:])
        n_spots = len(tracking.spots)
        done = [f.frame for f in frames]
        written.append(export.write_label_tiff(
            stage / f"{stem}_labels.tif",
            _every_frame(export.iter_spot_id_images(tracking, frames, calibration=cal), done, shape), cal,
            shape_tzyx=shape, max_label=n_spots))
        if tracking.settings is not None:
            written.append(export.write_label_tiff(
                stage / f"{stem}_track_labels.tif",
                _every_frame(export.iter_spot_id_images(tracking, frames, by_track=True, calibration=cal), done,
                             shape), cal, shape_tzyx=shape, max_label=n_spots))
    elif fmt == "csv":
        written += export.write_csv_tables(stage, stem, tracking, cal, style=csv_style)
    elif fmt == "geff":
        written.append(_write_geff(stage, stem, write_xml, tracking, frames, cal))
    elif fmt == "ctc":
        ctc_dir = stage / f"{stem}_ctc"
        paths = export.write_ctc(ctc_dir, tracking, frames, cal)
        written.append(ctc_dir)
        written += paths
    elif fmt == "png":
        shape = (image.n_frames, *image.array.shape[2:])
        ids = (np.stack(list(_every_frame(export.iter_spot_id_images(tracking, frames, calibration=cal),
                                          [f.frame for f in frames], shape)))
               if detection.is_3d else None)
        done = [f.frame for f in frames]
        shown = [done[k] for k in pick_frames(len(done))] if t_range else None
        written.append(export.write_overlay_png(stage / f"{stem}_overlay.png", image.array, tracking, cal,
                                                spot_ids_tzyx=ids, frames=shown))
        if image.n_frames > 1 and not detection.is_3d:
            written.append(export.write_overlay_gif(stage / f"{stem}_overlay.gif", image.array, tracking, cal))
        if detection.is_3d:
            written.append(export.write_mesh_png(stage / f"{stem}_meshes.png", tracking, cal,
                                                 image_shape_zyx=image.array.shape[2:]))
    return written


def _every_frame(images, done: list[int], shape_tzyx: tuple[int, ...]):
    """The label images of the processed frames ``done`` (in order), with empty ones for the frames not processed."""
    it = iter(images)
    todo = set(done)
    for t in range(shape_tzyx[0]):
        yield next(it) if t in todo else np.zeros(shape_tzyx[1:], np.int32)


def _write_geff(stage: Path, stem: str, write_xml, tracking: TrackingResult, frames, cal: Calibration) -> Path:
    """``<stem>.geff``: the model as the XML states it (one source of truth for both files), meshes in full
    precision, and the spot-ID label image as the GEFF's ``labels`` array."""
    from .export import spot_id_images
    from .export._geff_write import write_geff
    from .export._xml_read import read_trackmate_xml

    tmp = write_xml(stage / f".{stem}.geff-source.xml")
    try:
        model = read_trackmate_xml(tmp, meshes=False)
    finally:
        tmp.unlink()
    model.meshes = {i: d.mesh for i, d in enumerate(tracking.spots) if d.mesh is not None and len(d.mesh.faces)}
    # written in the staging folder, then moved up into OUTDIR: paths inside are relative to where it ends up
    return write_geff(stage / f"{stem}.geff", model, labels_tzyx=spot_id_images(tracking, frames, calibration=cal),
                      final_path=stage.resolve().parent / f"{stem}.geff")
