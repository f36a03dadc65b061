"""``train_from_trackmate``: retrain cellpose on the spots a user curated in TrackMate, write the model and its report.

Order of work: every check first (options, XML, image size, frames, shapes, base model, output files), so that bad
input leaves nothing behind; then the truth labels, training (cellpose's own ``train_seg`` through
``segment._training``), the model file (written to a temporary file and renamed), and the report.

Imports: numpy; package: axes, calibration, errors, reader (lazily), segment (lazily), settings, training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..axes import to_tczyx
from ..calibration import Calibration
from ..errors import (Cancelled, InvalidSettingsError, InvalidTrainingDataError, IsAFolderError, MissingPackageError,
                      OutputExistsError, PathNotFoundError)
from ..settings import CUSTOM_MODEL, DETECTOR_KEY, DetectorSettings, RuntimeOptions
from ._curated import MESHES_NEEDED, CuratedXml, read_curated, truth_labels
from ._options import TrainingOptions
from ._pairs import channels_of, frame_pairs
from ._report import evaluate_model, report_paths, summary_lines, write_report


#: TrackMate-Cellpose's and TrackMate v9-appose's model names that differ from cellpose's own.
_PEER_MODEL_NAMES = {"cytotorch_0": "cyto", "cyto2torch_0": "cyto2", "nucleitorch_0": "nuclei",
                     "tissunet": "tissuenet_cp3", "livecell": "livecell_cp3", "cpx": "CPx"}


@dataclass
class TrainingResult:
    """What :func:`train_from_trackmate` did.

    Attributes
    ----------
    model_path : Path or None
        The new model (None when training stopped before its first epoch ended: nothing was written).
    report_path, picture_path : Path or None
        The JSON report and its picture (None when training stopped early or ``report=False``).
    report : dict or None
        The report's content (see :mod:`trackmate_cellpose.training`).
    stopped : str
        ``""`` when every epoch ran, else ``"cancelled"`` / ``"interrupted"`` (the best epoch so far was kept).
    epochs_done, best_epoch : int
    seconds, seconds_per_epoch : float
    train_frames, held_out_frames : list of int
    diameter : float
        The diameter (image units) to use with the new model (the report's; 0 = the model's own scale, cellpose 4).
    base_model : str
    notes : list of str
    """

    model_path: Path | None
    report_path: Path | None
    picture_path: Path | None
    report: dict | None
    stopped: str
    epochs_done: int
    best_epoch: int
    seconds: float
    seconds_per_epoch: float
    train_frames: list[int]
    held_out_frames: list[int]
    diameter: float
    base_model: str
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Printable lines: where the model is, how training went, and the report's numbers."""
        if self.model_path is None:
            return "training stopped before its first epoch ended: nothing written"
        head = (f"model: {self.model_path} (epoch {self.best_epoch + 1} of {self.epochs_done} trained"
                f"{'; stopped early: ' + self.stopped if self.stopped else ''}; {self.seconds:.0f} s, "
                f"{self.seconds_per_epoch:.1f} s/epoch)")
        lines = [head, f"trained on frames {self.train_frames} from base model {self.base_model}"]
        if self.report is not None:
            lines += summary_lines(self.report)
            lines.append(f"report: {self.report_path} and {self.picture_path}")
        lines.append(f"use it: CELLPOSE_MODEL=CUSTOM, CELLPOSE_MODEL_FILEPATH={self.model_path}, CELL_DIAMETER="
                     f"{self.diameter:g}")
        return "\n".join(lines)


class FrameSource:
    """Frames of an image (or of a region of it) for training: ``frame(t) -> (C, Z, Y, X)``.

    Attributes
    ----------
    shape_tczyx : tuple
        Shape of what :meth:`frame` covers, T being the number of frames from ``first_frame``.
    calibration : Calibration
    origin_xyz : tuple of int
        Pixel position of the region's first pixel in the whole image (TrackMate's crop box).
    first_frame : int
        Absolute frame of ``frame(first_frame)``, the first.
    full_size_xyzt : tuple of int or None
        Size of the whole image, to compare with the XML's (None: not known, not compared).
    name : str
    """

    def __init__(self, array_tczyx: np.ndarray, calibration: Calibration, *, origin_xyz=(0, 0, 0),
                 first_frame: int = 0, full_size_xyzt: tuple[int, int, int, int] | None = None, name: str = "image"):
        self.array = array_tczyx
        self.shape_tczyx = tuple(int(s) for s in array_tczyx.shape)
        self.calibration = calibration
        self.origin_xyz = tuple(int(v) for v in origin_xyz)
        self.first_frame = int(first_frame)
        self.full_size_xyzt = full_size_xyzt
        self.name = name

    def frame(self, t: int) -> np.ndarray:
        return np.asarray(self.array[t - self.first_frame])


