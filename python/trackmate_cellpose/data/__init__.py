"""Bundled data (the small test/demo cellpose model and two sample movies: paths only, nothing loaded) and the
seeded generators of synthetic movies with exact ground truth that made them.

Imports: numpy, scipy; package: errors (lazily).
"""

from __future__ import annotations

from pathlib import Path

from ._synthetic import (TUTORIAL_ANISOTROPY, TUTORIAL_CELLS, TUTORIAL_RADIUS_PX, TUTORIAL_SHAPE_ZYX, Blob,
                         membrane_movie_2d, membrane_movie_3d, synthetic_frame, synthetic_movie_2d,
                         synthetic_movie_3d, synthetic_stack_tutorial, tutorial_cell_count)

__all__ = ["DATA_DIR", "test_model_path", "sample_path", "SAMPLES", "Blob", "synthetic_frame", "synthetic_movie_2d",
           "synthetic_movie_3d", "synthetic_stack_tutorial", "tutorial_cell_count", "membrane_movie_2d",
           "membrane_movie_3d", "TUTORIAL_SHAPE_ZYX",
           "TUTORIAL_CELLS", "TUTORIAL_ANISOTROPY", "TUTORIAL_RADIUS_PX"]

DATA_DIR = Path(__file__).resolve().parent

#: Bundled samples: name -> file name. ``*_labels.tif`` beside each holds the synthetic ground truth.
SAMPLES = {"2dt": "sample_2dt.tif", "3dt": "sample_3dt.tif"}


def test_model_path() -> Path:
    """Path of the bundled cellpose-3 test model (trained on synthetic blobs; for tests and the demo only)."""
    return DATA_DIR / "tmcp_test_model.pth"


def sample_path(name: str, *, ground_truth: bool = False) -> Path:
    """Path of a bundled sample movie (``"2dt"`` or ``"3dt"``), or of its ground-truth label movie."""
    if name not in SAMPLES:
        from ..errors import UnknownNameError

        raise UnknownNameError(f"sample name must be one of {', '.join(SAMPLES)}, got {name!r}", key="name",
                               value=name)
    fname = SAMPLES[name]
    if ground_truth:
        fname = fname.replace(".tif", "_labels.tif")
    return DATA_DIR / fname
