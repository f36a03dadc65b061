"""Benchmark the dask.distributed path: in-process vs a local cluster of 1 and of 2 worker processes, same run.

Measures, with warm models everywhere (interleaved repeats, medians, so that a busy machine hurts all three alike):

* wall time of ``detect`` on a 2D+t movie in-process, on 1 worker (torch threads = cores) and on 2 workers (torch
  threads = cores / 2); the 1-vs-2-worker speed-up is the ratio of the medians;
* per-frame overhead of the distributed path: (1-worker wall - in-process wall) / frames, and the pure dispatch cost
  per task measured on blank frames (cellpose is skipped for a blank frame, so the task is all overhead);
* worker-side seconds per chunk (from the run statistics), for the k-GPU scaling estimate;
* cold costs: cluster start-up and first-task model load.

Usage::

    python scripts/bench_distributed.py [--frames 24] [--size 128] [--repeats 5] [--fpb 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=24, help="frames of the 2D+t movie (sample frames repeated)")
    ap.add_argument("--size", type=int, default=128, help="frame size in pixels (the 128 px sample tiled)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fpb", type=int, default=2, help="frames per batch = frames per task")
    ap.add_argument("--blank", type=int, default=48, help="blank frames for the dispatch-overhead run")
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    import tifffile
    from distributed import Client

    from trackmate_cellpose import Calibration, DetectorSettings, RuntimeOptions, detect
    from trackmate_cellpose.data import sample_path, test_model_path
    from trackmate_cellpose.distributed import detect_distributed, local_cluster, preload_model, worker_stats

    settings = DetectorSettings(model="CUSTOM", model_path=str(test_model_path()), diameter=10.0, use_gpu=False)
    cal = Calibration(x=0.5, y=0.5, z=1.0, t=5.0, space_unit="um", time_unit="s")
    sample = tifffile.imread(sample_path("2dt"))
    reps = -(-args.size // sample.shape[1])
    tiled = np.tile(sample, (1, reps, reps))[:, :args.size, :args.size]
    movie = np.concatenate([tiled] * (-(-args.frames // len(tiled))))[:args.frames]
    blank = np.zeros((args.blank, 64, 64), np.uint16)
    local_rt = RuntimeOptions(frames_per_batch=args.fpb)

    def timed(fn):
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out

    results: dict = {"frames": args.frames, "size": args.size, "fpb": args.fpb, "repeats": args.repeats}
    t_model_local, _ = timed(lambda: detect(movie[:1], settings, axes="tyx", calibration=cal, runtime=local_rt))
    results["in_process_first_call_s"] = t_model_local

    clients = {}
    for n in (1, 2):
        t0 = time.perf_counter()
        cluster = local_cluster(n)
        client = Client(cluster, set_as_default=False)
        t_up = time.perf_counter() - t0
        t_load, _ = timed(lambda: preload_model(client, settings))
        clients[n] = (cluster, client)
        results[f"w{n}_cluster_start_s"] = t_up
        results[f"w{n}_model_load_s"] = t_load
        # warm-up (first task on each worker pays imports of the geometry code)
        detect_distributed(movie[:2 * n * args.fpb], settings, axes="tyx", calibration=cal, runtime=local_rt,
                           client=client)

    walls: dict[str, list[float]] = {"in_process": [], "w1": [], "w2": []}
    chunk_s: dict[str, list[float]] = {"w1": [], "w2": []}
    blank_walls: dict[str, list[float]] = {"in_process": [], "w1": [], "w2": []}
    reference = None
    for r in range(args.repeats):
        t, res = timed(lambda: detect(movie, settings, axes="tyx", calibration=cal, runtime=local_rt))
        walls["in_process"].append(t)
        if reference is None:
            reference = res
        t, _ = timed(lambda: detect(blank, settings, axes="tyx", calibration=cal,
                                    runtime=RuntimeOptions(frames_per_batch=1)))
        blank_walls["in_process"].append(t)
        for n in (1, 2):
            stats: dict = {}
            t, res = timed(lambda: detect_distributed(movie, settings, axes="tyx", calibration=cal, runtime=local_rt,
                                                      client=clients[n][1], stats=stats))
            walls[f"w{n}"].append(t)
            chunk_s[f"w{n}"].extend(stats["chunk_seconds"])
            assert res.n_detections == reference.n_detections
            assert all(np.array_equal(a.labels, b.labels) for a, b in zip(res.frames, reference.frames))
            t, _ = timed(lambda: detect_distributed(blank, settings, axes="tyx", calibration=cal,
                                                    runtime=RuntimeOptions(frames_per_batch=1),
                                                    client=clients[n][1]))
            blank_walls[f"w{n}"].append(t)
        print(f"repeat {r}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in walls.items()), flush=True)

    med = {k: statistics.median(v) for k, v in walls.items()}
    bmed = {k: statistics.median(v) for k, v in blank_walls.items()}
    n_frames, n_tasks = args.frames, -(-args.frames // args.fpb)
    results.update(
        walls=walls, blank_walls=blank_walls, median_s=med, blank_median_s=bmed,
        speedup_2_vs_1=med["w1"] / med["w2"],
        speedup_2_vs_in_process=med["in_process"] / med["w2"],
        overhead_per_frame_s=(med["w1"] - med["in_process"]) / n_frames,
        overhead_per_task_s=(med["w1"] - med["in_process"]) / n_tasks,
        dispatch_per_blank_task_s=(bmed["w1"] - bmed["in_process"]) / args.blank,
        blank_task_s_1w=bmed["w1"] / args.blank,
        chunk_median_s={k: statistics.median(v) for k, v in chunk_s.items()},
        in_process_per_frame_s=med["in_process"] / n_frames,
        worker_stats={n: worker_stats(c[1]) for n, c in clients.items()},
    )
    for cluster, client in clients.values():
        client.close()
        cluster.close()
    print(json.dumps({k: v for k, v in results.items() if k not in ("walls", "blank_walls", "worker_stats")},
                     indent=1, default=str))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
