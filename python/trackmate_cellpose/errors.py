"""Exception hierarchy of trackmate-cellpose (leaf module).

Every message names the parameter, the value received and what was expected, e.g.
``flow_threshold must be >= 0, got -0.2``. Like appose's ``TaskException``, each error carries the object that failed
as attributes (the path, the setting's key and value, the frame ...), so a caller need not parse the message.

Every error raised on purpose derives from :class:`TrackMateCellposeError`. Where callers expect a built-in type
(``FileNotFoundError``, ``PermissionError``, ``ValueError`` ...), the package's error derives from that type too, so
``except FileNotFoundError`` keeps working. Library messages name the Python keyword (``overwrite=True``); the
command line maps a keyword to its flag (``--overwrite``). Every class pickles (errors cross process boundaries:
dask workers, the Fiji worker).

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
    "UnknownNameError",
    "ForeignOutputError",
    "UnreadableInputError",
    "PathError",
    "PathNotFoundError",
    "NotAFolderError",
    "IsAFolderError",
    "NotWritableError",
    "DiskFullError",
    "WorkersTimeoutError",
]


class TrackMateCellposeError(Exception):
    """Base class of every error raised on purpose by this package."""


class InvalidSettingsError(TrackMateCellposeError, ValueError):
    """A setting or an option (a keyword of a public function) has a wrong type, is out of range, or is unknown.

    Attributes
    ----------
    key : str or None
        The TrackMate key (UPPER_SNAKE), field name or keyword of the offending setting.
    value : object
        The value received.
    """

    def __init__(self, message: str, *, key: str | None = None, value: object = None):
        super().__init__(message)
        self.key = key
        self.value = value


class UnknownNameError(InvalidSettingsError, KeyError):
    """A name (a bundled sample ...) that is not among the known ones; also a ``KeyError``, as a lookup by name."""

    __str__ = InvalidSettingsError.__str__  # KeyError would show the message in quotes


class InvalidImageError(TrackMateCellposeError, ValueError):
    """The input image has unsupported axes, shape, dtype or content, or its file holds less than it declares.

    Attributes
    ----------
    path : Path or None
        The image file, when the image came from one.
    """

    def __init__(self, message: str, *, path: object = None):
        super().__init__(message)
        self.path = path


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


class ForeignOutputError(OutputExistsError):
    """A file or folder at one of the names an output would take was not written by this program (a GEFF folder
    without our metadata, a user's folder named like an output ...): it is never replaced, even with
    ``overwrite=True``.

    Attributes
    ----------
    paths : list of Path
        The foreign files and folders (the first one is named in the message).
    """


class UnreadableInputError(TrackMateCellposeError, ValueError):
    """An input file (TrackMate XML, GEFF, PLY mesh) cannot be read: malformed, truncated, or not of that kind.

    Attributes
    ----------
    path : Path or None
        The file or folder that could not be read.
    reason : str
        What is wrong with it (the parser's words).
    """

    def __init__(self, message: str, *, path: object = None, reason: str = ""):
        super().__init__(message)
        self.path = path
        self.reason = reason


class PathError(TrackMateCellposeError):
    """An error about one path (the four classes below derive from it): carries it as ``path``."""

    def __init__(self, message: str, *, path: object = None):
        super().__init__(message)
        self.path = path


class PathNotFoundError(PathError, FileNotFoundError):
    """An input file, or the folder an output goes into, does not exist.

    Attributes
    ----------
    path : Path or None
    """


class NotAFolderError(PathError, NotADirectoryError):
    """A path that must be (or become) a folder is a file, or has a file among its parents.

    Attributes
    ----------
    path : Path or None
    """


class IsAFolderError(PathError, IsADirectoryError):
    """A path that must be a file is a folder.

    Attributes
    ----------
    path : Path or None
    """


class NotWritableError(PathError, PermissionError):
    """An output folder cannot be written (permissions, a read-only mount).

    Attributes
    ----------
    path : Path or None
    """


class DiskFullError(TrackMateCellposeError, OSError):
    """No space left on the device while writing an output; what was written is rolled back.

    Attributes
    ----------
    path : Path or None
        The file being written when the device filled up.
    folder : Path or None
        The output folder (whose file system is full).
    errno : int
        ``errno.ENOSPC`` (or ``EDQUOT`` for a full quota).
    """

    def __init__(self, message: str, *, path: object = None, folder: object = None, errno: int = 28):
        super().__init__(message)
        self.path = path
        self.folder = folder
        self.errno = errno


class WorkersTimeoutError(TrackMateCellposeError, TimeoutError):
    """Cluster workers (SLURM jobs) did not connect within the time given; a ``TimeoutError``.

    Attributes
    ----------
    waited_s : float or None
        The time waited, in seconds.
    """

    def __init__(self, message: str, *, waited_s: float | None = None):
        super().__init__(message)
        self.waited_s = waited_s
