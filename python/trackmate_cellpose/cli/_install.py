"""``trackmate-cellpose install-fiji`` / ``uninstall-fiji``: put the detector into a Fiji, or take it out again.

install-fiji copies the prebuilt glue jar of that Fiji's TrackMate line into its ``jars/`` and records this
environment's Python in ``config/trackmate-cellpose.json``; uninstall-fiji removes exactly those. Starts no JVM.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

COMMANDS = ("install-fiji", "uninstall-fiji", "build-update-site")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "install-fiji", help="install the TrackMate detector into a Fiji (jars/trackmate-cellpose-glue-VERSION.jar)",
        description="Copy the prebuilt detector jar for the Fiji's TrackMate line (7.x, 8.x, v9) into its jars/ "
                    "folder, replacing an older copy of ours and touching nothing else, and record this Python in "
                    "config/trackmate-cellpose.json. Running it again changes nothing. The detector then runs in a "
                    "Fiji started with 'trackmate-cellpose fiji' or from Python; a Fiji started from its icon lists "
                    "it but cannot run it yet.")
    p.add_argument("--fiji", type=Path, metavar="DIR", help="Fiji.app folder [$FIJI_DIR]")
    p.set_defaults(func=install)
    u = subparsers.add_parser("uninstall-fiji", help="remove what install-fiji added to a Fiji",
                              description="Remove our jar and config/trackmate-cellpose.json from the Fiji.")
    u.add_argument("--fiji", type=Path, metavar="DIR", help="Fiji.app folder [$FIJI_DIR]")
    u.set_defaults(func=uninstall)
    b = subparsers.add_parser(
        "build-update-site", help="write an ImageJ update site for the detector into a folder",
        description="Write the folder of an ImageJ update site (db.xml.gz and the files, with the checksums and "
                    "timestamps Fiji's updater computes) that gives every Fiji the detector of its TrackMate line "
                    "(7.x, 8.x, v9) and this version's Python code, so that a Python with cellpose is all a user "
                    "needs. Run again on the same folder for a new version: unchanged files keep their timestamp. "
                    "Upload the folder's content as it is to the site's web folder (see the README).")
    b.add_argument("out", type=Path, metavar="OUT", help="folder of the site (created if missing)")
    b.set_defaults(func=build_site)


def _fiji_dir(args: argparse.Namespace) -> Path:
    from ..errors import UsageError

    if args.fiji is not None:
        return args.fiji
    if os.environ.get("FIJI_DIR"):
        return Path(os.environ["FIJI_DIR"])
    raise UsageError("no Fiji given: pass --fiji /path/to/Fiji.app (or set FIJI_DIR)")


def _run(fn, args: argparse.Namespace) -> list[str]:
    from ..bridge._install import FijiFolderError
    from ..errors import UsageError

    try:
        return fn(_fiji_dir(args))
    except FijiFolderError as e:
        raise UsageError(str(e)) from e


def install(args: argparse.Namespace) -> int:
    from ..bridge._install import install_fiji

    for line in _run(install_fiji, args):
        print(line)
    return 0


def uninstall(args: argparse.Namespace) -> int:
    from ..bridge._install import uninstall_fiji

    done = _run(uninstall_fiji, args)
    for line in done or [f"nothing of trackmate-cellpose to remove in {_fiji_dir(args)}"]:
        print(line)
    return 0


def build_site(args: argparse.Namespace) -> int:
    from ..bridge._update_site import build_update_site
    from ..errors import UsageError

    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"OUT {args.out}: not a folder; expected a folder for the update site (created if missing)")
    for line in build_update_site(args.out):
        print(line)
    return 0
