"""Measurement helpers shared by every suite: timing, CPU time, resident memory, machine facts, child processes.

Timings on shared machines are noisy, so a comparison runs its cases in one process, interleaved (the order rotates
every repetition), and reports per-repetition paired ratios beside medians and min-max. CPU time
(``time.process_time`` plus waited-for child processes) is recorded beside wall time: it is much less sensitive to
other jobs on the machine. Resident memory comes from ``/proc/self/statm`` (a sampler thread) and ``VmHWM``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

#: The repository root: the folder that holds the ``benchmarks`` package (child processes import it from there).
REPO = Path(__file__).resolve().parents[1]
#: Distributions whose versions a result records.
VERSIONED = ("numpy", "scipy", "scikit-image", "torch", "cellpose", "onnxruntime", "tifffile", "JPype1",
             "fast-simplification", "dask", "distributed", "trackmate-cellpose")


class UsageError(ValueError):
    """A suite's arguments are invalid (the entry point exits with status 2 and this message)."""


def log(msg: str) -> None:
    """Progress on stderr (stdout of a child process carries its JSON result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- timing --------------------------------------------------------------------------------------------------------
class Timing:
    """Wall and CPU seconds of one call (CPU includes waited-for child processes), and what it returned."""

    __slots__ = ("wall", "cpu", "value")

    def __init__(self, wall: float, cpu: float, value: Any = None):
        self.wall, self.cpu, self.value = wall, cpu, value


def children_cpu() -> float:
    """CPU seconds of this process's finished, waited-for child processes."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(fn: Callable[[], Any], *, extra_cpu: Callable[[], float] | None = None) -> Timing:
    """Time one call. ``extra_cpu()``: CPU seconds of other processes to add (e.g. a live worker's)."""
    more = extra_cpu or (lambda: 0.0)
    c0, k0, e0, t0 = time.process_time(), children_cpu(), more(), time.perf_counter()
    value = fn()
    t1 = time.perf_counter()
    return Timing(t1 - t0, (time.process_time() - c0) + (children_cpu() - k0) + (more() - e0), value)


def interleaved(cases: dict[str, Callable[[], Any]], reps: int, *, warmup: int = 0,
                extra_cpu: Callable[[], float] | None = None) -> dict[str, list[Timing]]:
    """Run every case ``reps`` times, interleaved, rotating the order each repetition (after ``warmup`` rounds)."""
    names = list(cases)
    for _ in range(warmup):
        for n in names:
            cases[n]()
    out: dict[str, list[Timing]] = {n: [] for n in names}
    for r in range(reps):
        for n in names[r % len(names):] + names[:r % len(names)]:
            t = timed(cases[n], extra_cpu=extra_cpu)
            out[n].append(t)
            log(f"  rep {r + 1}/{reps} {n}: wall {t.wall:.3f} s, cpu {t.cpu:.3f} s, load {loadavg()}")
    return out


def summary(values: list[float]) -> dict[str, float]:
    """Median, min, max and count."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def paired_ratio(num: list[Timing], den: list[Timing], attr: str = "wall") -> dict[str, float]:
    """Summary of the per-repetition ratios num/den (paired: same repetition, run back to back)."""
    return summary([getattr(a, attr) / getattr(b, attr) for a, b in zip(num, den)])


def timing_summaries(prefix: str, timings: list[Timing]) -> dict[str, dict[str, float]]:
    """``{prefix}_wall_s`` and ``{prefix}_cpu_s`` summaries of a list of timings."""
    return {f"{prefix}_wall_s": summary([t.wall for t in timings]), f"{prefix}_cpu_s": summary([t.cpu for t in timings])}


def fmt_s(s: dict[str, float], unit: str = "s", digits: int = 3) -> str:
    """'median (min-max)'."""
    return f"{s['median']:.{digits}f} {unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


# ---- memory --------------------------------------------------------------------------------------------------------
def rss_mb() -> float:
    """Resident set size of this process now, MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def proc_field_mb(path: str, key: str) -> float:
    """A ``key: N kB`` field of a /proc file (``/proc/meminfo``, ``/proc/self/status``) in MiB; NaN if absent."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (``VmHWM``, else ``ru_maxrss``), MiB."""
    hwm = proc_field_mb("/proc/self/status", "VmHWM")
    return hwm if hwm == hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """A thread that samples this process's RSS every ``interval`` seconds; ``peak`` per phase (``phase`` is set by
    the caller: the RSS is attributed to the phase current at each sample) and ``peak_overall``."""

    def __init__(self, interval: float = 0.02, phase: str = "start"):
        self.interval, self.phase = interval, phase
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            r = rss_mb()
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), r)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_overall(self) -> float:
        return max(self.peaks.values(), default=0.0)


