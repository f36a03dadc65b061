"""Resident memory of detection: the peak of a whole movie against bare cellpose, and whether RSS stays flat as a
standalone run gets longer.

``--what peak``: the peak RSS of a fresh process running :func:`trackmate_cellpose.detect` on ``--frames`` frames
of ``--size`` x ``--size`` (every frame's labels and spots kept, as a TrackMate run keeps them) against **bare
cellpose**: ``CellposeModel.eval`` on batches of 4 frames keeping only the masks. The movie is the bundled 2D+t
sample tiled and cycled (realistic objects at its density); RSS after loading and warming the model on one small
frame is reported apart. ``--package DIR`` measures the ``trackmate_cellpose`` in DIR instead (e.g. another
checkout's ``python/``, for before/after comparisons).

``--what long``: one fresh process per ``--frames`` value runs the whole standalone pipeline
(``trackmate_cellpose.pipeline.run_pipeline``: read, detect, track, export, commit) on the tiled sample written as an
ImageJ TIFF; RSS is sampled every 20 ms and attributed to the phase running, and recorded per frame done, which
gives the growth per frame after the first 10 %. ``--network standin`` (default) replaces only the cellpose
network (the adapter's ``eval``) by threshold + connected components with a float32 probability map of the frame's
size, so 1000 frames fit in minutes on a CPU: everything around it is the real code, and the network's own memory
(per batch, not growing with the movie) is what ``--what peak`` measures. ``--network cellpose`` runs the model.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import _cases
from ._measure import RssSampler, StageClock, UsageError, log, loadavg, peak_rss_mb, rss_mb, run_child

NAME = "memory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--what", choices=("peak", "long"), default="peak", help="[%(default)s]")
    parser.add_argument("--frames", default="",
                        help="frames; comma-separated for --what long [peak: 100, long: 100,1000]")
    parser.add_argument("--size", type=int, default=512, help="frame side in pixels [%(default)s]")
    parser.add_argument("--diameter", type=float, default=0.0,
                        help="CELL_DIAMETER in um, 0.5 um pixels [peak: 30 (60 px: rescale 0.5, a shorter CPU run; "
                             "the arrays kept per frame do not depend on it), long: 10]")
    parser.add_argument("--modes", default="ours,bare", help="--what peak: ours and/or bare [%(default)s]")
    parser.add_argument("--package", default="", help="--what peak: measure the trackmate_cellpose in this folder")
    parser.add_argument("--network", choices=("standin", "cellpose"), default="standin",
                        help="--what long: the network stand-in, or the model [%(default)s]")
    parser.add_argument("--formats", default="xml,labels,csv,ctc,png", help="--what long: outputs [%(default)s]")


# ---- peak ----------------------------------------------------------------------------------------------------------
def peak_case(spec: dict[str, Any]) -> dict[str, Any]:
    """One peak measurement (a child process): ours or bare on the tiled sample."""
    from trackmate_cellpose import detect

    settings, cal = _cases.settings(spec["diameter"]), _cases.calibration()
    frames, size = spec["frames"], spec["size"]
    movie = _cases.tiled_sample(frames, size)
    small = movie[:1, :128, :128]
    rss_before_model = rss_mb()
    if spec["mode"] == "ours":
        detect(small, settings, axes="tyx", calibration=cal)  # load and warm the model
        rss_warm = rss_mb()
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            n = detect(movie, settings, axes="tyx", calibration=cal).n_detections
            secs = time.perf_counter() - t0
    else:
        model = _cases.bare_model(settings.model_path)
        _cases.bare_call(model, small, "tyx", settings)()
        rss_warm = rss_mb()
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            masks = [m for s in range(0, frames, 4) for m in _cases.bare_call(model, movie[s:s + 4], "tyx", settings)()]
            secs = time.perf_counter() - t0
        n = int(sum(int(m.max()) for m in masks))
    import trackmate_cellpose

    return {"mode": spec["mode"], "frames": frames, "size": size, "diameter_um": spec["diameter"],
            "package": str(Path(trackmate_cellpose.__file__).parent), "movie_mb": movie.nbytes / 2 ** 20,
            "rss_before_model_mb": rss_before_model, "rss_warm_mb": rss_warm,
            "peak_rss_mb": max(sampler.peak_overall, peak_rss_mb()), "peak_sampled_mb": sampler.peak_overall,
            "seconds": secs, "n_objects": n, "load_after": loadavg()}


# ---- long ----------------------------------------------------------------------------------------------------------
class StandInAdapter:
    """Stands in for the cellpose network only: labels = connected components above mean + 1 SD of each frame."""

    diam_mean = 30.0
    inference = "standin"

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
    """The tiled sample as an ImageJ TIFF, written through a file mapping (this process never holds the movie)."""
    import tifffile

    tiles = _cases.tiled_sample(12, size)
    mm = tifffile.memmap(path, shape=(frames, size, size), dtype=np.uint16, imagej=True, resolution=(2.0, 2.0),
                         metadata={"axes": "TYX", "unit": "um", "finterval": 5.0})
    for t in range(frames):
        mm[t] = tiles[t % len(tiles)]
    mm.flush()
    del mm
    return frames * size * size * 2 / 2 ** 20


def long_case(spec: dict[str, Any]) -> dict[str, Any]:
    """One long standalone run (a child process), RSS by phase and per frame."""
    import trackmate_cellpose
    from trackmate_cellpose import geometry, pipeline, reader, tracking
    from trackmate_cellpose.segment import CellposeAdapter

    frames, size = spec["frames"], spec["size"]
    work = Path(tempfile.mkdtemp(prefix="tmcp-bench-mem-long-"))
    movie_mb = _write_movie(work / "movie.tif", frames, size)
    if spec["network"] == "standin":
        CellposeAdapter.get = classmethod(lambda cls, *a, **k: StandInAdapter())
    series: list[tuple[int, float]] = []  # (frames detected, RSS)
    sampler = RssSampler()

    def on_stage(name: str, event: str) -> None:
        if name == "spots" and event == "leave":
            series.append((len(series) + 1, rss_mb()))
        elif name != "spots":
            sampler.phase = name if event == "enter" else {"track": "export"}.get(name, f"after {name}")

    clock = StageClock(listener=on_stage)
    clock.watch("read", reader.read_image)
    clock.watch("detect", trackmate_cellpose.detect)
    clock.watch("spots", geometry.labels_to_detections)
    clock.watch("track", tracking.track_overlap)
    settings = _cases.settings(spec["diameter"])
    rss_start = rss_mb()
    with sampler, clock:
        t0 = time.perf_counter()
        result = pipeline.run_pipeline(work / "movie.tif", work / "out", settings, formats=spec["formats"],
                                       progress=False)
        secs = time.perf_counter() - t0
    pts = [(f, r) for f, r in series if f >= 0.1 * frames]
    slope = float(np.polyfit([f for f, _ in pts], [r for _, r in pts], 1)[0]) if len(pts) > 3 else None
    labels_mb = sum(fr.labels.nbytes for fr in result.detection.frames) / 2 ** 20
    shutil.rmtree(work, ignore_errors=True)  # the movie and the outputs (GBs at 1000 frames)
    return {"network": spec["network"], "frames": frames, "size": size, "diameter_um": spec["diameter"],
            "formats": spec["formats"], "movie_mb": movie_mb, "labels_kept_mb": labels_mb,
            "n_objects": result.detection.n_detections, "n_tracks": len(result.tracking.tracks),
            "rss_start_mb": rss_start, "peak_rss_mb": max(peak_rss_mb(), sampler.peak_overall),
            "peak_by_phase_mb": sampler.peaks, "detect_growth_mb_per_frame": slope,
            "rss_after_detect_mb": series[-1][1] if series else None, "seconds": secs, "timings": result.timings,
            "load_after": loadavg()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        frames = [int(v) for v in (args.frames or ("100" if args.what == "peak" else "100,1000")).split(",")]
    except ValueError:
        raise UsageError(f"--frames: expected comma-separated integers, got {args.frames!r}") from None
    if min(frames) < 1 or args.size < 16:
        raise UsageError(f"--frames must be >= 1 and --size >= 16, got {args.frames!r} and {args.size}")
    out: dict[str, Any] = {"what": args.what, "size": args.size, "rows": []}
    if args.what == "peak":
        modes = [m for m in args.modes.split(",") if m]
        if not modes or set(modes) - {"ours", "bare"}:
            raise UsageError(f"--modes: expected ours and/or bare, got {args.modes!r}")
        if args.package and not (Path(args.package) / "trackmate_cellpose").is_dir():
            raise UsageError(f"--package: {args.package!r} holds no trackmate_cellpose package")
        diameter = args.diameter or 30.0
        out["baseline"] = "bare CellposeModel.eval on batches of 4 frames, masks only"
        for mode in modes:
            log(f"memory peak, {mode}: {frames[0]} frames of {args.size}^2")
            row = run_child(peak_case, {"mode": mode, "frames": frames[0], "size": args.size, "diameter": diameter},
                            package_dir=args.package or None)
            log(f"  peak {row['peak_rss_mb']:.0f} MiB, warm {row['rss_warm_mb']:.0f} MiB")
            out["rows"].append(row)
            args.checkpoint(out)
        return out
    for n in frames:
        log(f"memory long: {n} frames of {args.size}^2, network {args.network}")
        row = run_child(long_case, {"frames": n, "size": args.size, "network": args.network, "formats": args.formats,
                                    "diameter": args.diameter or 10.0})
        log(f"  peak {row['peak_rss_mb']:.0f} MiB, by phase {row['peak_by_phase_mb']}")
        out["rows"].append(row)
        args.checkpoint(out)
    return out


def markdown(results: dict[str, Any]) -> str:
    if results["what"] == "peak":
        lines = ["| mode | frames | movie MiB | RSS before the model | warm model | **peak RSS** | over warm | objects | "
                 "wall |", "|---|---|---|---|---|---|---|---|---|"]
        for m in results["rows"]:
            lines.append(f"| {m['mode']} | {m['frames']} × {m['size']}² | {m['movie_mb']:.0f} | "
                         f"{m['rss_before_model_mb']:.0f} MiB | {m['rss_warm_mb']:.0f} MiB | "
                         f"**{m['peak_rss_mb']:.0f} MiB** | +{m['peak_rss_mb'] - m['rss_warm_mb']:.0f} MiB | "
                         f"{m['n_objects']} | {m['seconds']:.0f} s |")
        return "\n".join(lines)
    lines = ["| frames | network | read | end of detection | peak during export | **peak RSS** | growth per frame "
             "during detection |", "|---|---|---|---|---|---|---|"]
    for m in results["rows"]:
        p = m["peak_by_phase_mb"]
        slope = m["detect_growth_mb_per_frame"]
        lines.append(f"| {m['frames']} × {m['size']}² | {m['network']} | {p.get('read', 0):.0f} MiB | "
                     f"{m['rss_after_detect_mb'] or 0:.0f} MiB | {p.get('export', 0):.0f} MiB | "
                     f"**{m['peak_rss_mb']:.0f} MiB** | {'-' if slope is None else f'{slope:.2f} MiB'} |")
    return "\n".join(lines)
