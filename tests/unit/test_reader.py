"""TIFF reading: axes and calibration from ImageJ hyperstacks, OME-TIFF and plain TIFF; refusals."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from trackmate_cellpose.errors import InvalidImageError
from trackmate_cellpose.reader import read_image


def _imagej(path, data, axes, *, xy=0.5, z=1.0, dt=2.0, unit="micron"):
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / xy, 1 / xy),
                     metadata={"axes": axes, "spacing": z, "unit": unit, "finterval": dt})


@pytest.mark.parametrize("axes,shape,expect", [
    ("YX", (20, 30), (1, 1, 1, 20, 30)),
    ("TYX", (4, 20, 30), (4, 1, 1, 20, 30)),
    ("ZYX", (5, 20, 30), (1, 1, 5, 20, 30)),
    ("TZYX", (3, 5, 20, 30), (3, 1, 5, 20, 30)),
    ("TZCYX", (3, 5, 2, 20, 30), (3, 2, 5, 20, 30)),
])
def test_imagej_hyperstack_axes_and_calibration(tmp_path, axes, shape, expect):
    data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
    p = tmp_path / "img.tif"
    _imagej(p, data, axes)
    img = read_image(p)
    assert img.array.shape == expect
    cal = img.calibration
    assert (cal.x, cal.y) == pytest.approx((0.5, 0.5))
    assert cal.space_unit == "um"
    if "Z" in axes:
        assert cal.z == pytest.approx(1.0)
    if "T" in axes:
        assert cal.t == pytest.approx(2.0)
        assert cal.time_unit == "s"
    # the data are not reordered silently: pixel (t, c, z, y, x) keeps its value
    idx = {a: 1 if n > 1 else 0 for a, n in zip(axes, shape)}
    src = tuple(idx[a] for a in axes)
    dst = tuple(idx.get(a, 0) for a in "TCZYX")
    assert img.array[dst] == data[src]


def test_ome_tiff_calibration(tmp_path):
    p = tmp_path / "img.ome.tif"
    data = np.zeros((2, 4, 16, 16), np.uint8)
    tifffile.imwrite(p, data, metadata={"axes": "TZYX", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25,
                                        "PhysicalSizeZ": 2.0, "TimeIncrement": 5.0, "TimeIncrementUnit": "s"},
                     ome=True)
    img = read_image(p)
    assert img.array.shape == (2, 1, 4, 16, 16)
    c = img.calibration
    assert (c.x, c.z, c.t) == pytest.approx((0.25, 2.0, 5.0))
    assert c.space_unit == "um"


def test_overrides_win(tmp_path):
    p = tmp_path / "img.tif"
    _imagej(p, np.zeros((3, 8, 8), np.uint16), "TYX")
    img = read_image(p, pixel_size=0.1, dt=10.0, time_unit="min")
    assert (img.calibration.x, img.calibration.t, img.calibration.time_unit) == (0.1, 10.0, "min")


def test_plain_stack_needs_axes(tmp_path):
    p = tmp_path / "plain.tif"
    tifffile.imwrite(p, np.zeros((4, 8, 8), np.uint16), metadata=None, photometric="minisblack")
    with pytest.raises(InvalidImageError, match="--axes"):
        read_image(p)
    img = read_image(p, axes="zyx")
    assert img.array.shape == (1, 1, 4, 8, 8)
    assert img.calibration.space_unit == "pixel"


@pytest.mark.parametrize("case", ["missing", "not_tiff", "nan", "bad_axes", "zero_size"])
def test_bad_inputs(tmp_path, case):
    p = tmp_path / "x.tif"
    if case == "missing":
        with pytest.raises(FileNotFoundError, match="not found"):
            read_image(p)
        return
    if case == "not_tiff":
        p.write_text("hello, I am not an image")
    elif case == "nan":
        a = np.zeros((8, 8), np.float32)
        a[2, 3] = np.nan
        tifffile.imwrite(p, a)
    elif case == "bad_axes":
        tifffile.imwrite(p, np.zeros((2, 3, 8, 8), np.uint8), metadata=None, photometric="minisblack")
    elif case == "zero_size":
        p.write_bytes(b"")
    with pytest.raises(InvalidImageError) as e:
        read_image(p)
    msg = str(e.value)
    assert "x.tif" in msg
    if case == "nan":
        assert "NaN" in msg
    if case == "bad_axes":
        assert "found axes" in msg and "Accepted" in msg


def test_rgb_samples_become_channels(tmp_path):
    p = tmp_path / "rgb.tif"
    data = np.zeros((16, 20, 3), np.uint8)
    data[..., 1] = 7
    tifffile.imwrite(p, data, photometric="rgb")
    img = read_image(p)
    assert img.array.shape == (1, 3, 1, 16, 20)
    assert img.array[0, 1].max() == 7 and img.array[0, 0].max() == 0


def test_axes_override_length_checked(tmp_path):
    p = tmp_path / "img.tif"
    _imagej(p, np.zeros((3, 8, 8), np.uint16), "TYX")
    with pytest.raises(InvalidImageError, match="names 2 axes"):
        read_image(p, axes="yx")
    assert read_image(p, axes="zyx").array.shape == (1, 1, 3, 8, 8)
