"""Resident memory of a long standalone run (issue 11): does RSS stay flat as the movie gets longer?

Usage::

    python scripts/bench_memory_long.py [--frames 100,1000] [--size 512] [--network standin|cellpose]
                                        [--formats xml,labels,csv,ctc,png] [--json out.json]

Each measurement runs in a fresh subprocess (its peak RSS is its own): a synthetic movie of FRAMES x SIZE x SIZE
(the bundled synthetic 2D+t sample, 128 x 128, tiled and cycled: about 10 objects per 128 x 128 tile, moving, pixel
size 0.5 um) is written as an ImageJ TIFF, then ``run_pipeline`` reads, detects, tracks and exports it, exactly as
``trackmate-cellpose run`` does. RSS is sampled every 20 ms and attributed to the phase running (read, detect, track,
export); during detection it is also recorded against the fraction of frames done, which gives the growth per frame
once the first batches are through.

``--network standin`` (the default) replaces **only the cellpose network call** (``CellposeAdapter.eval``) by a
cheap stand-in (threshold at mean + 1 SD and connected components, with a float32 "cell probability" map of the
same size), so 1000 frames fit in minutes on a 2-core CPU; everything around it (engine batching and streaming,
label cleaning, polygons, tracking, every exporter, the output commit) is the real code. It measures the memory of
the pipeline, not of torch: the network's own temporaries are per batch and do not grow with the movie (see B4 in
BENCHMARKS.md for real-inference figures). ``--network cellpose`` runs the bundled test model instead (slow on CPU:
about 30 s per 512 x 512 frame under load).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2 ** 20


class _StandInAdapter:
    """Stands in for cellpose's network only: labels = connected components above mean + 1 SD of each frame."""

    diam_mean = 30.0

    def eval(self, x, *, mode, settings, diameter_px, anisotropy=1.0, tile_batch_size=8, on_batch=None):
        from scipy import ndimage as ndi

        frames = x[..., 0]
        masks = np.empty(frames.shape, np.int32)
        prob = np.empty(frames.shape, np.float32)
        for i, f in enumerate(frames):
            z = (f - f.mean()) / (f.std() + 1e-6)
            masks[i] = ndi.label(z > 1.0)[0]
            prob[i] = z
            if on_batch is not None:
                on_batch()
        return masks, prob


def _write_movie(path: Path, frames: int, size: int) -> float:
    import tifffile

    from trackmate_cellpose.data import sample_path

    sample = tifffile.imread(sample_path("2dt"))
    reps = -(-size // sample.shape[1])
    tiles = np.tile(sample, (1, reps, reps))[:, :size, :size]
    mm = tifffile.memmap(path, shape=(frames, size, size), dtype=np.uint16, imagej=True, resolution=(2.0, 2.0),
                         metadata={"axes": "TYX", "unit": "um", "finterval": 5.0})
    for t in range(frames):  # through a file mapping: this process never holds the whole movie
        mm[t] = tiles[t % len(tiles)]
    mm.flush()
    del mm
    return frames * size * size * 2 / 2 ** 20


def _child(frames: int, size: int, network: str, formats: str, diameter: float) -> dict:
    from trackmate_cellpose import pipeline
    from trackmate_cellpose.data import test_model_path
    from trackmate_cellpose.settings import DetectorSettings

    work = Path(tempfile.mkdtemp(prefix="bench-mem-long-"))
    movie = work / "movie.tif"
    movie_mb = _write_movie(movie, frames, size)
    settings = DetectorSettings(model="CUSTOM", model_path=str(test_model_path()), diameter=diameter, use_gpu=False)
    if network == "standin":
        from trackmate_cellpose.segment import _adapter as adapter

        adapter.CellposeAdapter.get = classmethod(lambda cls, *a, **k: _StandInAdapter())
    phase = ["start"]
    peaks: dict[str, float] = {}
    series: list[tuple[float, float]] = []  # (fraction of frames detected, RSS)
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            r = _rss_mb()
            peaks[phase[0]] = max(peaks.get(phase[0], 0.0), r)
            stop.wait(0.02)

    orig_read, orig_detect = pipeline.read_image, pipeline._detect
    orig_track, orig_export = pipeline.track_overlap, pipeline._export

    def read(*a, **k):
        phase[0] = "read"
        return orig_read(*a, **k)

    def detect(image, settings, runtime, on_progress, say):
        phase[0] = "detect"

        def progress(f, msg):
            series.append((f, _rss_mb()))
            on_progress(f, msg)
        return orig_detect(image, settings, runtime, progress, say)

    def track(*a, **k):
        phase[0] = "track"
        return orig_track(*a, **k)

    def export(*a, **k):
        phase[0] = "export"
        return orig_export(*a, **k)

    pipeline.read_image, pipeline._detect, pipeline.track_overlap, pipeline._export = read, detect, track, export
    rss_start = _rss_mb()
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    t0 = time.perf_counter()
    result = pipeline.run_pipeline(movie, work / "out", settings, formats=formats, progress=False)
    secs = time.perf_counter() - t0
    stop.set()
    th.join()
    # growth per frame during detection, after the first 10 % of the frames (the first batches)
    pts = [(f, r) for f, r in series if f >= 0.1]
    slope = float(np.polyfit([f * frames for f, _ in pts], [r for _, r in pts], 1)[0]) if len(pts) > 3 else None
    labels_mb = sum(fr.labels.nbytes for fr in result.detection.frames) / 2 ** 20
    shutil.rmtree(work, ignore_errors=True)  # the movie and the outputs (GBs at 1000 frames)
    return {"network": network, "frames": frames, "size": size, "diameter_um": diameter, "formats": formats,
            "movie_mb": movie_mb,
            "labels_kept_mb": labels_mb, "n_objects": result.detection.n_detections,
            "n_tracks": len(result.tracking.tracks), "rss_start_mb": rss_start,
            "peak_rss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, *peaks.values()),
            "peak_by_phase_mb": peaks, "detect_growth_mb_per_frame": slope,
            "rss_after_detect_mb": series[-1][1] if series else None, "seconds": secs,
            "timings": result.timings}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", default="100,1000")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--network", choices=("standin", "cellpose"), default="standin")
    ap.add_argument("--formats", default="xml,labels,csv,ctc,png")
    ap.add_argument("--diameter", type=float, default=10.0,
                    help="CELL_DIAMETER in um (pixel 0.5 um; 10 = the objects' size, 30 = rescale 0.5: a faster "
                         "network call on CPU, for --network cellpose)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(int(args.frames), args.size, args.network, args.formats, args.diameter)))
        return 0
    rows = []
    for n in (int(v) for v in args.frames.split(",")):
        env = {**os.environ, "PYTHONPATH": str(REPO / "python") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        out = subprocess.run([sys.executable, __file__, "--child", "--frames", str(n), "--size", str(args.size),
                              "--network", args.network, "--formats", args.formats, "--diameter",
                              str(args.diameter)], capture_output=True, text=True, env=env)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "load": os.getloadavg()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
