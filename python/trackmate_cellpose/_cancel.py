"""Cancel that reaches every long stage: Ctrl-C in the command line, TrackMate's cancel in Fiji, a ``cancel=`` check.

A cancel check is only as prompt as the code that asks it. cellpose's dynamics and masks, numba's compiles and the
mesh building ask nothing for seconds to minutes on a large 3D stack; and Python's own Ctrl-C (a KeyboardInterrupt
raised wherever the main thread happens to be) is lost when it lands in a ctypes callback, which prints "Exception
ignored" and carries on, and numba's dispatcher turns one landing in its Python callbacks into a SystemError (a
cancelled run reported as a cellpose failure) or worse. Two mechanisms close those gaps:

* :func:`interruptible` (detection: the engine wraps every detect call in it): a helper thread asks the caller's
  ``cancel()`` every 0.2 s; once it says yes, :class:`Interrupted` (a :class:`~trackmate_cellpose.errors.Cancelled`)
  is raised in the thread doing the work, wherever it is (``PyThreadState_SetAsyncExc``, delivered between two
  bytecodes like a signal), and raised again every second until the work has stopped (a swallowed one is followed
  by the next), as long as the frame that entered the block is still running (a block that ended is never hit)
  and no numba or llvmlite frame is on the thread's stack (their C code does not survive an exception raised in
  its Python callbacks: the interrupt waits for the next poll; a numba compile is not interrupted).
  Works for any thread: TrackMate's thread in a Fiji run from Python, the worker's main thread.
* :func:`ctrl_c` (the command line): Ctrl-C records the request and raises KeyboardInterrupt as Python does (unless
  the main thread is inside numba: then only recorded); while the command has not ended, the request is delivered
  again every second, outside numba (``_thread.interrupt_main``, which goes through the signal handler, so a block
  that holds SIGINT, :func:`~trackmate_cellpose._outputs.deferred_sigint`, still finishes first).

A C call that does not return (one huge network batch) delays either until it does: both act between bytecodes.

Imports the standard library and :mod:`trackmate_cellpose.errors` only.
"""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Callable, Iterator

from .errors import Cancelled

#: How often the helper thread asks each running call's cancel check (seconds).
POLL_S = 0.2
#: How long after raising the cancel in a thread it is raised again if the work goes on (seconds).
REPEAT_S = 1.0


class Interrupted(Cancelled):
    """Raised inside running work by :func:`interruptible` when its cancel check said yes."""

    def __init__(self, message: str = "cancelled (the running stage was interrupted)"):
        super().__init__(message)


@dataclass(eq=False)
class _Watch:
    thread_id: int
    cancel: Callable[[], bool]
    frame: FrameType | None  # the frame that entered the block: once it is off the thread's stack, the block is over
    fired_at: float | None = None
    done: bool = False


_lock = threading.Lock()
_active: list[_Watch] = []
_wakeup = threading.Condition(_lock)
_watcher: threading.Thread | None = None


