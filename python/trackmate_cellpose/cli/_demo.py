"""``trackmate-cellpose demo [-o OUTDIR]``: the pipeline on both bundled samples with the bundled test model."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._terminal import get_logger, quiet_third_party_bars
from ._options import require_geff_for, tracker_from_args
from ._run import add_common_run_options, empty_result_hint

#: Object diameter of the bundled samples (ellipses of 12-22 px at 0.5 um/px).
DEMO_DIAMETER_UM = 10.0


def demo_settings(*, use_gpu: bool = True, model_path: str | Path | None = None):
    """Detector settings of the demo: the bundled model (or ``model_path``) and a diameter suited to the samples."""
    from ..data import test_model_path
    from ..settings import CUSTOM_MODEL, DetectorSettings

    return DetectorSettings(model=CUSTOM_MODEL, model_path=str(model_path or test_model_path()),
                            diameter=DEMO_DIAMETER_UM, use_gpu=use_gpu)


def _check_demo_model(settings, *, explicit: bool) -> None:
    """Before any work: the bundled test model is a cellpose-3 network; say what to do under cellpose 4."""
    from ..errors import InvalidSettingsError
    from ..segment._models import cellpose_major_version, check_model

    try:
        check_model(settings)
    except InvalidSettingsError as e:
        if explicit or cellpose_major_version() == 3:
            raise
        raise InvalidSettingsError(
            f"the bundled demo model is a cellpose-3 network and cellpose {cellpose_major_version()} is installed: "
            "run the demo with cellpose 3 (bash scripts/setup.sh), or pass --model-path with a cellpose-4 model "
            f"file ({e})", key="CELLPOSE_MODEL_FILEPATH", value=settings.model_path) from e


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="run the whole pipeline on the bundled 2D+t and 3D+t samples with the bundled model",
        description="Detect, track and export both bundled samples (synthetic 2D+t and 3D+t movies) with the "
                    "bundled test model; prints a summary. Output: TrackMate XML (+ .meshes in 3D), label TIFFs, "
                    "CSV, CTC and pictures per sample.")
    p.add_argument("-o", "--outdir", type=Path, default=Path("demo-output"), metavar="OUTDIR",
                   help="output folder [./demo-output]")
    p.add_argument("--samples", default="2dt,3dt", metavar="LIST", help="which samples [2dt,3dt]")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--gpu", dest="use_gpu", action="store_const", const=True, default=True,
                   help="use a GPU when available [default]")
    g.add_argument("--cpu", dest="use_gpu", action="store_const", const=False, help="force the CPU")
    p.add_argument("--model-path", type=Path, default=None, metavar="FILE",
                   help="a model file of the installed cellpose instead of the bundled cellpose-3 test model")
    add_common_run_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..data import SAMPLES, sample_path
    from ..pipeline import check_input, parse_formats, run_pipeline

    names = [s.strip() for s in args.samples.split(",") if s.strip()]
    bad = [s for s in names if s not in SAMPLES]
    if bad or not names:
        raise UsageError(f"--samples must be a subset of {','.join(SAMPLES)}, got {args.samples!r}")
    formats = parse_formats(args.formats)
    if "geff" in formats:
        require_geff_for("--formats geff")
    settings = demo_settings(use_gpu=args.use_gpu, model_path=args.model_path)
    _check_demo_model(settings, explicit=args.model_path is not None)
    tracker_settings = tracker_from_args(args)
    log = get_logger()
    paths = [sample_path(name) for name in names]
    for path in paths:
        if not path.exists():
            from ..errors import PathNotFoundError

            raise PathNotFoundError(f"bundled sample missing: {path} (reinstall the package)", path=path)
        check_input(path, args.outdir, settings, formats=formats, overwrite=args.overwrite)
    quiet_third_party_bars(debug=args.debug)
    t0 = time.perf_counter()
    for path in paths:
        result = run_pipeline(path, args.outdir, settings, tracker=args.tracker, tracker_settings=tracker_settings,
                              formats=formats, progress=not args.quiet, log=log.info, overwrite=args.overwrite,
                              csv_style=args.csv_style)
        hint = empty_result_hint(result, settings)
        if hint:
            log.warning(hint)
        if not args.quiet:
            print(result.summary(), flush=True)
    if not args.quiet:
        print(f"demo done in {time.perf_counter() - t0:.1f} s; open {Path(args.outdir).resolve()}/*.xml in Fiji with "
              "Plugins > Tracking > Load a TrackMate file")
    return 0
