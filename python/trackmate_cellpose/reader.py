"""Read a TIFF / OME-TIFF / ImageJ hyperstack into the canonical ``tczyx`` array plus its :class:`Calibration`.

Axes and physical calibration (pixel size, z step, frame interval, units) come from the file's own metadata (ImageJ
description and resolution tags, or OME-XML); explicit overrides win. Only 2D, 2D+t, 3D and 3D+t images with optional
channels are accepted; anything else is refused with a message saying what was found and what is accepted.

Imports numpy, tifffile and the package's leaf modules only.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .axes import Calibration, to_tczyx
from .errors import InvalidImageError

__all__ = ["ImageData", "read_image", "ACCEPTED_LAYOUTS"]

#: Human-readable list of what :func:`read_image` accepts (used in error messages).
ACCEPTED_LAYOUTS = "2D (YX), 2D+t (TYX), 3D (ZYX) or 3D+t (TZYX), each with an optional channel axis (C)"

# tifffile axis codes that denote a channel-like axis.
_CHANNEL_CODES = {"C", "S"}
_KNOWN = {"T": "t", "Z": "z", "Y": "y", "X": "x", "C": "c", "S": "c"}
_UNIT_ALIASES = {"micron": "um", "microns": "um", "\u00b5m": "um", "\\u00B5m": "um", "micrometer": "um",
                 "\u03bcm": "um", "nanometer": "nm", "millimeter": "mm"}
_TIME_UNITS = {"s": "s", "sec": "s", "second": "s", "seconds": "s", "ms": "ms", "min": "min", "minute": "min",
               "minutes": "min", "h": "h", "hour": "h", "hours": "h"}


@dataclass(frozen=True)
class ImageData:
    """An image read from disk, in the package's canonical layout.

    Attributes
    ----------
    array : ndarray, shape (T, C, Z, Y, X)
    calibration : Calibration
    axes : str
        Axis letters of the file as interpreted (lower-case, e.g. ``"tzcyx"``), after overrides.
    path : Path
        The file read (absolute).
    """

    array: np.ndarray
    calibration: Calibration
    axes: str
    path: Path

    @property
    def is_3d(self) -> bool:
        return self.array.shape[2] > 1

    @property
    def n_frames(self) -> int:
        return self.array.shape[0]

    def describe(self) -> str:
        """One line: shape per axis and calibration."""
        t, c, z, y, x = self.array.shape
        cal = self.calibration
        return (f"{self.path.name}: T={t} C={c} Z={z} Y={y} X={x} ({self.array.dtype}), "
                f"pixel {cal.x:g}x{cal.y:g} {cal.space_unit}, z step {cal.z:g} {cal.space_unit}, "
                f"frame interval {cal.t:g} {cal.time_unit}")


def read_image(path: str | Path, *, axes: str | None = None, pixel_size: float | None = None,
               z_step: float | None = None, dt: float | None = None, space_unit: str | None = None,
               time_unit: str | None = None) -> ImageData:
    """Read a TIFF file (plain, ImageJ hyperstack or OME-TIFF) with its axes and calibration.

    Parameters
    ----------
    path : str or Path
        The TIFF file.
    axes : str, optional
        Axis letters overriding the file's (e.g. ``"tzyx"``; one letter per dimension of the stored array, from
        t, c, z, y, x). Needed when the file does not say which axis is which.
    pixel_size, z_step, dt : float, optional
        Override the XY pixel size, the Z step and the frame interval found in the file.
    space_unit, time_unit : str, optional
        Override the units found in the file.

    Returns
    -------
    ImageData

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    InvalidImageError
        Not a TIFF, no pixels, unsupported axes, non-finite pixels, bad calibration.
    """
    import tifffile

    p = Path(path).expanduser().resolve()
    if not p.exists():
        raise FileNotFoundError(f"input image not found: {p}")
    if p.is_dir():
        raise IsADirectoryError(f"input image is a directory, expected a TIFF file: {p}")
    try:
        with tifffile.TiffFile(p) as tif:
            if not tif.series:
                raise InvalidImageError(f"{p.name} holds no image data")
            series = tif.series[0]
            file_axes = series.axes
            data = series.asarray()
            found = _calibration_from_tiff(tif, series)
    except InvalidImageError:
        raise
    except (tifffile.TiffFileError, ValueError, OSError, KeyError, IndexError) as e:
        raise InvalidImageError(f"{p.name} is not a readable TIFF image: {e}") from e
    if data.size == 0:
        raise InvalidImageError(f"{p.name} has no pixels: shape {data.shape}")
    if axes is not None:
        a = axes.strip().lower()
        if len(a) != data.ndim:
            raise InvalidImageError(f"--axes {axes!r} names {len(a)} axes but {p.name} stores {data.ndim} "
                                    f"dimensions (shape {data.shape}, file axes {file_axes!r})")
    else:
        data, a = _interpret_axes(data, file_axes, p.name)
    if data.dtype.kind == "c" or data.dtype.kind not in "uifb":
        raise InvalidImageError(f"{p.name} has pixels of type {data.dtype}; expected integer or float grey values")
    if data.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise InvalidImageError(f"{p.name} contains {bad} NaN or infinite pixel(s); replace them (e.g. by 0) "
                                    "before segmentation")
    arr, _ = to_tczyx(data, a)
    if arr.shape[3] < 2 or arr.shape[4] < 2:
        raise InvalidImageError(f"{p.name} is {arr.shape[3]}x{arr.shape[4]} pixels in YX; expected an image of at "
                                f"least 2x2 ({ACCEPTED_LAYOUTS})")
    cal = _override(found, pixel_size=pixel_size, z_step=z_step, dt=dt, space_unit=space_unit, time_unit=time_unit)
    return ImageData(array=arr, calibration=cal, axes=a, path=p)


def _interpret_axes(data: np.ndarray, file_axes: str, name: str) -> tuple[np.ndarray, str]:
    """Map tifffile's axis codes to t/c/z/y/x, dropping singleton unknown axes; refuse anything else."""
    file_axes = file_axes.upper()
    keep, letters, unknown = [], [], []
    for i, code in enumerate(file_axes):
        if code in _KNOWN:
            keep.append(i)
            letters.append(_KNOWN[code])
        elif data.shape[i] == 1:
            continue  # a singleton axis of unknown meaning carries no data
        else:
            unknown.append(f"{code}={data.shape[i]}")
    found = " ".join(f"{c}={s}" for c, s in zip(file_axes, data.shape))
    if unknown:
        hint = " (plain multi-page TIFF without ImageJ/OME metadata)" if set(file_axes) & {"I", "Q"} else ""
        raise InvalidImageError(
            f"{name}: cannot tell what axis {', '.join(unknown)} is{hint}; found axes {found}. Accepted: "
            f"{ACCEPTED_LAYOUTS}. Pass --axes (e.g. --axes tyx or --axes zyx) to say which is which")
    if letters.count("c") > 1:
        if data.shape[file_axes.index("S")] == 1 or data.shape[file_axes.index("C")] == 1:
            drop = file_axes.index("S") if data.shape[file_axes.index("S")] == 1 else file_axes.index("C")
            keep.remove(drop)
            letters = [_KNOWN[file_axes[i]] for i in keep]
        else:
            raise InvalidImageError(f"{name}: two channel axes (C and samples S) found ({found}); accepted: "
                                    f"{ACCEPTED_LAYOUTS}")
    if len(set(letters)) != len(letters):
        raise InvalidImageError(f"{name}: an axis appears twice ({found}); accepted: {ACCEPTED_LAYOUTS}")
    squeeze = tuple(i for i in range(data.ndim) if i not in keep)
    if squeeze:
        data = data.squeeze(axis=squeeze)
    if "y" not in letters or "x" not in letters:
        raise InvalidImageError(f"{name}: no Y and X axes found ({found}); accepted: {ACCEPTED_LAYOUTS}")
    return data, "".join(letters)