def _async_raise(thread_id: int, exc: type[BaseException]) -> None:
    """Raise ``exc`` in thread ``thread_id`` at its next bytecode."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc))


def _asked(w: _Watch) -> bool:
    try:
        return bool(w.cancel())
    except BaseException:  # noqa: BLE001 - a failing check (Fiji gone) is no cancel; the work reports its own error
        return False


#: Code where an exception raised from outside is not safe: numba's dispatcher and compiler run Python callbacks from
#: C and turn an exception there into "SystemError: ... returned a result with an exception set" (and worse);
#: llvmlite likewise. While such a frame is on the stack, the interrupt waits for the next poll.
_UNSAFE_PARTS = ("/numba/", "/llvmlite/", "\\numba\\", "\\llvmlite\\")


def safe_to_interrupt(thread_id: int) -> bool:
    """Whether thread ``thread_id`` runs only code that an exception from outside can stop cleanly (no numba or
    llvmlite frame on its stack); False for a thread that is not running."""
    return _safe_stack(sys._current_frames().get(thread_id))


def _safe_stack(f: FrameType | None) -> bool:
    if f is None:
        return False
    while f is not None:
        name = f.f_code.co_filename
        if any(part in name for part in _UNSAFE_PARTS):
            return False
        f = f.f_back
    return True


def _inside(w: _Watch) -> bool:
    """Whether the thread of ``w`` still runs the frame that entered the block (the block cannot have ended)."""
    f = sys._current_frames().get(w.thread_id)
    while f is not None:
        if f is w.frame:
            return True
        f = f.f_back
    return False


def _watch_loop() -> None:
    while True:
        with _lock:
            while not _active:
                _wakeup.wait()
            watches = list(_active)
        now = time.monotonic()
        for w in watches:
            if w.fired_at is not None and now - w.fired_at < REPEAT_S:
                continue
            if _asked(w):  # outside the lock: the check may call into Java
                with _lock:
                    if w.done:  # the call ended meanwhile: never raise into the caller's next code
                        continue
                    if not _inside(w):  # ended without saying so (a raise landed in its clean-up): forget it
                        w.done = True
                        _active.remove(w)
                        continue
                    if not safe_to_interrupt(w.thread_id):  # inside numba: ask again at the next poll
                        continue
                    _async_raise(w.thread_id, Interrupted)
                    w.fired_at = time.monotonic()
        time.sleep(POLL_S)


class interruptible:  # noqa: N801 - used like a function: ``with interruptible(cancel):``
    """Run the block so that ``cancel()`` turning true stops it from anywhere inside (see the module docstring).

    The block sees :class:`Interrupted` (a ``Cancelled``) where it was; nothing is raised after the block has ended.
    ``cancel`` None: the block runs as it is.
    """

    def __init__(self, cancel: Callable[[], bool] | None):
        self._cancel = cancel
        self._watch: _Watch | None = None

    def __enter__(self) -> None:
        global _watcher
        if self._cancel is None:
            return
        self._watch = _Watch(threading.get_ident(), self._cancel, sys._getframe(1))
        with _lock:
            _active.append(self._watch)
            if _watcher is None or not _watcher.is_alive():
                _watcher = threading.Thread(target=_watch_loop, name="trackmate-cellpose-cancel", daemon=True)
                _watcher.start()
            _wakeup.notify()

    def __exit__(self, *exc) -> None:
        if self._watch is not None:
            _end(self._watch)
            self._watch = None


def _end(w: _Watch) -> None:
    """Stop watching ``w``; an interrupt fired at its thread but not yet delivered lands here and is dropped (the
    block's own exception, if any, still propagates after this). Called in the block's own thread.

    A pending raise is never withdrawn with ``PyThreadState_SetAsyncExc(id, NULL)``: that call signals the interpreter
    even when nothing is pending, and CPython (3.11) then keeps its "pending work" flag set for good, which slows
    every thread and makes a later ``sys.setprofile`` (a profiler, a debugger) spin forever on one line."""
    while True:
        try:
            with _lock:
                w.done = True  # under the lock: the watcher raises only while this is False
                w.frame = None
                if w in _active:
                    _active.remove(w)
                fired = w.fired_at is not None
            if fired and w.thread_id == threading.get_ident():
                _let_pending_land()
            return
        except Interrupted:
            continue


def _let_pending_land() -> None:
    """Run a few bytecodes with checks for pending work: a raise still pending for this thread is delivered here."""
    for _ in range(4):  # every loop jump, like every call, is a point where CPython delivers an async exception
        pass


# ---- Ctrl-C in the command line ---------------------------------------------------------------------------------
_sigint_at: list[float] = []


def sigint_requested() -> bool:
    """True once Ctrl-C was pressed inside :func:`ctrl_c` (a cancel check for the work of a command)."""
    return bool(_sigint_at)


@contextmanager
def ctrl_c() -> Iterator[None]:
    """Ctrl-C for the block (a whole command): raise KeyboardInterrupt as Python does, and again every second while
    the block goes on (a KeyboardInterrupt lost in a ctypes callback is followed by the next). Main thread only;
    elsewhere the block runs unchanged."""
    import _thread

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    ending = threading.Event()

    def handler(signum, frame):
        _sigint_at.append(time.monotonic())
        # only recorded: a re-delivery that arrives while the block ends, and any Ctrl-C inside numba (delivered again
        # a second later, once the main thread is out of it)
        if not ending.is_set() and _safe_stack(sys._getframe()):  # ``frame`` is None when deferred_sigint calls
            raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main interpreter
        yield
        return
    if previous == signal.SIG_IGN:  # started with Ctrl-C ignored (nohup, a background job): keep it so
        signal.signal(signal.SIGINT, previous)
        yield
        return
    done = threading.Event()

    def redeliver() -> None:
        while not done.wait(POLL_S):
            if (_sigint_at and time.monotonic() - _sigint_at[-1] >= REPEAT_S
                    and safe_to_interrupt(threading.main_thread().ident)):
                _thread.interrupt_main()  # through the handler: a deferred_sigint block finishes first

    helper = threading.Thread(target=redeliver, name="trackmate-cellpose-ctrl-c", daemon=True)
    _sigint_at.clear()
    helper.start()
    try:
        yield
    finally:
        while True:  # a re-delivery landing before ``ending`` is set must not cut this short
            try:
                ending.set()
                done.set()
                helper.join()
                signal.signal(signal.SIGINT, previous)
                _sigint_at.clear()
                break
            except KeyboardInterrupt:
                continue
