"""The dask.distributed path: in-process against a local cluster of 1 and of 2 worker processes, in the same run.

With warm models everywhere, interleaved repetitions (a busy machine hurts all three alike), medians:

* wall time of ``detect`` on a 2D+t movie (the bundled sample tiled to ``--size`` and cycled to ``--frames``)
  **in-process (the baseline)**, through ``detect_distributed`` on 1 worker (torch threads = cores) and on 2 workers
  (torch threads = cores / 2); the 1-vs-2-worker speed-up is the ratio of the medians, and every distributed run's
  labels are checked equal to the in-process run's;
* the per-frame overhead of the distributed path, (1-worker wall - in-process wall) / frames, and the pure dispatch
  cost per task measured on blank frames (cellpose is skipped for a blank frame: the task is all overhead);
* worker-side seconds per chunk (from the run statistics), for a k-GPU scaling estimate;
* cold costs: cluster start-up and the first model load on the workers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from . import _cases
from ._measure import UsageError, log, loadavg

NAME = "distributed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=24, help="frames of the 2D+t movie [%(default)s]")
    parser.add_argument("--size", type=int, default=128, help="frame side in pixels [%(default)s]")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repetitions [%(default)s]")
    parser.add_argument("--fpb", type=int, default=2, help="frames per batch = frames per task [%(default)s]")
    parser.add_argument("--blank", type=int, default=48, help="blank frames for the dispatch cost [%(default)s]")
    parser.add_argument("--workers", default="1,2", help="local cluster sizes [%(default)s]")


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        sizes = [int(v) for v in args.workers.split(",") if v]
    except ValueError:
        raise UsageError(f"--workers: expected comma-separated integers, got {args.workers!r}") from None
    if not sizes or min(sizes) < 1 or min(args.frames, args.size, args.repeats, args.fpb, args.blank) < 1:
        raise UsageError("--workers, --frames, --size, --repeats, --fpb and --blank must be >= 1")
    from distributed import Client

    from trackmate_cellpose import RuntimeOptions, detect
    from trackmate_cellpose.distributed import detect_distributed, local_cluster, preload_model, worker_stats

    settings, cal = _cases.settings(10.0), _cases.calibration()
    movie = _cases.tiled_sample(args.frames, args.size)
    blank = np.zeros((args.blank, 64, 64), np.uint16)
    rt, rt1 = RuntimeOptions(frames_per_batch=args.fpb), RuntimeOptions(frames_per_batch=1)
    out: dict[str, Any] = {"frames": args.frames, "size": args.size, "fpb": args.fpb, "repeats": args.repeats,
                           "blank": args.blank, "baseline": "detect() in-process"}
    out["in_process_first_call_s"], _ = _timed(lambda: detect(movie[:1], settings, axes="tyx", calibration=cal,
                                                              runtime=rt))
    clients = {}
    for n in sizes:
        t_up, cluster = _timed(lambda n=n: local_cluster(n))
        client = Client(cluster, set_as_default=False)
        t_load, _ = _timed(lambda c=client: preload_model(c, settings))
        clients[n] = (cluster, client)
        out[f"w{n}_cluster_start_s"], out[f"w{n}_model_load_s"] = t_up, t_load
        # warm-up: the first task on each worker pays the geometry code's imports
        detect_distributed(movie[:2 * n * args.fpb], settings, axes="tyx", calibration=cal, runtime=rt, client=client)
    keys = ["in_process"] + [f"w{n}" for n in sizes]
    walls: dict[str, list[float]] = {k: [] for k in keys}
    blank_walls: dict[str, list[float]] = {k: [] for k in keys}
    chunk_s: dict[str, list[float]] = {f"w{n}": [] for n in sizes}
    reference = None
    try:
        for r in range(args.repeats):
            t, res = _timed(lambda: detect(movie, settings, axes="tyx", calibration=cal, runtime=rt))
            walls["in_process"].append(t)
            reference = reference or res
            blank_walls["in_process"].append(_timed(lambda: detect(blank, settings, axes="tyx", calibration=cal,
                                                                   runtime=rt1))[0])
            for n in sizes:
                stats: dict = {}
                client = clients[n][1]
                t, res = _timed(lambda c=client, s=stats: detect_distributed(
                    movie, settings, axes="tyx", calibration=cal, runtime=rt, client=c, stats=s))
                walls[f"w{n}"].append(t)
                chunk_s[f"w{n}"].extend(stats["chunk_seconds"])
                if res.n_detections != reference.n_detections or not all(
                        np.array_equal(a.labels, b.labels) for a, b in zip(res.frames, reference.frames)):
                    raise RuntimeError(f"{n} worker(s) gave other labels than in-process")
                blank_walls[f"w{n}"].append(_timed(lambda c=client: detect_distributed(
                    blank, settings, axes="tyx", calibration=cal, runtime=rt1, client=c))[0])
            log(f"repeat {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items()) + f", load {loadavg()}")
        med = {k: statistics.median(v) for k, v in walls.items()}
        bmed = {k: statistics.median(v) for k, v in blank_walls.items()}
        n_tasks = -(-args.frames // args.fpb)
        first = f"w{sizes[0]}"
        out.update(walls=walls, blank_walls=blank_walls, median_s=med, blank_median_s=bmed,
                   in_process_per_frame_s=med["in_process"] / args.frames,
                   overhead_per_frame_s=(med[first] - med["in_process"]) / args.frames,
                   overhead_per_task_s=(med[first] - med["in_process"]) / n_tasks,
                   dispatch_per_blank_task_s=(bmed[first] - bmed["in_process"]) / args.blank,
                   blank_task_s={k: bmed[k] / args.blank for k in bmed},
                   chunk_median_s={k: statistics.median(v) for k, v in chunk_s.items() if v},
                   speedup_vs_in_process={k: med["in_process"] / med[k] for k in med if k != "in_process"},
                   worker_stats={n: worker_stats(c[1]) for n, c in clients.items()})
        if len(sizes) > 1:
            out[f"speedup_w{sizes[-1]}_vs_{first}"] = med[first] / med[f"w{sizes[-1]}"]
    finally:
        for cluster, client in clients.values():
            client.close()
            cluster.close()
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [f"| configuration | wall, {results['frames']} frames of {results['size']}² (median of "
             f"{results['repeats']}) | raw walls (s) | blank-frame task (s) |", "|---|---|---|---|"]
    for k, v in results["walls"].items():
        lines.append(f"| {k} | {results['median_s'][k]:.2f} s | {', '.join(f'{x:.1f}' for x in v)} | "
                     f"{results['blank_task_s'][k]:.3f} |")
    lines += ["", f"Dispatch per blank task: {results['dispatch_per_blank_task_s']:.3f} s; overhead per frame "
                  f"{results['overhead_per_frame_s']:+.3f} s; speed-up vs in-process "
                  + ", ".join(f"{k} {v:.2f}x" for k, v in results["speedup_vs_in_process"].items()) + "."]
    return "\n".join(lines)
