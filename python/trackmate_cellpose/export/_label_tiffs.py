"""Label-image outputs: ImageJ hyperstack label TIFFs (label = spot or = track) and the per-spot masks behind them.

In 2D a label of the segmentation may hold several connected components, each its own TrackMate spot (as in
TrackMate's label-image detector); :func:`spot_index_image` splits such labels so that every pixel names exactly one
detection. Imports numpy, scipy, scikit-image and tifffile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..calibration import Calibration
from ..errors import InvalidSettingsError
from ..results import FrameResult
from ..tracking import TrackingResult


def spot_index_image(fr: FrameResult, calibration: Calibration | None = None) -> np.ndarray:
    """Image of ``fr.labels``' shape where a pixel holds 1 + the index (in ``fr.detections``) of its detection.

    Pixels of a label with no detection (e.g. removed as too small) are 0. ``calibration`` converts detection
    centres to pixels when a label has several components (image origin at 0).
    """
    labels = np.asarray(fr.labels)
    out = np.zeros(labels.shape, np.int32)
    by_label: dict[int, list[int]] = {}
    for k, d in enumerate(fr.detections):
        by_label.setdefault(int(d.label), []).append(k)
    if not by_label:
        return out
    lut = np.zeros(int(max(labels.max(initial=0), max(by_label))) + 1, np.int32)
    multi = {}
    for lab, ks in by_label.items():
        if len(ks) == 1:
            lut[lab] = ks[0] + 1
        else:
            multi[lab] = ks
    out[:] = lut[labels]
    for lab, ks in multi.items():
        _split_components(labels == lab, [fr.detections[k] for k in ks], ks, out, calibration)
    return out


def _split_components(mask: np.ndarray, dets, ks, out: np.ndarray, cal: Calibration | None) -> None:
    """Give each connected component of ``mask`` to the detection whose centre lies closest to it."""
    from scipy import ndimage as ndi

    comp, n = ndi.label(mask)
    if n == 0:
        return
    centres = np.array(ndi.center_of_mass(mask, comp, range(1, n + 1)))[:, -2:]  # pixel (y, x)
    sx, sy = (cal.x, cal.y) if cal is not None else (1.0, 1.0)
    det_yx = np.array([[d.y / sy, d.x / sx] for d in dets])
    for c in range(1, n + 1):
        best = int(np.argmin(np.hypot(*(det_yx - centres[c - 1]).T)))
        out[comp == c] = ks[best] + 1


def iter_spot_id_images(tracking: TrackingResult, frames: list[FrameResult], *, by_track: bool = False,
                        calibration: Calibration | None = None) -> Iterator[np.ndarray]:
    """:func:`spot_id_images` one frame at a time: yields (Z, Y, X) int32 images, in frame order (memory: one frame)."""
    base = 0
    n_tracks = len(tracking.tracks)
    lone: dict[int, int] = {}
    for fr in sorted(frames, key=lambda f: f.frame):
        idx = spot_index_image(fr, calibration)
        ids = np.arange(base, base + len(fr.detections))
        if by_track:
            vals = []
            for i in ids:
                t = int(tracking.track_of[i]) if len(tracking.track_of) else -1
                if t < 0:
                    t = lone.setdefault(int(i), n_tracks + len(lone))
                vals.append(t + 1)
            lut = np.r_[0, np.array(vals, np.int64)].astype(np.int32)
        else:
            lut = np.r_[0, ids + 1].astype(np.int32)
        img = lut[idx]
        yield img if img.ndim == 3 else img[None]
        base += len(fr.detections)


def spot_id_images(tracking: TrackingResult, frames: list[FrameResult], *, by_track: bool = False,
                   calibration: Calibration | None = None) -> np.ndarray:
    """Stack (T, Z, Y, X) of spot IDs + 1 (or track IDs + 1; spots in no track get IDs after the last track).

    ``frames`` must be the frames whose detections, concatenated in order, are ``tracking.spots``.
    """
    imgs = list(iter_spot_id_images(tracking, frames, by_track=by_track, calibration=calibration))
    return np.stack(imgs) if imgs else np.zeros((0, 1, 1, 1), np.int32)


def write_label_tiff(path: str | Path, labels_tzyx: np.ndarray | Iterable[np.ndarray], calibration: Calibration, *,
                     shape_tzyx: tuple[int, int, int, int] | None = None, max_label: int | None = None) -> Path:
    """ImageJ hyperstack (TZCYX, C = 1) with the calibration; uint16, or float32 beyond 65535 labels.

    ``labels_tzyx`` is a (T, Z, Y, X) array, or an iterable of (Z, Y, X) frames (e.g. :func:`iter_spot_id_images`)
    written one at a time, which then needs ``shape_tzyx`` and ``max_label`` (an upper bound of the labels).
    """
    import tifffile

    p = Path(path)
    meta = {"axes": "TZCYX", "spacing": calibration.z, "finterval": calibration.t}
    if calibration.is_spatially_calibrated:
        meta["unit"] = "micron" if calibration.space_unit in ("um", "\u00b5m", "micron") else calibration.space_unit
    res = (1.0 / calibration.x, 1.0 / calibration.y)
    if isinstance(labels_tzyx, np.ndarray) or shape_tzyx is None:
        arr = np.asarray(labels_tzyx if isinstance(labels_tzyx, np.ndarray) else list(labels_tzyx))
        dtype = np.uint16 if arr.max(initial=0) <= np.iinfo(np.uint16).max else np.float32
        tifffile.imwrite(p, arr.astype(dtype)[:, :, None], imagej=True, resolution=res, metadata=meta)
        return p
    if max_label is None:
        raise InvalidSettingsError("write_label_tiff: max_label must be given (an upper bound of the labels) when "
                                   "the frames come one by one, got None", key="max_label", value=None)
    dtype = np.uint16 if max_label <= np.iinfo(np.uint16).max else np.float32
    t, z, y, x = shape_tzyx

    def planes() -> Iterator[np.ndarray]:
        for vol in labels_tzyx:
            for plane in np.asarray(vol).reshape(-1, y, x):
                yield plane.astype(dtype)

    tifffile.imwrite(p, data=planes(), shape=(t, z, 1, y, x), dtype=dtype, imagej=True, resolution=res,
                     metadata=meta)
    return p
