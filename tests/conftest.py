"""Shared pytest fixtures and markers.

Markers (registered in pyproject.toml, ``--strict-markers``): ``slow`` (cellpose inference), ``jvm`` (starts a JVM;
run in a subprocess), ``fiji`` (needs ``FIJI_DIR`` pointing at a real Fiji with TrackMate; skipped otherwise),
``gpu`` (needs CUDA; skipped otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    fiji = os.environ.get("FIJI_DIR")
    skip_fiji = pytest.mark.skip(reason="set FIJI_DIR to a Fiji.app with TrackMate to run")
    has_cuda = False
    if any("gpu" in item.keywords for item in items):  # importing torch costs seconds: only when needed
        try:
            import torch
            has_cuda = torch.cuda.is_available()
        except Exception:  # noqa: BLE001
            has_cuda = False
    skip_gpu = pytest.mark.skip(reason="no CUDA GPU")
    for item in items:
        if "fiji" in item.keywords and not (fiji and Path(fiji).is_dir()):
            item.add_marker(skip_fiji)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def fiji_dir() -> Path:
    return Path(os.environ["FIJI_DIR"])


@pytest.fixture(scope="session")
def test_model() -> Path:
    from trackmate_cellpose.data import test_model_path

    p = test_model_path()
    if not p.exists():
        pytest.fail(f"bundled test model missing: {p} (run scripts/train_test_model.py)")
    return p
