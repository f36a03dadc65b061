"""``trackmate-cellpose run INPUT [INPUT ...] -o OUTDIR [options]``: the standalone pipeline on image files.

Every input is checked (file, axes, channels, calibration, earlier outputs in OUTDIR) and the model setting too,
before any detection starts; with several inputs a bad one stops the command before any work unless
``--keep-going``, which runs the good ones and reports the bad ones at the end (non-zero exit).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import Cancelled, InvalidSettingsError
from ._options import (add_calibration_options, add_detector_options, add_runtime_options, add_slurm_options,
                       add_t_range_option, add_tracker_options, check_calibration_args, name_flag, require_geff_for,
                       runtime_from_args, settings_from_args, slurm_from_args, tracker_from_args)
from ._terminal import INPUT_ERRORS, get_logger, one_line, quiet_third_party_bars


def add_common_run_options(p: argparse.ArgumentParser) -> None:
    """Tracker, output and progress options shared by ``run`` and ``demo``."""
    add_tracker_options(p, with_3d=True)
    o = p.add_argument_group("output")
    o.add_argument("--formats", default="xml,labels,csv,ctc,png", metavar="LIST",
                   help="comma-separated subset of xml,labels,csv,ctc,png,geff, or all (geff needs the geff "
                        "package) [xml,labels,csv,ctc,png]")
    o.add_argument("--csv-style", choices=("trackmate", "plain"), default="trackmate",
                   help="CSV tables: TrackMate's own layout (4 header rows: key, name, short name, unit) or one "
                        "header row of feature keys [trackmate]")
    o.add_argument("--overwrite", action="store_true",
                   help="replace the outputs of an earlier run for the same input (only files this program writes; "
                        "without it, existing outputs are an error)")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress bars, notices or summary (warnings stay)")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="detect, track and export one image (TrackMate XML, labels, CSV, CTC, pictures)",
        description="Run cellpose on a TIFF / OME-TIFF / ImageJ hyperstack (2D, 2D+t, 3D or 3D+t, optional "
                    "channels), track with TrackMate's overlap tracker and write files TrackMate opens.")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                   help="image file(s) (.tif, .ome.tif); each gives its own set of outputs in OUTDIR")
    p.add_argument("-o", "--outdir", type=Path, required=True, metavar="OUTDIR",
                   help="output folder (created); outputs are named after INPUT")
    p.add_argument("--keep-going", action="store_true",
                   help="with several inputs: run the usable ones, report the others at the end (exit non-zero)")
    add_calibration_options(p)
    add_t_range_option(p)
    add_detector_options(p)
    add_common_run_options(p)
    add_runtime_options(p)
    add_slurm_options(p)
    p.set_defaults(func=main)


def empty_result_hint(result, settings) -> str | None:
    """A hint when a run found no object at all (what to try), else None."""
    if result.detection.n_detections:
        return None
    cal = result.image.calibration
    diam = (f"{settings.diameter:g} {cal.space_unit} = {settings.diameter / cal.x:.3g} px here"
            if settings.diameter > 0 else "0 = the model's own size")
    model = settings.model_path if settings.is_custom_model else settings.model
    return (f"{result.image.path.name}: no object found in any of {result.image.n_frames} frame(s). Check "
            f"--diameter (CELL_DIAMETER {diam}) and the pixel size, lower --cellprob (CELL_PROB_THRESHOLD "
            f"{settings.cellprob_threshold:g}) or --min-size (CELL_MIN_SIZE {settings.min_size:g}), check --channel "
            f"(TARGET_CHANNEL {settings.target_channel}), or try another --model (now {model})")


def _one_line(e: BaseException, path: Path) -> str:
    msg = one_line(e)
    return msg if path.name in msg else f"{path.name}: {msg}"


def main(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..pipeline import check_input, output_stem, parse_formats
    from ..segment import check_model

    log = get_logger()
    # 1. everything about the command line, then the model, then every input: before any detection
    settings = settings_from_args(args)
    tracker_settings = tracker_from_args(args)
    runtime = runtime_from_args(args)
    slurm = slurm_from_args(args, outdir=args.outdir)
    check_calibration_args(args)
    try:
        formats = parse_formats(args.formats)
    except ValueError as e:
        raise UsageError(f"--formats: {e}") from e
    if "geff" in formats:
        require_geff_for("--formats geff")
    stems = [output_stem(path) for path in args.inputs]
    dupes = sorted({st for st in stems if stems.count(st) > 1})
    if dupes:
        raise UsageError(f"inputs must have distinct names (outputs are named after them), got {', '.join(dupes)} "
                         "more than once; run them into separate OUTDIRs")
    try:
        check_model(settings)
    except InvalidSettingsError as e:
        raise name_flag(e) from e
    bad: dict[Path, BaseException] = {}
    for path in args.inputs:
        try:
            check_input(path, args.outdir, settings, formats=formats, axes=args.axes, pixel_size=args.pixel_size,
                        z_step=args.z_step, dt=args.dt, overwrite=args.overwrite, t_range=args.t_range)
        except INPUT_ERRORS as e:
            bad[path] = name_flag(e) if isinstance(e, InvalidSettingsError) else e
    if bad and not args.keep_going:
        if len(args.inputs) == 1:
            raise bad[args.inputs[0]]
        for path, e in bad.items():
            log.error(_one_line(e, path))
        raise UsageError(f"{len(bad)} of {len(args.inputs)} inputs cannot be used (listed above); nothing was run. "
                         "Fix them, or pass --keep-going to run the others")
    # 2. the work (on SLURM worker jobs with --cluster slurm: cancelled when the command ends, Ctrl-C included)
    quiet_third_party_bars(debug=args.debug)
    pool = None
    if slurm is not None:
        from ..distributed import SlurmPool

        pool = SlurmPool(slurm, log=log.info).start()
        runtime = pool.runtime(runtime)
    try:
        return _run_all(args, bad, settings, tracker_settings, formats, runtime, log)
    finally:
        if pool is not None:
            pool.close()


def _run_all(args: argparse.Namespace, bad: dict, settings, tracker_settings, formats, runtime, log) -> int:
    from ..pipeline import run_pipeline

    failed: dict[Path, BaseException] = {}
    for path in args.inputs:
        if path in bad:
            continue
        try:
            result = run_pipeline(path, args.outdir, settings, tracker=args.tracker,
                                  tracker_settings=tracker_settings, formats=formats, axes=args.axes,
                                  pixel_size=args.pixel_size, z_step=args.z_step, dt=args.dt, runtime=runtime,
                                  progress=not args.quiet, log=log.info, overwrite=args.overwrite,
                                  csv_style=args.csv_style, t_range=args.t_range)
        except Cancelled:
            raise  # Ctrl-C / a cluster-wide cancel ends the command (exit 130), it is no per-input failure
        except Exception as e:  # reported below with --keep-going; re-raised otherwise
            if not args.keep_going:
                raise
            (bad if isinstance(e, INPUT_ERRORS) else failed)[path] = e
            log.error(_one_line(e, path))
            continue
        hint = empty_result_hint(result, settings)
        if hint:
            log.warning(hint)
        if not args.quiet:
            print(result.summary(), flush=True)
    if bad or failed:
        for path, e in {**bad, **failed}.items():
            log.error(f"not processed: {_one_line(e, path)}")
        n_ok = len(args.inputs) - len(bad) - len(failed)
        log.error(f"{n_ok} of {len(args.inputs)} inputs processed; {len(bad) + len(failed)} failed (listed above)")
        return 1 if failed else 2
    return 0
