"""Exception hierarchy of trackmate-cellpose (leaf module).

Every message names the parameter, the value received and what was expected, e.g.
``flow_threshold must be >= 0, got -0.2``.

Imports: none; package: none.
"""

from __future__ import annotations

__all__ = [
    "TrackMateCellposeError",
    "InvalidSettingsError",
    "InvalidImageError",
    "InvalidTrainingDataError",
    "BackendUnavailableError",
    "MissingPackageError",
    "SegmentationError",
    "Cancelled",
    "OutputExistsError",
    "UsageError",
    "TrackMateError",
]


class TrackMateCellposeError(Exception):
    """Base class of every error raised on purpose by this package."""


class InvalidSettingsError(TrackMateCellposeError, ValueError):
    """A setting has a wrong type, is out of range, or is unknown.

    Attributes
    ----------
    key : str or None
        The TrackMate key (UPPER_SNAKE) or field name of the offending setting.
    value : object
        The value received.
    """

    def __init__(self, message: str, *, key: str | None = None, value: object = None):
        super().__init__(message)
        self.key = key
        self.value = value


class InvalidImageError(TrackMateCellposeError, ValueError):
    """The input image has unsupported axes, shape, dtype or content."""


class InvalidTrainingDataError(TrackMateCellposeError, ValueError):
    """Curated TrackMate spots that cannot train a model: an XML made on another image size, no curated frame, a
    chosen frame without spots, spots without outlines (2D) or meshes (3D)."""


class BackendUnavailableError(TrackMateCellposeError, RuntimeError):
    """A required backend (cellpose, torch, a JVM, Fiji, a model file, a GPU) is missing."""


class MissingPackageError(BackendUnavailableError):
    """A compiled package that one feature needs is not installed in this Python (a Python that has cellpose but not
    everything of trackmate-cellpose, e.g. a detector worker running the update site's code). The message names the
    package, what needs it, and the one command that installs it into this Python."""

    def __init__(self, package: str, needed_for: str):
        import shlex
        import sys

        self.package, self.needed_for = package, needed_for
        self.command = f"{shlex.quote(sys.executable)} -m pip install {package}"
        super().__init__(f"{package} is missing in the Python {sys.executable}: {needed_for} need(s) it. To add it "
                         f"there, run: {self.command}")


class SegmentationError(TrackMateCellposeError, RuntimeError):
    """Cellpose failed on a frame. Carries the frame index and the settings used."""

    def __init__(self, message: str, *, frame: int | None = None, settings: object = None):
        super().__init__(message if frame is None else f"frame {frame}: {message}")
        self.frame = frame
        self.settings = settings


class Cancelled(TrackMateCellposeError):
    """The work was cancelled on request (TrackMate's Cancel, Ctrl-C, a cancel token)."""


class OutputExistsError(TrackMateCellposeError, FileExistsError):
    """Outputs of an earlier run are in the way; nothing is replaced unless asked (``overwrite=True``).

    Attributes
    ----------
    paths : list of Path
        The existing files and folders that would be replaced.
    """

    def __init__(self, message: str, *, paths: list | None = None):
        super().__init__(message)
        self.paths = list(paths or [])


class UsageError(TrackMateCellposeError):
    """Bad command-line usage: a missing, conflicting or malformed option (the CLI exits with code 2)."""


class TrackMateError(TrackMateCellposeError, RuntimeError):
    """TrackMate reported an error (its one-line message; the log holds the details).

    Attributes
    ----------
    log : str
        TrackMate's log text of the failed run.
    """

    def __init__(self, message: str, *, log: str = ""):
        super().__init__(message)
        self.log = log
