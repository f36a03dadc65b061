import warnings

import numpy as np
import pytest
import xarray as xr

from trackmate_cellpose.axes import to_tczyx
from trackmate_cellpose.calibration import AnisotropyWarning, Calibration
from trackmate_cellpose.errors import InvalidImageError


@pytest.mark.parametrize("axes,shape", [("yx", (5, 6)), ("tyx", (3, 5, 6)), ("zyx", (4, 5, 6)),
                                        ("tzcyx", (2, 4, 3, 5, 6)), ("cyx", (2, 5, 6)), ("YXS", (5, 6, 3))])
def test_to_tczyx_moves_axes_without_copy(axes, shape):
    a = np.random.default_rng(0).integers(0, 100, shape).astype(np.uint16)
    out, _ = to_tczyx(a, axes)
    assert out.ndim == 5 and out.shape[3:] == (5, 6)
    assert np.shares_memory(out, a)
    assert out.sum() == a.sum()


def test_values_land_on_the_right_axes():
    a = np.zeros((2, 3, 4, 5), np.uint8)  # z c y x
    a[1, 2, 3, 4] = 7
    out, _ = to_tczyx(a, "zcyx")
    assert out.shape == (1, 3, 2, 4, 5) and out[0, 2, 1, 3, 4] == 7


@pytest.mark.parametrize("axes,shape,match", [("tq", (3, 4), "accepted axes"), ("tyx", (3, 4), "dimensions"),
                                              ("tt", (3, 4), "twice"), ("ty", (3, 4), "both y and x")])
def test_bad_axes_rejected(axes, shape, match):
    with pytest.raises(InvalidImageError, match=match):
        to_tczyx(np.zeros(shape), axes)


def test_numpy_nd_needs_axes_and_empty_or_nonnumeric_rejected():
    with pytest.raises(InvalidImageError, match="explicit axes"):
        to_tczyx(np.zeros((2, 3, 4)))
    with pytest.raises(InvalidImageError, match="empty"):
        to_tczyx(np.zeros((0, 4)), "yx")
    with pytest.raises(InvalidImageError, match="numeric"):
        to_tczyx(np.array([["a", "b"]]), "yx")


def test_xarray_dims_and_calibration_from_coords_and_attrs():
    data = np.zeros((3, 4, 5, 6), np.uint16)
    da = xr.DataArray(data, dims=("time", "z", "y", "x"),
                      coords={"z": np.arange(4) * 2.0, "y": np.arange(5) * 0.5, "x": np.arange(6) * 0.5,
                              "time": np.arange(3) * 10.0},
                      attrs={"space_unit": "um", "time_unit": "s"})
    out, cal = to_tczyx(da)
    assert out.shape == (3, 1, 4, 5, 6)
    assert (cal.x, cal.y, cal.z, cal.t) == (0.5, 0.5, 2.0, 10.0)
    assert cal.space_unit == "um" and cal.anisotropy == 4.0
    da2 = xr.DataArray(np.zeros((5, 6)), dims=("y", "x"), attrs={"pixel_size": 0.25, "unit": "um"})
    assert to_tczyx(da2)[1].x == 0.25
    explicit = Calibration(x=2, y=2, z=3)
    assert to_tczyx(da2, calibration=explicit)[1] is explicit


def test_calibration_validation_and_anisotropy_warning():
    with pytest.raises(InvalidImageError, match="z"):
        Calibration(z=0)
    with pytest.warns(AnisotropyWarning, match="anisotropy cannot be corrected"):
        Calibration().check_anisotropy(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Calibration(x=0.5, y=0.5, z=1.0, space_unit="um").check_anisotropy(10) == 2.0
        Calibration().check_anisotropy(1)  # 2D: nothing to correct, no warning
    # numbers without a unit are used as given, and the warning says which value (not "taken as 1")
    with pytest.warns(AnisotropyWarning, match=r"no length unit\): the anisotropy is taken from the numbers as given "
                                               r"\(Z step 1 / pixel size 0.5 = 2\)") as rec:
        assert Calibration(x=0.5, y=0.5, z=1.0).check_anisotropy(10) == 2.0
    assert "taken as 1" not in str(rec[0].message)
