"""Axis order and physical calibration (leaf module).

Inside the package every image is a 5D ``tczyx`` array (singleton axes added, never reordered silently) plus a
:class:`Calibration`. Axis names are case-insensitive single letters: ``t`` time, ``c`` channel, ``z``, ``y``, ``x``.
TrackMate's order is XYZCT; at that boundary the bridge converts explicitly.

Imports: numpy and xarray (lazily); package: errors.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidImageError

__all__ = ["Calibration", "CANONICAL_AXES", "to_tczyx", "normalize_axes", "AnisotropyWarning", "CalibrationWarning",
           "um_per_unit", "LENGTH_UNITS"]

CANONICAL_AXES = "tczyx"
_UNCALIBRATED_UNITS = {"", "pixel", "pixels", "px", "none"}


class AnisotropyWarning(UserWarning):
    """The image carries no usable Z calibration, so anisotropy cannot be corrected."""


class CalibrationWarning(UserWarning):
    """A calibration value found in a file cannot be used (no unit, unknown unit, a printer resolution)."""


#: Length units a file can state for its pixel size (TIFF resolution unit, ImageJ ``unit``, OME
#: ``PhysicalSize*Unit``), as micrometres per unit. Case matters only for ``m`` vs ``M`` (never a length here).
_UM_PER_UNIT = {
    "pm": 1e-6, "picometer": 1e-6, "picometre": 1e-6,
    "\u00c5": 1e-4, "\u212b": 1e-4, "angstrom": 1e-4,
    "nm": 1e-3, "nanometer": 1e-3, "nanometre": 1e-3, "nanometers": 1e-3, "nanometres": 1e-3,
    "um": 1.0, "\u00b5m": 1.0, "\u03bcm": 1.0, "\\u00b5m": 1.0, "micron": 1.0, "microns": 1.0,
    "micrometer": 1.0, "micrometre": 1.0, "micrometers": 1.0, "micrometres": 1.0,
    "mm": 1e3, "millimeter": 1e3, "millimetre": 1e3, "millimeters": 1e3, "millimetres": 1e3,
    "cm": 1e4, "centimeter": 1e4, "centimetre": 1e4, "centimeters": 1e4, "centimetres": 1e4,
    "dm": 1e5, "m": 1e6, "meter": 1e6, "metre": 1e6, "meters": 1e6, "metres": 1e6,
    "in": 25400.0, "inch": 25400.0, "inches": 25400.0,
}
#: The length units understood, for messages.
LENGTH_UNITS = "nm, \u00b5m (um, micron), mm, cm, m, inch (also pm, \u00c5, dm)"


def um_per_unit(unit: str | None) -> float | None:
    """Micrometres per ``unit`` (e.g. ``"nm"`` -> 0.001, ``"inch"`` -> 25400), or None for a unit that is not a length
    (``"pixel"``, ``""``, unknown words)."""
    if unit is None:
        return None
    u = str(unit).strip()
    return _UM_PER_UNIT.get(u, _UM_PER_UNIT.get(u.lower()))


@dataclass(frozen=True)
class Calibration:
    """Physical size of a pixel along each axis and the frame interval.

    Parameters
    ----------
    x, y, z : float
        Pixel width, height and Z step in ``space_unit`` (> 0).
    t : float
        Frame interval in ``time_unit`` (> 0).
    """

    x: float = 1.0
    y: float = 1.0
    z: float = 1.0
    t: float = 1.0
    space_unit: str = "pixel"
    time_unit: str = "frame"

    def __post_init__(self) -> None:
        for name in ("x", "y", "z", "t"):
            v = getattr(self, name)
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise InvalidImageError(f"calibration {name} must be a positive number, got {v!r}") from None
            if not math.isfinite(fv) or fv <= 0:
                raise InvalidImageError(f"calibration {name} must be a positive finite number, got {v!r}")
            object.__setattr__(self, name, fv)

    @property
    def xyz(self) -> tuple[float, float, float]:
        return (self.x, self.y, self.z)

    @property
    def zyx(self) -> tuple[float, float, float]:
        return (self.z, self.y, self.x)

    @property
    def anisotropy(self) -> float:
        """Z step divided by the XY pixel size (cellpose's ``anisotropy``)."""
        return self.z / self.x

    @property
    def is_spatially_calibrated(self) -> bool:
        """False when the unit is 'pixel'-like, i.e. no physical calibration was found."""
        return self.space_unit.strip().lower() not in _UNCALIBRATED_UNITS

    def anisotropy_problem(self, n_z: int) -> str | None:
        """Why the anisotropy of a stack of ``n_z`` planes cannot be trusted, or None when it can (or for 2D)."""
        if n_z > 1 and (not self.is_spatially_calibrated or (self.z == 1.0 and self.x == 1.0)):
            # Uncalibrated: the numbers are placeholders (1), not what the file said; do not quote them as facts.
            what = ("the image has no spatial calibration (no length unit)" if not self.is_spatially_calibrated
                    else f"the image's Z step and pixel size are both 1 {self.space_unit} (likely a default)")
            if self.anisotropy != 1.0:  # numbers given without a unit: they are used as given, say so
                return (f"{what}: the anisotropy is taken from the numbers as given (Z step {self.z:g} / pixel size "
                        f"{self.x:g} = {self.anisotropy:g}). Set the voxel size with its unit (Image > Properties "
                        "in Fiji, or --pixel-size/--z-step) to make sure.")
            return (f"{what}: anisotropy cannot be corrected and is taken as 1. Set the voxel size (Image > "
                    "Properties in Fiji, or --pixel-size/--z-step) if Z is sampled differently from XY.")
        return None

    def check_anisotropy(self, n_z: int) -> float:
        """Return the anisotropy for a stack of ``n_z`` planes, warning (:class:`AnisotropyWarning`) with
        :meth:`anisotropy_problem`'s text when it cannot be trusted."""
        problem = self.anisotropy_problem(n_z)
        if problem is not None:
            warnings.warn(problem, AnisotropyWarning, stacklevel=2)
        return self.anisotropy

    def to_dict(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "z": self.z, "t": self.t,
                "space_unit": self.space_unit, "time_unit": self.time_unit}


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
