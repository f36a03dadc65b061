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


# ---- calibration units (issue 11 item 6): every length unit a file can state becomes micrometres -----------------

@pytest.mark.parametrize("kind,unit,per_unit,expect_um", [
    ("tiff", "INCH", 2540.0, 10.0),          # 2540 pixels per inch = 10 um pixels
    ("tiff", "CENTIMETER", 1000.0, 10.0),
    ("imagej", "nm", 0.01, 0.1),             # 0.01 pixels per nm = 100 nm
    ("imagej", "\\u00B5m", 2.0, 0.5),
    ("imagej", "mm", 2000.0, 0.5),
    ("imagej", "cm", 20000.0, 0.5),
    ("imagej", "inch", 50800.0, 0.5),
    ("ome", "nm", 250.0, 0.25),              # OME gives the size, not the resolution
    ("ome", "mm", 0.0005, 0.5),
    ("ome", "m", 5e-7, 0.5),
    ("ome", "cm", 5e-5, 0.5),
])
def test_pixel_size_units_are_converted_to_micrometres(tmp_path, kind, unit, per_unit, expect_um):
    import warnings

    p = tmp_path / ("x.ome.tif" if kind == "ome" else "x.tif")
    d = np.zeros((2, 3, 16, 16), np.uint8)
    if kind == "tiff":
        tifffile.imwrite(p, d[0, 0], resolution=(per_unit, per_unit), resolutionunit=unit)
    elif kind == "imagej":
        tifffile.imwrite(p, d, imagej=True, resolution=(per_unit, per_unit),
                         metadata={"axes": "TZYX", "unit": unit, "spacing": 4 * expect_um / _um(unit)})
    else:
        tifffile.imwrite(p, d, metadata={"axes": "TZYX", "PhysicalSizeX": per_unit, "PhysicalSizeXUnit": unit,
                                         "PhysicalSizeY": per_unit, "PhysicalSizeYUnit": unit,
                                         "PhysicalSizeZ": 2.0, "PhysicalSizeZUnit": "\u00b5m"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a convertible unit raises no warning
        img = read_image(p)
    c = img.calibration
    assert c.space_unit == "um"
    assert (c.x, c.y) == pytest.approx((expect_um, expect_um), rel=1e-6)
    if kind == "imagej":
        assert c.z == pytest.approx(4 * expect_um, rel=1e-6)
    if kind == "ome":
        assert c.z == pytest.approx(2.0)


def _um(unit):
    from trackmate_cellpose.calibration import um_per_unit

    return um_per_unit(unit)


def test_values_without_a_usable_unit_are_reported_not_used_nor_misreported(tmp_path):
    from trackmate_cellpose.calibration import AnisotropyWarning, CalibrationWarning

    p = tmp_path / "nounit.tif"
    tifffile.imwrite(p, np.zeros((2, 5, 16, 16), np.uint8), imagej=True, metadata={"axes": "TZYX", "spacing": 2.5})
    with pytest.warns(CalibrationWarning, match=r"nounit.tif: .*'spacing' of 2.5 but no length unit.*--z-step"):
        img = read_image(p)
    assert img.calibration.space_unit == "pixel"
    with pytest.warns(AnisotropyWarning) as rec:
        img.calibration.check_anisotropy(5)
    msg = str(rec[0].message)
    assert "no spatial calibration" in msg and "z step 1" not in msg and "pixel size 1" not in msg

    dpi = tmp_path / "screenshot.tif"
    tifffile.imwrite(dpi, np.zeros((16, 16), np.uint8), resolution=(72, 72), resolutionunit="INCH")
    with pytest.warns(CalibrationWarning, match="72 pixels per inch is a display/printer default"):
        assert read_image(dpi).calibration.space_unit == "pixel"
    odd = tmp_path / "odd.ome.tif"
    tifffile.imwrite(odd, np.zeros((16, 16), np.uint8), metadata={"axes": "YX", "PhysicalSizeX": 3.0,
                                                                 "PhysicalSizeXUnit": "furlong"})
    with pytest.warns(CalibrationWarning, match="'furlong', not a length unit"):
        assert read_image(odd).calibration.space_unit == "pixel"
    # given on the command line, the value the file lacks is no longer worth a warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(p, z_step=2.5, pixel_size=0.5)


def test_inspect_image_reads_no_pixels_but_checks_the_layout(tmp_path, monkeypatch):
    from trackmate_cellpose.reader import inspect_image

    p = tmp_path / "m.tif"
    tifffile.imwrite(p, np.zeros((3, 2, 16, 16), np.uint16), imagej=True, metadata={"axes": "TCYX"})
    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", lambda *a, **k: pytest.fail("pixels read"))
    head = inspect_image(p)
    assert head.shape_tczyx == (3, 2, 1, 16, 16) and head.n_channels == 2
