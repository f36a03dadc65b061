"""Terminal output of the command line: one clean line per notice, never on top of a progress bar.

Every notice (the pipeline's ``log`` callback, Python warnings, cellpose's log records) goes through the
``trackmate_cellpose`` logger to one handler that writes ``trackmate-cellpose: <message>`` with ``tqdm.write``, so a
progress bar that is being drawn is cleared first and redrawn after the line. Without ``--debug``: warnings raised
by other packages (torch, cellpose, numpy ...) are dropped (their deprecations and "Sparse invariant checks" are not
the user's business), our own warnings print as one line without file, line number or source line, and a notice
repeated word for word prints once. With ``--debug`` everything is shown, with its origin.

Errors print as one line (:func:`one_line`) in the command line's words; :data:`INPUT_ERRORS` are those that mean
bad usage or invalid input (exit 2).

Imports: tqdm (lazily); package: errors, segment._disk_cache (lazily).
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from pathlib import Path

from ..errors import (InvalidImageError, InvalidSettingsError, InvalidTrainingDataError, OutputExistsError,
                      UnreadableInputError, UsageError)

PREFIX = "trackmate-cellpose"
#: Errors that mean bad usage or invalid input (exit 2); any other error is a runtime failure (exit 1).
INPUT_ERRORS = (UsageError, InvalidSettingsError, InvalidImageError, InvalidTrainingDataError, UnreadableInputError,
                OutputExistsError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
#: Library messages name Python keywords; the command line says its flags instead.
_KEYWORD_FLAGS = {"overwrite=True": "--overwrite"}
_LOGGER = "trackmate_cellpose"
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


class _TqdmHandler(logging.Handler):
    """Write records with ``tqdm.write`` (clears and redraws live bars), to the stream current at emit time."""

    def __init__(self, *, dedupe: bool) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self._seen_lock = threading.Lock()  # never held while writing
        self._dedupe = dedupe

    def handle(self, record: logging.LogRecord) -> bool:
        """As ``logging.Handler.handle``, without holding the handler's lock around :meth:`emit`.

        ``tqdm.write`` takes tqdm's lock; a thread that draws a progress bar holds that lock and logs (cellpose's
        bars write to its logger), so a handler lock held around the write is taken in the opposite order by the two
        threads (the network's and the masks' of the pipelined engine): a deadlock. tqdm's lock alone orders the
        writes."""
        rv = self.filter(record)
        if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may return a changed record
            record = rv
        if rv:
            self.emit(record)
        return bool(rv)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            if self._dedupe:  # on the words, not the level: a notice also raised as a warning prints once
                words = " ".join(record.getMessage().split())
                with self._seen_lock:
                    if words in self._seen:
                        return
                    self._seen.add(words)
            from tqdm import tqdm

            tqdm.write(msg, file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never break the run
            self.handleError(record)


class _Formatter(logging.Formatter):
    def __init__(self, debug: bool) -> None:
        super().__init__()
        self._debug = debug

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if not self._debug:
            text = " ".join(text.split())  # one line, whatever the source wrote
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        origin = f" [{record.name}]" if self._debug and not record.name.startswith(_LOGGER) else ""
        return f"{PREFIX}: {level}{text}{origin}"


def one_line(e: BaseException) -> str:
    """The first line of an error's message, in the command line's words (``--overwrite`` for ``overwrite=True``)."""
    text = str(e).strip()
    msg = text.splitlines()[0] if text else type(e).__name__
    for keyword, flag in _KEYWORD_FLAGS.items():
        msg = msg.replace(keyword, flag)
    return msg


def get_logger() -> logging.Logger:
    return logging.getLogger(_LOGGER)


def _is_ours(filename: str, category: type) -> bool:
    return str(filename).startswith(_PACKAGE_DIR) or category.__module__.startswith(_LOGGER)


def setup_logging(*, debug: bool = False, quiet: bool = False) -> logging.Logger:
    """Install the one handler, route warnings and cellpose's records through it; return the package logger.

    ``quiet`` keeps warnings and errors but drops informational notices.
    """
    log = get_logger()
    for h in list(log.handlers):
        if isinstance(h, _TqdmHandler):
            log.removeHandler(h)
    handler = _TqdmHandler(dedupe=not debug)
    handler.setFormatter(_Formatter(debug))
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO))

    third = logging.getLogger(f"{_LOGGER}.third_party")
    cp = logging.getLogger("cellpose")
    for h in list(cp.handlers):
        if isinstance(h, _TqdmHandler):
            cp.removeHandler(h)
    cp.addHandler(handler)  # never Python's last-resort handler, which would write over the progress bar
    cp.propagate = False
    cp.setLevel(logging.INFO if debug else logging.ERROR)

    def showwarning(message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message)
        if debug:
            log.warning("%s: %s (%s:%s)", category.__name__, text, filename, lineno)
        elif _is_ours(filename, category):
            log.warning("%s", text)
        else:
            third.debug("%s: %s", category.__name__, text)

    warnings.showwarning = showwarning
    if debug:
        warnings.simplefilter("default")
    else:
        # our own deprecations (renamed settings keys, old option spellings) are meant for the user
        warnings.filterwarnings("default", category=DeprecationWarning, module=r"trackmate_cellpose(\..*)?$")
    return log


#: Modules of cellpose that draw their own tqdm bars straight onto stderr (2D+Z: one bar per frame over the planes).
_BAR_MODULES = ("cellpose.dynamics", "cellpose.utils")


def quiet_third_party_bars(*, debug: bool = False) -> None:
    """Switch off the progress bars cellpose draws on stderr itself (ours already shows the progress); ``--debug``
    keeps them. Imports cellpose (about to be used for detection anyway); does nothing if it is not installed."""
    if debug:
        return
    import functools

    import tqdm as _tqdm

    from ..segment._disk_cache import import_cellpose  # numba's cache on, as detection imports cellpose

    for name in _BAR_MODULES:
        try:
            mod = import_cellpose(name)
        except Exception:  # noqa: BLE001 - no cellpose here: nothing to quiet
            continue
        for attr, fn in (("trange", _tqdm.trange), ("tqdm", _tqdm.tqdm)):
            if getattr(mod, attr, None) is fn:
                setattr(mod, attr, functools.partial(fn, disable=True))
