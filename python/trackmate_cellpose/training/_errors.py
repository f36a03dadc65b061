"""Temporary home of the training error until errors.py takes it (after the layout change)."""

from __future__ import annotations

from ..errors import TrackMateCellposeError

__all__ = ["InvalidTrainingDataError"]


class InvalidTrainingDataError(TrackMateCellposeError, ValueError):
    """The curated spots cannot train a model: no curated frame, a frame without spots, no shapes, a size mismatch."""
