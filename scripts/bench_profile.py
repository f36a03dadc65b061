"""Profile one detection run with pyinstrument (developer helper for the benchmarks; not part of the test suite).

Usage: .venv/bin/python scripts/bench_profile.py {2d,3d} [--frames N] [--size Y] [--html out.html]
"""

from __future__ import annotations

import argparse
import sys

from trackmate_cellpose import Calibration, DetectorSettings, RuntimeOptions, detect
from trackmate_cellpose.data import test_model_path

from trackmate_cellpose.data import synthetic_movie_2d, synthetic_movie_3d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", choices=["2d", "3d"])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--html", default="")
    args = ap.parse_args(argv)
    from pyinstrument import Profiler

    settings = DetectorSettings(model="CUSTOM", model_path=str(test_model_path()), diameter=10.0, use_gpu=False)
    cal = Calibration(x=0.5, y=0.5, z=1.0)
    if args.mode == "2d":
        img, _ = synthetic_movie_2d(n_frames=args.frames, shape_yx=(args.size, args.size),
                                    n_objects=max(10, args.size * args.size // 2500))
        axes = "tyx"
    else:
        img, _ = synthetic_movie_3d(n_frames=args.frames, shape_zyx=(16, args.size, args.size),
                                    n_objects=max(8, args.size * args.size // 3000))
        axes = "tzyx"
    detect(img[:1], settings, axes=axes, calibration=cal)  # warm the model
    prof = Profiler(interval=0.005)
    prof.start()
    res = detect(img, settings, axes=axes, calibration=cal, runtime=RuntimeOptions(device="cpu"))
    prof.stop()
    print(f"{res.n_detections} detections", file=sys.stderr)
    print(prof.output_text(unicode=False, color=False, show_all=False))
    if args.html:
        with open(args.html, "w") as fh:
            fh.write(prof.output_html())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
