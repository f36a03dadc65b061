"""``trackmate-cellpose fiji``: open Fiji with the detector, or run TrackMate headless on an image.

* ``trackmate-cellpose fiji [--fiji DIR]`` opens the Fiji GUI (blocks until Fiji is closed); TrackMate then lists
  "Cellpose advanced (Python)".
* ``trackmate-cellpose fiji --fiji DIR --run IMAGE.tif [--settings S.json] [--tracker overlap --min-iou 0.3]
  -o OUT.xml`` runs TrackMate headless (this detector, then TrackMate's tracker) and saves TrackMate's XML
  (``-o OUT.geff``: a GEFF of the same model).

Imports nothing Java-related until the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._options import (add_runtime_options, add_t_range_option, add_tracker_options, read_settings_file,
                      require_geff_for, runtime_from_args, tracker_from_args)


def _roi(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--roi must be X,Y,WIDTH,HEIGHT in pixels, got {text!r}") from None
    return x, y, w, h


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fiji", help="open Fiji with the TrackMate detector, or run TrackMate headless (--run)",
        description=__doc__.split("\n\n")[0] + " Without --run, opens the Fiji GUI and waits until it is closed.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--fiji", metavar="DIR", help="local Fiji.app folder (default: $FIJI_DIR); works offline")
    src.add_argument("--endpoint", metavar="COORDS",
                     help="Maven endpoint for pyimagej instead of a local Fiji, e.g. sc.fiji:fiji (needs network)")
    p.add_argument("--java-home", metavar="DIR",
                   help="Java to run Fiji, and the JDK to compile the glue where no prebuilt jar matches "
                        "(default: $JAVA_HOME)")
    p.add_argument("--max-heap", metavar="SIZE", help="JVM maximum heap, e.g. 8g")
    p.add_argument("--run", metavar="IMAGE", help="run TrackMate headless on IMAGE and exit")
    p.add_argument("-o", "--output", metavar="OUT.xml",
                   help="TrackMate XML to write (with --run); OUT.geff writes a GEFF of the model instead")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT.xml (otherwise an error)")
    p.add_argument("--settings", metavar="S.json", help="detector settings (JSON of TrackMate keys)")
    add_tracker_options(p, with_3d=False)  # TrackMate's own tracker: XY only, no 3D voxel IoU
    p.add_argument("--roi", type=_roi, metavar="X,Y,W,H", help="crop rectangle in pixels")
    add_t_range_option(p)
    p.add_argument("--initial-quality", type=float, default=0.0, help="TrackMate's initial QUALITY threshold")
    p.add_argument("--log", action="store_true", help="print TrackMate's log after a --run")
    p.add_argument("--script", metavar="FILE",
                   help="run a Fiji script (Groovy, Jython, ...) headless in the started Fiji and exit, e.g. "
                        "scripts/fiji/fiji_trackmate_cellpose.groovy")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                   help="a #@ parameter of --script (repeatable), e.g. --arg imageFile=movie.tif")
    add_runtime_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..settings import DetectorSettings

    if args.script and args.run:
        raise UsageError("use either --run or --script, not both")
    if args.arg and not args.script:
        raise UsageError("--arg needs --script FILE")
    if args.output and not args.run:
        raise UsageError("-o/--output needs --run IMAGE")
    if args.run and not args.output:
        raise UsageError("--run needs -o OUT.xml (the TrackMate file to write)")
    if args.output and str(args.output).lower().endswith(".geff"):
        require_geff_for("-o OUT.geff")
    if args.output:  # before Fiji starts: an existing OUT needs --overwrite, and is replaced only if it is ours
        from .._outputs import check_output

        out = Path(args.output)
        check_output(out, "geff" if out.suffix.lower() == ".geff" else "trackmate-xml", overwrite=args.overwrite)
    settings = read_settings_file(args.settings) if args.settings else DetectorSettings()
    tracker_settings = tracker_from_args(args)
    runtime = runtime_from_args(args)

    from ..bridge import run_trackmate, start_fiji
    from ..bridge._service import set_runtime_options

    from ._terminal import get_logger

    log = get_logger().info

    set_runtime_options(runtime)
    if args.script:
        return _run_script(args, log)
    if not args.run:
        def ready(session) -> None:
            log(f"Fiji is up with TrackMate {session.fiji.trackmate_version}: in TrackMate choose "
                f"'Cellpose advanced (Python)'. Close Fiji to exit.")

        start_fiji(args.fiji, endpoint=args.endpoint, mode="gui", java_home=args.java_home,
                   max_heap=args.max_heap, on_ready=ready, log=log)
        return 0
    start_fiji(args.fiji, endpoint=args.endpoint, mode="headless", java_home=args.java_home,
               max_heap=args.max_heap, log=log)
    result = run_trackmate(args.run, settings, output=args.output, tracker=args.tracker,
                           tracker_settings=tracker_settings, roi=args.roi, t_range=args.t_range,
                           initial_quality=args.initial_quality)
    if args.log:
        print(result.log, file=sys.stderr)
    print(f"{result.n_spots} spots in {len(result.spots_per_frame)} frames, {result.n_tracks} tracks "
          f"({result.seconds:.1f} s); wrote {result.output}")
    return 0


def _run_script(args: argparse.Namespace, log) -> int:
    """Run a SciJava script (its #@ parameters from --arg NAME=VALUE) in a headless Fiji started here."""
    from ..bridge import run_script, start_fiji
    from ..errors import UsageError

    from ..errors import PathNotFoundError

    script = Path(args.script)
    if not script.is_file():
        raise PathNotFoundError(f"--script {str(script)!r} does not exist", path=script)
    inputs = {}
    for item in args.arg:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--arg must be NAME=VALUE, got {item!r}")
        inputs[name] = value
    session = start_fiji(args.fiji, endpoint=args.endpoint, mode="headless", java_home=args.java_home,
                         max_heap=args.max_heap, log=log)
    outputs = run_script(script, inputs, session=session)
    log(f"script {script.name} finished")
    for k, v in outputs.items():
        print(f"{k} = {v}")
    return 0
