"""A suite's measurement in a fresh process: ``python -m benchmarks._child MODULE:FUNCTION SPEC.json``.

Calls ``FUNCTION(spec)`` of the module and prints its result as one JSON line on stdout (progress goes to stderr),
then leaves at once with ``os._exit``: a JVM started by the measurement (one per process) may keep non-daemon threads
that would block an ordinary exit. Started by :func:`benchmarks._measure.run_child`.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    target, spec_path = argv
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name)
    result = fn(json.loads(Path(spec_path).read_text()))
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except BaseException:  # noqa: BLE001 - report it, then leave without waiting for a JVM's threads
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
