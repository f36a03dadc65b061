"""A pool of SLURM jobs running dask workers (dask-jobqueue's ``SLURMCluster``), kept at its size for a whole run.

:class:`SlurmOptions` holds what users choose (partition, account, GPUs and CPUs per job, memory, walltime, job
count, extra ``#SBATCH`` lines, the Python the jobs run, shell lines before the worker starts), each validated with
an error that names the option, the value and what was expected. :class:`SlurmPool` starts the cluster:

* the worker job script is checked by ``sbatch --test-only`` first, so a partition, account, GPU or memory request
  that SLURM rejects fails at once with sbatch's own words, before any job is queued;
* a *keeper* thread polls ``squeue`` for the pool's jobs (every ``poll_s`` seconds). A job that ended (``scancel``,
  walltime, node failure, preemption) is replaced by a new job; the chunks its worker held are recomputed on the
  other workers by dask (the driver gathers by chunk index, so nothing is lost or counted twice). A job pending for a
  reason that does not go away by waiting (``PartitionDown``, ``InvalidAccount`` ...), pending longer than
  ``start_timeout`` seconds, or jobs that end again and again before their worker connects make the pool *fail*: the
  run that uses it stops with that reason and the frames it had not segmented (``check``);
* ``close`` (also on Ctrl-C, through ``with``) cancels every job of the pool and waits until ``squeue`` no longer
  lists them.

Imports: dask (lazily), dask_jobqueue (lazily); package: errors, settings, distributed._cluster (lazily),
distributed._plugin (lazily).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

from ..errors import BackendUnavailableError, InvalidSettingsError
from ..settings import RuntimeOptions

#: ``squeue`` reasons (``%r``) of a pending job that waiting does not cure: the pool fails with the reason.
FATAL_PENDING_REASONS = frozenset({
    "PartitionDown", "PartitionInactive", "PartitionNodeLimit", "PartitionTimeLimit", "PartitionConfig",
    "InvalidAccount", "InvalidQOS", "AccountNotAllowed", "QOSNotAllowed", "BadConstraints",
    "DependencyNeverSatisfied", "JobHeldAdmin", "JobHeldUser", "QOSMaxWallDurationPerJobLimit",
    "AssocMaxWallDurationPerJobLimit", "QOSMaxCpuPerJobLimit", "AssocMaxCpuPerJobLimit", "QOSMaxMemoryPerJob",
    "QOSMaxGRESPerJob", "AssocMaxGRESPerJob", "QOSMaxNodePerJobLimit", "AssocMaxNodePerJobLimit",
})
#: squeue states of a job that has not ended yet.
_LIVE_STATES = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING",
                          "SIGNALING", "STAGE_OUT", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT"})
_NAME_RE = re.compile(r"^[A-Za-z0-9_.:+@-]+(,[A-Za-z0-9_.:+@-]+)*$")
# SLURM's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S
_WALLTIME_RE = re.compile(r"^(?:(\d+)-(\d+)(?::(\d+))?(?::(\d+))?|(\d+)(?::(\d+))?(?::(\d+))?)$")
#: Jobs in a row that may end before their dask worker connects before the pool gives up (a broken environment).
STARTUP_FAILURES = 3


def import_slurm_cluster():
    """``dask_jobqueue.SLURMCluster``, with Python's own Ctrl-C handling kept.

    dask-jobqueue 0.9.0 replaces the SIGINT handler when it is imported (``signal.signal(SIGINT, lambda *_:
    sys.exit())`` in ``dask_jobqueue/runner.py``; dask/dask-jobqueue#696, fixed after 0.9.0): Ctrl-C would then end
    the program with exit status 0 through ``SystemExit`` instead of raising ``KeyboardInterrupt``, so a cancelled
    run would look successful. Its handler is put back to Python's default here (main thread only).
    """
    import signal

    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as e:
        raise BackendUnavailableError("SLURM worker jobs need dask-jobqueue: pip install "
                                      "'trackmate-cellpose[slurm]'") from e
    handler = signal.getsignal(signal.SIGINT)
    if getattr(handler, "__module__", "") == "dask_jobqueue.runner" and \
            threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return SLURMCluster


def _walltime_seconds(text: str) -> int | None:
    m = _WALLTIME_RE.match(text)
    if not m:
        return None
    g = [int(x) if x is not None else None for x in m.groups()]
    if g[0] is not None:  # D-H[:M[:S]]
        d, h, mi, s = g[0], g[1], g[2] or 0, g[3] or 0
        return ((d * 24 + h) * 60 + mi) * 60 + s
    a, b, c = g[4], g[5], g[6]
    if c is not None:
        return (a * 60 + b) * 60 + c  # H:M:S
    if b is not None:
        return a * 60 + b  # M:S
    return a * 60  # M


@dataclass(frozen=True)
class SlurmOptions:
    """What the SLURM worker jobs ask for; validated on creation (errors name the field, the value, the rule).

    Parameters
    ----------
    jobs : int
        Worker jobs kept running (>= 1); each runs one dask worker process with one task thread.
    partition, account : str
        ``#SBATCH -p`` / ``-A``; empty: SLURM's default (``$SBATCH_PARTITION``, then the cluster's default partition).
    gpus_per_job : int
        0 or 1: ``--gres=gpu:1`` for a worker that runs cellpose on its GPU (use more jobs for more GPUs).
    cpus_per_job : int
        CPUs booked per job (>= 1); torch (and ONNX Runtime) use that many threads in the worker.
    memory : str
        Memory per job, e.g. ``"8GB"`` (``--mem``; also the dask worker's memory limit).
    walltime : str
        SLURM time limit per job: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M`` or ``D-H:M:S``. A job that reaches
        it is replaced; its unfinished chunk runs again elsewhere.
    sbatch_lines : tuple of str
        Extra job directives, e.g. ``"--qos=short"`` or ``"#SBATCH --constraint=a100"``.
    prologue : tuple of str
        Shell lines run in the job before the worker starts (``module load cuda``, ``source venv/bin/activate``).
    python : str
        The Python the jobs start the worker with (default: this one, ``sys.executable``); it must exist at the same
        path on the compute nodes, with trackmate-cellpose and dask installed.
    log_directory : str
        Folder for the jobs' stdout/stderr files (default ``./slurm-logs``; must be reachable from the nodes).
    interface : str
        Network interface the scheduler listens on and the workers connect to (e.g. ``ib0``; default: the host's
        address).
    start_timeout : float
        Seconds a job may stay pending (for a reason SLURM says will pass, e.g. ``Resources``) before the pool fails;
        0 = wait as long as SLURM keeps the job queued.
    poll_s : float
        Seconds between two ``squeue`` polls of the keeper.
    job_name : str
        ``#SBATCH -J`` of the worker jobs.
    """

    jobs: int = 2
    partition: str = ""
    account: str = ""
    gpus_per_job: int = 0
    cpus_per_job: int = 4
    memory: str = "8GB"
    walltime: str = "01:00:00"
    sbatch_lines: tuple[str, ...] = ()
    prologue: tuple[str, ...] = ()
    python: str = ""
    log_directory: str = ""
    interface: str = ""
    start_timeout: float = 0.0
    poll_s: float = 5.0
    job_name: str = "tmcp-worker"
    extra: dict = field(default_factory=dict, compare=False, repr=False)  # more SLURMCluster keywords (API only)

    def __post_init__(self) -> None:
        def bad(key: str, value: Any, expected: str) -> InvalidSettingsError:
            return InvalidSettingsError(f"{key} must be {expected}, got {value!r}", key=key, value=value)

        for key, low in (("jobs", 1), ("gpus_per_job", 0), ("cpus_per_job", 1)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise bad(key, v, f"an integer >= {low}")
        if self.gpus_per_job > 1:
            raise bad("gpus_per_job", self.gpus_per_job, "0 or 1 (one worker process per job runs on one GPU; ask "
                      "for more jobs to use more GPUs)")
        for key in ("partition", "account", "job_name"):
            v = getattr(self, key)
            if not isinstance(v, str) or (v and not _NAME_RE.match(v)):
                raise bad(key, v, "a SLURM name (letters, digits, _ . : + @ -; partitions may be comma-separated)")
        if not self.job_name:
            raise bad("job_name", self.job_name, "a non-empty SLURM name")
        try:
            from dask.utils import parse_bytes
        except ImportError as e:
            raise BackendUnavailableError("SLURM worker jobs need dask-jobqueue: pip install "
                                          "'trackmate-cellpose[slurm]'") from e
        try:
            n_bytes = parse_bytes(self.memory) if isinstance(self.memory, str) else -1
        except (ValueError, TypeError):
            n_bytes = -1
        if n_bytes < 2**20:
            raise bad("memory", self.memory, "a size with a unit of at least 1MB, e.g. '8GB' or '500MB'")
        seconds = _walltime_seconds(self.walltime) if isinstance(self.walltime, str) else None
        if not seconds:
            raise bad("walltime", self.walltime, "a SLURM time limit above 0: minutes, M:S, H:M:S, D-H, D-H:M or "
                      "D-H:M:S, e.g. '01:00:00'")
        object.__setattr__(self, "sbatch_lines", tuple(self.sbatch_lines))
        object.__setattr__(self, "prologue", tuple(self.prologue))
        for line in self.sbatch_lines:
            directive = line.strip().removeprefix("#SBATCH").strip() if isinstance(line, str) else None
            if not directive or not directive.startswith("-") or "\n" in line:
                raise bad("sbatch_lines", line, "one sbatch option per line, e.g. '--qos=short' or "
                          "'#SBATCH --constraint=a100'")
        for line in self.prologue:
            if not isinstance(line, str) or not line.strip() or "\n" in line:
                raise bad("prologue", line, "one non-empty shell line")
        if not isinstance(self.python, str):
            raise bad("python", self.python, "a path to a Python executable")
        if self.python:
            found = shutil.which(self.python)
            if found is None:
                raise bad("python", self.python, "a Python executable that exists on this machine (the jobs start "
                          "their dask worker with it, so it must be at the same path on the compute nodes)")
        for key in ("start_timeout", "poll_s"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise bad(key, v, "a number of seconds >= 0")
        if self.poll_s <= 0:
            raise bad("poll_s", self.poll_s, "a number of seconds > 0")

    @property
    def walltime_seconds(self) -> int:
        return _walltime_seconds(self.walltime) or 0

    def replace(self, **changes: Any) -> SlurmOptions:
        return replace(self, **changes)

    def describe(self) -> str:
        """One line: what each job asks for."""
        parts = [f"{self.jobs} job{'s' if self.jobs != 1 else ''}",
                 f"partition {self.partition or '(default)'}"]
        if self.account:
            parts.append(f"account {self.account}")
        parts += [f"{self.cpus_per_job} CPU{'s' if self.cpus_per_job != 1 else ''}",
                  f"{self.gpus_per_job} GPU{'s' if self.gpus_per_job != 1 else ''}", self.memory,
                  f"walltime {self.walltime}"]
        parts += [line.strip() for line in self.sbatch_lines]
        return ", ".join(parts)

    def cluster_keywords(self) -> dict[str, Any]:
        """Keyword arguments of ``dask_jobqueue.SLURMCluster`` for these options."""
        log_dir = self.log_directory or str(Path.cwd() / "slurm-logs")
        threads = str(self.cpus_per_job)
        directives = [line.strip().removeprefix("#SBATCH").strip() for line in self.sbatch_lines]
        if self.gpus_per_job:
            directives.insert(0, f"--gres=gpu:{self.gpus_per_job}")
        from ._plugin import THREADS_ENV

        kw: dict[str, Any] = dict(
            queue=self.partition or None, account=self.account or None,
            cores=1, processes=1,  # one worker process with ONE task thread per job: one model, one GPU
            job_cpu=self.cpus_per_job, memory=self.memory, walltime=self.walltime, job_name=self.job_name,
            job_extra_directives=directives, log_directory=log_dir,
            python=self.python or sys.executable,
            # torch / ONNX Runtime threads = the CPUs booked, whether or not SLURM pins the job to them
            job_script_prologue=[f"export {THREADS_ENV}={threads} OMP_NUM_THREADS={threads} "
                                 f"MKL_NUM_THREADS={threads}", *self.prologue],
            scheduler_options={"dashboard_address": None, **({"interface": self.interface} if self.interface
                                                             else {})},
        )
        if self.interface:
            kw["interface"] = self.interface
        if self.gpus_per_job:
            kw["worker_extra_args"] = ["--resources", f"GPU={self.gpus_per_job}"]
        kw.update(self.extra)
        return kw


def _field_names() -> set[str]:
    return {f.name for f in fields(SlurmOptions)}


def _run(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _sbatch() -> str:
    path = shutil.which("sbatch")
    if path is None:
        raise BackendUnavailableError("sbatch is not on PATH: --cluster slurm runs on a SLURM login node (or a "
                                      "machine whose SLURM client can reach slurmctld)")
    return path


def _last_lines(text: str, n: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-n:])


class SlurmPool:
    """``jobs`` SLURM jobs running dask workers, kept at that size until :meth:`close` (see the module docstring).

    Use it as a context manager; ``pool.runtime(base)`` gives the ``RuntimeOptions`` that send ``detect`` /
    ``detect_many`` to it::

        with SlurmPool(SlurmOptions(jobs=4, partition="gpu", gpus_per_job=1)) as pool:
            result = detect(movie, settings, axes="tyx", runtime=pool.runtime())

    Parameters
    ----------
    options : SlurmOptions, optional
    log : callable, optional
        Receives one line per event (jobs submitted, a job replaced, why the pool failed).
    **changes
        Fields of :class:`SlurmOptions` (instead of, or on top of, ``options``).
    """

    def __init__(self, options: SlurmOptions | None = None, *, log: Callable[[str], None] | None = None,
                 **changes: Any):
        unknown = set(changes) - _field_names()
        if unknown:
            raise InvalidSettingsError(f"unknown SLURM option(s) {', '.join(sorted(unknown))}; known: "
                                       f"{', '.join(sorted(_field_names()))}", key=sorted(unknown)[0])
        options = options or SlurmOptions()
        self.options = options.replace(**changes) if changes else options
        self.log = log or (lambda msg: None)
        self.cluster: Any = None
        self.submitted: list[str] = []  # every job id the pool submitted, in order
        self.ended: list[tuple[str, str]] = []  # (job id, last state seen) of jobs that ended while the pool ran
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected: set[str] = set()  # worker names that connected at some time
        self._first_seen: dict[str, float] = {}  # worker name -> when the keeper first saw it without a job id
        self._pending_since: dict[str, float] = {}  # job id -> when it was first seen pending
        self._last_state: dict[str, tuple[str, str]] = {}  # job id -> (state, reason)
        self._startup_failures = 0
        self._squeue_failures = 0
        self._replacements = 0

    # -- life cycle -----------------------------------------------------------------------------------------------
    def start(self) -> SlurmPool:
        """Check the job script with ``sbatch --test-only``, submit the jobs, start the keeper; returns at once
        (workers connect as their jobs start; :meth:`wait_for_workers` waits for them)."""
        sbatch = _sbatch()
        SLURMCluster = import_slurm_cluster()  # noqa: N806 - the class
        opts = self.options
        kw = opts.cluster_keywords()
        Path(kw["log_directory"]).mkdir(parents=True, exist_ok=True)
        self.cluster = SLURMCluster(**kw)
        try:
            self._test_only(sbatch)
            from ._cluster import watch_scheduler

            watch_scheduler(self.cluster.scheduler_address, self.check)
            self.cluster.scale(jobs=opts.jobs)
            self.log(f"SLURM: {opts.describe()}; scheduler {self.cluster.scheduler_address}; job logs in "
                     f"{kw['log_directory']}")
            self._thread = threading.Thread(target=self._keep, name="tmcp-slurm-keeper", daemon=True)
            self._thread.start()
        except BaseException:
            self.close()
            raise
        return self

    def _test_only(self, sbatch: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as fh:
            fh.write(self.cluster.job_script())
        try:
            out = _run([sbatch, "--test-only", fh.name], timeout=60)
        finally:
            os.unlink(fh.name)
        if out.returncode != 0:
            raise InvalidSettingsError(
                f"SLURM rejects the worker job ({self.options.describe()}): {_last_lines(out.stderr + out.stdout)}",
                key="slurm", value=self.options.describe())

    @property
    def scheduler_address(self) -> str:
        return self.cluster.scheduler_address

    def runtime(self, base: RuntimeOptions | None = None) -> RuntimeOptions:
        """``base`` (default ``RuntimeOptions()``) sent to this pool's scheduler."""
        return replace(base or RuntimeOptions(), scheduler=self.scheduler_address, workers=0)

    def check(self) -> None:
        """Raise the reason the pool cannot run work (set by the keeper), if any."""
        if self._error is not None:
            raise self._error

    def wait_for_workers(self, n: int = 1, timeout: float | None = None) -> None:
        """Block until ``n`` workers are connected; raise the pool's failure, or ``WorkersTimeoutError``
        (a ``TimeoutError``) after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(self.cluster.scheduler_info.get("workers", {})) < n:
            self.check()
            if deadline is not None and time.monotonic() > deadline:
                from ..errors import WorkersTimeoutError

                raise WorkersTimeoutError(f"{n} SLURM worker(s) not connected after {timeout:g} s", waited_s=timeout)
            time.sleep(0.1)

    def live_job_ids(self) -> list[str]:
        """Ids of the pool's jobs that ``squeue`` lists as not ended."""
        return self._live(self.submitted)

    def _live(self, ids: list[str]) -> list[str]:
        return [j for j, (state, _) in self._squeue(ids).items() if state in _LIVE_STATES]

    def close(self, timeout: float = 60) -> None:
        """Stop the keeper, cancel every job of the pool and wait (bounded) until squeue no longer lists them."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.options.poll_s + 30)
        cluster, self.cluster = self.cluster, None
        if cluster is None:
            return
        address = cluster.scheduler_address
        from ._cluster import forget_scheduler, unwatch_scheduler

        unwatch_scheduler(address)
        forget_scheduler(address)
        ids = self._job_ids(cluster) + self.submitted
        try:
            cluster.close(timeout=timeout)
        except Exception:  # noqa: BLE001 - the jobs are cancelled below in any case
            pass
        ids = sorted(set(ids), key=lambda j: (len(j), j))
        deadline = time.monotonic() + timeout
        live: list[str] = []
        try:  # dask-jobqueue has cancelled them: make sure, and wait (bounded) until squeue agrees
            live = self._live(ids)
            if live:
                _run(["scancel", *live])
            while live and time.monotonic() < deadline:
                time.sleep(0.5)
                live = self._live(live)
        except (BackendUnavailableError, OSError, subprocess.SubprocessError) as e:
            self.log(f"SLURM: could not confirm that jobs {', '.join(ids)} ended: {e}")
            return
        if live:
            self.log(f"SLURM: jobs {', '.join(live)} still listed by squeue {timeout:g} s after scancel")

    def __enter__(self) -> SlurmPool:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the keeper -----------------------------------------------------------------------------------------------
    @staticmethod
    def _job_ids(cluster: Any) -> list[str]:
        return [str(w.job_id) for w in list(cluster.workers.values()) if getattr(w, "job_id", None)]

    @staticmethod
    def _squeue(ids: list[str]) -> dict[str, tuple[str, str]]:
        """job id -> (state, reason) for the ids squeue still lists (ended jobs vanish after MinJobAge)."""
        if not ids:
            return {}
        out = _run(["squeue", "-h", "-t", "all", "-o", "%i|%T|%r", "-j", ",".join(ids)])
        if out.returncode != 0:
            if "Invalid job id" in out.stderr:
                return {}
            raise BackendUnavailableError(f"squeue failed: {_last_lines(out.stderr)}")
        rows = [line.split("|") for line in out.stdout.splitlines() if line.count("|") == 2]
        return {r[0].strip(): (r[1].strip(), r[2].strip()) for r in rows}

    def _keep(self) -> None:
        while not self._stop.wait(self.options.poll_s):
            try:
                self._poll()
            except BaseException as e:  # noqa: BLE001 - reported to the run through check()
                if self._stop.is_set():
                    return
                self._fail(e if isinstance(e, BackendUnavailableError) else BackendUnavailableError(
                    f"the SLURM keeper failed: {type(e).__name__}: {e}"))
                return
            if self._error is not None:
                return

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
            self.log(f"SLURM: {error}")

    def _poll(self) -> None:
        cluster = self.cluster
        if cluster is None:
            return
        jobs = {name: (str(w.job_id) if getattr(w, "job_id", None) else "") for name, w in
                list(cluster.workers.items())}
        for jid in jobs.values():
            if jid and jid not in self.submitted:
                self.submitted.append(jid)
        try:
            states = self._squeue([j for j in jobs.values() if j])
        except (BackendUnavailableError, OSError, subprocess.SubprocessError) as e:
            self._squeue_failures += 1  # slurmctld busy or restarting: try again at the next poll
            if self._squeue_failures >= 5:
                raise BackendUnavailableError(f"squeue failed {self._squeue_failures} times in a row: {e}") from e
            return
        self._squeue_failures = 0
        connected = {info.get("name") for info in list(cluster.scheduler_info.get("workers", {}).values())}
        if connected & set(jobs):
            self._startup_failures = 0
        self._connected |= {n for n in connected if n in jobs}
        now = time.monotonic()
        gone: list[str] = []
        for name, jid in jobs.items():
            if not jid:  # sbatch not done yet, or it failed (dask-jobqueue logs the error)
                first = self._first_seen.setdefault(name, now)
                if now - first > max(60.0, 3 * self.options.poll_s):
                    raise BackendUnavailableError(f"a worker job could not be submitted for {now - first:.0f} s "
                                                  f"({self.options.describe()}): {self._test_only_text()}")
                continue
            state, reason = states.get(jid, ("", ""))
            if state:
                self._last_state[jid] = (state, reason)
            if state == "PENDING":
                since = self._pending_since.setdefault(jid, now)
                if reason in FATAL_PENDING_REASONS or reason.startswith("PartitionDown"):
                    raise BackendUnavailableError(
                        f"SLURM job {jid} cannot start: it is pending with reason {reason} "
                        f"({self.options.describe()}); squeue -j {jid} shows it")
                timeout = self.options.start_timeout
                if timeout and now - since > timeout and name not in self._connected:
                    raise BackendUnavailableError(
                        f"SLURM job {jid} still pending ({reason}) after {timeout:g} s (start timeout)")
            elif state in _LIVE_STATES:
                continue
            else:  # ended (state shown during MinJobAge) or no longer listed
                gone.append(name)
        if gone:
            self._replace(gone, jobs)

    def _replace(self, names: list[str], jobs: dict[str, str]) -> None:
        for name in names:
            jid = jobs[name]
            last = self._last_state.get(jid, ("ENDED", ""))[0]
            self.ended.append((jid, last))
            if name not in self._connected:
                self._startup_failures += 1
                detail = self._job_log(jid)
                self.log(f"SLURM: job {jid} ended ({last}) before its dask worker connected"
                         + (f": {detail}" if detail else ""))
                if self._startup_failures >= STARTUP_FAILURES:
                    raise BackendUnavailableError(
                        f"{self._startup_failures} SLURM jobs in a row ended ({last}) before their dask worker "
                        f"connected; the last one, job {jid}, wrote: {detail or '(nothing)'}; check --slurm-python "
                        "and --slurm-prologue (the jobs must import trackmate_cellpose and dask)")
            else:
                self.log(f"SLURM: job {jid} ended ({last}); its unfinished chunks run again on the other workers, "
                         "a new job replaces it")

        async def forget_and_replace() -> None:
            cluster = self.cluster
            for name in names:
                cluster.worker_spec.pop(name, None)
                cluster.workers.pop(name, None)
            # a NEW name for each new job: SpecCluster would hand out the lost job's name again, and the check it
            # schedules when a worker leaves (distributed.deploy.lost-worker-timeout later) closes whatever job holds
            # that name and has no connected worker yet, i.e. a replacement that is still starting
            while len(cluster.worker_spec) < self.options.jobs:
                self._replacements += 1
                spec = next(iter(cluster.new_worker_spec().values()))
                cluster.worker_spec[f"{self.options.job_name}-replacement-{self._replacements}"] = spec
            cluster.scale(jobs=self.options.jobs)  # starts the jobs of the new names

        if not self._stop.is_set() and self.cluster is not None:
            self.cluster.sync(forget_and_replace)

    def _job_log(self, jid: str) -> str:
        log_dir = Path(self.options.cluster_keywords()["log_directory"])
        path = log_dir / f"{self.options.job_name}-{jid}.err"
        try:
            return _last_lines(path.read_text(errors="replace"), 2)
        except OSError:
            return ""

    def _test_only_text(self) -> str:
        try:
            self._test_only(_sbatch())
        except InvalidSettingsError as e:
            return str(e)
        return "sbatch --test-only accepts the job script now; see the log above"


def slurm_status(partition: str = "", *, timeout: float = 15) -> dict[str, Any]:
    """What ``doctor`` reports: is ``sbatch`` reachable, which partition would the jobs use, is it up.

    Returns
    -------
    dict
        ``sbatch`` (path or ""), ``version``, ``reachable`` (slurmctld answered), ``partition`` (the one the jobs
        would use: ``partition``, else ``$SBATCH_PARTITION``, else the cluster's default), ``source`` (where it
        comes from), ``state`` (up/down/... or "" when unknown), ``nodes`` (idle/total summary), ``partitions``
        (every partition), ``error`` (text when something failed).
    """
    info: dict[str, Any] = dict(sbatch=shutil.which("sbatch") or "", version="", reachable=False, partition="",
                                source="", state="", nodes="", partitions=[], error="")
    if not info["sbatch"]:
        info["error"] = "sbatch not found on PATH"
        return info
    try:
        ver = _run([info["sbatch"], "--version"], timeout=timeout)
        info["version"] = ver.stdout.strip()
        out = _run(["sinfo", "-h", "-o", "%P|%a|%F"], timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        info["error"] = f"{type(e).__name__}: {e}"
        return info
    if out.returncode != 0:
        info["error"] = f"sinfo failed: {_last_lines(out.stderr or out.stdout)}"
        return info
    info["reachable"] = True
    rows = {}
    default = ""
    for line in out.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 3:
            continue
        name, avail, counts = parts
        if name.endswith("*"):
            name = name[:-1]
            default = name
        rows[name] = (avail, counts)
    info["partitions"] = list(rows)
    if partition:
        info["partition"], info["source"] = partition, "asked for"
    elif os.environ.get("SBATCH_PARTITION"):
        info["partition"], info["source"] = os.environ["SBATCH_PARTITION"], "$SBATCH_PARTITION"
    elif default:
        info["partition"], info["source"] = default, "the cluster's default"
    else:
        info["error"] = "the cluster has no default partition: pass --slurm-partition"
        return info
    first = info["partition"].split(",")[0]
    if first not in rows:
        info["error"] = f"partition {first!r} is not one of {', '.join(rows) or '(none)'}"
        return info
    avail, counts = rows[first]
    info["state"] = avail
    try:
        alloc, idle, other, total = (int(x) for x in counts.split("/"))
        info["nodes"] = f"{idle} of {total} node{'s' if total != 1 else ''} idle"
    except ValueError:
        info["nodes"] = counts
    return info

