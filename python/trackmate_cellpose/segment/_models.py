"""Which model to load, checked before any image is read or cellpose is imported.

Facts about cellpose's models per major version (the user-facing built-in names, the default, how to tell a
cellpose-3 file from a cellpose-4 file) and :func:`check_model`, the one check that the CLI, ``doctor``, the
distributed driver and the adapter all use: a CUSTOM file must exist, load as a PyTorch state dict (with
``weights_only=True``: a pickle cannot run code) and hold the network keys of the installed cellpose; a built-in name
must exist in the installed cellpose. Each failure names the setting, the value and what was expected, and a
version mismatch names both versions. torch is imported only to read a CUSTOM file; cellpose is never imported here.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..errors import BackendUnavailableError, InvalidSettingsError
from ..settings import BUILTIN_MODELS, CUSTOM_MODEL, DEFAULT_MODELS, DetectorSettings

_INSTALL = {3: "pip install 'cellpose>=3.1,<4'", 4: "pip install 'cellpose>=4,<5' (with torchvision matching torch)"}


@dataclass(frozen=True)
class ModelSpec:
    """What to load: a built-in model name or a file path."""

    name: str | None
    path: str | None

    @property
    def label(self) -> str:
        return self.path or self.name or "?"


@functools.lru_cache(maxsize=None)
def cellpose_version() -> str:
    """Version string of the installed cellpose (read once per process); BackendUnavailableError when missing."""
    try:
        return version("cellpose")
    except PackageNotFoundError as e:
        raise BackendUnavailableError(
            "cellpose is not installed; install torch first (pip install torch==<your torch>), then "
            "pip install 'cellpose>=3.1'") from e


def cellpose_major_version() -> int:
    """Major version of the installed cellpose (3 or 4); raises BackendUnavailableError otherwise."""
    v = cellpose_version()
    major = int(v.split(".")[0])
    if major not in BUILTIN_MODELS:
        raise BackendUnavailableError(f"cellpose {v} is not supported; expected 3.1+ or 4.x")
    return major


def models_dir() -> Path:
    """Where cellpose keeps downloaded and user-added models (``$CELLPOSE_LOCAL_MODELS_PATH`` overrides)."""
    env = os.environ.get("CELLPOSE_LOCAL_MODELS_PATH")
    return Path(env) if env else Path.home() / ".cellpose" / "models"


def user_model_names() -> list[str]:
    """Models the user added to cellpose (its GUI writes their names to ``gui_models.txt`` in :func:`models_dir`)."""
    f = models_dir() / "gui_models.txt"
    try:
        return [line.strip() for line in f.read_text().splitlines() if line.strip()]
    except OSError:
        return []


def builtin_names(major: int) -> list[str]:
    """Names accepted for ``CELLPOSE_MODEL`` under cellpose ``major``: built-ins, then the user's own models."""
    return list(dict.fromkeys([*BUILTIN_MODELS[major], *user_model_names()]))


def model_file_major(state_dict) -> int | None:
    """3 for a cellpose-3 network (CPnet), 4 for a cellpose-4 one (CPSAM/CPDINO, with a ``W2`` readout), else None."""
    keys = {k[7:] if k.startswith("module.") else k for k in state_dict}
    if "W2" in keys and any(k.startswith("encoder.") for k in keys):
        return 4
    if any(k.startswith("downsample.") for k in keys) and any(k.startswith("output.") for k in keys):
        return 3
    return None


_FILE_CHECKS: dict[tuple, int] = {}
_FILE_LOCK = threading.Lock()