def _source_of(image: Any, axes: str | None, calibration: Calibration | None, pixel_size: float | None,
               z_step: float | None) -> FrameSource:
    if isinstance(image, FrameSource):
        return image
    if isinstance(image, (str, Path)):
        from ..reader import read_image

        img = read_image(image, axes=axes, pixel_size=pixel_size, z_step=z_step)
        t, _, z, y, x = img.array.shape
        return FrameSource(img.array, calibration or img.calibration, full_size_xyzt=(x, y, z, t),
                           name=img.path.name)
    arr, cal = to_tczyx(image, axes, calibration)
    t, _, z, y, x = arr.shape
    return FrameSource(arr, cal, full_size_xyzt=(x, y, z, t))


def base_model_of(cur: CuratedXml, major: int) -> tuple[str, str, str]:
    """(model name or CUSTOM, model path, where it came from) of the XML's detector settings, else the default."""
    from ..settings import default_model

    det = cur.detector
    name = (det.get("CELLPOSE_MODEL") or "").strip()
    path = (det.get("CELLPOSE_MODEL_FILEPATH") or "").strip()
    key = det.get("DETECTOR_NAME", "")
    if det.get("PRETRAINED_OR_CUSTOM") == "CELLPOSE_MODEL_FILEPATH" or name.upper() == CUSTOM_MODEL:
        if path:
            return CUSTOM_MODEL, path, f"the XML's detector settings ({key})"
    elif name:
        return _PEER_MODEL_NAMES.get(name.lower(), name if name.islower() else name.lower()), "", (
            f"the XML's detector settings ({key})")
    return default_model(major), "", f"the installed cellpose {major}'s default (the XML names no cellpose model)"


def _detector_settings(cur: CuratedXml, notes: list[str]) -> tuple[DetectorSettings, bool]:
    """The XML's settings when it was made with this detector (thresholds, mode, channels; True), else the defaults
    (False)."""
    if cur.detector.get("DETECTOR_NAME") != DETECTOR_KEY:
        return DetectorSettings(), False
    raw = {k: v for k, v in cur.detector.items() if k != "DETECTOR_NAME"}
    defaults = DetectorSettings().to_trackmate_map()
    typed = {}
    for k, v in raw.items():
        d = defaults.get(k)
        try:
            typed[k] = (v.lower() == "true") if isinstance(d, bool) else type(d)(v) if d is not None else v
        except (TypeError, ValueError):
            typed[k] = v
    try:
        return DetectorSettings.from_trackmate_map(typed, strict=False), True
    except InvalidSettingsError as e:
        notes.append(f"the XML's detector settings cannot be used ({e}); the defaults are used for the report")
        return DetectorSettings(), False


def _split(frames: list[int], options: TrainingOptions) -> tuple[list[int], list[int]]:
    if options.holdout_frames is not None:
        missing = sorted(set(options.holdout_frames) - set(frames))
        if missing:
            raise InvalidTrainingDataError(f"--holdout-frames {missing} are not among the curated frames {frames}")
        held = list(options.holdout_frames)
    else:
        n = len(frames)
        k = int(round(options.holdout_fraction * n))
        if options.holdout_fraction > 0 and n >= 2:
            k = min(max(k, 1), n - 1)
        else:
            k = 0
        held = [frames[int((i + 0.5) * n / k)] for i in range(k)] if k else []
    train = [f for f in frames if f not in held]
    if not train:
        raise InvalidTrainingDataError(f"every curated frame {frames} is held out; keep at least one for training")
    return train, held