def _calibration_from_tiff(tif, series) -> Calibration:
    vals: dict[str, float] = {}
    unit, tunit = None, None
    if tif.is_ome and tif.ome_metadata:
        vals, unit, tunit = _ome_calibration(tif.ome_metadata)
    ij = tif.imagej_metadata or {}
    if ij:
        if "spacing" in ij:
            vals.setdefault("z", float(ij["spacing"]))
        if ij.get("finterval"):
            vals.setdefault("t", float(ij["finterval"]))
        unit = unit or ij.get("unit")
        tunit = tunit or ij.get("tunit")
    if "x" not in vals:
        res = _resolution_pixel_size(series.pages[0] if series.pages else tif.pages[0])
        if ij and unit:
            vals.update(res)
        elif not ij and res.get("unit") == "cm":
            # A plain TIFF with a metric resolution unit: convert to micrometres.
            vals.update({k: v * 1e4 for k, v in res.items() if k in ("x", "y")})
            unit = "um"
    if "x" in vals and "y" not in vals:
        vals["y"] = vals["x"]
    space_unit = _normalize_unit(unit) if unit else ("um" if tif.is_ome and "x" in vals else "pixel")
    if space_unit == "pixel":
        # Resolution tags of a file that states no unit are DPI-like printer settings, not a calibration.
        vals = {k: v for k, v in vals.items() if k == "t"}
    time_unit = _TIME_UNITS.get(str(tunit).strip().lower(), str(tunit).strip()) if tunit else (
        "s" if "t" in vals else "frame")
    vals = {k: v for k, v in vals.items() if math.isfinite(v) and v > 0}
    return Calibration(space_unit=space_unit, time_unit=time_unit, **vals)


