"""Cell Tracking Challenge result format: ``mask###.tif`` per frame plus ``res_track.txt`` (``L B E P`` lines).

CTC tracks are unbranched: a TrackMate track with splits becomes one CTC track per branch, each daughter naming the
mother branch as parent ``P``. A spot in no TrackMate track is a one-frame CTC track. Imports numpy and tifffile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..calibration import Calibration
from ..errors import InvalidSettingsError
from ..results import FrameResult
from ..tracking import TrackingResult
from ._label_tiffs import spot_index_image


def ctc_segments(tracking: TrackingResult) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """CTC label of every spot and the ``(L, B, E, P)`` rows of ``res_track.txt``."""
    n = len(tracking.spots)
    succ: dict[int, list[int]] = {}
    pred: dict[int, int] = {}
    for lk in tracking.links:
        succ.setdefault(lk.source, []).append(lk.target)
        pred[lk.target] = lk.source
    seg = np.zeros(n, np.int64)
    rows: list[tuple[int, int, int, int]] = []
    order = sorted(range(n), key=lambda i: (tracking.spots[i].frame, i))
    for i in order:
        if seg[i]:
            continue
        p = pred.get(i)
        label = len(rows) + 1
        parent = int(seg[p]) if p is not None else 0
        cur, frames = i, [tracking.spots[i].frame]
        seg[cur] = label
        while len(succ.get(cur, [])) == 1:
            cur = succ[cur][0]
            seg[cur] = label
            frames.append(tracking.spots[cur].frame)
        rows.append((label, int(min(frames)), int(max(frames)), parent))
    return seg, rows


def write_ctc(outdir: str | Path, tracking: TrackingResult, frames: list[FrameResult],
              calibration: Calibration | None = None) -> list[Path]:
    """Write ``outdir/mask###.tif`` (uint16 label images, Z-stacks in 3D) and ``outdir/res_track.txt``."""
    import tifffile

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    seg, rows = ctc_segments(tracking)
    if len(rows) > np.iinfo(np.uint16).max:
        raise InvalidSettingsError(f"the CTC format's 16-bit masks hold at most {np.iinfo(np.uint16).max} tracks, got "
                                   f"{len(rows)}: leave ctc out of the formats", key="formats", value="ctc")
    frames = sorted(frames, key=lambda f: f.frame)
    digits = max(3, len(str(max((f.frame for f in frames), default=0))))
    paths = []
    base = 0
    for fr in frames:
        idx = spot_index_image(fr, calibration)
        lut = np.r_[0, seg[base:base + len(fr.detections)]].astype(np.uint16)
        p = out / f"mask{fr.frame:0{digits}d}.tif"
        tifffile.imwrite(p, lut[idx], photometric="minisblack")
        paths.append(p)
        base += len(fr.detections)
    p = out / "res_track.txt"
    p.write_text("".join(f"{L} {B} {E} {P}\n" for L, B, E, P in rows))
    paths.append(p)
    return paths
