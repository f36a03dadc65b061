"""The warm Python worker of a classic Fiji launch (a Fiji with no Python in its process).

The Java glue (``trackmatecellpose.glue.CellposePyWorker``) starts ONE ``python -m
trackmate_cellpose.bridge.worker --shared-dir DIR`` per Fiji on the first detection or Preview and keeps it for every
later call, so the cellpose model loads once (the adapter's model cache lives in this process). Requests and results
travel over the child's stdin/stdout in the binary protocol below; pixels travel through memory-mapped files that Java
writes in ``DIR`` (a private folder, readable by the user only). Detection itself is the in-process service's
:func:`~trackmate_cellpose.bridge._service.serve_request`, with numpy-backed request and sink objects.

At start the protocol's file descriptors are moved away from 0 and 1 (fd 1 then points to stderr), so that prints from
cellpose, torch or tqdm cannot corrupt the protocol; Java drains stderr. The worker exits when stdin closes (Fiji
exited or was killed) and then removes ``DIR``. Imports nothing from JPype.

Protocol (version :data:`PROTOCOL`); big-endian; ``str`` = int32 byte length + UTF-8; ``int[]``/``double[]``/
``str[]`` = int32 count + elements (int32 / float64 / str)::

    worker -> Java (stdout)
      H  hello: int32 n, then n (str key, str value): protocol, train (the training protocol, 1), version, python,
         pid, cellpose, device, default_model, models (comma-separated); or error (cellpose cannot be imported: the
         worker then exits)
      F  int32 i                      send frame i of the current request
      G  float64 fraction, str status progress
      L  str                          a line for TrackMate's log
      O  int32 frame, int[] nPoints, double[] x, double[] y, double[] quality, str[] names, double[] features
      M  int32 frame, double[] centers, double[] radius, double[] quality, int[] nVertices, double[] vertices,
         int[] nFaces, int[] faces, str[] names, double[] features
      D  int32 frame                  frame done (an empty frame still counts)
      X  str summary, str details     failure (one line for TrackMate's error message, the traceback for its log)
      K  int32 n, then n (str key, str value)   the result of a training request (TrainingSink.finished)
      E  int32 request id, int8 status (0 ok, 1 canceled, 2 failed)   end of the request
    Java -> worker (stdin)
      R  int32 request id, int32 n, then n (str key, int8 type 's'/'i'/'d'/'b', value str/int64/float64/int8),
         int8 is3D, int32 firstFrame, int32 nFrames, int64[4] shape CZYX, int64[3] origin XYZ,
         float64[4] calibration XYZT, str spaceUnit, str timeUnit, str dtype, str imageName
      P  int32 i, str path, int64 nbytes, str error   frame i lies in file ``path`` (bytes 0..nbytes, little-endian
         dtype, (C, Z, Y, X) C-order); error non-empty = Java could not copy it
      T  int32 request id, int32 n, then n options (as the settings of R), then R's body after its id: a training
         request (TrackMate's action "Retrain cellpose on these spots"; frames, progress, log, failure, cancel and end
         as for R, the result as K)
      C  int32 request id             cancel that request
      (end of stdin)                  exit
"""

from __future__ import annotations

import argparse
import mmap
import os
import queue
import shutil
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import BackendUnavailableError
from ..settings import RuntimeOptions

__all__ = ["PROTOCOL", "main", "Channel"]

#: Protocol version, checked by the Java side at the handshake.
PROTOCOL = "1"
#: Version of the training messages (T, K), announced at the handshake as ``train``; the Java side trains only with a
#: worker that announces it.
TRAINING_PROTOCOL = "1"
_STATUS = {"ok": 0, "canceled": 1, "failed": 2}
_EOF = object()


# -- encoding ------------------------------------------------------------------------------------------------------

def _str(s: str) -> bytes:
    b = str(s).encode("utf-8", "replace")
    return struct.pack(">i", len(b)) + b


def _ints(a: Any) -> bytes:
    a = np.asarray(a, dtype=">i4").ravel()
    return struct.pack(">i", a.size) + a.tobytes()