def _check_outputs(output: Path, overwrite: bool, base_path: str, report: bool) -> list[Path]:
    if output.is_dir():
        raise IsAFolderError(f"-o/--output must be a model file, got the folder {output}", path=output)
    if not output.parent.is_dir():
        raise PathNotFoundError(f"-o/--output: folder {output.parent} does not exist", path=output.parent)
    if base_path and Path(base_path).expanduser().resolve() == output.resolve():
        raise InvalidSettingsError(f"-o/--output {output} is the base model itself; write the new model to another "
                                   "file", key="output", value=str(output))
    paths = [output, *(report_paths(output) if report else ())]
    there = [p for p in paths if p.exists()]
    if there and not overwrite:
        raise OutputExistsError(f"{', '.join(str(p) for p in there)} already exist(s); pass --overwrite to replace "
                                "them", paths=there)
    return paths


def train_from_trackmate(image: Any, xml: str | Path, output: str | Path, *, frames: Sequence[int] | None = None,
                         model: str | None = None, model_path: str | Path | None = None,
                         options: TrainingOptions | None = None, axes: str | None = None,
                         calibration: Calibration | None = None, pixel_size: float | None = None,
                         z_step: float | None = None, channel: int | None = None, channel_2: int | None = None,
                         report: bool = True, overwrite: bool = False,
                         progress: Callable[[float, str], None] | None = None,
                         cancel: Callable[[], bool] | None = None,
                         log: Callable[[str], None] | None = None) -> TrainingResult:
    """Retrain cellpose on the curated spots of a TrackMate XML and write a model the detector takes directly.

    Parameters
    ----------
    image : str, Path, ndarray, xarray.DataArray or FrameSource
        The image the XML was made on (TIFF / OME-TIFF / ImageJ hyperstack, or an array with ``axes``).
    xml : str or Path
        A TrackMate XML (7.13, 8.x or v9; any detector whose spots have shapes). 3D needs v9's ``.meshes`` beside it.
    output : str or Path
        The model file to write; the report goes beside it (``<output>.report.json``, ``.report.png``).
    frames : sequence of int, optional
        The curated frames to use; default: every frame with a visible spot.
    model, model_path : str, optional
        Base model: a built-in name or a file. Default: the model in the XML's detector settings, else the installed
        cellpose's default.
    options : TrainingOptions, optional
        Epochs, learning rate, held-out frames, seed, device ... (see :class:`TrainingOptions`).
    axes, calibration, pixel_size, z_step
        For an array, or to override the file's (the XML's calibration is used for the spots when it has one).
    channel, channel_2 : int, optional
        1-based channel to segment and optional second channel (default: the XML's detector settings, else 1 and 0).
    report : bool
        Evaluate base and new model on the held-out frames and write the report.
    overwrite : bool
        Replace an existing model / report file.
    progress, cancel, log
        ``progress(fraction, text)``, ``cancel() -> bool`` (stops training; the best epoch so far is kept),
        ``log(text)``.

    Returns
    -------
    TrainingResult

    Raises
    ------
    InvalidTrainingDataError
        The XML and the image do not match, no curated frame, a chosen frame without spots, no shapes.
    InvalidSettingsError, InvalidImageError, OutputExistsError, FileNotFoundError
        Bad options, base model (missing, of the other cellpose major), image or output.
    MissingPackageError
        scikit-image (or, with ``report``, matplotlib) is not installed in this Python.
    """
    from ..segment import cellpose_major_version, check_model

    options = options or TrainingOptions()
    require_packages(report)
    notes: list[str] = []

    def note(msg: str) -> None:
        notes.append(msg)
        if log is not None:
            log(msg)

    output = Path(output).expanduser().resolve()
    cur = read_curated(xml)
    src = _source_of(image, axes, calibration, pixel_size, z_step)
    cal = _spot_calibration(cur, src, note)
    origin, shape_zyx = _region(cur, src)
    chosen = _choose_frames(cur, src, frames)
    n_shaped, n_plain = cur.n_shapes(chosen)
    if n_shaped == 0:
        if cur.is_3d:
            raise InvalidTrainingDataError(f"{cur.path.name}: the curated 3D spots are spheres only. {MESHES_NEEDED}")
        raise InvalidTrainingDataError(
            f"{cur.path.name}: none of the {n_plain} curated spots has an outline (ROI polygon); cellpose learns "
            "outlines. Detect with a detector that makes them (label image, cellpose, this detector, ...), curate, "
            "save, and train from that XML")
    if n_plain:
        note(f"{n_plain} of {n_shaped + n_plain} curated spots have no {'mesh' if cur.is_3d else 'outline'}: "
             f"drawn as the {'spheres' if cur.is_3d else 'circles'} TrackMate shows")
    train_frames, held = _split(chosen, options)
    major = cellpose_major_version()
    base_name, base_path, origin_text = ((CUSTOM_MODEL, str(model_path), "--model-path") if model_path
                                         else (model, "", "--model") if model else base_model_of(cur, major))
    det, from_xml = _detector_settings(cur, notes)
    det = det.replace(model=base_name, model_path=base_path, **({"target_channel": channel} if channel else {}),
                      **({"channel_2": channel_2} if channel_2 is not None else {}))
    if det.target_channel > src.shape_tczyx[1] or det.channel_2 > src.shape_tczyx[1]:
        raise InvalidSettingsError(f"--channel {det.target_channel} / --channel2 {det.channel_2}: the image has "
                                   f"{src.shape_tczyx[1]} channel(s)", key="TARGET_CHANNEL", value=det.target_channel)
    spec = _check_base(check_model, det, major, origin_text)
    _check_outputs(output, overwrite, spec.path or "", report)
    note(f"base model {spec.label} ({origin_text}); training frames {train_frames}, held out {held}")

    # truth labels and training pairs
    truth = {}
    for f in chosen:
        lab, _ = truth_labels(cur, f, shape_zyx if cur.is_3d else shape_zyx[1:], origin, cal)
        if not lab.any():
            raise InvalidTrainingDataError(f"frame {f}: none of its curated spots lies inside the image region "
                                           f"{_region_text(origin, shape_zyx)}")
        truth[f] = lab
    pixels = {f: _crop(src, f, origin, shape_zyx, det) for f in chosen}
    pairs_train = [p for f in train_frames for p in frame_pairs(pixels[f], truth[f], cal.anisotropy)]
    pairs_held = [p for f in held for p in frame_pairs(pixels[f], truth[f], cal.anisotropy)]
    return _train_and_report(
        spec=spec, major=major, det=det, det_from_xml=from_xml, cal=cal, options=options, output=output, report=report,
        truth=truth, pixels=pixels, train_frames=train_frames, held=held, pairs_train=pairs_train,
        pairs_held=pairs_held, notes=notes, progress=progress, cancel=cancel, log=log)


