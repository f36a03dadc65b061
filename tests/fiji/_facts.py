"""Test support: run one of this folder's scenario scripts in its own process (one JVM per process) against FIJI_DIR
and return the facts it wrote as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def run_facts_script(script: Path, work: Path, fiji_dir: Path, *, timeout: int = 900) -> dict:
    """``python SCRIPT OUT.json WORK`` with a private cache and home under ``work``; fails the test on no facts."""
    out = work / "facts.json"
    env = {**os.environ, "FIJI_DIR": str(fiji_dir), "XDG_CACHE_HOME": str(work / "cache"),
           "TRACKMATE_CELLPOSE_CACHE": str(work / "cache" / "trackmate-cellpose"), "HOME": str(work / "home"),
           "PYTHONDONTWRITEBYTECODE": "1",
           # tests/ on the path: the scripts use test support (support.export_fixtures) as the tests do
           "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.run([sys.executable, str(script), str(out), str(work)], capture_output=True, text=True,
                          timeout=timeout, cwd=work, env=env)
    if not out.is_file():
        pytest.fail(f"no facts written (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
    data = json.loads(out.read_text())
    assert "error" not in data, data["error"] + proc.stderr[-3000:]
    return data
