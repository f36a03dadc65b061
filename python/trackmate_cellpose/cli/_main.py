"""Command line: ``trackmate-cellpose {demo,run,train,doctor,fiji,install-fiji,uninstall-fiji,setup-env,
uninstall-env,convert} ...`` (also ``python -m trackmate_cellpose``).

Each subcommand lives in its own module ``trackmate_cellpose.cli._<name>`` and provides ``register(subparsers)``,
which adds its parser (or, with ``COMMANDS``, its parsers) and sets ``func(args) -> int``. Exit codes: 0 success,
2 bad usage or invalid input, 1 runtime failure, 130 cancelled, 141 output pipe closed. No option may be abbreviated.
Errors print one line on stderr, in the command line's words; ``--debug`` (before or after the subcommand) adds the
traceback and shows every warning and log record. Notices go through one logger (``cli._terminal``) that never writes
over a progress bar.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from .._cancel import ctrl_c
from ..errors import Cancelled
from ._terminal import INPUT_ERRORS, one_line


SUBCOMMANDS = ("demo", "run", "train", "doctor", "fiji", "install", "setup_env", "convert")  # modules cli._<name>
DESCRIPTION = ("Cellpose segmentation for TrackMate: run the standalone pipeline (run, demo), retrain cellpose on "
               "spots curated in TrackMate (train), check the environment "
               "(doctor), open Fiji with the TrackMate detector (fiji), install the detector into a Fiji "
               "(install-fiji, uninstall-fiji), build a Python environment for it (setup-env, uninstall-env), or "
               "convert TrackMate XML to and from GEFF (convert). 'trackmate-cellpose COMMAND --help' lists "
               "a command's options.")
_DEBUG_HELP = "print tracebacks on errors and show every warning and log record"


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    # no abbreviations: "--frames 99" must not be taken as --frames-per-batch, nor "--ov" as --overwrite
    parser = argparse.ArgumentParser(prog="trackmate-cellpose", description=DESCRIPTION, allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        mod = importlib.import_module(f"._{name}", __package__)
        mod.register(sub)
        # also accepted after the subcommand; SUPPRESS keeps a --debug given before it
        for command in getattr(mod, "COMMANDS", (name,)):
            sub.choices[command].allow_abbrev = False
            sub.choices[command].add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                              help=_DEBUG_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ._terminal import get_logger, setup_logging
    from ._options import deprecation_notices

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    setup_logging(debug=args.debug, quiet=getattr(args, "quiet", False))
    for note in deprecation_notices(args):
        get_logger().warning(note)
    try:
        with ctrl_c():  # Ctrl-C reaches every stage, even one that swallowed the first KeyboardInterrupt
            return int(args.func(args) or 0)
    except INPUT_ERRORS as e:
        _report(e, args)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("trackmate-cellpose: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:  # "doctor | head": the reader is gone; no "[Errno 32] Broken pipe" line
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit would fail again
        return 141  # as a process stopped by SIGPIPE
    except Exception as e:  # noqa: BLE001 - the CLI's last line of defence: one line, exit 1
        _report(e, args)
        return 1


def _report(e: BaseException, args: argparse.Namespace) -> None:
    if getattr(args, "debug", False):
        traceback.print_exception(e)
        remote = getattr(e, "remote_traceback", "")  # an error raised on a dask worker: where it happened there
        if remote:
            print(remote.rstrip(), file=sys.stderr)
    print(f"trackmate-cellpose: error: {one_line(e)}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
