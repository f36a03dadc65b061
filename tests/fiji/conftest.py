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