class StageClock:
    """Wall, CPU and peak RSS of named stages of a run, with nothing in the measured code changed.

    A stage is the time inside a function: :meth:`watch` follows the calls of a function object through
    ``sys.setprofile`` (the function may be held by private code under another name: the code object is what is
    matched), :meth:`wrap` returns a timed wrapper for a function a caller can replace (a third-party library's
    module attribute). Watching costs ~0.1-1 us per function call of the whole run (the profile hook sees every call),
    which matters only for code made of many tiny calls: prefer :meth:`wrap` where the caller can be reached, the
    profile hook is installed only when something is watched. A nested call of a stage that is already open counts
    once. A 10 ms sampler feeds every open
    stage's peak RSS. ``listener(name, event)`` (``"enter"`` or ``"leave"``), if given, is called in the measured
    thread at the start and end of every stage. Use as a context manager around the measured run.
    """

    def __init__(self, interval: float = 0.01, listener: Callable[[str, str], None] | None = None) -> None:
        self.listener = listener
        self.records: dict[str, dict[str, float]] = {}
        self._open: dict[str, list[float]] = {}  # stage -> [depth, rss0, peak, c0, t0]
        self._watched: dict[Any, str] = {}
        self._frames: dict[int, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._previous_profile: Any = None
        self.base_rss = rss_mb()

    # -- measuring
    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            r = rss_mb()
            with self._lock:
                for slot in self._open.values():
                    slot[2] = max(slot[2], r)

    def _enter(self, name: str) -> None:
        with self._lock:
            slot = self._open.get(name)
            if slot is not None:
                slot[0] += 1
                return
            r = rss_mb()
            self._open[name] = [1, r, r, time.process_time(), time.perf_counter()]
        if self.listener is not None:
            self.listener(name, "enter")

    def _leave(self, name: str) -> None:
        t1, c1, r1 = time.perf_counter(), time.process_time(), rss_mb()
        with self._lock:
            slot = self._open[name]
            slot[0] -= 1
            if slot[0] > 0:
                return
            del self._open[name]
        _, rss0, peak, c0, t0 = slot
        peak = max(peak, r1)
        rec = self.records.setdefault(name, {"calls": 0, "wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mb": 0.0,
                                             "peak_above_base_mb": 0.0, "peak_above_start_mb": 0.0})
        rec["calls"] += 1
        rec["wall_s"] += t1 - t0
        rec["cpu_s"] += c1 - c0
        rec["peak_rss_mb"] = max(rec["peak_rss_mb"], peak)
        rec["peak_above_base_mb"] = max(rec["peak_above_base_mb"], peak - self.base_rss)
        rec["peak_above_start_mb"] = max(rec["peak_above_start_mb"], peak - rss0)
        if self.listener is not None:
            self.listener(name, "leave")

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            name = self._watched.get(frame.f_code)
            if name is not None:
                self._frames[id(frame)] = name
                self._enter(name)
        elif event == "return" and self._frames:
            name = self._frames.pop(id(frame), None)
            if name is not None:
                self._leave(name)

    # -- declaring stages
    def watch(self, name: str, fn: Callable) -> None:
        """Time every call of ``fn`` (a function, method or bound method) as stage ``name``."""
        self._watched[getattr(fn, "__func__", fn).__code__] = name

    def wrap(self, name: str, fn: Callable) -> Callable:
        """A wrapper of ``fn`` that times each call as stage ``name``."""
        def timed_stage(*args: Any, **kwargs: Any) -> Any:
            self._enter(name)
            try:
                return fn(*args, **kwargs)
            finally:
                self._leave(name)
        return timed_stage

    def __enter__(self) -> "StageClock":
        self.base_rss = rss_mb()
        self._thread.start()
        self._previous_profile = sys.getprofile()
        if self._watched:
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._watched:
            sys.setprofile(self._previous_profile)
        self._stop.set()
        self._thread.join()


# ---- machine -------------------------------------------------------------------------------------------------------
def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, 'a/b/c'."""
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "?"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, platform, versions, load and date (UTC), for the record."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for pkg in VERSIONED:
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(),
            "mem_gib": round(proc_field_mb("/proc/meminfo", "MemTotal") / 1024, 1),
            "platform": platform.platform(), "python": sys.version.split()[0], "versions": versions,
            "load_at_start": loadavg(), "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}


def torch_info() -> dict[str, Any]:
    """Torch's threads and GPU, if this process imported torch (never imports it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    cuda = bool(torch.cuda.is_available())
    return {"torch_threads": torch.get_num_threads(), "cuda": cuda,
            "gpu": torch.cuda.get_device_name(0) if cuda else "none (GPU: not measured)"}


# ---- child processes -----------------------------------------------------------------------------------------------
def child_env(package_dir: str | Path | None = None) -> dict[str, str]:
    """The environment of a child process: it imports ``benchmarks`` from this repository and the same
    ``trackmate_cellpose`` as this process (or the one in ``package_dir``, e.g. another checkout's ``python/``)."""
    import trackmate_cellpose

    pkg = Path(package_dir) if package_dir else Path(trackmate_cellpose.__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(pkg), str(REPO), env.get("PYTHONPATH")) if p)
    return env


def run_child(fn: Callable[[dict], dict], spec: dict[str, Any], *, timeout: float | None = None,
              package_dir: str | Path | None = None) -> dict[str, Any]:
    """Run ``fn(spec)`` (a module-level function of a suite) in a fresh Python process; return its result.

    The child is ``python -m benchmarks._child MODULE:FUNCTION SPEC.json``: its peak memory is its own, and it may
    start a JVM (one per process). Raises ``RuntimeError`` with the end of its stderr if it fails or times out.
    """
    target = f"{fn.__module__}:{fn.__qualname__}"
    with tempfile.TemporaryDirectory(prefix="tmcp-bench-") as tmp:
        path = Path(tmp) / "spec.json"
        path.write_text(json.dumps(spec, default=str))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "benchmarks._child", target, str(path)], capture_output=True,
                                  text=True, timeout=timeout, env=child_env(package_dir), cwd=str(REPO))
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"{target} timed out after {timeout:.0f} s") from e
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:]) or "no output"
        raise RuntimeError(f"{target} failed (exit {proc.returncode}):\n{tail}")
    out = json.loads(lines[-1])
    out.setdefault("process_wall_s", time.perf_counter() - t0)
    return out
