"""``spots.csv``, ``edges.csv`` and ``tracks.csv``: the spot, edge and track tables of a tracking result.

Two layouts:

- ``"trackmate"`` (default): TrackMate's own CSV export (the *Export to CSV* button of its spot, edge and track
  tables). Up to four header rows - feature keys, feature names, short names, units in parentheses - where the names
  row is left out when every name equals its key and the short-names row when every short name equals its name, as
  TrackMate does; columns ``LABEL, ID, TRACK_ID`` + spot features (spots), ``LABEL, TRACK_ID`` + edge features
  (edges), ``LABEL`` + track features (tracks), features in the order of the XML's declarations; values printed as
  Java prints them (``Integer.toString``, ``Double.toString``: ``1.0E-4``, ``NaN``), no quoting, empty for a missing
  value (the track of a spot in no track).
- ``"plain"``: one header row of feature keys, values in Python's shortest repr, for pandas and friends.

Imports: none; package: calibration, errors, export._xml_write, tracking.
"""

from __future__ import annotations

import csv
import math
from decimal import Decimal
from pathlib import Path

from ..calibration import Calibration
from ..errors import InvalidSettingsError
from ..tracking import TrackingResult, edge_features, spot_features, track_features
from ._xml_write import _TRACK_DECL, feature_declaration, feature_units

#: Layouts of ``write_csv_tables``: TrackMate's four header rows, or one.
CSV_STYLES = ("trackmate", "plain")


def check_csv_style(style: str, *, key: str = "style") -> None:
    """Raise :class:`InvalidSettingsError` unless ``style`` is one of ``CSV_STYLES`` (``key``: the caller's keyword)."""
    if style not in CSV_STYLES:
        raise InvalidSettingsError(f"{key} must be one of {', '.join(CSV_STYLES)}, got {style!r}", key=key,
                                   value=style)

_EDGE_KEYS = ["SPOT_SOURCE_ID", "SPOT_TARGET_ID", "LINK_COST", "EDGE_TIME", "EDGE_X_LOCATION", "EDGE_Y_LOCATION",
              "EDGE_Z_LOCATION", "SPEED", "DISPLACEMENT"]
_EMPTY_SPOT_KEYS = ["QUALITY", "POSITION_X", "POSITION_Y", "POSITION_Z", "POSITION_T", "FRAME", "RADIUS",
                    "VISIBILITY"]


def java_double(v: float) -> str:
    """``v`` as Java's ``Double.toString`` prints it: ``1.0``, ``0.001``, ``1.0E-4``, ``1.2345678E7``, ``NaN``.

    The digits are the shortest that round-trip (Python's repr), as Java's algorithm gives them, with Java's rule of
    at least two significant digits (``4.9E-324``, where the shortest is ``5e-324``).
    """
    f = float(v)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    if f == 0.0:
        return "-0.0" if math.copysign(1.0, f) < 0 else "0.0"
    a = abs(f)
    sign = "-" if f < 0 else ""
    if 1e-3 <= a < 1e7:
        r = repr(a)
        if "e" in r:  # cannot happen in this range with CPython's repr, kept for safety
            r = format(Decimal(r), "f")
        return sign + (r if "." in r else r + ".0")
    _, digits, exp = Decimal(repr(a)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    e10 = len(ds) - 1 + exp
    if len(ds) == 1:  # Java picks the closest decimal of at least 2 digits (differs for subnormals only)
        two = Decimal(a).scaleb(-e10).quantize(Decimal("0.1"))
        ds = f"{two:.1f}".replace(".", "").rstrip("0") or "0"
    return f"{sign}{ds[0]}.{ds[1:] or '0'}E{e10}"


def _plain(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def _java(v, isint: bool) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, str):
        return v
    if isint:
        return str(int(v))
    return java_double(v)


def write_csv_tables(outdir: str | Path, stem: str, tracking: TrackingResult, calibration: Calibration, *,
                     style: str = "trackmate") -> list[Path]:
    """Write ``<stem>_spots.csv``, ``<stem>_edges.csv`` and ``<stem>_tracks.csv``; return their paths.

    Parameters
    ----------
    outdir : str or Path
    stem : str
    tracking : TrackingResult
    calibration : Calibration
        Units (header row 4 in the ``trackmate`` style) and the frame interval (times).
    style : {"trackmate", "plain"}
        Header layout and number format (see the module docstring).

    Raises
    ------
    InvalidSettingsError
        ``style`` is not one of ``CSV_STYLES``.
    """
    check_csv_style(style)
    out = Path(outdir)
    spots = spot_features(tracking, calibration)
    skeys = list(spots[0]) if spots else list(_EMPTY_SPOT_KEYS)
    srows = []
    for i, row in enumerate(spots):
        tid = int(tracking.track_of[i]) if len(tracking.track_of) else -1
        srows.append([f"ID{i}", i, tid if tid >= 0 else None, *(row[k] for k in skeys)])
    edges = edge_features(tracking, calibration)
    erows = [[f"ID{lk.source} \u2192 ID{lk.target}", int(tracking.track_of[lk.source]), *(e[k] for k in _EDGE_KEYS)]
             for lk, e in zip(tracking.links, edges)]
    tracks = track_features(tracking, calibration)
    tkeys = list(tracks[0]) if tracks else list(_TRACK_DECL)
    trows = [[f"Track_{tid}", *(row[k] for k in tkeys)] for tid, row in enumerate(tracks)]
    extra_id = {"ID": ("Spot ID", "Spot ID", "NONE", True), "TRACK_ID": ("Track ID", "Track ID", "NONE", True)}
    tables = (("spots", "spot", ["ID", "TRACK_ID"], skeys, srows),
              ("edges", "edge", ["TRACK_ID"], _EDGE_KEYS, erows),
              ("tracks", "track", [], tkeys, trows))
    paths = []
    for name, kind, ids, keys, rows in tables:
        decl = [extra_id[k] for k in ids] + [feature_declaration(k, kind) for k in keys]
        cols = ids + keys
        p = out / f"{stem}_{name}.csv"
        with open(p, "w", newline="") as fh:
            if style == "plain":
                w = csv.writer(fh)
                w.writerow(["LABEL", *cols])
                for r in rows:
                    w.writerow([r[0], *("" if v is None else _plain(v) for v in r[1:])])
            else:
                # TrackMate writes with no quoting at all and "\n" line ends
                w = csv.writer(fh, quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
                w.writerow(["LABEL", *cols])
                if any(k != d[0] for k, d in zip(cols, decl)):
                    w.writerow(["Label", *(d[0] for d in decl)])
                if any(d[0] != d[1] for d in decl):
                    w.writerow(["Label", *(d[1] for d in decl)])
                units = [feature_units(d[2], calibration.space_unit, calibration.time_unit) for d in decl]
                w.writerow(["", *(f"({u})" if u else "" for u in units)])
                for r in rows:
                    w.writerow([r[0], *(_java(v, d[3]) for v, d in zip(r[1:], decl))])
        paths.append(p)
    return paths