def _resolution_pixel_size(page) -> dict:
    out: dict = {}
    for name, tag in (("x", "XResolution"), ("y", "YResolution")):
        t = page.tags.get(tag)
        if t is None:
            continue
        num, den = t.value if isinstance(t.value, tuple) else (t.value, 1)
        if num and den and num / den > 0:
            out[name] = den / num
    res_unit = page.tags.get("ResolutionUnit")
    if res_unit is not None and int(res_unit.value) == 3:
        out["unit"] = "cm"
    return out


def _ome_calibration(xml: str) -> tuple[dict[str, float], str | None, str | None]:
    vals: dict[str, float] = {}
    unit = tunit = None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return vals, None, None
    pixels = next((el for el in root.iter() if el.tag.endswith("}Pixels") or el.tag == "Pixels"), None)
    if pixels is None:
        return vals, None, None
    for name, attr in (("x", "PhysicalSizeX"), ("y", "PhysicalSizeY"), ("z", "PhysicalSizeZ"),
                       ("t", "TimeIncrement")):
        if pixels.get(attr):
            vals[name] = float(pixels.get(attr))
    if "x" in vals:
        unit = pixels.get("PhysicalSizeXUnit", "\u00b5m")
    if "t" in vals:
        tunit = pixels.get("TimeIncrementUnit", "s")
    return vals, unit, tunit


def _normalize_unit(unit: str) -> str:
    u = str(unit).strip()
    return _UNIT_ALIASES.get(u.lower(), _UNIT_ALIASES.get(u, u)) or "pixel"


def _override(cal: Calibration, *, pixel_size, z_step, dt, space_unit, time_unit) -> Calibration:
    d = cal.to_dict()
    if pixel_size is not None:
        d["x"] = d["y"] = pixel_size
        if space_unit is None and not cal.is_spatially_calibrated:
            d["space_unit"] = "um"
    if z_step is not None:
        d["z"] = z_step
    if dt is not None:
        d["t"] = dt
        if time_unit is None and d["time_unit"] == "frame":
            d["time_unit"] = "s"
    if space_unit is not None:
        d["space_unit"] = space_unit
    if time_unit is not None:
        d["time_unit"] = time_unit
    return Calibration(**d)
