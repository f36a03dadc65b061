"""``spots.csv``, ``edges.csv`` and ``tracks.csv`` with TrackMate's feature keys as column names (one header row).

Spots carry ``LABEL`` (``ID<n>``), ``ID`` and ``TRACK_ID`` (empty for a spot in no track) before their features, as
in TrackMate's spot table. Imports the standard library only.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..axes import Calibration
from ..tracking import TrackingResult, edge_features, spot_features, track_features

__all__ = ["write_csv_tables"]


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def write_csv_tables(outdir: str | Path, stem: str, tracking: TrackingResult, calibration: Calibration
                     ) -> list[Path]:
    """Write ``<stem>_spots.csv``, ``<stem>_edges.csv`` and ``<stem>_tracks.csv``; return their paths."""
    out = Path(outdir)
    paths = []
    spots = spot_features(tracking, calibration)
    keys = list(spots[0]) if spots else ["QUALITY", "POSITION_X", "POSITION_Y", "POSITION_Z", "POSITION_T",
                                         "FRAME", "RADIUS", "VISIBILITY"]
    p = out / f"{stem}_spots.csv"
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["LABEL", "ID", "TRACK_ID", *keys])
        for i, row in enumerate(spots):
            tid = int(tracking.track_of[i]) if len(tracking.track_of) else -1
            w.writerow([f"ID{i}", i, tid if tid >= 0 else "", *(_fmt(row[k]) for k in keys)])
    paths.append(p)
    edges = edge_features(tracking, calibration)
    p = out / f"{stem}_edges.csv"
    ekeys = ["SPOT_SOURCE_ID", "SPOT_TARGET_ID", "LINK_COST", "EDGE_TIME", "EDGE_X_LOCATION", "EDGE_Y_LOCATION",
             "EDGE_Z_LOCATION", "SPEED", "DISPLACEMENT"]
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["LABEL", "TRACK_ID", *ekeys])
        for lk, e in zip(tracking.links, edges):
            tid = int(tracking.track_of[lk.source])
            w.writerow([f"ID{lk.source} \u2192 ID{lk.target}", tid, *(_fmt(e[k]) for k in ekeys)])
    paths.append(p)
    tracks = track_features(tracking, calibration)
    p = out / f"{stem}_tracks.csv"
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh)
        tkeys = list(tracks[0]) if tracks else ["TRACK_INDEX", "TRACK_ID", "NUMBER_SPOTS"]
        w.writerow(["LABEL", *tkeys])
        for tid, row in enumerate(tracks):
            w.writerow([f"Track_{tid}", *(_fmt(row[k]) for k in tkeys)])
    paths.append(p)
    return paths
