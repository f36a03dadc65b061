"""Render result files as Markdown: one section per file, with the machine and the suite's own tables.

``python -m benchmarks report [FILE ...]`` (default: every ``benchmarks/results/*.json``, oldest first) prints the
Markdown, or writes it with ``--output``. A suite with a ``markdown(results)`` function renders its own tables;
any other result is shown as a table of its measured values (summaries as median (min-max)). A partial file (a run
that was stopped) is marked as such.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Iterator

from ._measure import UsageError

NAME = "report"
SAVE = False  # renders results; writes no result file of its own


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", type=Path, help="result files [benchmarks/results/*.json]")
    parser.add_argument("--output", type=Path, default=None, help="write the Markdown here instead of stdout")


def _flatten(d: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(d, dict) and {"median", "min", "max"} <= set(d):
        yield prefix, f"{d['median']:.4g} ({d['min']:.4g}-{d['max']:.4g})"
    elif isinstance(d, dict):
        for k, v in d.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, float):
        yield prefix, f"{d:.4g}"
    elif isinstance(d, (int, str, bool)) or d is None:
        text = str(d)
        yield prefix, text if len(text) <= 120 else text[:117] + "..."
    # lists (raw repetitions, top profiles) are left to the JSON


def generic_markdown(results: dict[str, Any]) -> str:
    """A two-column table of every measured value."""
    return "\n".join(["| value | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in _flatten(results)])


def render(record: dict[str, Any], name: str = "") -> str:
    """One result file's section."""
    from . import suites

    m = record.get("machine", {})
    suite = record.get("suite", "?")
    head = (f"### {suite}{' (partial: the run was stopped)' if record.get('partial') else ''}: {name}\n\n"
            f"`python -m benchmarks {' '.join(record.get('argv', []))}`; {m.get('date_utc', '?')} UTC, "
            f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('mem_gib', '?')} GiB; load "
            f"{m.get('load_at_start', '?')} -> {m.get('load_at_end', '?')}; cellpose "
            f"{m.get('versions', {}).get('cellpose')}, torch {m.get('versions', {}).get('torch')}; GPU: "
            f"{m.get('gpu', 'not used')}\n")
    mod = suites().get(suite)
    render_fn = getattr(mod, "markdown", None) if mod is not None else None
    try:
        body = render_fn(record["results"]) if render_fn else generic_markdown(record.get("results", {}))
    except (KeyError, TypeError, ZeroDivisionError):  # a partial run's results lack parts
        body = generic_markdown(record.get("results", {}))
    return head + "\n" + body + "\n"


def run(args: argparse.Namespace) -> dict[str, Any]:
    from . import RESULTS_DIR

    files = args.files or sorted(RESULTS_DIR.glob("*.json"))
    if not files:
        raise UsageError(f"no result files given and none in {RESULTS_DIR}")
    sections = []
    for path in files:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read result file {path}: {e}") from e
        if not isinstance(record, dict) or "results" not in record:
            raise UsageError(f"{path} is not a result file of python -m benchmarks (no 'results')")
        sections.append(render(record, path.name))
    text = "\n".join(sections)
    if args.output:
        args.output.write_text(text)
        return {"markdown": f"{len(sections)} result file(s) rendered into {args.output}", "files": list(map(str, files))}
    return {"markdown": text, "files": [str(p) for p in files]}


def markdown(results: dict[str, Any]) -> str:
    return results["markdown"]
