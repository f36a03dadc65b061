"""Spot, edge and track features with TrackMate's names and meanings (numpy only).

Computed from a :class:`TrackingResult` and the calibration, so that the XML and CSV exporters write the same values
TrackMate's analyzers would (positions in physical units, times in the time unit).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..calibration import Calibration
from ._overlap import TrackingResult

#: Standard spot features, in TrackMate's order.
SPOT_FEATURE_ORDER = ("QUALITY", "POSITION_X", "POSITION_Y", "POSITION_Z", "POSITION_T", "FRAME", "RADIUS",
                      "VISIBILITY")


def spot_features(tracking: TrackingResult, calibration: Calibration) -> list[dict[str, Any]]:
    """Per spot: the standard features, then the detection's extra features (floats; FRAME/VISIBILITY ints)."""
    extra: list[str] = []
    for d in tracking.spots:
        for k in d.features:
            if k not in extra and k not in SPOT_FEATURE_ORDER:
                extra.append(k)
    rows = []
    for d in tracking.spots:
        row: dict[str, Any] = {
            "QUALITY": float(d.quality), "POSITION_X": float(d.x), "POSITION_Y": float(d.y),
            "POSITION_Z": float(d.z), "POSITION_T": float(d.frame * calibration.t), "FRAME": int(d.frame),
            "RADIUS": float(d.radius), "VISIBILITY": 1,
        }
        for k in extra:
            v = d.features.get(k, float("nan"))
            row[k] = float(v)
        rows.append(row)
    return rows


def edge_features(tracking: TrackingResult, calibration: Calibration) -> list[dict[str, Any]]:
    """Per link: SPOT_SOURCE_ID, SPOT_TARGET_ID, LINK_COST, EDGE_TIME, EDGE_X/Y/Z_LOCATION, SPEED, DISPLACEMENT."""
    out = []
    for lk in tracking.links:
        a, b = tracking.spots[lk.source], tracking.spots[lk.target]
        disp = float(np.hypot(np.hypot(b.x - a.x, b.y - a.y), b.z - a.z))
        dt = (b.frame - a.frame) * calibration.t
        out.append({
            "SPOT_SOURCE_ID": int(lk.source), "SPOT_TARGET_ID": int(lk.target), "LINK_COST": float(lk.cost),
            "EDGE_TIME": 0.5 * (a.frame + b.frame) * calibration.t,
            "EDGE_X_LOCATION": 0.5 * (a.x + b.x), "EDGE_Y_LOCATION": 0.5 * (a.y + b.y),
            "EDGE_Z_LOCATION": 0.5 * (a.z + b.z),
            "SPEED": disp / dt if dt else float("nan"), "DISPLACEMENT": disp,
        })
    return out


def track_features(tracking: TrackingResult, calibration: Calibration) -> list[dict[str, Any]]:
    """Per track (index = TRACK_ID): TrackMate's branching, duration, location, speed and quality features."""
    n_out: dict[int, int] = {}
    n_in: dict[int, int] = {}
    for lk in tracking.links:
        n_out[lk.source] = n_out.get(lk.source, 0) + 1
        n_in[lk.target] = n_in.get(lk.target, 0) + 1
    edges = edge_features(tracking, calibration)
    edges_of: dict[int, list[dict[str, Any]]] = {}
    for lk, e in zip(tracking.links, edges):
        edges_of.setdefault(int(tracking.track_of[lk.source]), []).append(e)
    out = []
    for tid, ids in enumerate(tracking.tracks):
        sp = [tracking.spots[i] for i in ids]
        frames = np.array([d.frame for d in sp])
        t = frames * calibration.t
        first, last = sp[int(np.argmin(frames))], sp[int(np.argmax(frames))]
        gaps = [e for e in edges_of.get(tid, [])
                if abs(tracking.spots[e["SPOT_TARGET_ID"]].frame - tracking.spots[e["SPOT_SOURCE_ID"]].frame) > 1]
        longest_gap = max((abs(tracking.spots[e["SPOT_TARGET_ID"]].frame - tracking.spots[e["SPOT_SOURCE_ID"]].frame)
                           - 1 for e in gaps), default=0)
        speeds = np.array([e["SPEED"] for e in edges_of.get(tid, [])], float)
        splits = sum(1 for i in ids if n_out.get(i, 0) > 1)
        merges = sum(1 for i in ids if n_in.get(i, 0) > 1)
        complex_ = sum(1 for i in ids if n_out.get(i, 0) > 1 and n_in.get(i, 0) > 1)
        out.append({
            "TRACK_INDEX": tid, "TRACK_ID": tid,
            "NUMBER_SPOTS": len(ids), "NUMBER_GAPS": len(gaps), "LONGEST_GAP": int(longest_gap),
            "NUMBER_SPLITS": splits, "NUMBER_MERGES": merges, "NUMBER_COMPLEX": complex_,
            "TRACK_DURATION": float(t.max() - t.min()), "TRACK_START": float(t.min()), "TRACK_STOP": float(t.max()),
            "TRACK_DISPLACEMENT": float(np.sqrt((last.x - first.x) ** 2 + (last.y - first.y) ** 2
                                                + (last.z - first.z) ** 2)),
            "TRACK_X_LOCATION": float(np.mean([d.x for d in sp])),
            "TRACK_Y_LOCATION": float(np.mean([d.y for d in sp])),
            "TRACK_Z_LOCATION": float(np.mean([d.z for d in sp])),
            "TRACK_MEAN_SPEED": _stat(np.mean, speeds), "TRACK_MAX_SPEED": _stat(np.max, speeds),
            "TRACK_MIN_SPEED": _stat(np.min, speeds), "TRACK_MEDIAN_SPEED": _stat(np.median, speeds),
            "TRACK_STD_SPEED": _stat(np.std, speeds),
            "TRACK_MEAN_QUALITY": float(np.mean([d.quality for d in sp])),
        })
    return out


def _stat(fn, values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    return float(fn(v)) if v.size else float("nan")
