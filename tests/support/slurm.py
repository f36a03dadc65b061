"""A real single-node SLURM cluster for the tests and for developers: Debian's ``slurm-wlm`` (slurmctld + slurmd)
with ``munge``, everything private to one folder.

:class:`LocalSlurm` writes a minimal ``slurm.conf`` for this host (no cgroups: ``ProctrackType=proctrack/linuxproc``,
``TaskPlugin=task/none``; no accounting daemon), its own munge key and socket, free TCP ports for slurmctld and slurmd,
state, spool and log folders under ``root``; it starts ``munged``, ``slurmctld`` and ``slurmd`` (as root, in the
foreground, each in its own session), and waits until ``sinfo`` shows the node idle. :meth:`LocalSlurm.stop` cancels
every job, stops the daemons and ends any process still carrying this cluster's ``SLURM_CONF`` (a job's worker), so
that nothing is left running. Several can run side by side (different folders and ports); nothing under /etc is
read or written. Client commands find the cluster through ``SLURM_CONF`` (:attr:`LocalSlurm.env`).

The node declares ``cpus`` CPUs (default: at least 8) whatever the machine has (``SlurmdParameters=config_overrides``),
so that several one-CPU worker jobs run at once on a 2-core machine, and a count-only ``gpu`` GRES of ``gpus``
(default 1, no device file) so that ``--gres=gpu:1`` jobs are accepted and run (without a device). Partitions:
``debug`` (default, up), ``down`` (State=DOWN: jobs are accepted and stay pending, reason ``PartitionDown``).

:func:`unavailable_reason` says why this machine cannot run it (not root, a program missing), or None.
``scripts/tools/local_slurm.py`` is the command line for developers and CI (start / stop / status).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["LocalSlurm", "SlurmStartError", "unavailable_reason", "PROGRAMS", "INSTALL_HINT"]

#: Programs the cluster needs (Debian packages slurm-wlm and munge).
PROGRAMS = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel", "scontrol")
_DAEMONS = ("munged", "slurmctld", "slurmd", "slurmstepd")
INSTALL_HINT = "apt-get install slurm-wlm munge (Debian/Ubuntu, as root)"


class SlurmStartError(RuntimeError):
    """A daemon did not start, or the node did not become idle (the message carries the logs' last lines)."""


def unavailable_reason() -> str | None:
    """Why a :class:`LocalSlurm` cannot be started here, or None when it can (root and every program present)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "starting slurmctld/slurmd/munged needs root"
    missing = [p for p in PROGRAMS if shutil.which(p) is None and not Path("/usr/sbin", p).exists()]
    if missing:
        return f"SLURM programs not found: {', '.join(missing)} ({INSTALL_HINT})"
    return None


def _program(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _memory_mb() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 4096  # pragma: no cover


class LocalSlurm:
    """One private single-node SLURM cluster under ``root`` (see the module docstring).

    Parameters
    ----------
    root : path, optional
        Folder for configuration, state, logs and sockets (created; default: a new folder under /tmp). munged wants
        every folder above its socket to be searchable by all, so the default is not under pytest's private tmp.
    cpus : int, optional
        CPUs the node declares (default ``max(8, cores)``).
    gpus : int
        Count-only ``gpu`` GRES of the node (0: none).
    min_job_age : int
        Seconds a finished job stays visible to ``squeue`` (``MinJobAge``).
    tie_to_parent : bool
        The daemons get SIGTERM when this process dies without :meth:`stop` (a test run killed from outside), so
        that no cluster is left behind; ``scripts/tools/local_slurm.py start`` turns it off (its cluster outlives it).
    """

    NODE = "localnode"
    PARTITION = "debug"
    DOWN_PARTITION = "down"

    def __init__(self, root: str | os.PathLike | None = None, *, cpus: int | None = None, gpus: int = 1,
                 min_job_age: int = 30, tie_to_parent: bool = True):
        self._made_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="tmcp-slurm-", dir="/tmp"))
        self.cpus = cpus or max(8, os.cpu_count() or 1)
        self.gpus = gpus
        self.min_job_age = min_job_age
        self.tie_to_parent = tie_to_parent
        self.conf = self.root / "slurm.conf"
        self.log_dir = self.root / "log"
        self.munge_socket = self.root / "run" / "munge.sock"
        self._procs: dict[str, subprocess.Popen] = {}

    # -- environment for clients ----------------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` plus ``SLURM_CONF`` of this cluster (for sbatch, squeue, ... and dask-jobqueue)."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def command(self, *args: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        """Run a SLURM client command (``squeue``, ``scancel`` ...) against this cluster."""
        return subprocess.run([_program(args[0]), *args[1:]], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check)

    def jobs(self) -> list[dict[str, str]]:
        """Jobs ``squeue`` lists (id, name, state, reason), finished ones during ``MinJobAge`` included."""
        out = self.command("squeue", "-h", "-t", "all", "-o", "%i|%j|%T|%r").stdout
        rows = [line.split("|") for line in out.splitlines() if line.strip()]
        return [dict(id=r[0], name=r[1], state=r[2], reason=r[3]) for r in rows]

    def live_jobs(self) -> list[dict[str, str]]:
        """Jobs still pending, running or being cancelled/completed (not yet ended)."""
        return [j for j in self.jobs() if j["state"] in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING",
                                                          "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING")]

    def ctld_log(self) -> str:
        path = self.log_dir / "slurmctld.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- configuration --------------------------------------------------------------------------------------------
    def write_config(self) -> None:
        for sub in ("state", "spool"):  # a fresh start: no jobs recovered from an earlier run in the same folder
            shutil.rmtree(self.root / sub, ignore_errors=True)
        for sub in ("state", "spool", "log", "run", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        os.chmod(self.root / "run", 0o755)
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        r = self.root
        gres = f" Gres=gpu:{self.gpus}" if self.gpus else ""
        lines = [
            "# written by tests/support/slurm.py: a private single-node cluster (no cgroups, no accounting)",
            "ClusterName=tmcp",
            f"SlurmctldHost={socket.gethostname().split('.')[0]}(127.0.0.1)",
            "MailProg=/bin/true",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.log_dir / 'slurmctld.log'}",
            f"SlurmdLogFile={self.log_dir / 'slurmd.log'}",
            f"PlugStackConfig={r / 'plugstack.conf'}",
            "ProctrackType=proctrack/pgid",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "MpiDefault=none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU_Memory",
            "SlurmdParameters=config_overrides",
            "ReturnToService=2",
            f"MinJobAge={self.min_job_age}",
            "KillWait=2",
            "InactiveLimit=0",
            "Waittime=0",
            "SlurmctldTimeout=30",
            "SlurmdTimeout=30",
            "SchedulerParameters=sched_interval=2,bf_interval=2",
            "GresTypes=gpu" if self.gpus else "",
            f"NodeName={self.NODE} NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 CPUs={self.cpus} "
            f"RealMemory={max(1024, _memory_mb() - 512)}{gres} State=UNKNOWN",
            f"PartitionName={self.PARTITION} Nodes={self.NODE} Default=YES MaxTime=INFINITE State=UP",
            f"PartitionName={self.DOWN_PARTITION} Nodes={self.NODE} MaxTime=INFINITE State=DOWN",
        ]
        self.conf.write_text("\n".join(x for x in lines if x) + "\n")
        (r / "plugstack.conf").write_text("")
        (r / "gres.conf").write_text(f"NodeName={self.NODE} Name=gpu Count={self.gpus} File=/dev/null\n" if self.gpus else "")

    # -- start / stop ---------------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> None:
        out = open(self.log_dir / f"{name}.out", "ab")
        self._procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             env=self.env, start_new_session=True,
                                             preexec_fn=_die_with_parent if self.tie_to_parent else None)
        out.close()

    def _tail(self, lines: int = 15) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            if text:
                parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def _wait(self, what: str, ok, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise SlurmStartError(f"{name} exited with {proc.returncode} while waiting for {what}\n"
                                          + self._tail())
            try:
                if ok():
                    return
            except (subprocess.SubprocessError, OSError):
                pass
            time.sleep(0.2)
        raise SlurmStartError(f"timed out after {timeout:.0f} s waiting for {what}\n" + self._tail())

    def start(self, timeout: float = 60) -> LocalSlurm:
        """Write the configuration and start munged, slurmctld and slurmd; return when the node is idle."""
        reason = unavailable_reason()
        if reason:
            raise SlurmStartError(reason)
        self.write_config()
        try:
            self._spawn("munged", [_program("munged"), "--foreground", f"--socket={self.munge_socket}",
                                   f"--key-file={self.root / 'munge' / 'munge.key'}",
                                   f"--pid-file={self.root / 'run' / 'munged.pid'}",
                                   f"--seed-file={self.root / 'munge' / 'munged.seed'}", "--num-threads=2"])
            self._wait("munged's socket", self.munge_socket.exists, timeout)
            self._spawn("slurmctld", [_program("slurmctld"), "-D", "-i", "-f", str(self.conf)])
            self._wait("slurmctld", lambda: self.command("sinfo", "-h", timeout=5, check=False).returncode == 0,
                       timeout)
            self._spawn("slurmd", [_program("slurmd"), "-D", "-N", self.NODE, "-f", str(self.conf)])
            self._wait("the node to be idle", self._idle, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _idle(self) -> bool:
        out = self.command("sinfo", "-h", "-N", "-p", self.PARTITION, "-o", "%t", timeout=5, check=False)
        return out.returncode == 0 and out.stdout.strip() == "idle"

    def _daemon_pids(self) -> dict[str, int]:
        """name -> pid of this cluster's daemons that are alive (started here, or found through their pid files)."""
        pids = {name: p.pid for name, p in self._procs.items() if p.poll() is None}
        for name in _DAEMONS[:3]:
            if name in pids:
                continue
            try:
                pid = int((self.root / "run" / f"{name}.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if pid in self.leftovers():
                pids[name] = pid
        return pids

    def running(self) -> bool:
        """True while slurmctld of this cluster is alive (this object's, or another process's through pid files)."""
        return "slurmctld" in self._daemon_pids()

    def stop(self, timeout: float = 30, *, remove: bool | None = None) -> list[int]:
        """Cancel every job, stop the daemons, end leftovers; return the pids of leftovers that had to be killed.

        Works on a cluster another process started in ``root`` (through the daemons' pid files) as well.
        ``remove``: delete ``root`` afterwards (default: when this object made it, unless ``$TMCP_KEEP_SLURM=1``).
        """
        daemons = self._daemon_pids()
        if "slurmctld" in daemons:
            try:
                for partition in (self.PARTITION, self.DOWN_PARTITION):
                    self.command("scancel", "--full", "--partition", partition, timeout=10, check=False)
                deadline = time.monotonic() + timeout
                while self.live_jobs() and time.monotonic() < deadline:
                    time.sleep(0.2)
            except (subprocess.SubprocessError, OSError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            pid = daemons.get(name)
            if pid is None:
                continue
            proc = self._procs.pop(name, None)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and (proc.poll() is None if proc else _alive(pid)):
                time.sleep(0.1)
            if proc.poll() is None if proc else _alive(pid):
                os.kill(pid, signal.SIGKILL)
            if proc is not None:
                proc.wait(timeout=10)
        self._procs.clear()
        killed = self._end_leftovers()
        if remove if remove is not None else (self._made_root and os.environ.get("TMCP_KEEP_SLURM") != "1"):
            shutil.rmtree(self.root, ignore_errors=True)
        return killed

    def leftovers(self) -> list[int]:
        """Pids of this cluster's processes still alive: its daemons and job steps, and the processes of its jobs
        (``SLURM_CONF`` of this cluster and a ``SLURM_JOB_ID``); a client that merely has ``SLURM_CONF`` set (the
        test process, a command it started) is not one."""
        needle = f"SLURM_CONF={self.conf}\0".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = b"\0" + (entry / "environ").read_bytes() + b"\0"
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if needle in environ and (b"\0SLURM_JOB_ID=" in environ or comm in _DAEMONS):
                pids.append(int(entry.name))
        return pids

    def _end_leftovers(self) -> list[int]:
        killed = []
        for _ in range(3):
            pids = self.leftovers()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        return killed

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
