"""The per-user cache folder of trackmate-cellpose, and the one way files are written into it.

What is kept there is derived data that a later process may reuse instead of recomputing it: the glue jar compiled
for a Fiji (``bridge``), the ONNX graph exported from a cellpose network and numba's compiled cellpose dynamics
(``segment``). Every entry is named by a key of everything it was made from, so a stale entry is never read, only
left behind; deleting the folder is always safe.

Imports: none; package: none.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

#: Environment variable that moves the cache folder (tests point it at a temporary folder).
CACHE_ENV = "TRACKMATE_CELLPOSE_CACHE"


def cache_dir() -> Path:
    """Per-user cache folder of trackmate-cellpose (``$TRACKMATE_CELLPOSE_CACHE`` overrides)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "trackmate-cellpose" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "trackmate-cellpose"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trackmate-cellpose"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees either no file or the whole file, never a part of it.

    The bytes go to a temporary file in the same folder, are flushed to disk, then renamed over ``path`` (atomic
    on POSIX and Windows). Two processes writing the same entry at once each rename a complete file: the last one
    wins, and both were made from the same key. Raises ``OSError`` when the folder cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def file_digest(path: str | os.PathLike, *, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (read in chunks: a 1.2 GB model file is never held in memory)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