def require_packages(report: bool) -> None:
    """Training needs scikit-image (the curated outlines as labels) and, for the report's picture, matplotlib: a Python
    with cellpose alone (a detector worker running the update site's code) lacks them. Checked before anything else,
    so that the message (with the command that installs them into this Python) comes before any work."""
    import importlib

    missing = []
    for pkg, mod in [("scikit-image", "skimage")] + ([("matplotlib", "matplotlib")] if report else []):
        try:
            importlib.import_module(mod)
        except ImportError:
            missing.append(pkg)
    if missing:
        raise MissingPackageError(" ".join(missing), "retraining (the curated outlines as label images"
                                  + (", the report's picture)" if report else ")"))


def _check_base(check_model, det: DetectorSettings, major: int, origin_text: str):
    try:
        return check_model(det, major)
    except InvalidSettingsError as e:
        msg = str(e)
        if origin_text.startswith("the XML"):
            msg = f"base model from {origin_text}: {msg}; choose another with --model or --model-path"
        raise InvalidSettingsError(msg, key=e.key, value=e.value) from e


def _spot_calibration(cur: CuratedXml, src: FrameSource, note: Callable[[str], None]) -> Calibration:
    """The calibration the spots were made with: the XML's (TrackMate's ImageData), else the image's."""
    cal = cur.calibration
    if cal is None:
        return src.calibration
    img = src.calibration
    if img.is_spatially_calibrated and not np.allclose(img.xyz, cal.xyz, rtol=1e-3):
        note(f"the image's calibration ({img.x:g} x {img.y:g} x {img.z:g} {img.space_unit}) differs from the one "
             f"TrackMate recorded in {cur.path.name} ({cal.x:g} x {cal.y:g} x {cal.z:g}); the spots are placed "
             "with TrackMate's")
    return cal


