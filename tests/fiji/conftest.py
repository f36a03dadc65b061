"""Fixtures shared by the real-Fiji tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def glue_cache(tmp_path_factory) -> Path:
    """One trackmate-cellpose cache for the session: the glue is compiled once, not once per Fiji process."""
    return tmp_path_factory.mktemp("tmcp-cache")
