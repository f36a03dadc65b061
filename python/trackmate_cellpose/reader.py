"""Read a TIFF / OME-TIFF / ImageJ hyperstack into the canonical ``tczyx`` array plus its :class:`Calibration`.

Axes and physical calibration (pixel size, z step, frame interval, units) come from the file's own metadata (ImageJ
description and resolution tags, or OME-XML); explicit overrides win. Only 2D, 2D+t, 3D and 3D+t images with optional
channels are accepted; anything else is refused with a message saying what was found and what is accepted. A file
that holds less than it declares (a truncated copy: fewer planes than its ImageJ metadata says, image data running
past the end of the file, IFDs or metadata beyond it) is refused before any work, never read as a shorter movie;
tifffile's own warnings about it are folded into that one message instead of being printed.

Imports: numpy, tifffile (lazily); package: _input, axes, calibration, errors.
"""

from __future__ import annotations

import logging
import math
import warnings
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ._input import check_finite
from .calibration import LENGTH_UNITS, Calibration, CalibrationWarning, um_per_unit
from .axes import to_tczyx
from .errors import InvalidImageError, IsAFolderError, PathNotFoundError

__all__ = ["ImageData", "ImageHeader", "read_image", "inspect_image", "ACCEPTED_LAYOUTS"]

#: Human-readable list of what :func:`read_image` accepts (used in error messages).
ACCEPTED_LAYOUTS = "2D (YX), 2D+t (TYX), 3D (ZYX) or 3D+t (TZYX), each with an optional channel axis (C)"

# tifffile axis codes that denote a channel-like axis.
_CHANNEL_CODES = {"C", "S"}
_KNOWN = {"T": "t", "Z": "z", "Y": "y", "X": "x", "C": "c", "S": "c"}
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


@dataclass(frozen=True)
class ImageHeader:
    """What :func:`inspect_image` learns from a file without reading its pixels.

    Attributes
    ----------
    path : Path
    shape_tczyx : tuple of int
    dtype : numpy.dtype
    axes : str
        Axis letters of the stored array after dropping singleton unknown axes (lower-case).
    calibration : Calibration
        In micrometres when the file states a length unit (converted from nm, mm, cm, m, inch ...).
    notes : tuple of str
        Calibration values found in the file that could not be used, and why.
    """

    path: Path
    shape_tczyx: tuple[int, int, int, int, int]
    dtype: np.dtype
    axes: str
    calibration: Calibration
    notes: tuple[str, ...] = ()
    _squeeze: tuple[int, ...] = ()

    @property
    def n_channels(self) -> int:
        return self.shape_tczyx[1]


