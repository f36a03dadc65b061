"""``trackmate-cellpose train IMAGE --from CURATED.xml -o MODEL.pth``: retrain cellpose on curated TrackMate spots.

Every check runs before training (exit 2, nothing written); a progress bar shows the epoch and the loss; Ctrl-C stops
training, keeps the best epoch so far (exit 130); the report's numbers are printed at the end.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="retrain cellpose on the spots curated in TrackMate; writes a model the detector takes",
        description="Fine-tune a cellpose model on the visible spots of a TrackMate XML (TrackMate 7.13, 8.x or v9; "
                    "2D ROI outlines, v9 3D meshes), with cellpose's own training. Writes MODEL (use it as "
                    "CELLPOSE_MODEL=CUSTOM, CELLPOSE_MODEL_FILEPATH=MODEL) and a report beside it "
                    "(MODEL.report.json/.png) comparing the base and the new model on held-out frames.")
    p.add_argument("image", type=Path, metavar="IMAGE", help="the image the XML was made on (TIFF, OME-TIFF)")
    p.add_argument("--from", dest="xml", type=Path, required=True, metavar="CURATED.xml",
                   help="TrackMate XML with the curated spots (a v9 3D file needs its .meshes beside it)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL.pth", help="the model file to write")
    d = p.add_argument_group("data")
    d.add_argument("--frames", metavar="LIST",
                   help="curated frames to use, e.g. 0,3,5-9 [every frame with a visible spot]")
    d.add_argument("--holdout-fraction", type=float, metavar="F",
                   help="share of the curated frames held out to choose the best epoch and for the report "
                        "(at least one when there are two or more) [0.2]")
    d.add_argument("--holdout-frames", metavar="LIST", help="the frames to hold out (instead of --holdout-fraction)")
    d.add_argument("--channel", type=int, metavar="N",
                   help="1-based channel to segment [the XML's TARGET_CHANNEL of this detector, else 1]")
    d.add_argument("--channel2", type=int, metavar="N", help="optional second (nuclear) channel, 0 = none")
    d.add_argument("--axes", metavar="AXES", help="axis letters of the stored array, e.g. tyx, tzcyx")
    d.add_argument("--pixel-size", type=float, metavar="UM", help="XY pixel size (the XML's calibration wins)")
    d.add_argument("--z-step", type=float, metavar="UM", help="Z step (the XML's calibration wins)")
    m = p.add_argument_group("model and training")
    m.add_argument("--model", metavar="NAME", help="base built-in model [the XML's detector model, else cyto3 "
                                                   "(cellpose 3) / cpsam (cellpose 4)]")
    m.add_argument("--model-path", metavar="FILE", help="base model file (a cellpose model of the installed major)")
    m.add_argument("--epochs", type=int, default=100, metavar="N", help="training epochs [100]")
    m.add_argument("--learning-rate", type=float, metavar="LR",
                   help="AdamW learning rate [cellpose 3: 1e-3, cellpose 4: 1e-5]")
    m.add_argument("--weight-decay", type=float, metavar="WD", help="AdamW weight decay [cellpose 3: 1e-4, 4: 0.1]")
    m.add_argument("--batch-size", type=int, default=8, metavar="N", help="crops per training step [8]")
    m.add_argument("--crop", type=int, metavar="PX", help="training crop size, a multiple of 16 [cellpose 3: 224; "
                                                          "cellpose 4: 256, its only size]")
    m.add_argument("--images-per-epoch", type=int, metavar="N", help="training images drawn per epoch [all]")
    m.add_argument("--seed", type=int, default=0, help="random seed [0]")
    m.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="auto = a GPU when torch sees one [auto]")
    o = p.add_argument_group("output")
    o.add_argument("--no-report", action="store_true", help="skip the base/new comparison on the held-out frames")
    o.add_argument("--overwrite", action="store_true", help="replace MODEL and its report if they exist")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary (warnings stay)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..errors import UsageError
    from ..training import TrainingOptions, parse_frames, train_from_trackmate
    from ._terminal import get_logger, quiet_third_party_bars

    log = get_logger()
    if args.model and args.model_path:
        raise UsageError(f"--model {args.model} and --model-path {args.model_path} contradict each other: give one")
    if args.holdout_frames and args.holdout_fraction is not None:
        raise UsageError("--holdout-frames and --holdout-fraction contradict each other: give one")
    options = TrainingOptions(
        epochs=args.epochs, learning_rate=args.learning_rate, weight_decay=args.weight_decay,
        batch_size=args.batch_size, crop=args.crop, images_per_epoch=args.images_per_epoch,
        holdout_fraction=0.2 if args.holdout_fraction is None else args.holdout_fraction,
        holdout_frames=tuple(parse_frames(args.holdout_frames, flag="--holdout-frames")) if args.holdout_frames
        else None, seed=args.seed, device=args.device)
    frames = parse_frames(args.frames) if args.frames else None
    quiet_third_party_bars(debug=args.debug)
    fmt = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}] {postfix}"
    bars: list = []  # the bar starts with the first progress report, after every check of the input passed

    def progress(fraction: float, message: str) -> None:
        if not bars:
            bars.append(tqdm(total=1000, desc="train", disable=args.quiet, leave=False, bar_format=fmt))
        bar = bars[0]
        bar.update(max(0, int(round(min(1.0, fraction) * 1000)) - bar.n))
        if message:
            bar.set_postfix_str(message[:70], refresh=True)

    try:
        result = train_from_trackmate(
            args.image, args.xml, args.output, frames=frames, model=args.model, model_path=args.model_path,
            options=options, axes=args.axes, pixel_size=args.pixel_size, z_step=args.z_step, channel=args.channel,
            channel_2=args.channel2, report=not args.no_report, overwrite=args.overwrite, progress=progress,
            log=log.info)
    finally:
        for bar in bars:
            bar.close()
    if result.stopped:
        log.warning(f"training {result.stopped} after {result.epochs_done} epoch(s): the best epoch so far "
                    f"({result.best_epoch + 1}) was saved to {result.model_path}; no report")
        return 130
    if not args.quiet:
        print(result.summary(), flush=True)
    return 0
