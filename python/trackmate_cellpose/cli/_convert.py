"""``trackmate-cellpose convert IN OUT``: TrackMate XML -> GEFF, or GEFF -> TrackMate XML (direction from IN)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "convert", help="convert a TrackMate XML to GEFF, or a GEFF back to TrackMate XML",
        description="Convert any TrackMate XML (and its .meshes file) to a GEFF zarr group - spots with every "
                    "feature, ROIs, meshes, edges, tracks, feature declarations, settings - or a GEFF back to a "
                    "TrackMate XML. The direction follows IN. Needs the geff package (trackmate-cellpose[geff]).")
    p.add_argument("input", type=Path, metavar="IN", help="TrackMate XML file (.xml) or GEFF folder (.geff)")
    p.add_argument("output", type=Path, metavar="OUT", help="GEFF folder to create (.geff) or TrackMate XML (.xml)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..export import convert
    from ._options import require_geff_for

    require_geff_for("convert")
    # bad paths, a malformed IN, an OUT in the way: the package's errors, which the CLI reports with exit 2
    out = convert(args.input, args.output, overwrite=args.overwrite)
    print(f"trackmate-cellpose: wrote {out}")
    return 0
