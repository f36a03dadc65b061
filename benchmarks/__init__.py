"""The benchmarks of trackmate-cellpose: ``python -m benchmarks SUITE [options]`` from the repository root.

Each suite measures one thing against a named baseline (bare cellpose ``CellposeModel.eval``, per-label
scikit-image, the real TrackMate-Cellpose inside real TrackMate, ...) and writes its results, with the machine's
facts (CPU model, cores, load, versions, date), to ``benchmarks/results/YYYY-MM-DD-SUITE.json`` (``--out DIR`` or
``--json FILE`` elsewhere; a long run rewrites the file after every case, so a stopped run keeps what it measured).
``python -m benchmarks report`` renders result files as Markdown tables. ``python -m benchmarks --help`` lists the
suites, ``python -m benchmarks SUITE --help`` says what one measures and its options. Method and numbers:
BENCHMARKS.md.

The in-process cases of ``benchmark_*.py`` (small realistic inputs: geometry on label images, the engine's detect
on a small 2D+t movie, XML export, the overlap tracker) run under airspeed velocity for a per-commit record:
``pip install asv`` then ``asv run --python=same --quick`` (``asv.conf.json`` at the repository root).

Adding a suite is a one-file change: a module ``benchmarks/NAME.py`` (no leading underscore, not ``benchmark_*``)
whose docstring says what it measures and against what, with

* ``add_arguments(parser)``: its options on an ``argparse`` parser;
* ``run(args) -> dict``: the measurement, returning JSON-serialisable results (the entry point adds the machine's
  facts and writes the file; ``args.checkpoint(partial)`` saves partial results of a long run);
* optionally ``NAME`` (the subcommand, when the module name cannot be it, e.g. ``"3d"``), ``SAVE = False`` (writes
  no result file, e.g. ``report``) and ``markdown(results) -> str`` (its table for ``report``).

The entry point discovers it (:func:`suites`); ``tests/unit/test_benchmarks.py`` imports every suite. Shared
measurement helpers (timing, CPU time, peak RSS, load, child processes) are in ``_measure``, the test images,
settings and the bare cellpose call in ``_cases``. Benchmarks use only the public surface of ``trackmate_cellpose``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

__all__ = ["suites", "build_parser", "run_suite", "main", "RESULTS_DIR"]

#: Where result files go by default.
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def suites() -> dict[str, ModuleType]:
    """Every suite of this package, by subcommand name, in alphabetical order."""
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith(("_", "benchmark_")):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(mod, "add_arguments", None)) and callable(getattr(mod, "run", None)):
            found[getattr(mod, "NAME", info.name)] = mod
    return dict(sorted(found.items()))


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc else ""


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m benchmarks`` parser: one subcommand per suite."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=_first_line(__doc__),
                                     epilog="Method and numbers: BENCHMARKS.md.")
    sub = parser.add_subparsers(dest="suite", required=True, metavar="SUITE")
    for name, mod in suites().items():
        p = sub.add_parser(name, help=_first_line(mod.__doc__), description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if getattr(mod, "SAVE", True):
            p.add_argument("--out", type=Path, default=RESULTS_DIR,
                           help="folder of the dated result file [benchmarks/results]")
            p.add_argument("--json", type=Path, default=None, help="write the results to this file instead")
        mod.add_arguments(p)
    return parser


def _result_path(args: argparse.Namespace, suite: str) -> Path:
    if args.json is not None:
        return args.json
    stem = f"{time.strftime('%Y-%m-%d', time.gmtime())}-{suite}"
    path, k = args.out / f"{stem}.json", 1
    while path.exists():  # a second run on the same day keeps the first one's file
        k += 1
        path = args.out / f"{stem}-{k}.json"
    return path


def run_suite(argv: Sequence[str]) -> dict[str, Any]:
    """Parse ``argv`` (``[SUITE, options...]``), run the suite, write its result file; return the whole record
    (``suite``, ``argv``, ``machine``, ``results``, ``seconds``, ``path``). Bad arguments: ``SystemExit(2)`` from
    the parser, or :class:`~benchmarks._measure.UsageError` from the suite."""
    from ._measure import loadavg, machine_info, torch_info

    parser = build_parser()
    args = parser.parse_args(list(argv))
    mod = suites()[args.suite]
    save = getattr(mod, "SAVE", True)
    record: dict[str, Any] = {"suite": args.suite, "argv": list(argv), "machine": machine_info()}
    path = _result_path(args, args.suite) if save else None

    def write(results: dict[str, Any], *, partial: bool) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**record, "partial": partial, "results": results}, indent=1, default=str))

    args.checkpoint = lambda partial_results: write(partial_results, partial=True)
    t0 = time.perf_counter()
    results = mod.run(args)
    record["seconds"] = time.perf_counter() - t0
    record["machine"].update(torch_info(), load_at_end=loadavg())
    write(results, partial=False)
    return {**record, "results": results, "path": str(path) if path else None}


def main(argv: Sequence[str] | None = None) -> int:
    """The command line. Exit status 2 for invalid arguments, 1 when a suite fails."""
    from ._measure import UsageError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        record = run_suite(argv)
    except UsageError as e:
        print(f"python -m benchmarks: error: {e}", file=sys.stderr)
        return 2
    mod = suites()[record["suite"]]
    if record["path"]:
        print(f"results: {record['path']}", file=sys.stderr)
    render = getattr(mod, "markdown", None)
    if render is not None:
        print(render(record["results"]))
    return 0
