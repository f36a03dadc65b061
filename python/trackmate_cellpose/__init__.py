"""trackmate-cellpose: cellpose segmentation as a TrackMate detector, in Fiji or standalone.

Importing this package starts no JVM and loads neither torch, cellpose nor jpype; those load on first use.
"""

from ._version import __version__
from .axes import Calibration
from .call import Hooks, Placement
from .errors import (BackendUnavailableError, Cancelled, InvalidImageError, InvalidSettingsError,
                     SegmentationError, TrackMateCellposeError)
from .objects import Detection, DetectionResult, FrameResult, Mesh
from .settings import DETECTOR_KEY, DetectorSettings, RuntimeOptions
from .detect import detect
from .data import sample_path, test_model_path

__all__ = [
    "__version__",
    "Calibration",
    "DetectorSettings",
    "RuntimeOptions",
    "DETECTOR_KEY",
    "Detection",
    "DetectionResult",
    "FrameResult",
    "Mesh",
    "detect",
    "Placement",
    "Hooks",
    "sample_path",
    "test_model_path",
    "TrackMateCellposeError",
    "InvalidSettingsError",
    "InvalidImageError",
    "BackendUnavailableError",
    "SegmentationError",
    "Cancelled",
]