def _doubles(a: Any) -> bytes:
    a = np.asarray(a, dtype=">f8").ravel()
    return struct.pack(">i", a.size) + a.tobytes()


def _strs(items: Any) -> bytes:
    items = list(items)
    return struct.pack(">i", len(items)) + b"".join(_str(s) for s in items)


class _Reader:
    def __init__(self, f: BinaryIO):
        self.f = f

    def exact(self, n: int) -> bytes:
        chunks, got = [], 0
        while got < n:  # a pipe may return short reads
            b = self.f.read(n - got)
            if not b:
                raise EOFError
            chunks.append(b)
            got += len(b)
        return b"".join(chunks)

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.exact(struct.calcsize(fmt)))

    def int(self) -> int:
        return self.unpack(">i")[0]

    def str(self) -> str:
        return self.exact(self.int()).decode("utf-8")


class Channel:
    """The worker's end of the protocol: writes messages (thread-safe) to ``out``."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self._lock = threading.Lock()

    def send(self, tag: bytes, body: bytes = b"") -> None:
        with self._lock:
            self.out.write(tag + body)
            self.out.flush()


# -- numpy-backed request and sink (same method names as the Java DetectionRequest / DetectionSink) -------------------

def _typed_map(r: _Reader, what: str) -> dict[str, Any]:
    """int32 n, then n (str key, int8 type 's'/'i'/'d'/'b', value)."""
    out: dict[str, Any] = {}
    for _ in range(r.int()):
        key, kind = r.str(), r.exact(1)
        if kind == b"s":
            out[key] = r.str()
        elif kind == b"i":
            out[key] = r.unpack(">q")[0]
        elif kind == b"d":
            out[key] = r.unpack(">d")[0]
        elif kind == b"b":
            out[key] = bool(r.unpack(">b")[0])
        else:
            raise ValueError(f"{what} {key}: unknown value type {kind!r} in the request")
    return out


class WorkerRequest:
    """``DetectionRequest`` read from an ``R`` message (or, with ``training``, a ``TrainingRequest`` from a ``T``
    message: its options come first); :meth:`frame` asks Java for the pixels (``F``/``P``)."""

    def __init__(self, r: _Reader, worker: "Worker", *, training: bool = False):
        self.worker = worker
        self.id = r.int()
        self.training = training
        self._options = _typed_map(r, "option") if training else {}
        self._settings = _typed_map(r, "setting")
        self._is3d = bool(r.unpack(">b")[0])
        self._first, self._n = r.unpack(">ii")
        self._shape = r.unpack(">4q")
        self._origin = r.unpack(">3q")
        self._cal = r.unpack(">4d")
        self._space, self._time, self._dtype, self._name = r.str(), r.str(), r.str(), r.str()
        self.canceled = threading.Event()

    def settings(self) -> dict[str, Any]:
        return self._settings

    def options(self) -> dict[str, Any]:
        return self._options

    def is3D(self) -> bool:  # noqa: N802 - the Java interface's names
        return self._is3d

    def firstFrame(self) -> int:  # noqa: N802
        return self._first

    def nFrames(self) -> int:  # noqa: N802
        return self._n

    def frameShapeCZYX(self) -> tuple:  # noqa: N802
        return self._shape

    def originXYZ(self) -> tuple:  # noqa: N802
        return self._origin

    def calibrationXYZT(self) -> tuple:  # noqa: N802
        return self._cal

    def spaceUnit(self) -> str:  # noqa: N802
        return self._space

    def timeUnit(self) -> str:  # noqa: N802
        return self._time

    def dtype(self) -> str:
        return self._dtype

    def imageName(self) -> str:  # noqa: N802
        return self._name

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` (a copy: the mapped file is reused for the next frame)."""
        return self.worker.fetch_frame(self, i)


