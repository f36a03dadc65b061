"""The one settings model of the "Cellpose advanced (Python)" detector (leaf module).

``DetectorSettings`` holds the persisted, scientific parameters. Each field carries its TrackMate key
(UPPER_SNAKE), unit, range and description in its metadata; ``to_trackmate_map``/``from_trackmate_map`` convert to
and from TrackMate's flat settings map (values only ``str``/``int``/``float``/``bool``) and ``to_json``/``from_json``
to a JSON document. ``RuntimeOptions`` holds knobs that change how, not what, is computed (device, batching,
distribution); they are never written into TrackMate files.

Imports: none; package: errors.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import InvalidSettingsError

__all__ = [
    "DetectorSettings",
    "RuntimeOptions",
    "TRACKMATE_KEYS",
    "DETECTOR_KEY",
    "CUSTOM_MODEL",
    "KEY_ALIASES",
    "settings_table",
    "DEFAULT_MODELS",
    "default_model",
    "installed_cellpose_major",
    "BUILTIN_MODELS",
    "range_text",
    "settings_resource_json",
    "SETTINGS_RESOURCE",
]

#: Key under which the detector is registered in TrackMate (``getKey()`` of the Java factory).
DETECTOR_KEY = "CELLPOSE_ADVANCED_PY_DETECTOR"
#: Value of ``CELLPOSE_MODEL`` that selects ``CELLPOSE_MODEL_FILEPATH``.
CUSTOM_MODEL = "CUSTOM"


#: Default ``CELLPOSE_MODEL`` per installed cellpose major version (a cellpose-3 model does not exist in cellpose 4
#: and vice versa).
DEFAULT_MODELS: dict[int, str] = {3: "cyto3", 4: "cpsam"}

#: User-facing built-in model names per cellpose major version (cellpose's own list also holds internal names).
BUILTIN_MODELS: dict[int, tuple[str, ...]] = {
    3: ("cyto3", "cyto2", "cyto", "nuclei", "livecell_cp3", "tissuenet_cp3", "yeast_PhC_cp3", "yeast_BF_cp3",
        "bact_phase_cp3", "bact_fluor_cp3", "deepbacs_cp3", "cyto2_cp3"),
    4: ("cpsam", "cpsam_v2", "cpdino", "cpdino-vitb"),
}

#: The cellpose major version whose default model applies when no cellpose is installed.
NO_CELLPOSE_MAJOR = 3


@functools.lru_cache(maxsize=None)
def installed_cellpose_major() -> int | None:
    """Major version of the installed cellpose from its package metadata (cellpose is not imported), or None.

    Read once per process (every ``DetectorSettings()`` asks it for its default model)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("cellpose").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return None


def default_model(major: int | None = None) -> str:
    """The default built-in model for cellpose ``major`` (default: the installed one; 3.x when none is installed)."""
    major = installed_cellpose_major() if major is None else major
    return DEFAULT_MODELS.get(major, DEFAULT_MODELS[4] if (major or 0) > 4 else DEFAULT_MODELS[NO_CELLPOSE_MAJOR])


