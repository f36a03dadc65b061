"""SLURM scale-out: frames per minute on 1, 2, 4 single-thread SLURM worker jobs against the in-process run, and
the scheduling overhead per job.

Runs on the SLURM that ``sinfo`` reaches (``$SLURM_CONF`` or the site configuration; ``--partition``), else starts a
private single-node SLURM (tests/support/slurm.py: as root, Debian's slurm-wlm + munge) and stops it afterwards.
With warm models (the first run of each case loads the model and is reported apart), medians of ``--repeats``:

* **in-process (the baseline)**: ``detect`` on a 2D+t movie (the bundled sample tiled to ``--size`` and cycled to
  ``--frames``) in a fresh process, with torch / ONNX Runtime threads = 1 and = all cores: frames per minute and
  CPU seconds per frame;
* for each job count N of ``--jobs``: a ``SlurmPool`` of N one-CPU jobs (one torch thread each): seconds from
  submission until each job's worker is connected (the scheduling overhead per job: sbatch, SLURM's scheduler pass,
  job start, Python and dask start), the model load on the workers, a first run (it also builds each worker's ONNX
  Runtime session), then frames per minute, the dispatch overhead per chunk (wall x workers / chunks - worker
  seconds per chunk) and the workers' CPU seconds per frame (less sensitive to other load on the machine than wall
  time); every run's spots are checked equal to the in-process run's.

On a machine with C cores, more than C single-thread jobs share the cores: frames per minute cannot grow beyond
about C workers, and the single-node cluster has no network between the driver and the workers. What the numbers
show is the fixed cost per job and per chunk that SLURM adds to the segmentation itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from . import _cases
from ._measure import REPO, UsageError, child_env, loadavg, log, run_child

NAME = "slurm"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=8, help="frames of the 2D+t movie [%(default)s]")
    parser.add_argument("--size", type=int, default=128, help="frame side in pixels [%(default)s]")
    parser.add_argument("--jobs", default="1,2,4", help="worker job counts, comma-separated [%(default)s]")
    parser.add_argument("--repeats", type=int, default=2, help="warm runs per case [%(default)s]")
    parser.add_argument("--fpb", type=int, default=1, help="frames per batch = frames per task [%(default)s]")
    parser.add_argument("--partition", default="", help="partition of an existing SLURM [its default]")


def in_process_case(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: ``detect`` with ``spec["threads"]`` torch threads, a first call then warm runs."""
    import torch

    torch.set_num_threads(int(spec["threads"]))
    from trackmate_cellpose import RuntimeOptions, detect

    movie, settings = _cases.tiled_sample(spec["frames"], spec["size"]), _cases.settings(10.0)
    rt = RuntimeOptions(frames_per_batch=spec["fpb"])
    t0 = time.perf_counter()
    detect(movie[:1], settings, axes="tyx", runtime=rt)
    first = time.perf_counter() - t0
    walls, cpus = [], []
    for _ in range(spec["repeats"]):
        t0, c0 = time.perf_counter(), time.process_time()
        res = detect(movie, settings, axes="tyx", runtime=rt)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"first_call_s": first, "walls_s": walls, "cpu_s": cpus, "spots": res.n_detections}


def _in_process(threads: int, args) -> dict[str, Any]:
    data = run_child(in_process_case, {"threads": threads, "frames": args.frames, "size": args.size,
                                       "fpb": args.fpb, "repeats": args.repeats})
    wall = statistics.median(data["walls_s"])
    return {"threads": threads, "first_call_s": round(data["first_call_s"], 2),
            "walls_s": [round(w, 2) for w in data["walls_s"]], "frames_per_min": round(args.frames / wall * 60, 2),
            "cpu_s_per_frame": round(statistics.median(data["cpu_s"]) / args.frames, 3), "spots": data["spots"],
            "load": loadavg()}


