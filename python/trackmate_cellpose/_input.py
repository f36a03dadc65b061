"""The one preparation step of a detect call: the checked input, in the engine's layout, and its notices.

Every entry point goes through :func:`prepare_input` (``detect()`` in-process, the distributed driver before any
cluster time is spent, and again each worker on its block; the pipeline, the CLI and the Fiji bridge through
``detect``), so a check and its message exist once: the settings type, the axes, the frame list, the channels,
non-finite pixels (:func:`check_finite`, also used by the TIFF reader) and the anisotropy of a stack.

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