def _file_major(p: Path) -> int:
    """Cellpose major version of model file ``p`` (cached per path, size and modification time)."""
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    with _FILE_LOCK:
        if key in _FILE_CHECKS:
            return _FILE_CHECKS[key]
    try:
        import torch
    except ImportError as e:
        raise BackendUnavailableError("torch is not installed; install it before cellpose "
                                      "(pip install torch==<version>)") from e
    what = f"CELLPOSE_MODEL_FILEPATH must be a cellpose model file, got {str(p)!r}"
    try:
        try:
            state = torch.load(str(p), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e):
                raise
            # a file in torch's legacy (non-zip) format cannot be memory-mapped: read it whole
            state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types; its advice (weights_only=False) is unsafe
        raise InvalidSettingsError(f"{what}: it cannot be read as a PyTorch state dict ({_why_unreadable(p, e)})",
                                   key="CELLPOSE_MODEL_FILEPATH", value=str(p)) from None
    major = model_file_major(state) if isinstance(state, dict) else None
    if major is None:
        raise InvalidSettingsError(
            f"{what}: it is a PyTorch file but not a cellpose network (no cellpose-3 CPnet or cellpose-4 "
            "Cellpose-SAM keys)", key="CELLPOSE_MODEL_FILEPATH", value=str(p))
    with _FILE_LOCK:
        _FILE_CHECKS[key] = major
    return major


def _why_unreadable(p: Path, e: BaseException) -> str:
    """Why torch could not load ``p``, in words (torch's own are a bare ``EOFError``, ``[Errno 22] Invalid argument``
    or advice to load unsafely)."""
    import zipfile

    with open(p, "rb") as f:
        head = f.read(4)
    if not head:
        return "the file is empty"
    if head.startswith(b"PK"):
        if not zipfile.is_zipfile(p):
            return "a damaged or incomplete PyTorch file (truncated?)"
    elif not head.startswith(b"\x80"):  # neither torch's zip format nor its legacy pickle format
        return "it is not a PyTorch file"
    text = str(e).strip()
    if "weights_only" in text or "Unpickl" in type(e).__name__ or "pickle" in text.lower():
        return "it holds pickled Python objects, not only tensors (never loaded: that could run code)"
    first = text.splitlines()[0] if text else ""
    return f"{type(e).__name__}: {first[:160]}" if first else f"a damaged PyTorch file ({type(e).__name__})"


def _mismatch(what: str, value: str, model_major: int, installed: int) -> InvalidSettingsError:
    default = DEFAULT_MODELS[installed]
    v = cellpose_version()
    shown = v if v.split(".")[0] == str(installed) else f"{installed}.x"
    return InvalidSettingsError(
        f"{what} {value!r} is a cellpose {model_major} model, but the installed cellpose is {shown} "
        f"(cellpose {installed} cannot load cellpose-{model_major} models): use a cellpose-{installed} model "
        f"(e.g. {default}) or install cellpose {model_major} ({_INSTALL[model_major]})",
        key="CELLPOSE_MODEL_FILEPATH" if what.startswith("CELLPOSE_MODEL_FILEPATH") else "CELLPOSE_MODEL",
        value=value)


def check_model(settings: DetectorSettings, major: int | None = None) -> ModelSpec:
    """Check the model setting before any image is read; return what to load.

    Raises
    ------
    InvalidSettingsError
        A missing, unreadable or non-cellpose CUSTOM file, a model of the other cellpose major version, or an
        unknown built-in name (the message lists the available ones).
    BackendUnavailableError
        cellpose (or, for a CUSTOM file, torch) is not installed.
    """
    major = cellpose_major_version() if major is None else major
    if settings.model == CUSTOM_MODEL:
        p = Path(settings.model_path).expanduser()
        if not p.is_file():
            raise InvalidSettingsError(
                f"CELLPOSE_MODEL_FILEPATH must be an existing cellpose model file, got "
                f"{settings.model_path!r} ({'a directory' if p.is_dir() else 'no such file'})",
                key="CELLPOSE_MODEL_FILEPATH", value=settings.model_path)
        p = p.resolve()
        file_major = _file_major(p)
        if file_major != major:
            raise _mismatch("CELLPOSE_MODEL_FILEPATH", str(p), file_major, major)
        return ModelSpec(None, str(p))
    names = builtin_names(major)
    if settings.model not in names:
        other = next((m for m, n in BUILTIN_MODELS.items() if m != major and settings.model in n), None)
        if other is not None:
            raise _mismatch("CELLPOSE_MODEL", settings.model, other, major)
        raise InvalidSettingsError(
            f"CELLPOSE_MODEL must be a built-in model of cellpose {major}.x or CUSTOM, got "
            f"{settings.model!r}; available: {', '.join(names)}", key="CELLPOSE_MODEL", value=settings.model)
    return ModelSpec(settings.model, None)
