"""Command line: ``trackmate-cellpose {demo,run,train,doctor,fiji,install-fiji,uninstall-fiji,setup-env,
uninstall-env,convert} ...`` (also ``python -m trackmate_cellpose``).

The entry point is :func:`main`; :func:`build_parser` gives the argument parser (the CLI reference is generated from
it). Each subcommand lives in its own private module (``cli._run``, ``cli._demo`` ...) with ``register(subparsers)``.
"""

from ._main import SUBCOMMANDS, build_parser, main

__all__ = ["main", "build_parser", "SUBCOMMANDS"]


def __getattr__(name: str):  # UsageError lives in errors (deprecated spelling)
    from .._deprecated import moved_name

    return moved_name(__name__, name)
