"""Bundled data: the small test/demo cellpose model and synthetic sample movies (paths only, nothing loaded)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "test_model_path", "sample_path", "SAMPLES"]

DATA_DIR = Path(__file__).resolve().parent

#: Bundled samples: name -> file name. ``*_labels.tif`` beside each holds the synthetic ground truth.
SAMPLES = {"2dt": "sample_2dt.tif", "3dt": "sample_3dt.tif"}


def test_model_path() -> Path:
    """Path of the bundled cellpose-3 test model (trained on synthetic blobs; for tests and the demo only)."""
    return DATA_DIR / "tmcp_test_model.pth"


def sample_path(name: str, *, ground_truth: bool = False) -> Path:
    """Path of a bundled sample movie (``"2dt"`` or ``"3dt"``), or of its ground-truth label movie."""
    if name not in SAMPLES:
        raise KeyError(f"unknown sample {name!r}; expected one of {', '.join(SAMPLES)}")
    fname = SAMPLES[name]
    if ground_truth:
        fname = fname.replace(".tif", "_labels.tif")
    return DATA_DIR / fname
