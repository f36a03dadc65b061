"""``trackmate-cellpose setup-env`` / ``uninstall-env``: build the Python environment the detector's worker runs in
(cellpose 3 or 4 and the torch build for this machine, with uv, in the user's data folder), or remove it again.

The same builder as Fiji's *Plugins › Tracking › TrackMate-Cellpose › Set up a Python environment*
(``trackmate_cellpose.envs``). Starts no JVM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMANDS = ("setup-env", "uninstall-env")


def register(subparsers) -> None:
    from ..envs import CELLPOSE_SPECS, PYTHON_REQUEST, VARIANTS

    p = subparsers.add_parser(
        "setup-env", help="build a Python environment with cellpose and torch for the detector's worker",
        description="Build an isolated Python environment in the user's data folder (envs/VERSION-cellposeN-VARIANT) "
                    "with uv: a Python (found on this machine, else downloaded by uv), torch==2.13.0 first, in the "
                    "build for this machine (auto: CUDA with an NVIDIA driver, MPS on Apple silicon, else CPU), then "
                    "cellpose and trackmate-cellpose. A cancelled or failed build resumes when run again; a complete "
                    "one is only confirmed. With --fiji, that Fiji's detector uses the new environment (installed there "
                    "with install-fiji, or, where it came from the update site, only the Python recorded). Needs uv "
                    "(pip install uv).")
    p.add_argument("--cellpose", type=int, choices=sorted(CELLPOSE_SPECS), default=3,
                   help="cellpose major version: 3 (cyto3, nuclei, ...) or 4 (Cellpose-SAM) [3]")
    p.add_argument("--variant", choices=VARIANTS, default="auto", help="torch build [auto]")
    p.add_argument("--python", default=PYTHON_REQUEST, metavar="REQUEST",
                   help=f"Python to use: a version request or an interpreter's path [{PYTHON_REQUEST}]")
    p.add_argument("--index-url", metavar="URL", help="package index instead of PyPI (a mirror)")
    p.add_argument("--extra-index-url", action="append", default=[], metavar="URL", help="another index (repeatable)")
    p.add_argument("--find-links", action="append", default=[], metavar="PATH",
                   help="a folder or page with wheels (repeatable)")
    p.add_argument("--torch-backend", metavar="NAME",
                   help="uv's --torch-backend instead of the variant's (cpu, cu126, cu128, ...; 'none': torch from the "
                        "package index)")
    p.add_argument("--package", metavar="SPEC",
                   help="the trackmate-cellpose to install: a wheel, a folder or a requirement [this version from the "
                        "package index]")
    p.add_argument("--fiji", type=Path, metavar="DIR",
                   help="then make this Fiji.app's detector use the new environment's Python (install-fiji, or "
                        "with the update site's detector only the record)")
    p.add_argument("--data", type=Path, metavar="DIR", help="data folder [$TRACKMATE_CELLPOSE_DATA or the user's]")
    p.add_argument("--list", action="store_true", help="list the environments built so far and exit")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print only warnings, errors and the new Python's path (not the steps nor uv's output)")
    p.set_defaults(func=setup_env)
    u = subparsers.add_parser(
        "uninstall-env", help="remove environments setup-env built (and, with the last one, what it added beside)",
        description="Remove the environment NAME (a folder name setup-env --list shows), or all with --all; when no "
                    "environment remains, also uv's cache, the uv and the Python interpreters the builds fetched, "
                    "and the data folder if then empty. With --fiji, that Fiji stops using a removed environment.")
    u.add_argument("name", nargs="?", metavar="NAME", help="the environment to remove")
    u.add_argument("--all", action="store_true", help="remove every environment")
    u.add_argument("--fiji", type=Path, metavar="DIR", help="forget a removed environment's Python in this Fiji.app")
    u.add_argument("--data", type=Path, metavar="DIR", help="data folder [$TRACKMATE_CELLPOSE_DATA or the user's]")
    u.set_defaults(func=uninstall_env)


def _list(data: Path | None) -> int:
    from ..envs import data_dir, list_envs

    envs = list_envs(data)
    for e in envs:
        state = e["state"]
        what = (f"torch {state['versions']['torch']}, cellpose {state['versions']['cellpose']}" if e["complete"]
                else f"incomplete (done: {', '.join(state.get('steps', [])) or 'nothing'}; run setup-env to resume)")
        print(f"{e['name']}\t{e['python']}\t{what}")
    if not envs:
        print(f"no environments in {data or data_dir()}", file=sys.stderr)
    return 0


def setup_env(args: argparse.Namespace) -> int:
    from ..envs import EnvBuildError, EnvRequest, build_env, resolve_variant
    from ..errors import UsageError
    from ._terminal import get_logger

    if args.list:
        return _list(args.data)
    try:
        req = EnvRequest(cellpose=args.cellpose, variant=args.variant, python=args.python, index_url=args.index_url,
                         extra_index_urls=args.extra_index_url, find_links=args.find_links,
                         torch_backend=args.torch_backend, package=args.package,
                         data=str(args.data) if args.data else None)
        resolve_variant(req.variant)
    except EnvBuildError as e:
        raise UsageError(str(e)) from e
    if args.fiji is not None and not args.fiji.is_dir():
        raise UsageError(f"--fiji {args.fiji}: not a folder; expected a Fiji.app folder")
    log = get_logger()

    def progress(fraction: float, message: str) -> None:
        log.info(f"[{fraction:4.0%}] {message}")

    def uv_line(line: str) -> None:
        if not args.quiet:
            print(f"  {line}", file=sys.stderr, flush=True)

    built = build_env(req, progress=progress, log=uv_line)
    print(built.python)
    if args.fiji is not None:
        from ..bridge._install import FijiFolderError

        try:
            for line in use_in_fiji(args.fiji, str(built.python), str(built.env)):
                print(line)
        except FijiFolderError as e:
            raise UsageError(str(e)) from e
    return 0


def use_in_fiji(fiji: Path, python: str, env: str) -> list[str]:
    """Make ``fiji``'s detector use the built environment: with the detector from the update site (and no jar of
    install-fiji) only record its Python, so the site's loader and glue stay the ones used; else install-fiji with
    it."""
    from ..bridge._install import install_fiji, installed_glue, record_python, site_loaders

    if site_loaders(fiji) and not installed_glue(fiji):
        return record_python(fiji, python, env=env)
    return install_fiji(fiji, python=python, env=env)


def uninstall_env(args: argparse.Namespace) -> int:
    from ..envs import EnvBuildError, data_dir, list_envs, remove_env
    from ..errors import UsageError

    if bool(args.name) == bool(args.all):
        names = ", ".join(e["name"] for e in list_envs(args.data)) or "none"
        raise UsageError(f"give the environment to remove (NAME) or --all, not {'both' if args.all else 'neither'}; "
                         f"environments in {args.data or data_dir()}: {names}")
    envs = [Path(e["env"]) for e in list_envs(args.data) if args.all or e["name"] == args.name]
    try:
        done = remove_env(None if args.all else args.name, data=args.data)
    except EnvBuildError as e:
        raise UsageError(str(e)) from e
    for line in done or [f"no environments in {args.data or data_dir()}"]:
        print(f"removed {line}")
    if args.fiji is not None:
        from ..bridge._install import FijiFolderError, forget_python

        try:
            for line in forget_python(args.fiji, envs):
                print(line)
        except FijiFolderError as e:
            raise UsageError(str(e)) from e
    return 0