def inspect_image(path: str | Path, *, axes: str | None = None, pixel_size: float | None = None,
                  z_step: float | None = None, dt: float | None = None, space_unit: str | None = None,
                  time_unit: str | None = None, warn: bool = True) -> ImageHeader:
    """Check a TIFF file's layout and calibration without reading its pixels (cheap; for checking many inputs).

    Same parameters and errors as :func:`read_image`, except that pixel values (NaN) are not checked. Calibration
    values that cannot be used are reported as :class:`~trackmate_cellpose.calibration.CalibrationWarning` (when ``warn``)
    and in ``notes``.
    """
    import tifffile

    p = Path(path).expanduser().resolve()
    if not p.exists():
        raise PathNotFoundError(f"input image not found: {p}", path=p)
    if p.is_dir():
        raise IsAFolderError(f"input image is a directory, expected a TIFF file: {p}", path=p)
    try:
        with _tifffile_warnings() as said, tifffile.TiffFile(p) as tif:
            if not tif.series:
                raise InvalidImageError(f"{p.name} holds no image data", path=p)
            series = tif.series[0]
            file_axes, shape, dtype = series.axes, tuple(series.shape), np.dtype(series.dtype)
            found, notes = _calibration_from_tiff(tif, series)
            check_complete(tif, series, p, said)
    except InvalidImageError:
        raise
    except (tifffile.TiffFileError, ValueError, OSError, KeyError, IndexError, TypeError) as e:
        raise InvalidImageError(f"{p.name} is not a readable TIFF image: {e}", path=p) from e
    if int(np.prod(shape)) == 0:
        raise InvalidImageError(f"{p.name} has no pixels: shape {shape}")
    if axes is not None:
        a = axes.strip().lower()
        if len(a) != len(shape):
            raise InvalidImageError(f"--axes {axes!r} names {len(a)} axes but {p.name} stores {len(shape)} "
                                    f"dimensions (shape {shape}, file axes {file_axes!r})")
        squeeze: tuple[int, ...] = ()
    else:
        squeeze, a = _interpret_axes(shape, file_axes, p.name)
    if dtype.kind == "c" or dtype.kind not in "uifb":
        raise InvalidImageError(f"{p.name} has pixels of type {dtype}; expected integer or float grey values")
    kept = tuple(n for i, n in enumerate(shape) if i not in squeeze)
    probe, _ = to_tczyx(np.broadcast_to(np.zeros((), np.uint8), kept), a)
    shape5 = tuple(int(n) for n in probe.shape)
    if shape5[3] < 2 or shape5[4] < 2:
        raise InvalidImageError(f"{p.name} is {shape5[3]}x{shape5[4]} pixels in YX; expected an image of at "
                                f"least 2x2 ({ACCEPTED_LAYOUTS})")
    cal = _override(found, pixel_size=pixel_size, z_step=z_step, dt=dt, space_unit=space_unit, time_unit=time_unit)
    # notes are (axis, text); a value overridden on the command line, or a Z step of a 2D image, does not matter
    notes = [text for axis, text in notes if not ((axis == "z" and (z_step is not None or shape5[2] == 1))
                                                  or (axis == "xy" and pixel_size is not None))]
    if warn:
        for n in notes:
            warnings.warn(f"{p.name}: {n}", CalibrationWarning, stacklevel=2)
    return ImageHeader(path=p, shape_tczyx=shape5, dtype=dtype, axes=a, calibration=cal,
                       notes=tuple(f"{p.name}: {n}" for n in notes), _squeeze=squeeze)


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
        Lengths in micrometres when the file states a length unit (nm, µm, mm, cm, m, inch; TIFF resolution unit,
        ImageJ ``unit`` or OME ``PhysicalSize*Unit``). A value the file gives without a usable unit is not used,
        with a :class:`~trackmate_cellpose.calibration.CalibrationWarning` saying so.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    InvalidImageError
        Not a TIFF, no pixels, unsupported axes, non-finite pixels, bad calibration.
    """
    import tifffile

    head = inspect_image(path, axes=axes, pixel_size=pixel_size, z_step=z_step, dt=dt, space_unit=space_unit,
                         time_unit=time_unit)
    p = head.path
    try:
        with _tifffile_warnings(), tifffile.TiffFile(p) as tif:
            data = tif.series[0].asarray()
    except Exception as e:  # tifffile and its codecs (imagecodecs' DeflateError ...) raise many types on damaged data
        raise InvalidImageError(f"{p.name} cannot be read: its image data is damaged or truncated "
                                f"({type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]})", path=p) from e
    if head._squeeze:
        data = data.squeeze(axis=head._squeeze)
    arr, _ = to_tczyx(data, head.axes)
    check_finite(arr, name=p.name)
    return ImageData(array=arr, calibration=head.calibration, axes=head.axes, path=p)


#: tifffile's log messages that mean the file holds less than its structure says.
_DAMAGE_SIGNS = ("invalid page offset", "invalid value offset", "corrupted", "truncated", "failed to read",
                 "missing data")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _tifffile_warnings() -> Iterator[list[str]]:
    """Collect tifffile's log warnings (instead of printing them raw) while a file is opened; yields the list."""
    log = logging.getLogger("tifffile")
    handler = _Collect()
    propagate = log.propagate
    log.addHandler(handler)
    log.propagate = False
    try:
        yield handler.messages
    finally:
        log.removeHandler(handler)
        log.propagate = propagate


def refuse_truncated(path: str | Path) -> None:
    """Refuse a TIFF file that holds less than it declares (:func:`check_complete`) before another reader opens it
    (ImageJ, in Fiji, reads what it can of a truncated hyperstack). A file tifffile cannot parse is left to that
    reader; a file that is not a TIFF is not looked at.

    Raises
    ------
    InvalidImageError
        The file is truncated or damaged.
    """
    import tifffile

    p = Path(path)
    if p.suffix.lower() not in (".tif", ".tiff") or not p.is_file():
        return
    try:
        with _tifffile_warnings() as said, tifffile.TiffFile(p) as tif:
            if tif.series:
                check_complete(tif, tif.series[0], p, said)
    except InvalidImageError:
        raise
    except Exception:  # noqa: BLE001 - not ours to judge: the other reader says what it thinks of the file
        return


