"""A TIFF that holds less than it declares is refused, never read as a shorter movie (#25 item 1).

Real truncated files: complete ImageJ hyperstacks, OME-TIFFs (plain and deflate-compressed) and a plain multi-page
TIFF, cut to a part of their bytes as a broken copy or download would leave them. The reader (and ``run`` through the
real command line) refuses each one naming the file, and for ImageJ files the frames declared and the planes that
can be read; the complete files still read as before, and tifffile's raw warnings are not printed.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from trackmate_cellpose.cli import main
from trackmate_cellpose.errors import InvalidImageError
from trackmate_cellpose.reader import inspect_image, read_image

_DATA = np.random.default_rng(0).integers(0, 1000, (3, 4, 32, 32), dtype=np.uint16)  # T Z Y X

_LAYOUTS = {
    "imagej_2dt": (lambda p: tifffile.imwrite(p, _DATA[:, 0], imagej=True, metadata={"axes": "TYX"}), "tyx"),
    "imagej_3dt": (lambda p: tifffile.imwrite(p, _DATA, imagej=True, metadata={"axes": "TZYX"}), "tzyx"),
    "ome_3dt": (lambda p: tifffile.imwrite(p, _DATA, ome=True, metadata={"axes": "TZYX"}), "tzyx"),
    "ome_deflate": (lambda p: tifffile.imwrite(p, _DATA, ome=True, metadata={"axes": "TZYX"},
                                               compression="zlib"), "tzyx"),
    "plain_pages": (lambda p: tifffile.imwrite(p, _DATA[:, 0], photometric="minisblack"), None),
}


def _write(tmp_path, layout: str):
    write, axes = _LAYOUTS[layout]
    p = tmp_path / f"{layout}.tif"
    write(p)
    return p, axes


def _truncate(src, dst, fraction: float):
    data = src.read_bytes()
    dst.write_bytes(data[:int(len(data) * fraction)])
    return dst


@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
def test_complete_files_read_whole(tmp_path, layout):
    p, axes = _write(tmp_path, layout)
    img = read_image(p, axes=None if layout != "plain_pages" else "tyx")
    assert img.n_frames == 3 and img.array.shape[2] == (4 if axes == "tzyx" else 1)


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.9])
@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
def test_truncated_files_are_refused_naming_the_file(tmp_path, layout, fraction, caplog):
    p, axes = _write(tmp_path, layout)
    t = _truncate(p, tmp_path / f"cut_{layout}.tif", fraction)
    with pytest.raises(InvalidImageError) as e:
        inspect_image(t, axes=None if layout != "plain_pages" else "tyx")
    msg = str(e.value)
    assert msg.startswith(f"cut_{layout}.tif is truncated") and "nothing was processed" in msg, msg
    assert e.value.path == t.resolve()
    if layout.startswith("imagej"):
        planes = 3 if layout == "imagej_2dt" else 12
        assert "declares 3 frame(s)" in msg and f"= {planes} planes" in msg and "only 1 plane(s)" in msg, msg


def test_run_refuses_a_truncated_hyperstack_with_exit_2_and_writes_nothing(tmp_path, capsys, test_model):
    """The issue's recipe: the first half of a 3-frame ImageJ hyperstack, given to ``run``."""
    p, _ = _write(tmp_path, "imagej_2dt")
    t = _truncate(p, tmp_path / "trunc.tif", 0.5)
    out = tmp_path / "out"
    rc = main(["run", str(t), "-o", str(out), "--model-path", str(test_model), "--cpu", "-q"])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err  # our one line; no raw tifffile warnings
    assert "trunc.tif is truncated or damaged" in lines[0] and "declares 3 frame(s)" in lines[0], lines[0]
    assert not out.exists()


@pytest.mark.parametrize("layout", ["imagej_3dt", "ome_3dt"])
def test_fiji_side_refuses_a_truncated_file_before_imagej_opens_it(tmp_path, layout):
    """``run_trackmate(path)`` / ``trackmate-cellpose fiji`` open the image with ImageJ, which reads what it can of a
    truncated hyperstack: the file is refused first (no JVM is needed for that; the real Fiji run is in
    tests/fiji/fiji_scenarios.py ``truncated``). A complete file goes on to ImageJ."""
    from trackmate_cellpose.bridge._headless import open_image
    from trackmate_cellpose.reader import refuse_truncated

    p, _ = _write(tmp_path, layout)
    t = _truncate(p, tmp_path / "trunc.tif", 0.5)
    with pytest.raises(InvalidImageError, match="trunc.tif is truncated") as e:
        open_image(t)
    assert e.value.path == t
    refuse_truncated(p)  # complete: nothing to say
    refuse_truncated(tmp_path / "notes.txt")  # not a TIFF: not looked at
