"""Time and disk of an environment build (``trackmate_cellpose.envs``, CPU variant), issue #20 item 3.

Two builds of the same request, each into a fresh data folder: "cold" with an empty uv cache (every wheel fetched
and unpacked) and "warm" with the cache the cold build filled (what a second variant or a rebuild costs). Per step
(interpreter environment, torch, cellpose + trackmate-cellpose, the import check) wall seconds; disk of the
environment, of uv's cache and of both together (hard links counted once: uv links from its cache).

The build runs in the test mode of the test suite unless told otherwise: the package sources pip is configured with
(``pip config list``), torch from them (``--torch-backend none``), the interpreter running this script, and this
checkout's wheel as trackmate-cellpose (``--package``, built here when not given). What comes over the network here
is what pip's configuration does not hold locally (cellpose and a few others from PyPI); torch is a local wheel, so
a user's first build also downloads torch (about 200 MB for the CPU build, 2-3 GB for CUDA).

Usage: ``python scripts/bench_env_build.py [--cellpose 3] [--package WHEEL] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trackmate_cellpose.envs import EnvRequest, build_env, find_uv

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.envs import build_wheel, request_args  # the test mode, shared with the tests


def disk_mb(*paths: Path) -> float:
    """Disk use of ``paths`` together, each inode once (``du`` semantics across its arguments)."""
    out = subprocess.run(["du", "-s", "-B1", "-c", *map(str, paths)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1].split()[0]) / 1e6


def one_build(data: Path, args: dict) -> dict:
    marks: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    built = build_env(EnvRequest(**args, data=str(data)), uv=find_uv(),
                      progress=lambda f, m: marks.append((time.perf_counter(), m)))
    end = time.perf_counter()
    names = {"Creating the environment": "python", "Installing torch": "torch", "Installing cellpose": "cellpose",
             "Checking the environment": "check"}
    steps = {}
    for (t, m), (t_next, _) in zip(marks, marks[1:] + [(end, "")]):
        step = next((v for k, v in names.items() if m.startswith(k)), None)
        if step:
            steps[step] = round(t_next - t, 1)
    return {"wall_s": round(end - t0, 1), "steps_s": steps, "env_mb": round(disk_mb(built.env)),
            "versions": built.versions}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cellpose", type=int, default=3)
    p.add_argument("--package", help="trackmate-cellpose wheel to install (default: built from this checkout)")
    p.add_argument("--json", help="write the results here too")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="tmcp-bench-env-") as tmp:
        tmp = Path(tmp)
        package = Path(a.package) if a.package else build_wheel(tmp / "wheel")
        args = request_args(a.cellpose, package=package)
        cache = tmp / "uv-cache"
        os.environ["UV_CACHE_DIR"] = str(cache)
        res = {"load_before": os.getloadavg(), "cpus": os.cpu_count(), "request": {k: v for k, v in args.items()}}
        res["cold"] = one_build(tmp / "cold", args)
        res["cache_mb"] = round(disk_mb(cache))
        res["cold_env_and_cache_mb"] = round(disk_mb(tmp / "cold", cache))
        res["warm"] = one_build(tmp / "warm", args)
        res["load_after"] = os.getloadavg()
    text = json.dumps(res, indent=1, default=str)
    print(text)
    if a.json:
        Path(a.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
