"""``trackmate-cellpose doctor``: diagnose the environment (no JVM start unless ``--start-jvm``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import DeprecatedAlias, add_detector_options, settings_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "doctor", help="check Python, torch, cellpose, device, model weights, Java and Fiji; print fixes",
        description="Diagnose the environment. Exit code 0 when nothing is broken, 1 otherwise.")
    p.add_argument("--fiji", type=Path, metavar="DIR", help="Fiji.app folder to inspect [$FIJI_DIR]")
    p.add_argument("--fiji-dir", type=Path, dest="fiji", action=DeprecatedAlias, new="--fiji", help=argparse.SUPPRESS)
    p.add_argument("--start-jvm", action="store_true",
                   help="also start a JVM with Fiji's jars (subprocess) and load TrackMate")
    p.add_argument("--slurm-partition", default="", metavar="NAME",
                   help="the partition run --cluster slurm would use (default: $SBATCH_PARTITION, else SLURM's "
                        "default): the 'slurm' line says whether sbatch is reachable and whether it is up")
    add_detector_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..diagnosis import Check, diagnose
    from ._terminal import INPUT_ERRORS, one_line

    # a bad --settings file (or option) is one failed line of the report; the other checks still run
    problems: list[str] = []
    try:
        settings = settings_from_args(args)
    except INPUT_ERRORS as e:
        problems.append(one_line(e))
        args.settings = None
        try:
            settings = settings_from_args(args)  # the options without the file
        except INPUT_ERRORS as e2:
            problems.append(one_line(e2))
            settings = None
    report = diagnose(settings, fiji_dir=args.fiji, start_jvm=args.start_jvm, slurm_partition=args.slurm_partition)
    for k, msg in enumerate(problems):
        report.checks.insert(1 + k, Check("settings", "error", msg,
                                          "fix the settings; the checks below use the defaults for what failed"))
    print(report.format())
    return 0 if report.ok else 1