def check_complete(tif, series, path: Path, said: list[str] = ()) -> None:
    """Refuse a TIFF that holds less than it declares, naming the file and what is missing.

    Checked without reading pixels: the planes its ImageJ metadata declares against those tifffile finds, the end of
    the image data against the file size, and tifffile's warnings about IFDs or metadata beyond the end of the file.

    Raises
    ------
    InvalidImageError
        The file is truncated or damaged (``path`` set).
    """
    size = path.stat().st_size
    shape = dict(zip(series.axes, series.shape))
    readable = int(np.prod([n for a, n in shape.items() if a not in "YXS"], dtype=np.int64)) if shape else 0
    ij = tif.imagej_metadata or {}
    if ij:
        frames, slices, channels = (int(ij.get(k, 1) or 1) for k in ("frames", "slices", "channels"))
        declared = int(ij.get("images") or frames * slices * channels)
        if readable < declared:
            per_frame = max(1, slices * channels)
            raise InvalidImageError(
                f"{path.name} is truncated or damaged: its ImageJ metadata declares {frames} frame(s) x {slices} "
                f"slice(s) x {channels} channel(s) = {declared} planes, but only {readable} plane(s) "
                f"({readable // per_frame} whole frame(s)) can be read from its {size} bytes; nothing was "
                "processed (use the complete file)", path=path)
    end = _data_end(series)
    if end > size:
        raise InvalidImageError(f"{path.name} is truncated: its image data runs to byte {end} but the file has "
                                f"{size} bytes; nothing was processed (use the complete file)", path=path)
    damage = next((m for m in said if any(sign in m for sign in _DAMAGE_SIGNS)), None)
    if damage is not None:
        import re

        # tifffile's words without the objects it quotes ("<tifffile.TiffTag 270 @70> invalid value offset 26626")
        found = re.search(r"invalid (?:page|value) offset \d+", damage)
        words = found.group(0) if found else next(sign for sign in _DAMAGE_SIGNS if sign in damage)
        raise InvalidImageError(f"{path.name} is truncated or damaged: {words} (the file has {size} bytes); only "
                                f"{readable} plane(s) can be read; nothing was processed (use the complete file)",
                                path=path)


def _data_end(series) -> int:
    """The byte after the last byte of image data the series' pages point to (0 when unknown)."""
    try:
        off = series.dataoffset
    except Exception:  # noqa: BLE001 - not every series can say; the pages can
        off = None
    if off is not None:
        return int(off) + int(series.nbytes)
    end = 0
    for page in series.pages:
        if page is None:
            continue
        for o, n in zip(page.dataoffsets, page.databytecounts):
            end = max(end, int(o) + int(n))
    return end


def _interpret_axes(shape: tuple[int, ...], file_axes: str, name: str) -> tuple[tuple[int, ...], str]:
    """Map tifffile's axis codes to t/c/z/y/x; return the singleton unknown axes to drop and the axis letters.
    Refuse anything else."""
    file_axes = file_axes.upper()
    keep, letters, unknown = [], [], []
    for i, code in enumerate(file_axes):
        if code in _KNOWN:
            keep.append(i)
            letters.append(_KNOWN[code])
        elif shape[i] == 1:
            continue  # a singleton axis of unknown meaning carries no data
        else:
            unknown.append(f"{code}={shape[i]}")
    found = " ".join(f"{c}={s}" for c, s in zip(file_axes, shape))
    if unknown:
        hint = " (plain multi-page TIFF without ImageJ/OME metadata)" if set(file_axes) & {"I", "Q"} else ""
        raise InvalidImageError(
            f"{name}: cannot tell what axis {', '.join(unknown)} is{hint}; found axes {found}. Accepted: "
            f"{ACCEPTED_LAYOUTS}. Pass --axes (e.g. --axes tyx or --axes zyx) to say which is which")
    if letters.count("c") > 1:
        if shape[file_axes.index("S")] == 1 or shape[file_axes.index("C")] == 1:
            drop = file_axes.index("S") if shape[file_axes.index("S")] == 1 else file_axes.index("C")
            keep.remove(drop)
            letters = [_KNOWN[file_axes[i]] for i in keep]
        else:
            raise InvalidImageError(f"{name}: two channel axes (C and samples S) found ({found}); accepted: "
                                    f"{ACCEPTED_LAYOUTS}")
    if len(set(letters)) != len(letters):
        raise InvalidImageError(f"{name}: an axis appears twice ({found}); accepted: {ACCEPTED_LAYOUTS}")
    if "y" not in letters or "x" not in letters:
        raise InvalidImageError(f"{name}: no Y and X axes found ({found}); accepted: {ACCEPTED_LAYOUTS}")
    return tuple(i for i in range(len(shape)) if i not in keep), "".join(letters)


#: TIFF ResolutionUnit values (2 = inch, 3 = centimetre; 1 = none).
_TIFF_RES_UNITS = {2: "inch", 3: "cm"}
#: Resolutions (per inch) that image and office software write by default: a printer setting, not a microscope's
#: pixel size (they would mean pixels of 42 to 353 um).
_PRINTER_DPI = (72.0, 96.0, 150.0, 300.0, 600.0)