class WorkerSink:
    """``DetectionSink`` that writes protocol messages; its cancel flag is set by the stdin reader (``C``)."""

    def __init__(self, channel: Channel, request: WorkerRequest):
        self.ch, self.request = channel, request

    def progress(self, fraction: float, status: str) -> None:
        self.ch.send(b"G", struct.pack(">d", float(fraction)) + _str(status))

    def log(self, message: str) -> None:
        self.ch.send(b"L", _str(message))

    def isCanceled(self) -> bool:  # noqa: N802
        return self.request.canceled.is_set()

    def fail(self, summary: str, details: str) -> None:
        self.ch.send(b"X", _str(summary) + _str(details))

    def frameDone(self, frame: int) -> None:  # noqa: N802
        self.ch.send(b"D", struct.pack(">i", int(frame)))

    def finished(self, keys: list[str], values: list[str]) -> None:
        """``TrainingSink.finished``: the result of a training request (``K``)."""
        self.ch.send(b"K", struct.pack(">i", len(keys)) + b"".join(_str(k) + _str(v) for k, v in zip(keys, values)))


def send_frame(sink: WorkerSink, fr: Any, is_3d: bool) -> None:
    """Worker transport of one frame's detections (the arrays of ``frame_arrays``, as bytes)."""
    from ._service import frame_arrays

    a = frame_arrays(fr, is_3d)
    sink.frameDone(a["frame"])
    tail = _doubles(a.get("quality", ())) if a["kind"] != "none" else b""
    feats = _strs(a["names"]) + _doubles(a["features"]) if a["kind"] != "none" else b""
    head = struct.pack(">i", a["frame"])
    if a["kind"] == "rois":
        sink.ch.send(b"O", head + _ints(a["n_points"]) + _doubles(a["x"]) + _doubles(a["y"]) + tail + feats)
    elif a["kind"] == "meshes":
        sink.ch.send(b"M", head + _doubles(a["centers"]) + _doubles(a["radius"]) + tail + _ints(a["n_vertices"])
                     + _doubles(a["vertices"]) + _ints(a["n_faces"]) + _ints(a["faces"]) + feats)


# -- the worker --------------------------------------------------------------------------------------------------

