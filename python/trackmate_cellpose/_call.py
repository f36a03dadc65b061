"""The parameters of one detect call, defined once.

:func:`trackmate_cellpose.detect`, the in-process engine, the distributed driver and its workers all take one
:class:`DetectCall`. Where the image lies (frames, crop origin, frame offset) is a :class:`Placement`; the caller's
callbacks (progress, cancel, log) are :class:`Hooks`. The public functions (:func:`trackmate_cellpose.detect`,
:func:`trackmate_cellpose.distributed.detect_distributed`) write their keywords out (``frames=``, ``origin_xyz=``,
``progress=`` ...) so that IDEs, ``help()`` and type checkers see them, and map them onto these objects in one place,
:meth:`DetectCall.from_keywords`. :func:`keyword_signature` is the signature the fields define: a test holds every
public function to it, so an option is added by adding a field and the keyword (the test says what is missing).
Giving ``placement=``/``hooks=`` objects instead of their fields is deprecated (removed in 0.3).

Imports: none; package: _deprecated, calibration, settings.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .calibration import Calibration
from .settings import DetectorSettings, RuntimeOptions

#: ``progress(fraction_done: float in [0, 1], message: str)``
ProgressCallback = Callable[[float, str], None]
#: ``cancel() -> bool``; True asks the work to stop (raises :class:`~trackmate_cellpose.errors.Cancelled`).
CancelCheck = Callable[[], bool]
#: ``log(message: str)``: one notice for the user (mode, anisotropy, model).
LogCallback = Callable[[str], None]


@dataclass(frozen=True)
class Placement:
    """Which frames of the image to process and where the image lies inside the full (TrackMate) image.

    Attributes
    ----------
    frames : tuple of int or None
        Indices into the T axis of the image to process, in this order; None: every frame.
    origin_xyz : tuple of 3 numbers
        Pixel offset of the image inside the full image (a crop ROI); added to every coordinate.
    frame_offset : int
        Added to frame indices (the absolute frame number of ``image[0]``).
    """

    frames: tuple[int, ...] | None = None
    origin_xyz: tuple[int, int, int] = (0, 0, 0)
    frame_offset: int = 0

    def __post_init__(self) -> None:
        if self.frames is not None:
            object.__setattr__(self, "frames", tuple(int(f) for f in self.frames))
        object.__setattr__(self, "origin_xyz", tuple(self.origin_xyz))
        object.__setattr__(self, "frame_offset", int(self.frame_offset))


@dataclass(frozen=True)
class Hooks:
    """The caller's callbacks; each may be None.

    Attributes
    ----------
    progress : callable or None
        ``progress(fraction_done, message)``, fraction in [0, 1].
    cancel : callable or None
        ``cancel() -> bool``, checked between frames and inside 3D work; True stops the work (``Cancelled``).
    log : callable or None
        ``log(message)`` for each notice (mode, anisotropy, model).
    """

    progress: ProgressCallback | None = None
    cancel: CancelCheck | None = None
    log: LogCallback | None = None

    def cancelled(self) -> bool:
        """True when the caller asked to stop."""
        return self.cancel is not None and bool(self.cancel())


#: The option groups of a call: keyword name -> class (their fields are also accepted as flat keywords).
_GROUPS: dict[str, type] = {"placement": Placement, "hooks": Hooks}


@dataclass(frozen=True)
class DetectCall:
    """Everything one detect call needs.

    Attributes
    ----------
    image : xarray.DataArray or numpy.ndarray
        The pixels (see :func:`trackmate_cellpose.axes.to_tczyx`).
    settings : DetectorSettings
        Scientific parameters.
    axes : str or None
        Axis letters of a numpy array (``"tyx"``, ``"tzcyx"`` ...).
    calibration : Calibration or None
        Overrides what the image carries.
    runtime : RuntimeOptions
        Device, batching, distribution.
    placement : Placement
    hooks : Hooks
    """

    image: Any
    settings: DetectorSettings = field(default_factory=DetectorSettings)
    axes: str | None = None
    calibration: Calibration | None = None
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    placement: Placement = field(default_factory=Placement)
    hooks: Hooks = field(default_factory=Hooks)

    @property
    def distributed(self) -> bool:
        """True when the runtime asks for a dask cluster."""
        return self.runtime.workers > 0 or bool(self.runtime.scheduler)

    def replace(self, **changes: Any) -> DetectCall:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_keywords(cls, image: Any, settings: DetectorSettings | None = None, *, function: str = "detect",
                      **options: Any) -> DetectCall:
        """Build a call from the public keywords (:func:`call_keywords`); None means the default everywhere.

        A group's fields are given flat (``frames=..., progress=...``); the group object (``placement=Placement(...)``)
        is still accepted, with a :class:`DeprecationWarning`, but not together with its fields. A flat field left
        at its default counts as not given. ``function`` names the caller in errors.
        """
        direct = _direct_fields()
        flat: dict[str, dict[str, Any]] = {g: {} for g in _GROUPS}
        given: dict[str, Any] = {}
        for key, value in options.items():
            group = next((g for g, c in _GROUPS.items() if key in _field_names(c)), None)
            if key in direct or key in _GROUPS:
                given[key] = value
            elif group is not None:
                if value is not None and value != _field_default(_GROUPS[group], key):
                    flat[group][key] = value
            else:
                raise TypeError(f"{function}() got an unexpected keyword argument {key!r}")
        for g, c in _GROUPS.items():
            obj = given.pop(g, None)
            if obj is not None:
                from ._deprecated import warn

                fields = ", ".join(f"{n}=" for n in _field_names(c))
                warn(f"{function}({g}=...)", f"the keywords {fields}", stacklevel=4)
                if flat[g]:
                    raise TypeError(f"{function}() takes {g}= or its fields ({', '.join(flat[g])}), not both")
                if not isinstance(obj, c):
                    raise TypeError(f"{function}() {g} must be a {c.__name__}, got {type(obj).__name__}")
            given[g] = obj if obj is not None else c(**flat[g])
        values = {k: v for k, v in given.items() if v is not None}
        return cls(image=image, settings=DetectorSettings() if settings is None else settings, **values)


def _field_default(c: type, name: str) -> Any:
    f = next(f for f in dataclasses.fields(c) if f.name == name)
    return None if f.default is dataclasses.MISSING else f.default


def _field_names(c: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(c))


def _direct_fields() -> tuple[str, ...]:
    return tuple(n for n in _field_names(DetectCall) if n not in ("image", "settings") and n not in _GROUPS)


def call_keywords() -> tuple[str, ...]:
    """The keyword names of the public detect API, in signature order: the call's own options, each group's fields,
    then the group objects."""
    return (_direct_fields() + tuple(n for c in _GROUPS.values() for n in _field_names(c)) + tuple(_GROUPS))


def keyword_signature(*extra: inspect.Parameter, returns: Any = "DetectionResult") -> inspect.Signature:
    """The public signature ``(image, settings=None, *, <call_keywords>=<defaults>, <extra>)``.

    Defaults are the fields' own defaults, None where the default is built per call (settings, runtime, groups).
    """
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("image", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="Any"),
              inspect.Parameter("settings", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                annotation="DetectorSettings | None")]
    owners: list[tuple[type, Sequence[str]]] = [(DetectCall, _direct_fields())]
    owners += [(c, _field_names(c)) for c in _GROUPS.values()]
    for owner, names in owners:
        fields = {f.name: f for f in dataclasses.fields(owner)}
        for name in names:
            f = fields[name]
            default = None if f.default is dataclasses.MISSING else f.default
            annotation = f.type if default is not None or "None" in str(f.type) else f"{f.type} | None"
            params.append(inspect.Parameter(name, kw, default=default, annotation=annotation))
    params += [inspect.Parameter(g, kw, default=None, annotation=f"{c.__name__} | None") for g, c in _GROUPS.items()]
    params += list(extra)
    return inspect.Signature(params, return_annotation=returns)