def _calibration_from_tiff(tif, series) -> tuple[Calibration, list[tuple[str, str]]]:
    """Calibration in micrometres (when the file states a length unit) plus notes on values that cannot be used.

    Notes are ``(axis, text)`` with axis ``"xy"`` or ``"z"``."""
    notes: list[tuple[str, str]] = []
    vals: dict[str, float] = {}
    units: dict[str, str | None] = {}
    tunit = None
    if tif.is_ome and tif.ome_metadata:
        vals, units, tunit = _ome_calibration(tif.ome_metadata)
    ij = tif.imagej_metadata or {}
    if ij:
        ij_unit = ij.get("unit")
        if ij_unit is not None and not str(ij_unit).strip():
            ij_unit = None
        if "spacing" in ij and "z" not in vals:
            vals["z"], units["z"] = float(ij["spacing"]), ij_unit
        if ij.get("finterval") and "t" not in vals:
            vals["t"] = float(ij["finterval"])
        tunit = tunit or ij.get("tunit")
        if "x" not in vals:
            res = _resolution_pixel_size(series.pages[0] if series.pages else tif.pages[0])
            for k in ("x", "y"):
                if k in res:
                    vals[k], units[k] = res[k], ij_unit  # ImageJ stores pixels per ImageJ unit
    elif "x" not in vals:
        res = _resolution_pixel_size(series.pages[0] if series.pages else tif.pages[0])
        res_unit = res.get("unit")
        if res_unit == "inch" and any(math.isclose(1 / res["x"], d) for d in _PRINTER_DPI if "x" in res):
            notes.append(("xy", f"the TIFF resolution of {1 / res['x']:g} pixels per inch is a display/printer "
                                "default, not a microscope calibration: not used (pass --pixel-size in um)"))
        elif res_unit is not None:
            for k in ("x", "y"):
                if k in res:
                    vals[k], units[k] = res[k], res_unit
        # a plain TIFF whose resolution has no unit states no calibration: nothing to use, nothing to say
    cal: dict[str, float] = {}
    for k in ("x", "y", "z"):
        if k not in vals:
            continue
        v, u = vals[k], units.get(k)
        factor = um_per_unit(u)
        what = {"x": "pixel width", "y": "pixel height", "z": "Z step"}[k]
        axis = "z" if k == "z" else "xy"
        if not (math.isfinite(v) and v > 0):
            notes.append((axis, f"the {what} {v!r} in the file is not a positive number: not used"))
        elif factor is None and (u is None or str(u).strip().lower() in ("", "pixel", "pixels", "px")):
            if not math.isclose(v, 1.0):
                src = "an ImageJ 'spacing'" if k == "z" and ij else f"a {what}"
                notes.append((axis, f"the file gives {src} of {v:g} but no length unit: it cannot be used "
                                    f"(pass --{'z-step' if k == 'z' else 'pixel-size'} in um)"))
        elif factor is None:
            notes.append((axis, f"the {what} is in {u!r}, not a length unit this reader knows "
                                f"({LENGTH_UNITS}): not used"))
        else:
            cal[k] = v * factor
    if "x" in cal and "y" not in cal:
        cal["y"] = cal["x"]
    if "y" in cal and "x" not in cal:
        cal["x"] = cal["y"]
    if "t" in vals and math.isfinite(vals["t"]) and vals["t"] > 0:
        cal["t"] = vals["t"]
    space_unit = "um" if any(k in cal for k in ("x", "y", "z")) else "pixel"
    time_unit = _TIME_UNITS.get(str(tunit).strip().lower(), str(tunit).strip()) if tunit else (
        "s" if "t" in cal else "frame")
    return Calibration(space_unit=space_unit, time_unit=time_unit, **cal), notes


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
    if res_unit is not None:
        u = _TIFF_RES_UNITS.get(int(res_unit.value))
        if u:
            out["unit"] = u
    return out


def _ome_calibration(xml: str) -> tuple[dict[str, float], dict[str, str | None], str | None]:
    vals: dict[str, float] = {}
    units: dict[str, str | None] = {}
    tunit = None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return vals, units, None
    pixels = next((el for el in root.iter() if el.tag.endswith("}Pixels") or el.tag == "Pixels"), None)
    if pixels is None:
        return vals, units, None
    for name, attr in (("x", "PhysicalSizeX"), ("y", "PhysicalSizeY"), ("z", "PhysicalSizeZ"),
                       ("t", "TimeIncrement")):
        if pixels.get(attr):
            try:
                vals[name] = float(pixels.get(attr))
            except ValueError:
                continue
            if name != "t":
                units[name] = pixels.get(f"{attr}Unit", "\u00b5m")  # OME's default unit is the micrometre
    if "t" in vals:
        tunit = pixels.get("TimeIncrementUnit", "s")
    return vals, units, tunit


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
