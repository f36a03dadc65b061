"""trackmate-cellpose: cellpose segmentation as a TrackMate detector, in Fiji or standalone.

Importing this package starts no JVM and loads neither torch, cellpose nor jpype; those load on first use.

What is public: this package's names (``__all__`` below) and the ``__all__`` of the modules and subpackages whose
names have no leading underscore (``settings``, ``errors``, ``calibration``, ``axes``, ``results``, ``detect``,
``reader``, ``pipeline``, ``diagnosis``, ``data``, ``cli``, ``segment``, ``geometry``, ``export``, ``tracking``,
``distributed``, ``bridge``, ``training``, and ``bridge.worker``, the worker program Java starts). Every ``_module`` is private
implementation, re-exported where it is public. Old names go through ``_deprecated`` for one release.
"""

from ._version import __version__
from .calibration import Calibration
from .errors import (BackendUnavailableError, Cancelled, InvalidImageError, InvalidSettingsError,
                     SegmentationError, TrackMateCellposeError)
from .results import Detection, DetectionResult, FrameResult, Mesh
from .settings import DETECTOR_KEY, DetectorSettings, RuntimeOptions
from .detect import detect
from .data import sample_path, test_model_path
from ._deprecated import install_module_aliases

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
    "sample_path",
    "test_model_path",
    "TrackMateCellposeError",
    "InvalidSettingsError",
    "InvalidImageError",
    "BackendUnavailableError",
    "SegmentationError",
    "Cancelled",
]

install_module_aliases()  # old module names (trackmate_cellpose.objects ...) import with a DeprecationWarning


def __getattr__(name: str):  # deprecated names (Placement, Hooks)
    from ._deprecated import moved_name

    return moved_name(__name__, name)