def _pool_case(n: int, args, movie, settings, log_dir: str) -> dict[str, Any]:
    from trackmate_cellpose import RuntimeOptions
    from trackmate_cellpose.distributed import (SlurmOptions, SlurmPool, client_for, detect_distributed,
                                                preload_model)

    opts = SlurmOptions(jobs=n, cpus_per_job=1, memory="2GB", walltime="00:30:00", partition=args.partition,
                        poll_s=1.0, log_directory=log_dir)
    t0 = time.perf_counter()
    connected: dict[str, float] = {}
    with SlurmPool(opts, log=log) as pool:
        while len(connected) < n:
            for info in list(pool.cluster.scheduler_info.get("workers", {}).values()):
                connected.setdefault(str(info.get("name")), time.perf_counter() - t0)
            pool.check()
            if time.perf_counter() - t0 > 900:
                raise TimeoutError(f"{n} workers not connected after 900 s")
            time.sleep(0.05)
        rt = pool.runtime(RuntimeOptions(frames_per_batch=args.fpb))
        client = client_for(rt)
        t1 = time.perf_counter()
        preload_model(client, settings)
        load_s = time.perf_counter() - t1
        # the first run on fresh workers also builds each worker's ONNX Runtime session: reported apart
        t1 = time.perf_counter()
        detect_distributed(movie, settings, axes="tyx", runtime=rt)
        first_s = time.perf_counter() - t1
        walls, per_chunk, cpu, spots = [], [], [], []
        for _ in range(args.repeats):
            stats: dict = {}
            c0 = client.run(time.process_time)
            t1 = time.perf_counter()
            res = detect_distributed(movie, settings, axes="tyx", runtime=rt, stats=stats)
            wall = time.perf_counter() - t1
            c1 = client.run(time.process_time)
            walls.append(wall)
            per_chunk.append(wall * n / max(1, stats["chunks"]) - statistics.mean(stats["chunk_seconds"]))
            cpu.append(sum(c1[w] - c0.get(w, c1[w]) for w in c1) / args.frames)
            spots.append(res.n_detections)
        submitted = list(pool.submitted)
    wall = statistics.median(walls)
    return {"jobs": n, "job_ids": submitted, "connect_s": sorted(round(v, 2) for v in connected.values()),
            "preload_model_s": round(load_s, 2), "first_run_s": round(first_s, 2),
            "walls_s": [round(w, 2) for w in walls],
            "frames_per_min": round(args.frames / wall * 60, 2),
            "dispatch_overhead_per_chunk_s": round(statistics.median(per_chunk), 3),
            "worker_cpu_s_per_frame": round(statistics.median(cpu), 3), "spots": spots, "load": loadavg()}


def _sinfo_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    out = subprocess.run(["sinfo", "-h"], capture_output=True, text=True, timeout=20, check=False)
    return out.returncode == 0 and bool(out.stdout.strip())


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        jobs = [int(x) for x in str(args.jobs).split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--jobs: expected comma-separated integers, got {args.jobs!r}") from None
    if not jobs or min(jobs) < 1 or min(args.frames, args.size, args.repeats, args.fpb) < 1:
        raise UsageError("--jobs, --frames, --size, --repeats and --fpb must be >= 1")
    result: dict[str, Any] = {"frames": args.frames, "size": args.size, "fpb": args.fpb, "repeats": args.repeats,
                              "jobs": jobs}
    started = None
    work = tempfile.mkdtemp(prefix="tmcp-bench-slurm-")
    saved_env = dict(os.environ)
    try:
        if _sinfo_answers():
            result["slurm"] = "the SLURM that sinfo reaches"
        else:
            sys.path.insert(0, str(REPO / "tests"))
            from support.slurm import LocalSlurm

            started = LocalSlurm().start()
            os.environ["SLURM_CONF"] = str(started.conf)
            result["slurm"] = f"private single-node SLURM (tests/support/slurm.py), {started.cpus} CPUs declared"
        os.environ.update(child_env())  # the jobs import the same trackmate_cellpose as this process
        cores = os.cpu_count() or 1
        result["in_process"] = []
        for threads in sorted({1, cores}):
            log(f"in-process, {threads} thread(s) ...")
            result["in_process"].append(_in_process(threads, args))
        movie, settings = _cases.tiled_sample(args.frames, args.size), _cases.settings(10.0)
        result["pools"] = []
        for n in jobs:
            log(f"{n} SLURM job(s) ...")
            case = _pool_case(n, args, movie, settings, os.path.join(work, f"logs-{n}"))
            if set(case["spots"]) != {result["in_process"][0]["spots"]}:
                raise RuntimeError(f"{n} job(s) found {case['spots']} spots, in-process "
                                   f"{result['in_process'][0]['spots']}")
            result["pools"].append(case)
            if hasattr(args, "checkpoint"):
                args.checkpoint(result)
        best = max(r["frames_per_min"] for r in result["in_process"])
        for case in result["pools"]:
            case["vs_in_process_best"] = round(case["frames_per_min"] / best, 3)
            case["overhead_per_job_s"] = round(statistics.median(case["connect_s"]) + case["preload_model_s"], 2)
        result["load_at_end"] = loadavg()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        if started is not None:
            started.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result
