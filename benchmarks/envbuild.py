"""Time and disk of building the detector's Python environment (``trackmate_cellpose.envs``, the builder behind
Fiji's *Set up a Python environment* and ``trackmate-cellpose setup-env``), CPU variant.

Two builds of the same request, each into a fresh data folder: **cold** with an empty uv cache (every wheel fetched
and unpacked) and **warm** with the cache the cold build filled (what a second variant or a rebuild costs). Per step
(``python``: the interpreter environment; ``torch``; ``cellpose``: cellpose and trackmate-cellpose; ``check``: the
first import in the new environment) wall seconds; disk of the environment, of uv's cache and of both together (hard
links counted once: uv links from its cache). The baseline is the cold build: warm / cold is the share a rebuild
still pays.

The build runs in the test suite's test mode (``tests/support/envs.py``): the package sources pip is configured
with (``pip config list``), torch from them (no PyTorch index), the interpreter running this, and this checkout's
wheel as trackmate-cellpose (``--package``, built here when not given). So torch may come from a local wheel here,
while a user's first build also downloads it (about 200 MB for the CPU build, 2-3 GB for CUDA).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._measure import REPO, UsageError, log, loadavg

NAME = "envbuild"
_STEP_TITLES = {"Creating the environment": "python", "Installing torch": "torch", "Installing cellpose": "cellpose",
                "Checking the environment": "check"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cellpose", type=int, default=3, help="cellpose major version, 3 or 4 [%(default)s]")
    parser.add_argument("--package", default="", help="trackmate-cellpose wheel to install (default: built from "
                                                       "this checkout)")
    parser.add_argument("--builds", default="cold,warm", help="which builds, in order [%(default)s]")


def _test_mode():
    """The tests' test-mode helpers (``tests/support/envs.py``), shared so that the benchmark builds what they do."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from support import envs
    finally:
        sys.path.remove(str(REPO / "tests"))
    return envs


def disk_mb(*paths: Path) -> float:
    """Disk use of ``paths`` together, each inode once (``du`` across its arguments)."""
    out = subprocess.run(["du", "-s", "-B1", "-c", *map(str, paths)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1].split()[0]) / 1e6


def one_build(data: Path, request: dict[str, Any]) -> dict[str, Any]:
    """One build into ``data``: wall seconds in all and per step, the environment's disk, the versions it holds."""
    from trackmate_cellpose.envs import EnvRequest, build_env, find_uv

    marks: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    built = build_env(EnvRequest(**request, data=str(data)), uv=find_uv(),
                      progress=lambda f, m: marks.append((time.perf_counter(), m)))
    end = time.perf_counter()
    steps = {}
    for (t, m), (t_next, _) in zip(marks, [*marks[1:], (end, "")]):
        step = next((v for k, v in _STEP_TITLES.items() if m.startswith(k)), None)
        if step:
            steps[step] = round(t_next - t, 1)
    return {"wall_s": round(end - t0, 1), "steps_s": steps, "env_mb": round(disk_mb(built.env)),
            "versions": built.versions, "load": loadavg()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.cellpose not in (3, 4):
        raise UsageError(f"--cellpose {args.cellpose}: expected 3 or 4")
    builds = [b for b in args.builds.split(",") if b]
    if not builds or set(builds) - {"cold", "warm"}:
        raise UsageError(f"--builds {args.builds!r}: expected cold and/or warm, comma-separated")
    envs = _test_mode()
    results: dict[str, Any] = {"cellpose": args.cellpose}
    with tempfile.TemporaryDirectory(prefix="tmcp-bench-env-") as tmp_s:
        tmp = Path(tmp_s)
        if args.package:
            package = Path(args.package)
        else:
            log("building this checkout's wheel")
            package = envs.build_wheel(tmp / "wheel")
        request = envs.request_args(args.cellpose, package=package)
        results["request"] = {k: v for k, v in request.items()}
        cache = tmp / "uv-cache"
        old = os.environ.get("UV_CACHE_DIR")
        os.environ["UV_CACHE_DIR"] = str(cache)
        try:
            for build in builds:
                log(f"{build} build")
                results[build] = one_build(tmp / build, request)
                args.checkpoint(results)
                if build == "cold":
                    results["cache_mb"] = round(disk_mb(cache))
                    results["cold_env_and_cache_mb"] = round(disk_mb(tmp / "cold", cache))
        finally:
            if old is None:
                os.environ.pop("UV_CACHE_DIR", None)
            else:
                os.environ["UV_CACHE_DIR"] = old
    return results


def markdown(results: dict[str, Any]) -> str:
    """The per-step table (cold and warm seconds) and the disk figures."""
    builds = [b for b in ("cold", "warm") if b in results]
    rows = ["| step | " + " | ".join(f"{b} (s)" for b in builds) + " |", "|---|" + "---|" * len(builds)]
    for step in ("python", "torch", "cellpose", "check"):
        rows.append(f"| `{step}` | " + " | ".join(str(results[b]["steps_s"].get(step, "-")) for b in builds) + " |")
    rows.append("| **total** | " + " | ".join(f"**{results[b]['wall_s']}**" for b in builds) + " |")
    disk = [f"| environment | {results[builds[0]]['env_mb']} |"] if builds else []
    if "cache_mb" in results:
        disk += [f"| uv's cache after the cold build | {results['cache_mb']} |",
                 f"| both together | {results['cold_env_and_cache_mb']} |"]
    return "\n".join([*rows, "", "| disk | MB |", "|---|---|", *disk])
