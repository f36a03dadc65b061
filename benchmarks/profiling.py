"""Where a frame's time goes: a CPU profile of bare cellpose or of our detector, split into its parts.

``--target bare`` profiles one bare ``CellposeModel.eval`` (the call a user writes, as in the ``engine`` suite),
``--target ours`` one :func:`trackmate_cellpose.detect` on the same frames, after a warm-up call. ``--tool cprofile``
(default): a CPU-time ``cProfile`` (``time.process_time``, so other jobs on the machine do not distort it), split into
the network (cellpose's ``_forward``), tiling and tile averaging (the rest of ``run_net``/``run_3D``), flow dynamics
and mask assembly (``_compute_masks``), our spots (``labels_to_detections``) and label clean-up (``clean_labels``),
and the rest (normalisation, resizing, conversions), with the 25 largest cumulative entries. ``--tool pyinstrument``
(``pip install pyinstrument``): its wall-clock call tree as text (and ``--html``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _cases
from ._measure import UsageError, log, loadavg

NAME = "profile"
TARGETS = ("bare", "ours")
TOOLS = ("cprofile", "pyinstrument")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", default="2d256,2d512,3d", help="cases, as for the engine suite [%(default)s]")
    parser.add_argument("--target", default="bare", help=f"comma-separated: {', '.join(TARGETS)} [%(default)s]")
    parser.add_argument("--tool", default="cprofile", choices=TOOLS, help="[%(default)s]")
    parser.add_argument("--html", type=Path, default=None, help="pyinstrument: also write its HTML here (one case)")
    parser.add_argument("--diameter", type=float, default=10.0, help="CELL_DIAMETER in um [%(default)s]")


def _split(stats: pstats.Stats, cpu: float) -> dict[str, Any]:
    cum: dict[str, float] = {}
    for (fname, _, func), (_, _, _, ct, _) in stats.stats.items():
        key = f"{Path(fname).name}:{func}"
        cum[key] = max(cum.get(key, 0.0), ct)

    def by_name(func: str) -> float:
        return max((v for k, v in cum.items() if k.endswith(f":{func}")), default=0.0)

    forward = cum.get("core.py:_forward", 0.0)
    network = cum.get("core.py:run_3D", 0.0) or cum.get("core.py:run_net", 0.0)
    dynamics = cum.get("models.py:_compute_masks", 0.0)
    spots, clean = by_name("labels_to_detections"), by_name("clean_labels")
    rows = {"total_cpu_s": cpu, "network_forward_cpu_s": forward, "tiling_and_tile_averaging_cpu_s": network - forward,
            "flow_dynamics_and_masks_cpu_s": dynamics, "our_spots_cpu_s": spots, "our_label_cleanup_cpu_s": clean,
            "rest_cpu_s": cpu - network - dynamics - spots - clean,
            "share_network": network / cpu if cpu else 0.0, "share_dynamics": dynamics / cpu if cpu else 0.0}
    rows["top_cumulative"] = [[k, round(v, 3)] for v, k in sorted(((v, k) for k, v in cum.items()), reverse=True)[:25]]
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    from trackmate_cellpose import RuntimeOptions, detect

    targets = [t for t in args.target.split(",") if t]
    if not targets or set(targets) - set(TARGETS):
        raise UsageError(f"--target: expected a subset of {', '.join(TARGETS)}, got {args.target!r}")
    cases = _cases.check_cases(args.cases)
    if args.tool == "pyinstrument":
        try:
            from pyinstrument import Profiler
        except ImportError as e:
            raise UsageError("--tool pyinstrument needs pyinstrument: pip install pyinstrument") from e
    settings, cal = _cases.settings(args.diameter), _cases.calibration()
    model = _cases.bare_model(settings.model_path) if "bare" in targets else None
    out: dict[str, Any] = {"tool": args.tool, "cellpose_major": _cases.cellpose_major(), "cases": {}}
    for case in cases:
        movie, axes = _cases.image(case)
        for target in targets:
            fn: Callable[[], Any]
            if target == "bare":
                fn = _cases.bare_call(model, movie, axes, settings, anisotropy=cal.anisotropy)
            else:
                def fn(m=movie, a=axes):
                    return detect(m, settings, axes=a, calibration=cal, runtime=RuntimeOptions(device="cpu"))
            fn()  # warm-up: model load, export
            load0 = loadavg()
            c0, t0 = time.process_time(), time.perf_counter()
            if args.tool == "cprofile":
                prof = cProfile.Profile(time.process_time)
                prof.runcall(fn)
                cpu, wall = time.process_time() - c0, time.perf_counter() - t0
                row = _split(pstats.Stats(prof), cpu)
            else:
                profiler = Profiler(interval=0.005)
                profiler.start()
                fn()
                profiler.stop()
                cpu, wall = time.process_time() - c0, time.perf_counter() - t0
                row = {"total_cpu_s": cpu, "text": profiler.output_text(unicode=False, color=False)}
                if args.html:
                    args.html.write_text(profiler.output_html())
            row.update(wall_s=wall, shape=list(movie.shape), load=f"{load0} -> {loadavg()}")
            log(f"profile {case} {target}: CPU {cpu:.2f} s, wall {wall:.2f} s")
            out["cases"][f"{case} {target}"] = row
            args.checkpoint(out)
    return out


def markdown(results: dict[str, Any]) -> str:
    if results.get("tool") != "cprofile":
        return "\n\n".join(f"**{k}**\n\n```\n{v.get('text', '')}\n```" for k, v in results["cases"].items())
    lines = ["| case | total CPU | network forward | tiling + tile averaging | flow dynamics + masks | our spots | "
             "our clean-up | rest |", "|---|---|---|---|---|---|---|---|"]
    for case, r in results["cases"].items():
        tot = r["total_cpu_s"] or np.nan

        def part(key: str) -> str:
            return f"{r[key]:.2f} s ({100 * r[key] / tot:.1f} %)"
        lines.append(f"| {case} {tuple(r['shape'])} | {r['total_cpu_s']:.2f} s | {part('network_forward_cpu_s')} | "
                     f"{part('tiling_and_tile_averaging_cpu_s')} | {part('flow_dynamics_and_masks_cpu_s')} | "
                     f"{part('our_spots_cpu_s')} | {part('our_label_cleanup_cpu_s')} | {part('rest_cpu_s')} |")
    return "\n".join(lines)
