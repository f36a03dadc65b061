"""The classic-launch Python worker (``trackmate_cellpose.bridge.worker``) driven from Python over its real protocol:
a subprocess, real pixels through a memory-mapped file, real detections of the bundled test model, cancel, EOF.

The client below plays the Java side (``CellposePyWorker``) byte for byte as documented in the worker's docstring.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import DetectorSettings, detect, sample_path
from trackmate_cellpose.calibration import Calibration

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


class Client:
    """The Java side of the protocol, in Python (test support)."""

    def __init__(self, shared: Path, *, path: list[str] | None = None, prelude: str | None = None):
        shared.mkdir(mode=0o700, exist_ok=True)
        self.shared = shared
        start = ["-m", "trackmate_cellpose.bridge.worker"]
        if prelude:  # code run in the worker process before the worker's main (test support)
            start = ["-c", f"{prelude}\nimport runpy, sys\nsys.argv[0] = 'worker'\n"
                           "runpy.run_module('trackmate_cellpose.bridge.worker', run_name='__main__')"]
        pythonpath = [*(path or []), str(REPO / "python"), os.environ.get("PYTHONPATH", "")]
        self.proc = subprocess.Popen([sys.executable, *start, "--shared-dir", str(shared)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in pythonpath if p)})
        self.stderr: list[bytes] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        self.out, self.inp = self.proc.stdin, self.proc.stdout
        self.pixels = shared / "pixels-0.bin"

    # decoding
    def exact(self, n):
        b = self.inp.read(n)
        if len(b) < n:
            raise EOFError
        return b

    def i32(self):
        return struct.unpack(">i", self.exact(4))[0]

    def s(self):
        return self.exact(self.i32()).decode()

    def arr(self, fmt):
        n = self.i32()
        return np.frombuffer(self.exact(n * (4 if fmt == ">i4" else 8)), dtype=fmt)

    def strs(self):
        return [self.s() for _ in range(self.i32())]

    def hello(self) -> dict:
        assert self.exact(1) == b"H"
        return {self.s(): self.s() for _ in range(self.i32())}

    def send(self, b: bytes):
        self.out.write(b)
        self.out.flush()

    @staticmethod
    def typed_map(d: dict) -> bytes:
        """A settings/options map as Java writes it: int32 n, then n (str key, type 's'/'i'/'d'/'b', value)."""
        body = struct.pack(">i", len(d))
        for k, v in d.items():
            kb = k.encode()
            body += struct.pack(">i", len(kb)) + kb
            if isinstance(v, bool):
                body += b"b" + struct.pack(">b", v)
            elif isinstance(v, int):
                body += b"i" + struct.pack(">q", v)
            elif isinstance(v, float):
                body += b"d" + struct.pack(">d", v)
            else:
                vb = str(v).encode()
                body += b"s" + struct.pack(">i", len(vb)) + vb
        return body

    @staticmethod
    def frames_body(frames: np.ndarray, cal=(0.5, 0.5, 1.0, 5.0), first=0, name="test") -> bytes:
        """The request's image part: (T, Y, X) uint16 frames, or (T, Z, Y, X) for a 3D image, the calibration and
        the names."""
        t, z, y, x = frames.shape if frames.ndim == 4 else (frames.shape[0], 1, *frames.shape[1:])
        body = struct.pack(">bii", int(frames.ndim == 4), first, t) + struct.pack(">4q", 1, z, y, x)
        body += struct.pack(">3q", 0, 0, 0)
        body += struct.pack(">4d", *cal)
        for s in ("um", "s", "uint16", name):
            body += struct.pack(">i", len(s)) + s.encode()
        return body

    def request(self, rid: int, frames: np.ndarray, settings: dict, cal=(0.5, 0.5, 1.0, 5.0), first=0):
        """frames: (T, Y, X) uint16."""
        self.send(b"R" + struct.pack(">i", rid) + self.typed_map(settings) + self.frames_body(frames, cal, first))

    def serve(self, frames: np.ndarray, on_message=None) -> dict:
        """Answer frame requests until E; collect everything."""
        got = {"rois": {}, "done": [], "logs": [], "progress": [], "fail": None, "frames_sent": []}
        while True:
            tag = self.exact(1)
            if on_message:
                on_message(tag, got)
            if tag == b"F":
                i = self.i32()
                data = np.ascontiguousarray(frames[i], dtype="<u2").tobytes()
                self.pixels.write_bytes(data)
                p = str(self.pixels).encode()
                self.send(b"P" + struct.pack(">i", i) + struct.pack(">i", len(p)) + p + struct.pack(">q", len(data))
                          + struct.pack(">i", 0))
                got["frames_sent"].append(i)
            elif tag == b"G":
                got["progress"].append((struct.unpack(">d", self.exact(8))[0], self.s()))
            elif tag == b"L":
                got["logs"].append(self.s())
            elif tag == b"D":
                got["done"].append(self.i32())
            elif tag == b"O":
                frame = self.i32()
                npts, x, y, q = self.arr(">i4"), self.arr(">f8"), self.arr(">f8"), self.arr(">f8")
                names, feats = self.strs(), self.arr(">f8")
                got["rois"][frame] = {"n_points": npts, "x": x, "y": y, "quality": q, "names": names,
                                      "features": feats}
            elif tag == b"X":
                got["fail"] = (self.s(), self.s())
            elif tag == b"E":
                got["id"] = self.i32()
                got["status"] = struct.unpack(">b", self.exact(1))[0]
                return got
            else:
                raise AssertionError(f"unexpected message {tag!r}")


@pytest.fixture(scope="module")
def movie():
    return tifffile.imread(sample_path("2dt"))[:3]


def _settings(test_model) -> dict:
    return DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0,
                            use_gpu=False).to_trackmate_map()


MODULES_AT_EXIT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("LOADED " + " ".join(m for m in ("jpype", "scyjava", "imagej", "cellpose")
                                                              if m in sys.modules) + "\\n"))
"""


