"""Axis order of images: every image inside the package is a 5D ``tczyx`` array.

Singleton axes are added, never reordered silently. Axis names are case-insensitive single letters: ``t`` time,
``c`` channel, ``z``, ``y``, ``x``. TrackMate's order is XYZCT; at that boundary the bridge converts explicitly. The
physical calibration that travels with an image is :class:`~trackmate_cellpose.calibration.Calibration`.

Imports: numpy, xarray (lazily); package: _deprecated (lazily), calibration, errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .calibration import Calibration
from .errors import InvalidImageError

__all__ = ["CANONICAL_AXES", "to_tczyx", "normalize_axes"]

CANONICAL_AXES = "tczyx"


def normalize_axes(axes: str, ndim: int) -> str:
    """Validate an axis string (e.g. ``"TZYX"``) for an array of ``ndim`` dimensions; return it lower-case."""
    if not isinstance(axes, str):
        raise InvalidImageError(f"axes must be a string such as 'tzyx', got {axes!r}")
    a = axes.lower().replace("s", "c")  # tifffile's 'S' (samples) is a channel axis
    if len(a) != ndim:
        raise InvalidImageError(f"axes {axes!r} name {len(a)} axes but the image has {ndim} dimensions")
    bad = [ch for ch in a if ch not in CANONICAL_AXES]
    if bad:
        raise InvalidImageError(f"axes {axes!r} contain {''.join(bad)!r}; accepted axes are t, c, z, y, x")
    if len(set(a)) != len(a):
        raise InvalidImageError(f"axes {axes!r} name an axis twice")
    if "y" not in a or "x" not in a:
        raise InvalidImageError(f"axes {axes!r} must contain both y and x")
    return a


def to_tczyx(image: Any, axes: str | None = None, calibration: Calibration | None = None
             ) -> tuple[np.ndarray, Calibration]:
    """Bring an image to the canonical 5D ``tczyx`` layout and find its calibration.

    Parameters
    ----------
    image : xarray.DataArray or numpy.ndarray
        A DataArray uses its dim names (any of t, c, z, y, x, case-insensitive; 'time'/'channel' accepted) and,
        unless ``calibration`` is given, ``attrs`` keys ``pixel_size``/``x``, ``y``, ``z``/``z_step``, ``t``/``dt``,
        ``space_unit``/``unit`` and ``time_unit``, or evenly spaced numeric coordinates on x, y, z, t.
        A numpy array needs ``axes``.
    axes : str, optional
        Axis letters of a numpy array, e.g. ``"tyx"``, ``"zcyx"``.
    calibration : Calibration, optional
        Overrides anything found on the image.

    Returns
    -------
    array : numpy.ndarray, shape (T, C, Z, Y, X)
        A view of the input where possible.
    calibration : Calibration
    """
    found = Calibration()
    try:
        import xarray as xr
        is_xr = isinstance(image, xr.DataArray)
    except ImportError:  # pragma: no cover - xarray is a hard dependency
        is_xr = False
    if is_xr:
        dims = [_dim_letter(d) for d in image.dims]
        if axes is not None and normalize_axes(axes, image.ndim) != "".join(dims):
            raise InvalidImageError(f"axes {axes!r} disagree with the DataArray dims {tuple(image.dims)}")
        axes = "".join(dims)
        found = _calibration_from_xarray(image, axes)
        data = np.asarray(image.data)
    else:
        data = np.asarray(image)
        if axes is None:
            if data.ndim == 2:
                axes = "yx"
            else:
                raise InvalidImageError(
                    f"a {data.ndim}D numpy array needs explicit axes (e.g. 'tyx', 'zyx', 'tzcyx'); got shape {data.shape}")
    a = normalize_axes(axes, data.ndim)
    if data.size == 0:
        raise InvalidImageError(f"the image is empty: shape {data.shape}")
    if data.dtype.kind not in "uifb":
        raise InvalidImageError(f"the image must be numeric, got dtype {data.dtype}")
    for ch in CANONICAL_AXES:
        if ch not in a:
            data = data[..., None]
            a += ch
    data = np.transpose(data, [a.index(ch) for ch in CANONICAL_AXES])
    return data, (calibration if calibration is not None else found)


_DIM_NAMES = {"time": "t", "channel": "c", "channels": "c", "ch": "c", "plane": "z", "slice": "z", "row": "y",
              "col": "x", "column": "x", "s": "c"}


def _dim_letter(dim: Any) -> str:
    d = str(dim).lower()
    d = _DIM_NAMES.get(d, d)
    if d not in CANONICAL_AXES:
        raise InvalidImageError(f"DataArray dim {dim!r} is not one of t, c, z, y, x")
    return d


def _calibration_from_xarray(da: Any, axes: str) -> Calibration:
    attrs = {str(k).lower(): v for k, v in da.attrs.items()}
    vals: dict[str, Any] = {}
    for name, keys in {"x": ("x", "pixel_size", "pixel_width"), "y": ("y", "pixel_height", "pixel_size"),
                       "z": ("z", "z_step", "voxel_depth"), "t": ("t", "dt", "frame_interval")}.items():
        for k in keys:
            if k in attrs:
                vals[name] = float(attrs[k])
                break
        else:
            dim = next((d for d in da.dims if _dim_letter(d) == name), None)
            if dim is not None and dim in da.coords and da.sizes[dim] > 1:
                c = np.asarray(da.coords[dim].values, dtype=float)
                steps = np.diff(c)
                if np.all(steps > 0) and np.allclose(steps, steps[0], rtol=1e-6):
                    vals[name] = float(steps[0])
    unit = attrs.get("space_unit", attrs.get("unit", "um" if any(k in vals for k in "xyz") else "pixel"))
    tunit = attrs.get("time_unit", "s" if "t" in vals else "frame")
    if "x" in vals and "y" not in vals:
        vals["y"] = vals["x"]
    return Calibration(space_unit=str(unit), time_unit=str(tunit), **vals)


def __getattr__(name: str):  # names that moved to calibration (deprecated spellings, issue #23)
    from ._deprecated import moved_name

    return moved_name(__name__, name)
