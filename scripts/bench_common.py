"""Shared helpers of the benchmarks (scripts/bench.py): interleaved timing, summaries, machine description.

Timings on shared machines are noisy, so every comparison runs its cases in the same process, interleaved (the
order rotates every repetition), and reports per-repetition paired ratios as well as medians and min-max. CPU time
(``time.process_time`` in-process, ``RUSAGE_CHILDREN`` for subprocesses) is recorded beside wall time: it is much
less sensitive to other jobs on the machine.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from typing import Any, Callable

__all__ = ["Timing", "interleaved", "summary", "paired_ratio", "machine_info", "loadavg", "fmt_s"]


class Timing:
    """Wall and CPU seconds of one call (CPU includes waited-for child processes)."""

    __slots__ = ("wall", "cpu", "value")

    def __init__(self, wall: float, cpu: float, value: Any = None):
        self.wall, self.cpu, self.value = wall, cpu, value


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(fn: Callable[[], Any]) -> Timing:
    c0, k0, t0 = time.process_time(), _child_cpu(), time.perf_counter()
    value = fn()
    t1 = time.perf_counter()
    return Timing(t1 - t0, (time.process_time() - c0) + (_child_cpu() - k0), value)


def interleaved(cases: dict[str, Callable[[], Any]], reps: int, *, warmup: int = 0,
                log: Callable[[str], None] | None = None) -> dict[str, list[Timing]]:
    """Run every case ``reps`` times, interleaved, rotating the order each repetition (after ``warmup`` rounds)."""
    names = list(cases)
    for _ in range(warmup):
        for n in names:
            cases[n]()
    out: dict[str, list[Timing]] = {n: [] for n in names}
    for r in range(reps):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            t = timed(cases[n])
            out[n].append(t)
            if log:
                log(f"  rep {r + 1}/{reps} {n}: wall {t.wall:.3f} s, cpu {t.cpu:.3f} s, load {loadavg()}")
    return out


def summary(values: list[float]) -> dict[str, float]:
    """Median, min, max and count."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def paired_ratio(num: list[Timing], den: list[Timing], attr: str = "wall") -> dict[str, float]:
    """Summary of the per-repetition ratios num/den (paired: same repetition, run back to back)."""
    return summary([getattr(a, attr) / getattr(b, attr) for a, b in zip(num, den)])


def loadavg() -> str:
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "?"


def fmt_s(s: dict[str, float], unit: str = "s", digits: int = 3) -> str:
    """'median (min-max)'."""
    return f"{s['median']:.{digits}f} {unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _mem_total_gib() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return float("nan")


def machine_info() -> dict[str, Any]:
    """Machine, versions and load, for the record."""
    from importlib.metadata import PackageNotFoundError, version

    vers = {}
    for pkg in ("numpy", "scipy", "scikit-image", "torch", "cellpose", "tifffile", "JPype1", "fast-simplification",
                "trackmate-cellpose"):
        try:
            vers[pkg] = version(pkg)
        except PackageNotFoundError:
            vers[pkg] = None
    info: dict[str, Any] = {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "mem_gib": round(_mem_total_gib(), 1),
        "platform": platform.platform(), "python": sys.version.split()[0], "versions": vers,
        "load_at_start": loadavg(), "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (GPU: not measured)"
    except ImportError:
        pass
    return info
