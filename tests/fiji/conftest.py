"""Fixtures shared by the real-Fiji tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def glue_cache(tmp_path_factory) -> Path:
    """One trackmate-cellpose cache for the session: the glue is compiled once, not once per Fiji process."""
    return tmp_path_factory.mktemp("tmcp-cache")


@pytest.fixture(scope="session")
def trackmate_line(fiji_dir) -> str:
    """API line of the Fiji under test: ``tm7``, ``tm8`` or ``tm9`` (read from its TrackMate jar, no JVM)."""
    from _shapes import line_of

    return line_of(fiji_dir)


def _link_or_copy(src, dst):
    import os
    import shutil

    try:
        os.link(src, dst)
    except OSError:  # another file system: a real copy
        shutil.copy2(src, dst)


def install_into_copy(fiji_dir: Path, work: Path) -> Path:
    """A copy of ``fiji_dir`` (hard links where possible; install-fiji writes new files, so the shared Fiji is never
    modified) with our glue installed by the CLI; returns the copy's folder."""
    import shutil
    import subprocess
    import sys

    copy = work / "Fiji.app"
    shutil.copytree(fiji_dir, copy, symlinks=True, copy_function=_link_or_copy)
    proc = subprocess.run([sys.executable, "-m", "trackmate_cellpose", "install-fiji", "--fiji", str(copy)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return copy