def test_worker_detects_like_in_process_and_keeps_the_model(tmp_path, movie, test_model):
    c = Client(tmp_path / "shared", prelude=MODULES_AT_EXIT)
    try:
        hello = c.hello()
        assert hello["protocol"] == "1" and hello["pid"] == str(c.proc.pid) and "error" not in hello
        assert hello["python"] == sys.executable and hello["device"] == "cpu" and hello["cellpose"]
        c.request(7, movie, _settings(test_model))
        got = c.serve(movie)
        assert got["id"] == 7 and got["status"] == 0 and got["fail"] is None, got["fail"]
        assert got["frames_sent"] == [0, 1, 2] and sorted(got["done"]) == [0, 1, 2]
        # the same detections as the in-process engine (absolute physical vertices)
        ref = detect(movie[:, None, None], DetectorSettings.from_trackmate_map(_settings(test_model)), axes="tczyx",
                     calibration=Calibration(x=0.5, y=0.5, z=1.0, t=5.0, space_unit="um", time_unit="s"))
        for fr in ref.frames:
            w = got["rois"][fr.frame]
            assert len(w["quality"]) == len(fr.detections) > 0
            assert np.allclose(w["quality"], [d.quality for d in fr.detections])
            xy = np.concatenate([np.asarray(d.roi_xy) for d in fr.detections])
            assert np.allclose(w["x"], xy[:, 0]) and np.allclose(w["y"], xy[:, 1])
        loads = [m for m in got["logs"] if "models loaded by this worker so far: 1" in m]
        assert len(loads) == 1
        # a second request (a Preview of one frame) reuses the loaded model: no load message
        c.request(8, movie[1:2], _settings(test_model), first=1)
        again = c.serve(movie[1:2])
        assert again["status"] == 0 and list(again["rois"]) == [1]
        assert not [m for m in again["logs"] if "model loaded" in m]
        assert np.allclose(again["rois"][1]["quality"], got["rois"][1]["quality"])
    finally:
        c.proc.stdin.close()
        c.proc.wait(30)
    # EOF on stdin: the worker ends by itself and removes its shared folder
    assert c.proc.returncode == 0
    assert not (tmp_path / "shared").exists()
    time.sleep(0.2)
    assert b"LOADED cellpose\n" in b"".join(c.stderr)  # no JPype (nor scyjava, imagej) in the worker


def test_worker_cancel_returns_promptly_and_stays_usable(tmp_path, test_model):
    movie = np.tile(tifffile.imread(sample_path("2dt")), (2, 1, 1))  # 24 frames, batches of 8
    c = Client(tmp_path / "shared")
    try:
        c.hello()
        sent = {"cancel_at": None}

        def cancel_after_first_batch(tag, got):
            if tag == b"D" and sent["cancel_at"] is None:
                c.send(b"C" + struct.pack(">i", 3))
                sent["cancel_at"] = time.perf_counter()

        c.request(3, movie, _settings(test_model))
        got = c.serve(movie, cancel_after_first_batch)
        assert got["status"] == 1 and got["fail"] is None
        assert len(got["frames_sent"]) <= 16 < len(movie)  # stopped at the next check, not at the end
        c.request(4, movie[:1], _settings(test_model))
        assert c.serve(movie[:1])["status"] == 0
    finally:
        c.proc.stdin.close()
        c.proc.wait(30)


STRETCHED_DYNAMICS = """
import sys, time
from cellpose import dynamics
_real = dynamics.compute_masks
_calls = []
def _stage(*args, **kwargs):  # cellpose's real masks, again and again for a minute: the stage of a large 3D stack
    _calls.append(1)
    if len(_calls) > 1:  # the first call only: the request after the cancel runs at its own speed
        return _real(*args, **kwargs)
    sys.stderr.write("AT dynamics\\n")
    sys.stderr.flush()
    end = time.monotonic() + 60
    out = _real(*args, **kwargs)
    while time.monotonic() < end:
        out = _real(*args, **kwargs)
    return out
dynamics.compute_masks = _stage
"""


