"""SLURM scale-out: frames per minute in-process and on 1, 2, 4 single-thread worker jobs; overhead per job.

    python -m benchmarks slurm [--frames 12] [--size 128] [--jobs 1,2,4] [--repeats 2] [--fpb 1]

Runs on the SLURM that ``$SLURM_CONF`` / the default configuration reaches when ``sinfo`` answers (``--partition``),
else starts a private single-node SLURM (tests/support/slurm.py: root, Debian's slurm-wlm + munge) and stops it
afterwards. Measured, with warm models (the first run of each case loads the model and is reported apart):

* in-process: ``detect`` in a fresh process with torch/ONNX Runtime threads = 1 and = all cores (the user's
  baseline), frames per minute (median of ``--repeats``);
* for each job count N: a :class:`~trackmate_cellpose.distributed.SlurmPool` of N one-CPU jobs (one torch thread
  each): seconds from submission until each job's worker is connected (the scheduling overhead per job: sbatch,
  SLURM's scheduler pass, job start, Python and dask start), the model load on every worker, then frames per
  minute, the dispatch overhead per chunk (wall x workers / chunks - worker seconds per chunk) and the workers' CPU
  seconds per frame (less sensitive to other load on the machine than wall time; in-process likewise).

On a machine with C cores, N > C jobs share the cores: frames per minute cannot grow beyond about C single-thread
workers, and the single-node cluster has no network between driver and workers; what the numbers do show is the
fixed cost per job and per chunk that a real cluster adds on top of the segmentation itself.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run"]

REPO = Path(__file__).resolve().parents[1]

_IN_PROCESS = r'''
import json, sys, time
threads, frames, size, fpb, repeats = (int(a) for a in sys.argv[1:6])
import torch
torch.set_num_threads(threads)
sys.path.insert(0, sys.argv[6])
from slurm_movie import movie_and_settings
from trackmate_cellpose import RuntimeOptions, detect
movie, settings = movie_and_settings(frames, size)
rt = RuntimeOptions(frames_per_batch=fpb)
t0 = time.perf_counter(); detect(movie[:1], settings, axes="tyx", runtime=rt); first = time.perf_counter() - t0
walls, cpus = [], []
for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    res = detect(movie, settings, axes="tyx", runtime=rt)
    walls.append(time.perf_counter() - t0); cpus.append(time.process_time() - c0)
print(json.dumps({"first_call_s": first, "walls_s": walls, "cpu_s": cpus, "spots": res.n_detections}))
'''


def add_arguments(parser) -> None:
    parser.add_argument("--frames", type=int, default=12, help="frames of the 2D+t movie (sample frames repeated)")
    parser.add_argument("--size", type=int, default=128, help="frame size in pixels (the 128 px sample tiled)")
    parser.add_argument("--jobs", default="1,2,4", help="worker job counts, comma-separated [1,2,4]")
    parser.add_argument("--repeats", type=int, default=2, help="warm runs per case (median reported)")
    parser.add_argument("--fpb", type=int, default=1, help="frames per batch = frames per task [1]")
    parser.add_argument("--partition", default="", help="partition of an existing SLURM (default: its default)")


def _movie_module(folder: Path) -> Path:
    """A tiny module shared by this process and the in-process children: the benchmark movie and settings."""
    path = folder / "slurm_movie.py"
    path.write_text('''
import numpy as np, tifffile
from trackmate_cellpose import DetectorSettings
from trackmate_cellpose.data import sample_path, test_model_path

def movie_and_settings(frames, size):
    sample = tifffile.imread(sample_path("2dt"))
    reps = -(-size // sample.shape[1])
    tiled = np.tile(sample, (1, reps, reps))[:, :size, :size]
    movie = np.concatenate([tiled] * (-(-frames // len(tiled))))[:frames]
    return movie, DetectorSettings(model="CUSTOM", model_path=str(test_model_path()), diameter=10.0, use_gpu=False)
''')
    return folder


def _sinfo_ok() -> bool:
    if shutil.which("sinfo") is None:
        return False
    out = subprocess.run(["sinfo", "-h"], capture_output=True, text=True, timeout=20, check=False)
    return out.returncode == 0 and bool(out.stdout.strip())


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _in_process(threads: int, args, folder: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(threads), str(args.frames), str(args.size),
                          str(args.fpb), str(args.repeats), str(folder)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the in-process run ({threads} thread(s)) failed: {out.stderr.strip()[-2000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    wall = statistics.median(data["walls_s"])
    return {"threads": threads, "first_call_s": round(data["first_call_s"], 2),
            "walls_s": [round(w, 2) for w in data["walls_s"]], "frames_per_min": round(args.frames / wall * 60, 2),
            "cpu_s_per_frame": round(statistics.median(data["cpu_s"]) / args.frames, 3), "spots": data["spots"],
            "load": _load()}


def _pool_case(n: int, args, movie, settings, log_dir: Path) -> dict[str, Any]:
    from trackmate_cellpose import RuntimeOptions
    from trackmate_cellpose.distributed import (SlurmOptions, SlurmPool, client_for, detect_distributed,
                                                preload_model)

    opts = SlurmOptions(jobs=n, cpus_per_job=1, memory="2GB", walltime="00:30:00", partition=args.partition,
                        poll_s=1.0, log_directory=str(log_dir))
    t0 = time.perf_counter()
    connected: dict[str, float] = {}
    with SlurmPool(opts) as pool:
        while len(connected) < n:
            for info in list(pool.cluster.scheduler_info.get("workers", {}).values()):
                connected.setdefault(str(info.get("name")), time.perf_counter() - t0)
            pool.check()
            if time.perf_counter() - t0 > 600:
                raise TimeoutError(f"{n} workers not connected after 600 s")
            time.sleep(0.05)
        rt = pool.runtime(RuntimeOptions(frames_per_batch=args.fpb))
        client = client_for(rt)
        t1 = time.perf_counter()
        preload_model(client, settings)
        load_s = time.perf_counter() - t1
        walls, per_chunk, cpu = [], [], []
        for _ in range(args.repeats):
            stats: dict = {}
            c0 = client.run(time.process_time)
            t1 = time.perf_counter()
            res = detect_distributed(movie, settings, axes="tyx", runtime=rt, stats=stats)
            wall = time.perf_counter() - t1
            c1 = client.run(time.process_time)
            cpu.append(sum(c1[w] - c0.get(w, c1[w]) for w in c1) / args.frames)
            walls.append(wall)
            chunks = max(1, stats["chunks"])
            per_chunk.append(wall * n / chunks - statistics.mean(stats["chunk_seconds"]))
        submitted = list(pool.submitted)
    wall = statistics.median(walls)
    return {"jobs": n, "job_ids": submitted, "connect_s": sorted(round(v, 2) for v in connected.values()),
            "preload_model_s": round(load_s, 2), "walls_s": [round(w, 2) for w in walls],
            "frames_per_min": round(args.frames / wall * 60, 2),
            "dispatch_overhead_per_chunk_s": round(statistics.median(per_chunk), 3),
            "worker_cpu_s_per_frame": round(statistics.median(cpu), 3), "spots": res.n_detections,
            "load": _load()}


def run(args) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); returns JSON-serialisable results."""
    import tempfile

    jobs = [int(x) for x in str(args.jobs).split(",") if x.strip()]
    result: dict[str, Any] = {"frames": args.frames, "size": args.size, "fpb": args.fpb, "repeats": args.repeats,
                              "cores": os.cpu_count(), "load_at_start": _load()}
    started = None
    work = Path(tempfile.mkdtemp(prefix="tmcp-bench-slurm-"))
    try:
        if _sinfo_ok():
            result["slurm"] = "existing cluster ($SLURM_CONF or the default configuration)"
        else:
            sys.path.insert(0, str(REPO / "tests"))
            from support.slurm import LocalSlurm

            started = LocalSlurm().start()
            os.environ["SLURM_CONF"] = str(started.conf)
            result["slurm"] = f"private single-node SLURM (tests/support/slurm.py), {started.cpus} CPUs declared"
        folder = _movie_module(work)
        sys.path.insert(0, str(folder))
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), str(REPO / "python"),
                                                               os.environ.get("PYTHONPATH", "")) if p)
        from slurm_movie import movie_and_settings

        movie, settings = movie_and_settings(args.frames, args.size)
        cores = os.cpu_count() or 1
        result["in_process"] = [_in_process(t, args, folder) for t in sorted({1, cores})]
        result["pools"] = [_pool_case(n, args, movie, settings, work / f"logs-{n}") for n in jobs]
        base = max(r["frames_per_min"] for r in result["in_process"])
        for case in result["pools"]:
            case["vs_in_process_best"] = round(case["frames_per_min"] / base, 3)
            case["overhead_per_job_s"] = round(statistics.median(case["connect_s"]) + case["preload_model_s"], 2)
        result["load_at_end"] = _load()
    finally:
        if started is not None:
            started.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result
