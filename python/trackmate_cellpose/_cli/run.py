"""``trackmate-cellpose run INPUT [INPUT ...] -o OUTDIR [options]``: the standalone pipeline on image files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..settings import DetectorSettings, RuntimeOptions, settings_table

__all__ = ["register", "add_detector_options", "settings_from_args", "add_common_run_options", "add_runtime_options",
           "runtime_from_args"]

# field -> (option names, argparse kwargs beyond help)
_OPTIONS: dict[str, tuple[tuple[str, ...], dict]] = {
    "model": (("--model",), {"metavar": "NAME"}),
    "model_path": (("--model-path",), {"metavar": "FILE"}),
    "target_channel": (("--channel",), {"type": int, "metavar": "N"}),
    "channel_2": (("--channel2",), {"type": int, "metavar": "N"}),
    "diameter": (("--diameter",), {"type": float, "metavar": "D"}),
    "cellprob_threshold": (("--cellprob",), {"type": float, "metavar": "T"}),
    "flow_threshold": (("--flow",), {"type": float, "metavar": "T"}),
    "iou_threshold": (("--iou",), {"type": float, "metavar": "T"}),
    "min_size": (("--min-size",), {"type": float, "metavar": "N"}),
    "smoothing_scale": (("--smoothing",), {"type": float, "metavar": "S"}),
}
# boolean fields: (on option, off option)
_FLAGS = {
    "use_gpu": ("--gpu", "--cpu"),
    "resample": ("--resample", "--no-resample"),
    "do_2dz": ("--2dz", "--3d"),
    "simplify_contours": ("--simplify", "--no-simplify"),
}


def add_detector_options(p: argparse.ArgumentParser) -> None:
    """Add ``--settings`` and one option per detector setting (defaults None: only given ones override)."""
    g = p.add_argument_group("detector settings (override --settings; defaults in brackets)")
    g.add_argument("--settings", metavar="S.json", type=Path,
                   help="JSON object of TrackMate keys (as written to <stem>_settings.json)")
    table = {row["field"]: row for row in settings_table()}
    for fld, (names, kw) in _OPTIONS.items():
        row = table[fld]
        g.add_argument(*names, dest=f"s_{fld}", default=None,
                       help=f"{row['key']}: {row['doc']} [{row['default']!r}]", **kw)
    for fld, (on, off) in _FLAGS.items():
        row = table[fld]
        g.add_argument(on, dest=f"s_{fld}", action="store_const", const=True, default=None,
                       help=f"{row['key']}=true: {row['doc']} [{row['default']!r}]")
        g.add_argument(off, dest=f"s_{fld}", action="store_const", const=False, help=f"{row['key']}=false")


def settings_from_args(args: argparse.Namespace, base: DetectorSettings | None = None) -> DetectorSettings:
    """Settings file (or ``base``), then every option given on the command line."""
    settings = base or DetectorSettings()
    if getattr(args, "settings", None) is not None:
        path = Path(args.settings)
        if not path.is_file():
            raise FileNotFoundError(f"--settings file not found: {path}")
        settings = DetectorSettings.from_json(path.read_text())
    changes = {k[2:]: v for k, v in vars(args).items() if k.startswith("s_") and v is not None}
    if changes.get("model_path") and "model" not in changes and not settings.is_custom_model:
        changes["model"] = "CUSTOM"  # a model file given alone means "use this file"
    return settings.replace(**changes) if changes else settings


def add_common_run_options(p: argparse.ArgumentParser) -> None:
    """Tracker, formats, progress options shared by ``run`` and ``demo``."""
    t = p.add_argument_group("tracking (TrackMate's overlap tracker)")
    t.add_argument("--tracker", choices=("overlap", "none"), default="overlap", help="[overlap]")
    t.add_argument("--min-iou", type=float, default=0.3, metavar="X",
                   help="MIN_IOU: link when IoU is strictly above this [0.3]")
    t.add_argument("--scale-factor", type=float, default=1.0, metavar="F",
                   help="SCALE_FACTOR: scale shapes about their centre before the IoU [1.0]")
    t.add_argument("--iou-mode", choices=("precise", "fast"), default="precise",
                   help="IOU_CALCULATION: polygons, or bounding boxes [precise]")
    t.add_argument("--iou-3d", choices=("voxels", "xy"), default="voxels",
                   help="3D: IoU of the objects' voxels, or TrackMate's XY circles (Z ignored; parity) [voxels]")
    o = p.add_argument_group("output")
    o.add_argument("--formats", default="xml,labels,csv,ctc,png", metavar="LIST",
                   help="comma-separated subset of xml,labels,csv,ctc,png,geff, or all (geff needs the geff "
                        "package) [xml,labels,csv,ctc,png]")
    o.add_argument("--csv-style", choices=("trackmate", "plain"), default="trackmate",
                   help="CSV tables: TrackMate's own layout (4 header rows: key, name, short name, unit) or one "
                        "header row of feature keys [trackmate]")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress bars or summary")


def add_runtime_options(p: argparse.ArgumentParser) -> None:
    """Runtime knobs (never saved with the settings): device, batching, dask.distributed scale-out."""
    r = p.add_argument_group("runtime (how to run; never written into TrackMate files)")
    r.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="auto follows the USE_GPU setting [auto]")
    r.add_argument("--frames-per-batch", type=int, default=RuntimeOptions.frames_per_batch, metavar="N",
                   help="2D frames per cellpose call; progress and cancel are checked between calls "
                        f"[{RuntimeOptions.frames_per_batch}]")
    r.add_argument("--workers", type=int, default=0, metavar="N",
                   help="run frames on a local dask cluster of N worker processes (needs dask[distributed]) [0 = "
                        "in-process]")
    r.add_argument("--scheduler", default="", metavar="ADDRESS",
                   help="run frames on an existing dask cluster, e.g. tcp://10.0.0.5:8786 (wins over --workers)")


def runtime_from_args(args: argparse.Namespace) -> RuntimeOptions:
    return RuntimeOptions(device=args.device, frames_per_batch=args.frames_per_batch, workers=args.workers,
                          scheduler=args.scheduler)


def quiet_backends(args: argparse.Namespace) -> None:
    """Keep cellpose's own log lines and torch's warnings off the terminal unless ``--debug``."""
    if getattr(args, "debug", False):
        return
    import logging
    import warnings

    logging.getLogger("cellpose").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"cellpose(\..*)?$")
    warnings.filterwarnings("ignore", message=r"Sparse invariant checks", category=UserWarning)


def tracker_from_args(args: argparse.Namespace):
    from ..tracking import OverlapTrackerSettings

    return OverlapTrackerSettings(min_iou=args.min_iou, scale_factor=args.scale_factor,
                                  iou_calculation=args.iou_mode.upper(), mode_3d=args.iou_3d)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="detect, track and export one image (TrackMate XML, labels, CSV, CTC, pictures)",
        description="Run cellpose on a TIFF / OME-TIFF / ImageJ hyperstack (2D, 2D+t, 3D or 3D+t, optional "
                    "channels), track with TrackMate's overlap tracker and write files TrackMate opens.")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                   help="image file(s) (.tif, .ome.tif); each gives its own set of outputs in OUTDIR")
    p.add_argument("-o", "--outdir", type=Path, required=True, metavar="OUTDIR",
                   help="output folder (created); outputs are named after INPUT")
    a = p.add_argument_group("image axes and calibration (override the file's)")
    a.add_argument("--axes", metavar="AXES", help="axis letters of the stored array, e.g. tyx, zyx, tzcyx")
    a.add_argument("--pixel-size", type=float, metavar="UM", help="XY pixel size (physical units)")
    a.add_argument("--z-step", type=float, metavar="UM", help="Z step (physical units)")
    a.add_argument("--dt", type=float, metavar="S", help="frame interval")
    add_detector_options(p)
    add_common_run_options(p)
    add_runtime_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..pipeline import parse_formats, run_pipeline

    settings = settings_from_args(args)
    try:
        formats = parse_formats(args.formats)
    except ValueError as e:
        raise UsageError(str(e)) from e
    stems = [path.name.split(".")[0] for path in args.inputs]
    dupes = sorted({st for st in stems if stems.count(st) > 1})
    if dupes:
        raise UsageError(f"inputs must have distinct names (outputs are named after them), got {', '.join(dupes)} "
                         "more than once; run them into separate OUTDIRs")
    runtime = runtime_from_args(args)
    quiet_backends(args)
    log = None if args.quiet else (lambda msg: print(f"trackmate-cellpose: {msg}", file=sys.stderr))
    for path in args.inputs:
        result = run_pipeline(path, args.outdir, settings, tracker=args.tracker,
                              tracker_settings=tracker_from_args(args), formats=formats, axes=args.axes,
                              pixel_size=args.pixel_size, z_step=args.z_step, dt=args.dt, runtime=runtime,
                              progress=not args.quiet, csv_style=args.csv_style, log=log)
        if not args.quiet:
            print(result.summary())
    return 0
