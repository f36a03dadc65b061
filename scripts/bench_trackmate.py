"""B2 through real TrackMate (scripts/bench.py runs this in a subprocess when FIJI_DIR is set).

Usage: ``python scripts/bench_trackmate.py ARGS.json`` prints one JSON line.

In one Fiji process (``trackmate_cellpose.bridge.start_fiji``) it times, interleaved, (a) TrackMate's detection
step with the "Cellpose advanced (Python)" detector through ``run_trackmate(..., tracker="none")`` (Java frame
copy + cellpose + label -> spot conversion + Java spot creation + TrackMate's spot features and filtering) and (b)
bare ``CellposeModel.eval`` on the same frames with the same settings, after one warm-up run of each.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    args = json.loads(Path(sys.argv[1]).read_text())
    import tifffile

    from trackmate_cellpose import DetectorSettings
    from trackmate_cellpose.bridge import run_trackmate, start_fiji
    from trackmate_cellpose.bridge._jvm import jvm_options_for_tests

    home = Path(tempfile.mkdtemp(prefix="tmcp_bench_home_"))
    t0 = time.perf_counter()
    start_fiji(args["fiji"], jvm_options=jvm_options_for_tests(home))
    t_start = time.perf_counter() - t0
    from cellpose import models

    settings = DetectorSettings(**args["settings"])
    bare = models.CellposeModel(gpu=False, pretrained_model=settings.model_path)
    out: dict = {"fiji_start_s": t_start, "movies": {}}
    for name, spec in args["movies"].items():
        img = np.load(spec["npy"])
        axes = spec["axes"]
        tif = home / f"{name}.tif"
        # ImageJ hyperstack with calibration (x/y 0.5 um, z 1 um), as TrackMate would open it
        tifffile.imwrite(tif, img, imagej=True, resolution=(2.0, 2.0),
                         metadata={"axes": axes.upper(), "spacing": 1.0, "unit": "um", "finterval": 1.0})
        is_3d = "z" in axes
        kw = dict(channel_axis=-1, z_axis=0, channels=[0, 0], diameter=20.0, cellprob_threshold=0.0, min_size=15,
                  batch_size=8, normalize={"normalize": True, "norm3D": is_3d}, do_3D=is_3d)
        if is_3d:
            kw["anisotropy"] = 2.0
        else:
            kw["flow_threshold"] = 0.4

        def run_bare():
            if is_3d:
                return [bare.eval(v[..., None], **kw)[0] for v in img]
            return bare.eval(img[..., None], **kw)[0]

        def run_tm():
            return run_trackmate(str(tif), settings, tracker="none")

        run_bare()
        first = run_tm()
        tm_s, tm_inner_s, bare_s = [], [], []
        for r in range(int(args["reps"])):
            for which in (("tm", "bare") if r % 2 == 0 else ("bare", "tm")):
                t0 = time.perf_counter()
                if which == "tm":
                    res = run_tm()
                    tm_s.append(time.perf_counter() - t0)
                    tm_inner_s.append(float(res.timings.get("trackmate", float("nan"))))
                else:
                    run_bare()
                    bare_s.append(time.perf_counter() - t0)
        out["movies"][name] = {"shape": list(img.shape), "n_spots": first.n_spots, "trackmate_s": tm_s,
                               "trackmate_detection_step_s": tm_inner_s, "bare_s": bare_s}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