def test_worker_cancel_reaches_a_3d_stage_that_asks_nothing(tmp_path, movie, test_model):
    """TrackMate's cancel (C) while cellpose computes the masks of a 3D stack: the worker stops within seconds (#25
    item 3), not when the stage is over, and serves the next request."""
    vol = tifffile.imread(sample_path("3dt"))[:1, 3:9]  # one time point, 6 x 96 x 96, 2D+Z
    settings = DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0, use_gpu=False,
                                do_2dz=True).to_trackmate_map()
    c = Client(tmp_path / "shared", prelude=STRETCHED_DYNAMICS)
    sent = {}

    def cancel_in_the_stage():
        while b"AT dynamics" not in b"".join(c.stderr) and c.proc.poll() is None:
            time.sleep(0.05)
        sent["at"] = time.perf_counter()
        c.send(b"C" + struct.pack(">i", 5))

    try:
        c.hello()
        c.request(5, vol, settings)
        threading.Thread(target=cancel_in_the_stage, daemon=True).start()
        got = c.serve(vol)
        took = time.perf_counter() - sent["at"]
        assert got["status"] == 1 and got["fail"] is None, got["fail"]
        assert took < 8, f"the cancel took {took:.1f} s"
        c.request(6, movie[:1], _settings(test_model))
        assert c.serve(movie[:1])["status"] == 0
    finally:
        c.proc.stdin.close()
        c.proc.wait(30)


def test_worker_reports_a_failure_and_a_bad_setting_as_messages(tmp_path, movie, test_model):
    c = Client(tmp_path / "shared")
    try:
        c.hello()
        bad = {**_settings(test_model), "FLOW_THRESHOLD": -1.0}
        c.request(1, movie[:1], bad)
        got = c.serve(movie[:1])
        assert got["status"] == 2 and "FLOW_THRESHOLD must be >= 0" in got["fail"][0]
        missing = {**_settings(test_model), "CELLPOSE_MODEL_FILEPATH": str(tmp_path / "nope.pth")}
        c.request(2, movie[:1], missing)
        got = c.serve(movie[:1])
        assert got["status"] == 2 and "nope.pth" in got["fail"][0] and "Traceback" in got["fail"][1]
    finally:
        c.proc.stdin.close()
        c.proc.wait(30)


def test_worker_exits_on_eof_during_a_detection(tmp_path, test_model):
    """Fiji killed mid-run (its end of the pipes closes): the worker stops and removes its folder."""
    movie = np.tile(tifffile.imread(sample_path("2dt")), (2, 1, 1))
    c = Client(tmp_path / "shared")
    c.hello()
    c.request(1, movie, _settings(test_model))
    assert c.exact(1) in (b"L", b"F")
    t0 = time.perf_counter()
    c.proc.stdin.close()
    c.proc.stdout.close()
    c.proc.wait(60)
    assert time.perf_counter() - t0 < 30
    assert not (tmp_path / "shared").exists()


NOISE = """
import os, sys, threading, time
def _noise():
    while sys.stdout is not sys.stderr:  # from the worker's fd switch on, as cellpose/tqdm would print
        time.sleep(0.001)
    while True:
        print("noise on sys.stdout", flush=True)
        os.write(1, b"raw noise on fd 1\\n")
        time.sleep(0.002)
threading.Thread(target=_noise, daemon=True).start()
"""


def test_worker_protocol_stays_clean_when_python_prints(tmp_path, movie, test_model):
    """Prints on sys.stdout and raw writes to fd 1 during detection go to stderr, never into the protocol."""
    c = Client(tmp_path / "shared", prelude=NOISE)
    try:
        c.hello()
        c.request(1, movie[:2], _settings(test_model))
        assert c.serve(movie[:2])["status"] == 0
    finally:
        c.proc.stdin.close()
        c.proc.wait(30)
    assert c.proc.returncode == 0
    assert b"raw noise on fd 1" in b"".join(c.stderr)


def test_worker_without_cellpose_says_so_in_its_hello(tmp_path):
    """A Python whose cellpose cannot be imported answers the handshake with an error and exits."""
    blocker = tmp_path / "block"
    (blocker / "cellpose").mkdir(parents=True)
    (blocker / "cellpose" / "__init__.py").write_text("raise ImportError('no cellpose here (test)')\n")
    c = Client(tmp_path / "shared", path=[str(blocker)])
    hello = c.hello()
    assert "cellpose cannot be imported" in hello["error"] and "no cellpose here" in hello["error"]
    assert c.proc.wait(30) == 1
    assert not (tmp_path / "shared").exists()
