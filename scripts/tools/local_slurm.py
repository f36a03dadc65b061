"""Start, inspect or stop a private single-node SLURM cluster on this machine (as root; Debian's slurm-wlm + munge).

    python scripts/tools/local_slurm.py start [--dir /tmp/tmcp-slurm]   # prints: export SLURM_CONF=...
    python scripts/tools/local_slurm.py status [--dir ...]
    python scripts/tools/local_slurm.py stop [--dir ...]                # cancels its jobs, stops the daemons

Everything (configuration, munge key and socket, state, logs) lives in ``--dir``; nothing under /etc is touched and
the daemons listen on free ports, so a site SLURM, if any, is left alone. With ``export SLURM_CONF=<dir>/slurm.conf``
``sbatch``, ``squeue`` and ``trackmate-cellpose run --cluster slurm`` use this cluster. The tests start their own
(tests/support/slurm.py, the module this script drives); see docs/developer/local-slurm.md. Exit codes: 0 done,
1 failed, 2 this machine cannot run it (not root, packages missing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from support.slurm import LocalSlurm, SlurmStartError, unavailable_reason

DEFAULT_DIR = Path("/tmp/tmcp-slurm")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("start", "status", "stop"))
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"cluster folder [{DEFAULT_DIR}]")
    p.add_argument("--cpus", type=int, default=None, help="CPUs the node declares [max(8, cores)]")
    p.add_argument("--gpus", type=int, default=1, help="count-only GPUs the node declares (no device) [1]")
    args = p.parse_args(argv)
    cluster = LocalSlurm(args.dir, cpus=args.cpus, gpus=args.gpus, tie_to_parent=False)
    if args.action == "stop":
        killed = cluster.stop()
        print(f"stopped the cluster in {args.dir}" + (f" (killed leftover pids {killed})" if killed else ""))
        return 0
    if args.action == "status":
        if not cluster.running():
            print(f"no cluster running in {args.dir}")
            return 1
        print(cluster.command("sinfo").stdout + cluster.command("squeue").stdout, end="")
        print(f"export SLURM_CONF={cluster.conf}")
        return 0
    reason = unavailable_reason()
    if reason:
        print(f"cannot start SLURM here: {reason}", file=sys.stderr)
        return 2
    if cluster.running():
        print(f"already running in {args.dir}")
    else:
        try:
            cluster.start()
        except SlurmStartError as e:
            print(f"SLURM did not start: {e}", file=sys.stderr)
            return 1
        print(cluster.command("sinfo").stdout, end="")
    print(f"export SLURM_CONF={cluster.conf}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
