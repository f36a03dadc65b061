"""What a process can reuse from an earlier one, so that its first detection costs what a bare cellpose call costs.

Two fixed costs a fresh process pays before its first frame, measured in ``benchmarks/startup.py``:

* **numba compiling cellpose's flow dynamics.** cellpose 3 compiles its dynamics kernels (``steps2D``,
  ``steps3D``, ...) with numba when ``cellpose.dynamics`` is imported, without numba's on-disk cache: every process
  pays seconds of LLVM work (cellpose 4 has no numba code). :func:`import_cellpose` imports cellpose with numba's
  cache switched on for cellpose's own functions (numba's ``cache=True``, stored under this package's cache folder
  unless ``$NUMBA_CACHE_DIR`` says otherwise). numba keys each entry by the source file, the signature and the CPU,
  so a changed cellpose or another machine on a shared folder compiles afresh; the compiled code is the same.
* **exporting the network to ONNX** (``inference="onnx"``): :class:`OnnxGraphCache` keeps the exported graph, keyed
  by a hash of the model file and everything the export depends on (versions of cellpose, torch and this package,
  the export's options), written atomically.

Imports: numba (lazily); package: _cache, _version (lazily). cellpose is imported by name (importlib).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from .._cache import cache_dir, file_digest, write_atomic

#: cellpose's modules that define numba functions: what :func:`import_cellpose` imports with the cache on.
NUMBA_MODULES = ("cellpose.dynamics", "cellpose.metrics")

_IMPORT_LOCK = threading.Lock()


def numba_cache_dir() -> Path:
    return cache_dir() / "numba"


def import_cellpose(name: str = "cellpose.models"):
    """Import the cellpose module ``name``, with numba's on-disk cache on for cellpose's compiled functions.

    Only the first import of cellpose's numba modules can switch the cache on (numba compiles when the decorator
    runs); if cellpose was imported before (by the user), it is used as it is. ``NUMBA_DISABLE_JIT`` is honoured.
    Import errors propagate unchanged.
    """
    with _IMPORT_LOCK:
        if all(m in sys.modules for m in NUMBA_MODULES) or os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
            return importlib.import_module(name)
        try:
            import numba
        except ImportError:  # cellpose 4 needs no numba
            return importlib.import_module(name)
        from numba.core import config

        originals = {"njit": numba.njit, "jit": numba.jit}
        own_dir = config.CACHE_DIR if os.environ.get("NUMBA_CACHE_DIR") else str(numba_cache_dir())

        def caching(decorator: Callable) -> Callable:
            @functools.wraps(decorator)
            def wrapper(*args: Any, **kwargs: Any):
                caller = sys._getframe(1).f_globals.get("__name__", "")
                if caller.startswith("cellpose."):
                    kwargs.setdefault("cache", True)
                return decorator(*args, **kwargs)
            return wrapper

        old_dir = config.CACHE_DIR
        numba.njit, numba.jit = caching(numba.njit), caching(numba.jit)
        config.CACHE_DIR = own_dir  # read when each function's cache is created, i.e. during this import
        try:
            for m in NUMBA_MODULES:
                try:
                    importlib.import_module(m)
                except ImportError:
                    pass  # a cellpose without it; the import of ``name`` below reports real problems
            return importlib.import_module(name)
        finally:
            numba.njit, numba.jit = originals["njit"], originals["jit"]
            config.CACHE_DIR = old_dir


@functools.lru_cache(maxsize=32)
def _digest_cached(path: str, size: int, mtime_ns: int) -> str:
    return file_digest(path)


def weights_digest(path: str | os.PathLike) -> str:
    """sha256 of a model file (computed once per process for an unchanged file)."""
    st = os.stat(path)
    return _digest_cached(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


class OnnxGraphCache:
    """Exported ONNX graphs on disk, one file per key (``<cache>/onnx/<key>.onnx``).

    ``key_of(parts)`` hashes a JSON-able description of everything the export depends on; :meth:`load` returns the
    path of a complete earlier export or None; :meth:`store` writes one atomically (a failure to write is not an
    error: the graph is then used from memory only).
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_dir()) / "onnx"

    @staticmethod
    def key_of(parts: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.root / f"{key}.onnx"

    def load(self, key: str) -> Path | None:
        p = self.path(key)
        return p if p.is_file() and p.stat().st_size > 0 else None

    def store(self, key: str, data: bytes) -> Path | None:
        try:
            write_atomic(self.path(key), data)
        except OSError:
            return None
        return self.path(key)

    def forget(self, key: str) -> None:
        """Remove an entry that could not be loaded (e.g. written by an onnxruntime that reads it differently)."""
        try:
            self.path(key).unlink()
        except OSError:
            pass


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of ``names`` (``"?"`` when absent), plus this package's."""
    from importlib.metadata import PackageNotFoundError, version

    from .._version import __version__

    out = {"trackmate-cellpose": __version__}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = "?"
    return out