class Worker:
    """Reads stdin in a thread (requests, frame replies, cancel, EOF) and serves requests one at a time."""

    def __init__(self, inp: BinaryIO, out: BinaryIO, shared_dir: Path | None):
        self.reader = _Reader(inp)
        self.ch = Channel(out)
        self.shared_dir = shared_dir
        self.requests: queue.Queue = queue.Queue()
        self.frames: queue.Queue = queue.Queue()
        self.current: WorkerRequest | None = None
        self.closed = threading.Event()
        self._maps: dict[str, tuple[int, mmap.mmap]] = {}

    # stdin ---------------------------------------------------------------------------------------------------------
    def read_loop(self) -> None:
        r = self.reader
        try:
            while True:
                tag = r.exact(1)
                if tag == b"R":
                    self.requests.put(WorkerRequest(r, self))
                elif tag == b"T":
                    self.requests.put(WorkerRequest(r, self, training=True))
                elif tag == b"P":
                    i, path, nbytes, error = r.int(), r.str(), r.unpack(">q")[0], r.str()
                    self.frames.put((i, path, nbytes, error))
                elif tag == b"C":
                    rid, cur = r.int(), self.current
                    if cur is not None and cur.id == rid:
                        cur.canceled.set()
                else:
                    raise ValueError(f"unknown message {tag!r} from Fiji")
        except EOFError:
            pass
        except BaseException as e:  # noqa: BLE001 - a broken protocol ends the worker like a closed stdin
            print(f"trackmate-cellpose worker: protocol error: {type(e).__name__}: {e}", file=sys.stderr)
        self.closed.set()
        cur = self.current
        if cur is not None:
            cur.canceled.set()  # Fiji is gone: stop at the next check
        self.requests.put(_EOF)
        self.frames.put(_EOF)

    def fetch_frame(self, request: WorkerRequest, i: int) -> np.ndarray:
        self.ch.send(b"F", struct.pack(">i", int(i)))
        got = self.frames.get()
        if got is _EOF:
            raise BackendUnavailableError("Fiji closed the connection while sending pixels")
        j, path, nbytes, error = got
        if error:
            raise BackendUnavailableError(f"Fiji could not send frame {i}: {error}")
        if j != i:
            raise BackendUnavailableError(f"protocol error: asked for frame {i}, got frame {j}")
        from ._service import _DTYPES

        dtype = np.dtype(_DTYPES[request.dtype()]).newbyteorder("<")
        mm = self._map(path, nbytes)
        count = nbytes // dtype.itemsize
        arr = np.frombuffer(mm, dtype=dtype, count=count).astype(dtype.newbyteorder("="), copy=True)
        return arr.reshape(tuple(int(s) for s in request.frameShapeCZYX()))

    def _map(self, path: str, nbytes: int) -> mmap.mmap:
        held = self._maps.get(path)
        if held is None or held[0] < nbytes:
            if held is not None:
                held[1].close()
            for p, (_, m) in list(self._maps.items()):  # Java moved to a bigger file: let go of the old ones
                if p != path:
                    m.close()
                    del self._maps[p]
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                held = (size, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ))
            self._maps[path] = held
        return held[1]

    # requests -------------------------------------------------------------------------------------------------------
    def serve(self, runtime: RuntimeOptions) -> None:
        from ..segment import adapter
        from ._service import serve_request

        while True:
            req = self.requests.get()
            if req is _EOF:
                return
            self.current = req
            if self.closed.is_set():
                req.canceled.set()
            sink = WorkerSink(self.ch, req)
            loaded = len(adapter._CACHE)
            if req.training:
                from ._training import serve_training

                status = serve_training(req, sink, runtime, finish=lambda s, res: s.finished(list(res),
                                                                                            list(res.values())))
            else:
                status = serve_request(req, sink, None, runtime, send_frame)
            if len(adapter._CACHE) > loaded:  # the model cache lives as long as this worker
                sink.log(f"Python worker: model loaded (models loaded by this worker so far: {len(adapter._CACHE)})")
            self.current = None
            self.ch.send(b"E", struct.pack(">ib", req.id, _STATUS[status]))

    def close(self) -> None:
        for _, m in self._maps.values():
            m.close()
        self._maps.clear()
        if self.shared_dir is not None:
            shutil.rmtree(self.shared_dir, ignore_errors=True)


def _take_protocol_fds() -> tuple[BinaryIO, BinaryIO]:
    """Protocol streams on private descriptors; fd 0 reads nothing and fd 1 (and ``sys.stdout``) goes to stderr."""
    inp = os.fdopen(os.dup(0), "rb", buffering=0)
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return inp, out


def _watch_exit(worker: Worker, grace_s: float) -> None:
    """After stdin closed, give the current detection ``grace_s`` to notice the cancel, then end the process (a
    killed Fiji leaves no worker behind even when cellpose does not check the cancel flag for a while)."""
    worker.closed.wait()
    time.sleep(grace_s)
    worker.close()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trackmate_cellpose.bridge.worker",
                                description="The Python worker of the Fiji detector (started by Fiji; talks a binary "
                                            "protocol on stdin/stdout, not for interactive use).")
    p.add_argument("--shared-dir", type=Path, default=None,
                   help="private folder of the pixel files; removed when the worker ends")
    args = p.parse_args(argv)
    inp, out = _take_protocol_fds()
    worker = Worker(inp, out, args.shared_dir)
    from ._service import python_facts

    facts = {"protocol": PROTOCOL, "train": TRAINING_PROTOCOL, **python_facts()}
    worker.ch.send(b"H", struct.pack(">i", len(facts)) + b"".join(_str(k) + _str(v) for k, v in facts.items()))
    if "error" in facts:
        worker.close()
        return 1
    threading.Thread(target=worker.read_loop, name="tmcp-worker-stdin", daemon=True).start()
    threading.Thread(target=_watch_exit, args=(worker, 15.0), name="tmcp-worker-exit", daemon=True).start()
    try:
        worker.serve(RuntimeOptions())
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