def _f(key: str, default: Any, *, unit: str, doc: str, label: str | None = None, lo=None, hi=None,
       range: str | None = None, nonempty: bool = False, only_3d: bool = False, editor: str | None = None,
       factory=None, default_doc: str | None = None):
    """One setting. ``label`` (the Fiji panel's; default: from the key) and ``doc`` (its tooltip, the CLI help and the
    README) are shown to users. Numbers: inclusive bounds ``lo``/``hi`` (the range text is derived from them).
    Strings: ``range`` says in words what is accepted; ``nonempty`` rejects an empty (blank) value. ``only_3d``: the
    panel shows it for 3D images only. ``editor``: the panel's editor when not the type's own (``"model"``: the built-in models; ``"channel"``: a
    whole number up to the image's channel count)."""
    if range is not None and type(default) in (int, float):
        raise ValueError(f"{key}: a number's range is derived from lo/hi, not written as text")
    meta = {"key": key, "unit": unit, "doc": doc, "label": label or key.replace("_", " ").capitalize(), "lo": lo,
            "hi": hi, "range_text": range, "nonempty": nonempty, "only_3d": only_3d, "editor": editor,
            "kind": type(default), "default_doc": default_doc}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DetectorSettings:
    """Scientific parameters of one detection run (all documented; see ``settings_table()``).

    Construct with keywords; every value is validated and a wrong one raises
    :class:`~trackmate_cellpose.errors.InvalidSettingsError` naming the key, the value and what was expected.
    """

    model: str = _f("CELLPOSE_MODEL", "", factory=default_model, unit="-", range="built-in model name or CUSTOM",
                    label="Model", nonempty=True, editor="model",
                    default_doc=" / ".join(f'"{m}" (cellpose {v})' for v, m in DEFAULT_MODELS.items()),
                    doc="Built-in model of the installed cellpose (3.x: cyto3, cyto2, cyto, nuclei, livecell_cp3, ...; "
                        "4.x: cpsam, cpsam_v2, ...) or CUSTOM to use CELLPOSE_MODEL_FILEPATH. The default follows "
                        "the installed major version.")
    model_path: str = _f("CELLPOSE_MODEL_FILEPATH", "", unit="path", range="existing file when CELLPOSE_MODEL=CUSTOM",
                         label="Custom model file",
                         doc="Custom (retrained) cellpose model file. Must exist: a missing file is an error, never a "
                             "silent download of a default model.")
    target_channel: int = _f("TARGET_CHANNEL", 1, unit="-", lo=1, label="Channel to segment", editor="channel",
                             doc="1-based image channel to segment (TrackMate's convention, not TrackMate-Cellpose's "
                                 "RGB index).")
    channel_2: int = _f("OPTIONAL_CHANNEL_2", 0, unit="-", lo=0, label="Optional second channel",
                        editor="channel",
                        doc="Optional second channel (e.g. nuclei), 1-based; 0 = none.")
    diameter: float = _f("CELL_DIAMETER", 30.0, unit="image physical unit (e.g. um)", lo=0.0, label="Cell diameter",
                         doc="Expected cell diameter in the image's physical units, converted to pixels with the XY "
                             "pixel size; 0 = use the model's own object size.")
    use_gpu: bool = _f("USE_GPU", True, unit="-", label="Use GPU",
                       doc="Use CUDA (or Apple MPS) when available; otherwise run on the CPU with one logged notice.")
    simplify_contours: bool = _f("SIMPLIFY_CONTOURS", True, unit="-", label="Simplify contours",
                                 doc="Simplify polygons as TrackMate's label-image detector does (interpolation at "
                                     "2 px, then Douglas-Peucker at 0.5 px); in 3D, decimate meshes.")
    cellprob_threshold: float = _f("CELL_PROB_THRESHOLD", 0.0, unit="logit", lo=-6.0, hi=6.0,
                                   label="Cell prob. threshold",
                                   doc="Cell-probability threshold: raise it for fewer/smaller objects, lower it for "
                                       "more/larger ones.")
    flow_threshold: float = _f("FLOW_THRESHOLD", 0.4, unit="-", lo=0.0, label="Flow threshold",
                               doc="Maximum flow error of a mask; 0 disables the check. Not used in 3D mode (cellpose "
                                   "ignores it there; a notice is logged).")
    resample: bool = _f("RESAMPLE", True, unit="-", label="Resample",
                        doc="Compute the masks at the original image size (smoother, slower) rather than at the "
                            "network's rescaled size.")
    do_2dz: bool = _f("DO2DZ", False, unit="-", label="2D+Z (stitch planes)", only_3d=True,
                      doc="3D images: segment each Z plane in 2D and stitch planes by IoU instead of cellpose's full "
                          "3D mode (the default).")
    iou_threshold: float = _f("IOUTHRESHOLD", 0.25, unit="-", lo=0.0, hi=1.0, label="Stitch IoU threshold",
                              only_3d=True,
                              doc="2D+Z: minimum IoU between masks of consecutive planes to stitch them.")
    min_size: float = _f("CELL_MIN_SIZE", 15.0, unit="pixels (2D) / voxels (3D)", lo=0.0,
                         label="Minimum size (px)",
                         doc="Objects smaller than this are removed, counted on the original image grid after "
                             "segmentation (after stitching in 2D+Z, not per plane).")
    smoothing_scale: float = _f("SMOOTHING_SCALE", 1.0, unit="image physical unit", label="Mesh smoothing scale",
                                only_3d=True,
                                doc="3D: Gaussian smoothing of each object before meshing (sigma = scale/sqrt(3) per "
                                    "axis, anisotropy-aware, as in TrackMate). Default 1.0 = on, about one "
                                    "micrometre; <= 0 meshes the raw voxels.")
    python_executable: str = _f("PYTHON_EXECUTABLE", "", unit="path", range="a Python executable, or empty",
                                label="Python (worker)",
                                doc="Fiji started from its icon (classic launch) only: the Python that runs cellpose "
                                    "as a worker process; empty = the one 'trackmate-cellpose install-fiji' "
                                    "recorded. Not used where Python runs in Fiji's own process, nor by the CLI.")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            object.__setattr__(self, f.name, _check_value(f, value))
        if self.model == CUSTOM_MODEL and not self.model_path:
            raise InvalidSettingsError(
                "CELLPOSE_MODEL_FILEPATH must name a model file when CELLPOSE_MODEL is 'CUSTOM', got ''",
                key="CELLPOSE_MODEL_FILEPATH", value="")
        if self.channel_2 and self.channel_2 == self.target_channel:
            raise InvalidSettingsError(
                f"OPTIONAL_CHANNEL_2 must differ from TARGET_CHANNEL or be 0, got {self.channel_2} for both",
                key="OPTIONAL_CHANNEL_2", value=self.channel_2)

    # ---- conversions -------------------------------------------------------------------------------------------
    def replace(self, **changes: Any) -> "DetectorSettings":
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_trackmate_map(self) -> dict[str, Any]:
        """Flat TrackMate map: UPPER_SNAKE key -> str/int/float/bool."""
        return {f.metadata["key"]: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_trackmate_map(cls, mapping: Mapping[str, Any], *, strict: bool = True) -> "DetectorSettings":
        """Build from a TrackMate map. Missing keys take their default; unknown keys are an error when ``strict``.

        Renamed keys (``KEY_ALIASES``) are accepted with a ``DeprecationWarning``.
        """
        by_key = {f.metadata["key"]: f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in mapping.items():
            key = str(key)
            if key in KEY_ALIASES:
                new = KEY_ALIASES[key]
                if new is None:
                    warnings.warn(f"setting {key} is not used by this detector and is ignored", DeprecationWarning,
                                  stacklevel=2)
                    continue
                warnings.warn(f"setting {key} is deprecated, use {new}", DeprecationWarning, stacklevel=2)
                key = new
            if key not in by_key:
                if strict:
                    raise InvalidSettingsError(
                        f"unknown setting {key!r} (value {value!r}); expected one of {', '.join(sorted(by_key))}",
                        key=key, value=value)
                continue
            kwargs[by_key[key]] = value
        return cls(**kwargs)

    def to_json(self, *, indent: int | None = 2) -> str:
        """JSON document with the TrackMate keys."""
        return json.dumps(self.to_trackmate_map(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "DetectorSettings":
        """Parse a JSON object of TrackMate keys (as written by :meth:`to_json`)."""
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as e:
            raise InvalidSettingsError(f"settings JSON is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise InvalidSettingsError(f"settings JSON must be an object of KEY: value, got {type(data).__name__}")
        return cls.from_trackmate_map(data)

    # ---- derived values ----------------------------------------------------------------------------------------
    @property
    def is_custom_model(self) -> bool:
        return self.model == CUSTOM_MODEL


#: TrackMate key of every field, in declaration order.
TRACKMATE_KEYS: tuple[str, ...] = tuple(f.metadata["key"] for f in dataclasses.fields(DetectorSettings))

#: Old or peer key -> current key (None = accepted but not used, with a warning).
KEY_ALIASES: dict[str, str | None] = {
    "CELLPROB_THRESHOLD": "CELL_PROB_THRESHOLD",
    "STITCH_THRESHOLD": "IOUTHRESHOLD",
    "MIN_SIZE": "CELL_MIN_SIZE",
    "DIAMETER": "CELL_DIAMETER",
    "CUSTOM_MODEL_PATH": "CELLPOSE_MODEL_FILEPATH",
    "CELLPOSE_PYTHON_FILEPATH": None,
    "LOGGER": None,
}


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique: a key given twice is an error naming it and both values (plain
    ``json.loads`` keeps the last one silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InvalidSettingsError(f"settings JSON gives {key} more than once ({out[key]!r}, then {value!r}); "
                                       "each key must appear once", key=key, value=value)
        out[key] = value
    return out


def _check_value(f: dataclasses.Field, value: Any) -> Any:
    key = f.metadata["key"]
    kind = f.metadata["kind"]
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise InvalidSettingsError(f"{key} must be true or false, got {value!r}", key=key, value=value)
    if kind is str:
        if not isinstance(value, str):
            raise InvalidSettingsError(f"{key} must be a string, got {value!r}", key=key, value=value)
        if f.metadata["nonempty"]:
            if not value.strip():
                raise InvalidSettingsError(f"{key} must be {f.metadata['range_text']}, got {value!r}", key=key,
                                           value=value)
            return value.strip()
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidSettingsError(f"{key} must be a number, got {value!r}", key=key, value=value)
    if kind is int:
        if float(value) != int(value):
            raise InvalidSettingsError(f"{key} must be an integer, got {value!r}", key=key, value=value)
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise InvalidSettingsError(f"{key} must be a finite number, got {value!r}", key=key, value=value)
    lo, hi = f.metadata["lo"], f.metadata["hi"]
    if lo is not None and value < lo:
        raise InvalidSettingsError(f"{key} must be >= {lo}, got {value!r}", key=key, value=value)
    if hi is not None and value > hi:
        raise InvalidSettingsError(f"{key} must be <= {hi}, got {value!r}", key=key, value=value)
    return value


def _number_text(v: float) -> str:
    return f"{v:g}"


def range_text(meta: Mapping[str, Any]) -> str:
    """What a setting accepts, in words: derived from the bounds for numbers (``-6 .. 6``, ``>= 0``, ``any``)."""
    kind, lo, hi = meta["kind"], meta["lo"], meta["hi"]
    if kind is bool:
        return "true/false"
    if kind is str:
        return meta["range_text"] or "any text"
    if lo is not None and hi is not None:
        return f"{_number_text(lo)} .. {_number_text(hi)}"
    if lo is not None:
        return f">= {_number_text(lo)}"
    if hi is not None:
        return f"<= {_number_text(hi)}"
    return "any"


def settings_table() -> list[dict[str, Any]]:
    """One row per setting: key, field, type, default, label, unit, range (text, and the bounds ``lo``/``hi``),
    description, and the Fiji panel's needs (``only_3d``, ``editor``); for docs, the CLI help and the Java glue."""
    return [
        {"key": f.metadata["key"], "field": f.name, "type": f.metadata["kind"].__name__,
         "default": f.default_factory() if f.default is dataclasses.MISSING else f.default,
         "default_doc": f.metadata["default_doc"], "label": f.metadata["label"], "unit": f.metadata["unit"],
         "range": range_text(f.metadata), "lo": f.metadata["lo"], "hi": f.metadata["hi"], "doc": f.metadata["doc"],
         "nonempty": f.metadata["nonempty"], "only_3d": f.metadata["only_3d"], "editor": _editor(f.metadata)}
        for f in dataclasses.fields(DetectorSettings)
    ]


def _editor(meta: Mapping[str, Any]) -> str:
    if meta["editor"]:
        return meta["editor"]
    kind = meta["kind"]
    if kind is bool:
        return "check"
    if kind is str:
        return "file" if meta["unit"] == "path" else "text"
    return "number"


#: Name of the settings table inside the glue jars (next to the glue's classes).
SETTINGS_RESOURCE = "trackmatecellpose/glue/detector-settings.json"


def settings_resource_json(extra: Mapping[str, Any] | None = None) -> str:
    """The settings table as the Java glue reads it (``SettingsTable.java``): generated into every glue jar at build
    time, so that the Fiji panel's labels, units, ranges and defaults, and Java's checks, come from this module only.

    Independent of the installed cellpose (the build must be reproducible): the default model is given per cellpose
    major version (``default_models``) and for a Python without cellpose (``fallback_model``); Java uses the one the
    Python side publishes when it registers. ``extra`` adds top-level entries (the glue adds ``training``, the
    options of TrackMate's action "Retrain cellpose on these spots").
    """
    rows = []
    for row in settings_table():
        row = {k: v for k, v in row.items() if k not in ("field", "default_doc")}
        if row["key"] == "CELLPOSE_MODEL":
            row["default"] = None  # follows the installed cellpose
        rows.append(row)
    doc = {"format": 1, "detector_key": DETECTOR_KEY, "custom_model": CUSTOM_MODEL,
           "default_models": {str(k): v for k, v in DEFAULT_MODELS.items()},
           "fallback_model": default_model(NO_CELLPOSE_MAJOR),
           "builtin_models": {str(k): list(v) for k, v in BUILTIN_MODELS.items()},
           "aliases": dict(KEY_ALIASES), "settings": rows, **(extra or {})}
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


#: values of ``RuntimeOptions.inference`` (how the network runs; ``segment/_inference.py`` implements them)
INFERENCE_MODES = ("auto", "onnx", "channels_last", "float32", "cellpose", "compile", "bf16")
#: deprecated values of ``RuntimeOptions.inference`` (accepted with a DeprecationWarning until
#: ``_deprecated.REMOVED_IN``) -> the mode they run, per cellpose major version (resolved where that is known)
DEPRECATED_INFERENCE = {"fast": {3: "channels_last", 4: "float32"}}
#: the release that drops :data:`DEPRECATED_INFERENCE` (the same as ``_deprecated.REMOVED_IN``; this module is a leaf)
INFERENCE_ALIASES_REMOVED_IN = "0.3"


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run, not what to compute; never persisted in TrackMate files.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "mps"}
        ``auto`` follows ``USE_GPU``: CUDA/MPS when available, else CPU.
    frames_per_batch : int
        Number of 2D frames (or planes) handed to one cellpose call; progress and cancel are checked between calls.
    tile_batch_size : int
        cellpose's ``batch_size``: network tiles evaluated together.
    workers : int
        0 = in-process; N >= 1 = a local dask cluster with N worker processes.
    scheduler : str
        Address of an existing dask scheduler (overrides ``workers``).
    inference : {"auto", "onnx", "channels_last", "float32", "cellpose", "compile", "bf16"}
        How the network runs (modes named by what they do; ``segment/_inference.py`` has the details).
        ``cellpose``: cellpose's own path with its own defaults (cellpose 4: bfloat16 weights, on any device).
        ``float32``: cellpose's own path with float32 weights (cellpose 3's networks are float32: = ``cellpose``).
        ``onnx``: the same float32 weights, exported once per model file (kept on disk) and run by ONNX Runtime on
        the CPU. ``channels_last`` (cellpose 3, CPU): float32 in PyTorch's channels_last memory format without
        cellpose's MKLDNN conversions. ``compile``: ``torch.compile`` on top (needs a C++ compiler, one compile
        per tile shape). ``bf16``: bfloat16 arithmetic, fast only on CPUs with native bfloat16; it changes some
        masks. ``auto`` (default): cellpose 3 on a CPU ``onnx`` (else ``channels_last``); cellpose 4 on a CPU
        ``cellpose`` where the CPU has native bfloat16, else ``onnx`` (else ``float32``); a GPU ``cellpose``. ``onnx``,
        ``channels_last`` and ``float32`` give cellpose's own float32 masks (checked by the tests and the
        benchmarks). ``fast`` is a deprecated spelling of ``channels_last`` (cellpose 3) / ``float32`` (cellpose 4).
    pipeline_depth : int
        Network batches that may run ahead of the frames still being turned into masks and spots (in threads
        beside the network). 1 (default): the network works on the next batch while the previous one's masks, ROIs
        and meshes are built; 0: one after the other. Memory grows with the depth (each batch's flows), never with
        the movie; the masks are the same.
    """

    device: str = "auto"
    frames_per_batch: int = 8
    tile_batch_size: int = 8
    workers: int = 0
    scheduler: str = ""
    inference: str = "auto"
    pipeline_depth: int = 1

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise InvalidSettingsError(f"device must be one of auto, cpu, cuda, mps, got {self.device!r}",
                                       key="device", value=self.device)
        for name in ("frames_per_batch", "tile_batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidSettingsError(f"{name} must be an integer >= 1, got {v!r}", key=name, value=v)
        if self.inference in DEPRECATED_INFERENCE:
            modes = " / ".join(f"{m!r} (cellpose {k})" for k, m in DEPRECATED_INFERENCE[self.inference].items())
            warnings.warn(f"inference={self.inference!r} is deprecated and will be removed in trackmate-cellpose "
                          f"{INFERENCE_ALIASES_REMOVED_IN}; use inference={modes}", DeprecationWarning, stacklevel=3)
        elif self.inference not in INFERENCE_MODES:
            raise InvalidSettingsError(f"inference must be one of {', '.join(INFERENCE_MODES)}, got "
                                       f"{self.inference!r}", key="inference", value=self.inference)
        if isinstance(self.pipeline_depth, bool) or not isinstance(self.pipeline_depth, int) or self.pipeline_depth < 0:
            raise InvalidSettingsError(f"pipeline_depth must be an integer >= 0, got {self.pipeline_depth!r}",
                                       key="pipeline_depth", value=self.pipeline_depth)
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise InvalidSettingsError(f"workers must be an integer >= 0, got {self.workers!r}",
                                       key="workers", value=self.workers)
        if not isinstance(self.scheduler, str):
            raise InvalidSettingsError(f"scheduler must be an address string, got {self.scheduler!r}",
                                       key="scheduler", value=self.scheduler)
