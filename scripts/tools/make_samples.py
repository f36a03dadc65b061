"""Generate the bundled synthetic sample movies (seeded; output is deterministic).

    python scripts/tools/make_samples.py [--out python/trackmate_cellpose/data]

Writes ImageJ hyperstack TIFFs with calibration (xy 0.5 um, z 1.0 um, dt 5 s):
``sample_2dt.tif`` (12 frames, 128x128) and ``sample_3dt.tif`` (3 time points, 12 z, 96x96), each with a
``*_labels.tif`` ground-truth movie (label value = track id).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tifffile

from trackmate_cellpose.data import synthetic_movie_2d, synthetic_movie_3d

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "python" / "trackmate_cellpose" / "data"
PIXEL_UM, Z_UM, DT_S = 0.5, 1.0, 5.0


def write_hyperstack(path: Path, data_tzyx: np.ndarray, *, z_step: float) -> None:
    """Write a (T, Z, Y, X) movie as a calibrated ImageJ hyperstack."""
    tifffile.imwrite(
        path, data_tzyx[:, :, None], imagej=True, resolution=(1 / PIXEL_UM, 1 / PIXEL_UM),
        metadata={"axes": "TZCYX", "spacing": z_step, "unit": "um", "finterval": DT_S, "fps": 1 / DT_S},
        compression="zlib")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    img2, lab2 = synthetic_movie_2d(n_frames=12, shape_yx=(128, 128), n_objects=10, seed=11)
    write_hyperstack(args.out / "sample_2dt.tif", img2[:, None], z_step=Z_UM)
    write_hyperstack(args.out / "sample_2dt_labels.tif", lab2[:, None].astype(np.uint16), z_step=Z_UM)
    img3, lab3 = synthetic_movie_3d(n_frames=3, shape_zyx=(12, 96, 96), n_objects=8, anisotropy=Z_UM / PIXEL_UM,
                                    seed=12)
    write_hyperstack(args.out / "sample_3dt.tif", img3, z_step=Z_UM)
    write_hyperstack(args.out / "sample_3dt_labels.tif", lab3.astype(np.uint16), z_step=Z_UM)
    for name in ("sample_2dt", "sample_2dt_labels", "sample_3dt", "sample_3dt_labels"):
        p = args.out / f"{name}.tif"
        print(f"{p} {p.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
