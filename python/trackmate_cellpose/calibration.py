"""Physical calibration of an image: pixel size, Z step, frame interval and their units (leaf module).

Imports: none; package: errors.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from .errors import InvalidImageError

__all__ = ["Calibration", "AnisotropyWarning", "CalibrationWarning", "um_per_unit", "LENGTH_UNITS"]

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