def _region_text(origin, shape_zyx) -> str:
    ox, oy, oz = origin
    return f"x {ox}-{ox + shape_zyx[2] - 1}, y {oy}-{oy + shape_zyx[1] - 1}, z {oz}-{oz + shape_zyx[0] - 1}"


def _region(cur: CuratedXml, src: FrameSource) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(origin xyz, shape zyx) of the region trained on: TrackMate's crop box within what the source covers."""
    _, _, nz, ny, nx = src.shape_tczyx
    sx, sy, sz = src.origin_xyz
    if src.full_size_xyzt is not None and cur.size_xyzt is not None:
        fx, fy, fz, ft = src.full_size_xyzt
        wx, wy, wz, wt = cur.size_xyzt
        if (fx, fy, fz, ft) != (wx, wy, wz, wt):
            raise InvalidTrainingDataError(
                f"{src.name} is {fx} x {fy} pixels, {fz} plane(s), {ft} frame(s), but {cur.path.name} was made on an "
                f"image of {wx} x {wy} pixels, {wz} plane(s), {wt} frame(s): give the image the XML was made on")
    lo = [sx, sy, sz]
    hi = [sx + nx - 1, sy + ny - 1, sz + nz - 1]
    if cur.crop_xyzt is not None:
        for d in range(3):
            a, b = cur.crop_xyzt[d]
            lo[d], hi[d] = max(lo[d], a), min(hi[d], b)
    if any(h < lo_ for lo_, h in zip(lo, hi)):
        raise InvalidTrainingDataError(f"TrackMate's detection box in {cur.path.name} lies outside the image")
    return (lo[0], lo[1], lo[2]), (hi[2] - lo[2] + 1, hi[1] - lo[1] + 1, hi[0] - lo[0] + 1)


def _choose_frames(cur: CuratedXml, src: FrameSource, frames: Sequence[int] | None) -> list[int]:
    lo, hi = src.first_frame, src.first_frame + src.shape_tczyx[0] - 1
    if frames is None:
        chosen = [f for f in cur.curated_frames if lo <= f <= hi]
        if not chosen:
            raise InvalidTrainingDataError(
                f"{cur.path.name} has no curated frame: no frame of the image holds a visible spot (every spot is "
                "filtered out, or there is none). Keep the good spots visible in TrackMate and save again")
        return chosen
    chosen = sorted({int(f) for f in frames})
    outside = [f for f in chosen if not lo <= f <= hi]
    if outside:
        raise InvalidTrainingDataError(f"--frames {outside}: the image has frames {lo}-{hi}")
    empty = [f for f in chosen if f not in cur.visible]
    if empty:
        raise InvalidTrainingDataError(
            f"--frames {empty}: no visible spot in {cur.path.name} (empty frames); a curated frame must hold a spot "
            f"for every object in it. Frames with spots: {cur.curated_frames or 'none'}")
    return chosen


def _crop(src: FrameSource, t: int, origin, shape_zyx, det: DetectorSettings) -> np.ndarray:
    """(C', Z, Y, X) float32 of the region of frame ``t``: the channel to segment first, then the optional second."""
    sx, sy, sz = src.origin_xyz
    ox, oy, oz = origin
    nz, ny, nx = shape_zyx
    fr = src.frame(t)[:, oz - sz:oz - sz + nz, oy - sy:oy - sy + ny, ox - sx:ox - sx + nx]
    return channels_of(fr, det.target_channel, det.channel_2)


