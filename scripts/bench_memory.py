"""B4 of scripts/bench.py, run in a fresh subprocess so that its peak RSS is its own.

Usage: ``python scripts/bench_memory.py {ours,bare} FRAMES SIZE DIAMETER_UM [ENGINE_SRC]`` prints one JSON line
(pixel size 0.5 um, so DIAMETER_UM 10 = 20 px, cellpose's rescale 1.5; 30 = 60 px, rescale 0.5); ENGINE_SRC (a
copy of ``_engine.py``, e.g. from ``git show REV:python/trackmate_cellpose/_engine.py``) replaces the engine's code,
to measure before/after an engine change.

The movie is the bundled 2D+t sample (128 x 128, 12 frames) tiled to SIZE x SIZE and cycled to FRAMES frames, so
it has realistic objects at the sample's density. ``ours`` runs :func:`trackmate_cellpose.detect` on the whole
movie (every frame's label image and spots are kept, as a TrackMate run keeps its spots); ``bare`` runs
``CellposeModel.eval`` on batches of 4 frames and keeps only the masks. Peak RSS comes from ``ru_maxrss`` and a
20 ms sampler; the RSS after loading and warming the model (one 128 x 128 frame) is reported apart.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time

import numpy as np


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2 ** 20


def main() -> int:
    mode, frames, size, diameter_um = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    engine_src = sys.argv[5] if len(sys.argv) > 5 else ""
    import tifffile

    if engine_src:  # measure another version of the engine (before/after comparisons): e.g. `git show REV:...`
        import trackmate_cellpose._engine as engine

        exec(compile(open(engine_src).read(), engine.__file__, "exec"), engine.__dict__)

    from trackmate_cellpose import Calibration, DetectorSettings, detect
    from trackmate_cellpose.data import sample_path, test_model_path

    settings = DetectorSettings(model="CUSTOM", model_path=str(test_model_path()), diameter=diameter_um,
                                use_gpu=False)
    cal = Calibration(x=0.5, y=0.5, z=1.0)
    sample = tifffile.imread(sample_path("2dt"))
    reps = -(-size // sample.shape[1])
    tiled = np.tile(sample, (1, reps, reps))[:, :size, :size]
    movie = np.ascontiguousarray(tiled[np.arange(frames) % len(tiled)])
    rss_before_model = _rss_mb()
    peak = [0.0]
    stop = threading.Event()

    def sample_rss() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            stop.wait(0.02)

    if mode == "ours":
        detect(sample[:1], settings, axes="tyx", calibration=cal)  # load + warm the model
        rss_warm = _rss_mb()
        th = threading.Thread(target=sample_rss, daemon=True)
        th.start()
        t0 = time.perf_counter()
        res = detect(movie, settings, axes="tyx", calibration=cal)
        secs = time.perf_counter() - t0
        n = res.n_detections
    else:
        from cellpose import models

        model = models.CellposeModel(gpu=False, pretrained_model=str(test_model_path()))
        kw = dict(channel_axis=-1, z_axis=0, channels=[0, 0], diameter=diameter_um / 0.5, flow_threshold=0.4,
                  cellprob_threshold=0.0, min_size=15, batch_size=8, normalize={"normalize": True, "norm3D": False})
        model.eval(sample[:1, ..., None], **kw)
        rss_warm = _rss_mb()
        th = threading.Thread(target=sample_rss, daemon=True)
        th.start()
        t0 = time.perf_counter()
        masks = []
        for s in range(0, frames, 4):
            m = model.eval(movie[s:s + 4, ..., None], **kw)[0]
            masks.extend(np.asarray(m).reshape(-1, size, size))
        secs = time.perf_counter() - t0
        n = int(sum(int(m.max()) for m in masks))
    stop.set()
    th.join()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "frames": frames, "size": size, "diameter_um": diameter_um,
                      "movie_mb": movie.nbytes / 2 ** 20,
                      "rss_before_model_mb": rss_before_model, "rss_warm_mb": rss_warm,
                      "peak_rss_mb": max(peak[0], maxrss), "peak_sampled_mb": peak[0], "seconds": secs,
                      "n_objects": n}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
