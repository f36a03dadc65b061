"""Make the docs' overview picture (``docs/images/overview.png``, shown by the README and the docs' home page).

Runs the standalone pipeline on the two bundled samples with the bundled test model and the demo's settings, then
draws with the pipeline's own picture writers: the 2D+t sample's outlines coloured by track on its first and last
frames, and the 3D+t sample's meshes at its first time point, side by side. The picture is reduced to 256 colours to
stay small. Uses only the package's public API; about a minute on two idle CPU cores.

    python scripts/tools/make_docs_pictures.py [--out docs/images/overview.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PIL import Image

from trackmate_cellpose import DetectorSettings, sample_path, test_model_path
from trackmate_cellpose.export import write_mesh_png, write_overlay_png
from trackmate_cellpose.pipeline import run_pipeline

REPO = Path(__file__).resolve().parents[2]
#: the demo's settings for the bundled samples (cells of 12-22 px at 0.5 um/px)
SETTINGS = DetectorSettings(model="CUSTOM", model_path=str(test_model_path()), diameter=10.0, use_gpu=False)


def side_by_side(left: Path, right: Path, height: int) -> Image.Image:
    imgs = [Image.open(p).convert("RGB") for p in (left, right)]
    imgs = [im.resize((round(im.width * height / im.height), height), Image.LANCZOS) for im in imgs]
    gap = 12
    out = Image.new("RGB", (sum(im.width for im in imgs) + gap, height), "white")
    out.paste(imgs[0], (0, 0))
    out.paste(imgs[1], (imgs[0].width + gap, 0))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "overview.png")
    ap.add_argument("--height", type=int, default=300, help="height of the picture in pixels [300]")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tmcp-pictures-") as tmp:
        tmp = Path(tmp)
        res2, res3 = (run_pipeline(sample_path(name), tmp, SETTINGS, formats="xml") for name in ("2dt", "3dt"))
        last = res2.image.array.shape[0] - 1
        write_overlay_png(tmp / "2d.png", res2.image.array, res2.tracking, res2.image.calibration, frames=[0, last])
        write_mesh_png(tmp / "3d.png", res3.tracking, res3.image.calibration, frames=[0],
                       image_shape_zyx=res3.image.array.shape[2:])
        pic = side_by_side(tmp / "2d.png", tmp / "3d.png", args.height)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pic.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"{args.out} {pic.width}x{pic.height}, {args.out.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
