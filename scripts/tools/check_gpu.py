"""GPU check (run on a machine with CUDA): detection on the bundled samples on the GPU and on the CPU, compared.

    python scripts/tools/check_gpu.py [--model FILE] [--json OUT.json]

Under cellpose 4 the GPU path loads the network in bfloat16 (``use_bfloat16`` on CUDA), the CPU path in float32; under
cellpose 3 both are float32. Reports, per mode (2D+t, 3D mode, 2D+Z): objects, F1@0.5 against the synthetic truth on
each device, the F1@0.5 agreement between the two devices' labels, and wall times (second run, model warm).
For the tiny cellpose-4 test model set ``PYTHONPATH=tests/support/cp4 TMCP_TEST_TINY_CPSAM=1``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import tifffile

from eval_test_model import CAL, f1_at_iou
from trackmate_cellpose import DetectorSettings, RuntimeOptions, detect
from trackmate_cellpose.data import sample_path, test_model_path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=test_model_path())
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import torch
    from importlib.metadata import version

    if not torch.cuda.is_available():
        print("no CUDA device")
        return 1
    out = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cellpose": version("cellpose"),
           "python": platform.python_version()}
    print(out)
    base = DetectorSettings(model="CUSTOM", model_path=str(args.model), diameter=10.0, use_gpu=True)
    for mode in ("2d", "3d", "2dz"):
        kind = "2dt" if mode == "2d" else "3dt"
        img, gt = tifffile.imread(sample_path(kind)), tifffile.imread(sample_path(kind, ground_truth=True))
        axes = "tyx" if mode == "2d" else "tzyx"
        s = base.replace(do_2dz=mode == "2dz")
        row = {}
        labels = {}
        for device in ("cuda", "cpu"):
            rt = RuntimeOptions(device=device)
            detect(img[:1], s, axes=axes, calibration=CAL, runtime=rt)  # warm-up (model load)
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            res = detect(img, s, axes=axes, calibration=CAL, runtime=rt)
            if device == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            labels[device] = [fr.labels for fr in res.frames]
            f1 = [f1_at_iou(fr.labels, g) for fr, g in zip(res.frames, gt)]
            row[device] = {"seconds": round(dt, 2), "objects": res.n_detections, "min_f1": round(min(f1), 3)}
        row["agreement_f1"] = round(min(f1_at_iou(a, b) for a, b in zip(labels["cuda"], labels["cpu"])), 3)
        row["speedup"] = round(row["cpu"]["seconds"] / max(row["cuda"]["seconds"], 1e-9), 1)
        out[mode] = row
        print(mode, row, flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
