"""The report beside a retrained model: base model against new model on the held-out frames, curated spots as truth.

Both models run through the detector itself (:func:`trackmate_cellpose.detect`, the same settings but the model and
its diameter), so the numbers are what TrackMate would get. Per model: objects found, F1 at IoU 0.5 and the mean IoU
of the matched objects, pooled over the held-out frames and per frame. Written as ``<model>.report.json`` and one
picture, ``<model>.report.png`` (a held-out frame with the curated outlines, the base model's and the new model's,
and the loss curves), each through a temporary file renamed into place.

Imports: matplotlib (lazily), numpy, skimage (lazily); package: calibration, detect (lazily), settings, training.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..calibration import Calibration
from ..settings import DetectorSettings, RuntimeOptions
from ._metrics import Agreement, agreement, pooled


IOU_THRESHOLD = 0.5


def report_paths(model_path: Path) -> tuple[Path, Path]:
    """``(<model>.report.json, <model>.report.png)`` beside the model file."""
    stem = model_path.with_suffix("") if model_path.suffix else model_path
    return Path(f"{stem}.report.json"), Path(f"{stem}.report.png")


def evaluate_model(settings: DetectorSettings, images_tczyx: np.ndarray, calibration: Calibration,
                   truth: Sequence[np.ndarray], *, runtime: RuntimeOptions,
                   cancel: Callable[[], bool] | None = None) -> tuple[list[Agreement], list[np.ndarray]]:
    """Run the detector with ``settings`` on the frames ``images_tczyx`` and compare each with its truth labels."""
    from ..detect import detect

    result = detect(images_tczyx, settings, axes="tczyx", calibration=calibration, runtime=runtime, cancel=cancel)
    found = [np.asarray(fr.labels) for fr in result.frames]
    return [agreement(t, f, iou_threshold=IOU_THRESHOLD) for t, f in zip(truth, found)], found


def _model_block(name: str, settings: DetectorSettings, per_frame: list[Agreement], frames: Sequence[int],
                 calibration: Calibration) -> dict[str, Any]:
    total = pooled(per_frame)
    d_px = settings.diameter / calibration.x if settings.diameter > 0 else 0.0
    return {"model": name, "diameter": settings.diameter, "diameter_px": d_px, **total.to_dict(),
            "frames": {int(f): a.to_dict() for f, a in zip(frames, per_frame)}}


def write_atomic(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` for a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def summary_lines(report: dict) -> list[str]:
    """The report's numbers as a few printable lines."""
    where = "held-out" if report["held_out"] else "training (no frame was held out)"
    lines = [f"evaluated on {len(report['evaluation_frames'])} {where} frame(s) {report['evaluation_frames']}, "
             f"{report['base']['n_true']} curated objects, IoU threshold {IOU_THRESHOLD:g}:"]
    for key in ("base", "new"):
        b = report[key]
        miou = "-" if b["mean_iou"] is None else f"{b['mean_iou']:.3f}"
        lines.append(f"  {key:4s} {b['model']}: {b['n_found']} objects found, F1 {b['f1']:.3f}, "
                     f"mean matched IoU {miou}")
    lines.append(f"  F1 {report['base']['f1']:.3f} -> {report['new']['f1']:.3f} "
                 f"({report['new']['f1'] - report['base']['f1']:+.3f})")
    return lines


def write_report(json_path: Path, png_path: Path, *, fit: dict, base: dict, new: dict, frames: Sequence[int],
                 held_out: bool, picture: dict, extra: dict) -> dict:
    """Write the JSON report and the picture; return the report as a dict."""
    report = {"held_out": held_out, "evaluation_frames": [int(f) for f in frames], "iou_threshold": IOU_THRESHOLD,
              "base": base, "new": new, "training": fit, **extra}
    text = json.dumps(report, indent=1, default=_jsonable)
    write_atomic(json_path, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    write_atomic(png_path, lambda tmp: _picture(tmp, report, **picture))
    return json.loads(text)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _plane(a: np.ndarray, z: int | None) -> np.ndarray:
    return a if z is None else a[z]


def _picture(path: str, report: dict, *, image: np.ndarray, truth: np.ndarray, base_labels: np.ndarray,
             new_labels: np.ndarray, frame: int) -> None:
    """One PNG: the frame with curated / base / new outlines, and the loss curves."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries

    z = None
    if truth.ndim == 3:  # 3D: the plane through most curated objects
        z = int(np.argmax([len(np.unique(p)) for p in truth]))
    img = _plane(image, z).astype(np.float64)
    lo, hi = np.percentile(img, (1.0, 99.8))
    gray = np.clip((img - lo) / max(hi - lo, 1e-9), 0, 1)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.6))
    where = "held-out" if report["held_out"] else "training"
    panels = (("curated spots (truth)", truth, (0.2, 1.0, 0.3), None),
              ("base", base_labels, (1.0, 0.35, 0.2), report["base"]),
              ("new", new_labels, (0.2, 0.7, 1.0), report["new"]))
    for ax, (title, lab, colour, block) in zip(axes, panels):
        rgb = np.repeat(gray[..., None], 3, axis=2)
        edge = find_boundaries(_plane(lab, z), mode="inner") & (_plane(lab, z) > 0)
        rgb[edge] = colour
        ax.imshow(rgb, interpolation="nearest")
        if block is not None:
            f = block["frames"].get(frame) or block["frames"].get(str(frame)) or {}
            title = (f"{title}: {block['model']}\nF1 {block['f1']:.2f} ({where} frames), this frame "
                     f"{f.get('n_found', '?')} found / {f.get('n_true', '?')}")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    ax = axes[3]
    tr = report["training"]
    ep = np.arange(1, len(tr["train_loss"]) + 1)
    ax.plot(ep, tr["train_loss"], label="training loss")
    held = [np.nan if v is None else v for v in tr["held_out_loss"]]
    if np.isfinite(np.asarray(held, dtype=float)).any():
        ax.plot(ep, held, label="held-out loss")
    if tr.get("best_epoch", -1) >= 0:
        ax.axvline(tr["best_epoch"] + 1, color="0.5", ls="--", lw=1, label="saved epoch")
    ax.set_xlabel("epoch")
    ax.set_title("cellpose loss", fontsize=9)
    ax.legend(fontsize=8)
    zt = "" if z is None else f", plane z={z}"
    fig.suptitle(f"frame {frame}{zt} ({where}): F1 at IoU {IOU_THRESHOLD:g} {report['base']['f1']:.3f} -> "
                 f"{report['new']['f1']:.3f}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)
