"""The one preparation step of a detect call: the checked input, in the engine's layout, and its notices.

Every entry point goes through :func:`prepare_input` (``detect()`` in-process, the distributed driver before any
cluster time is spent, and again each worker on its block; the pipeline, the CLI and the Fiji bridge through
``detect``), so a check and its message exist once: the settings type, the axes, the frame list, the channels,
non-finite pixels (:func:`check_finite`, also used by the TIFF reader), the anisotropy of a stack, and the bounds
that make a run impossible (:func:`check_run_limits`: a diameter, pixel size or Z step that would make cellpose shrink
the image to nothing or grow it beyond the machine's memory, a mesh smoothing wider than the image), so that such a
value is refused with our message before any work instead of an OpenCV assertion or a huge allocation.

Imports: numpy; package: _call, axes, calibration, errors, settings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .calibration import AnisotropyWarning, Calibration
from .axes import to_tczyx
from ._call import DetectCall
from .errors import InvalidImageError, InvalidSettingsError
from .settings import DetectorSettings


@dataclass(frozen=True)
class Notice:
    """One thing the user should know about a run.

    Attributes
    ----------
    message : str
    category : type of Warning or None
        When set, the notice is also a Python warning of that class (e.g. :class:`AnisotropyWarning`).
    """

    message: str
    category: type[Warning] | None = None


@dataclass(frozen=True)
class PreparedInput:
    """A checked detect input.

    Attributes
    ----------
    array_tczyx : ndarray, shape (T, C, Z, Y, X)
        The whole image.
    calibration : Calibration
    frames : list of int
        Indices into T to process, in order.
    data_tczyx : ndarray, shape (T, C', Z, Y, X)
        TARGET_CHANNEL (and OPTIONAL_CHANNEL_2) of ``array_tczyx`` (a view for one channel).
    notices : tuple of Notice
        Mode and calibration notices, in the order they are reported.
    """

    array_tczyx: np.ndarray
    calibration: Calibration
    frames: list[int]
    data_tczyx: np.ndarray
    notices: tuple[Notice, ...]

    @property
    def is_3d(self) -> bool:
        return self.array_tczyx.shape[2] > 1


def prepare_input(call: DetectCall) -> PreparedInput:
    """Check ``call``'s input and bring it to the engine's layout; nothing is reported here (see :func:`emit_notices`).

    Raises
    ------
    InvalidSettingsError
        ``settings`` is not a DetectorSettings; TARGET_CHANNEL / OPTIONAL_CHANNEL_2 beyond the image's channels.
    InvalidImageError
        Unsupported axes or shape; ``frames`` outside the image; NaN or infinite pixels in a frame to process.
    """
    settings = call.settings
    if not isinstance(settings, DetectorSettings):
        raise InvalidSettingsError(f"settings must be a DetectorSettings, got {type(settings).__name__}",
                                   key="settings", value=settings)
    arr, cal = to_tczyx(call.image, call.axes, call.calibration)
    frames = _checked_frames(call.placement.frames, arr.shape[0])
    data = select_channels(arr, settings)
    check_run_limits(settings, cal, arr.shape, frames_per_batch=call.runtime.frames_per_batch)
    check_finite(data, frames, frame_offset=call.placement.frame_offset)
    return PreparedInput(arr, cal, frames, data, tuple(_notices(settings, cal, arr.shape[2])))


def check_finite(array_tczyx: np.ndarray, frames: Sequence[int] | None = None, *, name: str = "",
                 frame_offset: int = 0) -> None:
    """Raise :class:`InvalidImageError` naming the first of ``frames`` (default all) with NaN or infinite pixels.

    The message names ``name`` (a file) when given and the frame as the user numbers it (``frame_offset + t``).

    Integer images are never scanned; a float image is scanned one frame at a time (no movie-sized temporary).
    """
    if not np.issubdtype(array_tczyx.dtype, np.floating):
        return
    for t in range(array_tczyx.shape[0]) if frames is None else frames:
        bad = int(np.count_nonzero(~np.isfinite(array_tczyx[t])))
        if bad:
            where = f"{name}: " if name else ""
            raise InvalidImageError(f"{where}frame {frame_offset + t} contains {bad} NaN or infinite pixel value(s); cellpose "
                                    "needs finite values (replace them, e.g. with 0)")


#: cellpose's default object diameter of its networks (``diam_mean``), in pixels; a model's own is used when known.
DEFAULT_DIAM_MEAN = 30.0
#: Memory per pixel of the network's work at the rescaled size, a lower bound: float32 input plus 3 output channels
#: (2D); in 3D the input plus 3 output channels for each of the 3 orientations cellpose runs.
_BYTES_PER_PIXEL = {"2d": 16, "3d": 40}


def _memory_bytes() -> int:
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: do not refuse on memory
        return 1 << 62


def _size_log(log_n: float) -> str:
    """:func:`_size` of ``exp(log_n)`` bytes, also beyond what a float holds."""
    import math

    if log_n < 700:
        return _size(math.exp(log_n))
    return f"1e{(log_n - 50 * math.log(2)) / math.log(10):.0f} PiB"


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g}"


def check_run_limits(settings: DetectorSettings, calibration: Calibration, shape_tczyx: Sequence[int], *,
                     diam_mean: float = DEFAULT_DIAM_MEAN, frames_per_batch: int = 1,
                     memory_bytes: int | None = None) -> None:
    """Refuse settings and calibrations that make a run impossible, before any work.

    cellpose rescales each image by ``diam_mean / diameter_px`` (and, in 3D, Z by the anisotropy too): the rescaled
    image must keep at least one pixel per axis, and a lower bound of the network's memory at that size must fit in
    this machine's memory. In 3D, ``SMOOTHING_SCALE`` may not exceed the image's extent (a wider Gaussian leaves no
    surface). Errors name the setting (``CELL_DIAMETER``, ``calibration z``, ``SMOOTHING_SCALE``), the value, what it
    means here and what was expected.

    Raises
    ------
    InvalidSettingsError
    """
    import math

    _, _, n_z, n_y, n_x = (int(v) for v in shape_tczyx)
    is_3d = n_z > 1
    mode = "3d" if is_3d and not settings.do_2dz else "2d"
    memory = _memory_bytes() if memory_bytes is None else memory_bytes
    unit = calibration.space_unit
    d_px = settings.diameter / calibration.x if settings.diameter > 0 else diam_mean
    rescale = diam_mean / d_px
    z_factor = calibration.anisotropy if mode == "3d" else 1.0
    dims = [n_y * rescale, n_x * rescale] + ([n_z * z_factor * rescale] if mode == "3d" else [])
    got = f"{settings.diameter:g} {unit} ({d_px:.3g} px at the pixel size {calibration.x:g} {unit})"
    shown = "x".join(str(v) for v in ((n_z, n_y, n_x) if mode == "3d" else (n_y, n_x)))
    if min(dims[:2]) < 1:
        most = diam_mean * min(n_y, n_x)
        raise InvalidSettingsError(
            f"CELL_DIAMETER must be at most {most:.4g} px here ({most * calibration.x:.4g} {unit}), got {got}: "
            f"cellpose would shrink this {shown} image by {rescale:.3g} to nothing (check the pixel size too)",
            key="CELL_DIAMETER", value=settings.diameter)
    if mode == "3d" and dims[2] < 1:
        least = calibration.x / (n_z * rescale)
        raise InvalidSettingsError(
            f"calibration z must be at least {least:.3g} {unit} for cellpose's 3D mode on {n_z} planes (or use "
            f"2D+Z), got a Z step of {calibration.z:g} {unit} against the pixel size {calibration.x:g} {unit} "
            f"(anisotropy {calibration.anisotropy:.3g}): the planes would be squeezed to nothing",
            key="calibration z", value=calibration.z)
    # in logarithms: absurd values (a pixel size of 1e300) must give a message, not an overflow
    log_need = sum(math.log(v) for v in dims) + math.log(_BYTES_PER_PIXEL[mode] * (
        1 if mode == "3d" else max(1, frames_per_batch)))
    if log_need > math.log(memory):
        need = _size_log(log_need)
        if mode == "3d" and z_factor > 8:
            raise InvalidSettingsError(
                f"calibration z {calibration.z:g} {unit} against the pixel size {calibration.x:g} {unit} (anisotropy "
                f"{calibration.anisotropy:.3g}) would make cellpose's 3D mode stretch {n_z} planes to {dims[2]:.3g}, "
                f"at least {need} of memory (this machine has {_size(memory)}): check the Z step, or use 2D+Z",
                key="calibration z", value=calibration.z)
        # the smallest diameter whose rescaled image fits: memory grows with rescale^2 in 2D, ^3 in 3D
        least = d_px * math.exp((log_need - math.log(memory)) / len(dims))
        raise InvalidSettingsError(
            f"CELL_DIAMETER must be at least {least:.3g} px here ({least * calibration.x:.3g} {unit}), got {got}: "
            f"cellpose would enlarge this {shown} image by {rescale:.3g} to {' x '.join(f'{v:.3g}' for v in dims)} "
            f"pixels, at least {need} of memory (this machine has {_size(memory)}; check the pixel size too)",
            key="CELL_DIAMETER", value=settings.diameter)
    if is_3d and settings.smoothing_scale > 0:
        _check_smoothing(settings, calibration, (n_z, n_y, n_x), memory)


def _smoothing_bytes(scale: float, object_zyx: Sequence[float], cal_zyx: Sequence[float]) -> float:
    """Memory of meshing one object of ``object_zyx`` voxels smoothed at ``scale`` (geometry's padded float32 volume
    and its blurred copy: pad = 4 sigma + 1 voxels per side, sigma = scale / sqrt(3) per axis, in voxels)."""
    import math

    return 8.0 * math.prod(n + 2 * (math.ceil(4 * scale / math.sqrt(3) / c) + 1) for n, c in zip(object_zyx, cal_zyx))


def _check_smoothing(settings: DetectorSettings, cal: Calibration, shape_zyx: tuple[int, int, int], memory: int) -> None:
    scale, unit = settings.smoothing_scale, cal.space_unit
    cal_zyx = (cal.z, cal.y, cal.x)
    extent = max(n * c for n, c in zip(shape_zyx, cal_zyx))
    if scale > extent:
        raise InvalidSettingsError(
            f"SMOOTHING_SCALE must be at most the image's extent, {extent:.4g} {unit} (a wider Gaussian leaves no "
            f"surface to mesh), got {scale:g}", key="SMOOTHING_SCALE", value=scale)
    d = settings.diameter if settings.diameter > 0 else DEFAULT_DIAM_MEAN * cal.x
    obj = [min(n, d / c) for n, c in zip(shape_zyx, cal_zyx)]  # one object of the expected diameter
    need = _smoothing_bytes(scale, obj, cal_zyx)
    if need > memory:
        lo, hi = 0.0, scale  # the largest scale that fits (memory grows with the scale)
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _smoothing_bytes(mid, obj, cal_zyx) <= memory else (lo, mid)
        raise InvalidSettingsError(
            f"SMOOTHING_SCALE must be at most {lo:.3g} {unit} here, got {scale:g}: meshing one object of "
            f"CELL_DIAMETER {d:g} {unit} with it would take at least {_size(need)} of memory (this machine has "
            f"{_size(memory)})", key="SMOOTHING_SCALE", value=scale)


def select_channels(arr_tczyx: np.ndarray, settings: DetectorSettings) -> np.ndarray:
    """Keep TARGET_CHANNEL (and OPTIONAL_CHANNEL_2) of a TCZYX array, in that order."""
    n_c = arr_tczyx.shape[1]
    if settings.target_channel > n_c:
        raise InvalidSettingsError(
            f"TARGET_CHANNEL must be between 1 and {n_c} for this image, got {settings.target_channel}",
            key="TARGET_CHANNEL", value=settings.target_channel)
    if settings.channel_2 > n_c:
        raise InvalidSettingsError(
            f"OPTIONAL_CHANNEL_2 must be 0 or between 1 and {n_c} for this image, got {settings.channel_2}",
            key="OPTIONAL_CHANNEL_2", value=settings.channel_2)
    if not settings.channel_2:  # a view, not a copy of the whole movie (the frames are copied batch by batch)
        c = settings.target_channel - 1
        return arr_tczyx[:, c:c + 1]
    return arr_tczyx[:, [settings.target_channel - 1, settings.channel_2 - 1]]


def emit_notices(notices: Sequence[Notice], log: Callable[[str], None] | None, *, stacklevel: int = 2) -> None:
    """Report ``notices``: each to ``log`` (when given) and, for a warning notice, as a Python warning."""
    for n in notices:
        if log is not None:
            log(n.message)
        if n.category is not None:
            warnings.warn(n.message, n.category, stacklevel=stacklevel + 1)


def _checked_frames(frames: Sequence[int] | None, n_t: int) -> list[int]:
    if frames is None:
        return list(range(n_t))
    out = [int(f) for f in frames]
    bad = [f for f in out if not 0 <= f < n_t]
    if bad:
        raise InvalidImageError(f"frames must lie in 0..{n_t - 1} for this image, got {bad[:5]}")
    return out


def _notices(settings: DetectorSettings, cal: Calibration, n_z: int) -> list[Notice]:
    if n_z <= 1:
        return []
    out = []
    problem = cal.anisotropy_problem(n_z)
    if problem is not None:
        out.append(Notice(problem, AnisotropyWarning))
    if not settings.do_2dz:
        out.append(Notice(f"3D mode: FLOW_THRESHOLD ({settings.flow_threshold}) is not used by cellpose in 3D; "
                          f"anisotropy {cal.anisotropy:.3g} taken from the calibration"))
    else:
        out.append(Notice(f"2D+Z mode: planes stitched at IOUTHRESHOLD {settings.iou_threshold}; CELL_MIN_SIZE "
                          "applies to stitched objects"))
    return out
