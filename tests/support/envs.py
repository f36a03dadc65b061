"""Test support for the environment builder: the "test mode" of a build on this machine.

Test mode = this machine's package sources as pip is configured with them (``pip config list``: index URL, extra
index URLs, find-links; uv does not read pip's configuration, so they are passed to uv explicitly), the interpreter
running the tests (no interpreter download), and torch from those sources (torch backend ``none``: PyTorch's own
index is not reachable from CI; the CPU wheel lies in pip's find-links).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pip_sources() -> dict:
    """``{"index_url": str | None, "extra_index_urls": [...], "find_links": [...]}`` from pip's configuration."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                         timeout=60).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"^[^.]*\.([\w-]+)='(.*)'$", line.strip())
        if m:
            found[m.group(1)] = m.group(2)
    for key in ("index-url", "extra-index-url", "find-links"):
        env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if env:
            found[key] = env
    return {"index_url": found.get("index-url"), "extra_index_urls": found.get("extra-index-url", "").split(),
            "find_links": found.get("find-links", "").split()}


def cellpose_major() -> int:
    """Major version of the cellpose installed here (0: none)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("cellpose").split(".")[0])
    except PackageNotFoundError:
        return 0


def base_python() -> str:
    """The interpreter under the test venv (what a user's machine would offer uv)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def build_wheel(out: Path) -> Path:
    """This checkout's wheel (setup.py compiles the glue jars: needs a JDK)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, text=True, timeout=900)
    (whl,) = out.glob("trackmate_cellpose-*.whl")
    return whl


def request_args(cellpose: int, package: Path | None = None, **overrides) -> dict:
    """Keyword arguments of an ``EnvRequest`` in test mode (cpu variant)."""
    args = {"cellpose": cellpose, "variant": "cpu", "python": base_python(), "torch_backend": "none",
            "package": str(package) if package else None, **pip_sources()}
    args.update(overrides)
    return args


def closed_port() -> int:
    """A loopback TCP port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: What tests import instead of ``from conftest import ...`` (in a whole-suite run, ``conftest`` may name
#: tests/fiji/conftest.py, which pytest imported first).
CELLPOSE_MAJOR = cellpose_major()
TINY_CPSAM = Path(__file__).resolve().parents[1] / "data" / "tiny_cpsam.pth"