def _train_and_report(*, spec, major, det, det_from_xml, cal, options, output, report, truth, pixels, train_frames, held,
                      pairs_train, pairs_held, notes, progress, cancel, log) -> TrainingResult:
    from ..segment._training import fine_tune, load_network, save_network

    two = det.channel_2 > 0
    net_model, device = load_network(spec, major, options.device)

    def on_epoch(epoch: int, train_loss: float, held_loss: float, best: bool) -> None:
        if log is not None and (epoch == 0 or (epoch + 1) % 10 == 0 or epoch + 1 == options.epochs):
            h = f", held-out loss {held_loss:.4f}" if pairs_held else ""
            log(f"epoch {epoch + 1}/{options.epochs}: training loss {train_loss:.4f}{h}{' (best)' if best else ''}")

    fit = fine_tune(net_model, major, device, [p[0] for p in pairs_train], [p[1] for p in pairs_train],
                    [p[0] for p in pairs_held], [p[1] for p in pairs_held], options,
                    channel_axis=0 if two else None, two_channels=two, progress=progress, cancel=cancel,
                    on_epoch=on_epoch)
    base_label = spec.label
    if fit.state is None:
        raise Cancelled(f"training {fit.stopped or 'stopped'} before its first epoch ended: nothing written")
    save_network(fit.state, output)
    # the diameter to use the new model with: cellpose 3 rescales objects to the model's size (diam_labels px);
    # cellpose 4 trains at the image's own scale (no rescaling, diameter 0)
    new_diam = float(fit.diam_labels) * cal.x if major == 3 and np.isfinite(fit.diam_labels) else 0.0
    result = TrainingResult(
        model_path=output, report_path=None, picture_path=None, report=None, stopped=fit.stopped,
        epochs_done=fit.epochs_done, best_epoch=fit.best_epoch, seconds=fit.seconds,
        seconds_per_epoch=fit.seconds_per_epoch, train_frames=train_frames, held_out_frames=held,
        diameter=new_diam, base_model=base_label, notes=notes)
    if fit.stopped or not report:
        if fit.stopped and log is not None:
            log(f"training {fit.stopped} after {fit.epochs_done} epoch(s): the best epoch so far "
                f"({fit.best_epoch + 1}) was saved to {output}; no report")
        return result
    frames_eval = held or train_frames
    fit_info = {"base_model": base_label, "cellpose_major": major, "device": device, "epochs": options.epochs,
                "epochs_done": fit.epochs_done, "best_epoch": fit.best_epoch, "seconds": fit.seconds,
                "seconds_per_epoch": fit.seconds_per_epoch, "train_frames": train_frames, "held_out_frames": held,
                "n_train_images": len(pairs_train), "n_held_out_images": len(pairs_held),
                "train_loss": fit.train_loss, "held_out_loss": [None if not np.isfinite(v) else v
                                                                for v in fit.held_out_loss],
                "learning_rate": options.learning_rate, "seed": options.seed, "diam_labels_px": fit.diam_labels}
    if progress is not None:
        progress(1.0, "evaluating base and new model")
    imgs = np.stack([pixels[f] for f in frames_eval])  # (T, C', Z, Y, X)
    eval_settings = det.replace(target_channel=1, channel_2=2 if det.channel_2 else 0,
                                use_gpu=device != "cpu")
    # the base model as the user ran it (this detector's XML settings), else at the curated objects' size
    base_settings = eval_settings if det_from_xml else eval_settings.replace(diameter=new_diam)
    new_settings = eval_settings.replace(model=CUSTOM_MODEL, model_path=str(output), diameter=new_diam)
    # the PyTorch path gives the ONNX default's masks without exporting each new model first
    runtime = RuntimeOptions(device=device, inference="fast")
    truths = [truth[f] for f in frames_eval]
    base_a, base_l = evaluate_model(base_settings, imgs, cal, truths, runtime=runtime, cancel=cancel)
    new_a, new_l = evaluate_model(new_settings, imgs, cal, truths, runtime=runtime, cancel=cancel)
    from ._report import _model_block

    json_path, png_path = report_paths(output)
    k = int(np.argmax([t.max() for t in truths]))
    rep = write_report(
        json_path, png_path, fit=fit_info,
        base=_model_block(base_label, base_settings, base_a, frames_eval, cal),
        new=_model_block(str(output), new_settings, new_a, frames_eval, cal), frames=frames_eval,
        held_out=bool(held),
        picture={"image": imgs[k, 0] if imgs.shape[2] > 1 else imgs[k, 0, 0], "truth": truths[k],
                 "base_labels": base_l[k], "new_labels": new_l[k], "frame": frames_eval[k]},
        extra={"calibration": cal.to_dict(), "notes": notes})
    result.report, result.report_path, result.picture_path = rep, json_path, png_path
    return result

