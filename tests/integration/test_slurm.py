"""Scale-out on a real SLURM: Debian's slurmctld + slurmd + munged started for the session (``local_slurm`` in
tests/conftest.py, tests/support/slurm.py), dask workers in real batch jobs through dask-jobqueue's SLURMCluster
(:class:`~trackmate_cellpose.distributed.SlurmPool`), real cellpose inference on the bundled test model.

* a 2D+t movie and a batch of files on two worker jobs: identical to the in-process run (labels, spots, XML);
* a worker job cancelled with ``scancel`` while it segments a frame, and a job that reaches its walltime while it
  segments a frame: the frame runs again on another job, a new job replaces the lost one, the result is identical
  (nothing lost, nothing twice);
* ``doctor``'s slurm line against the running cluster (and one that does not answer);
* jobs that cannot start: a partition SLURM rejects (at once, with sbatch's words), a partition that is down (the
  run fails within seconds naming the reason and the frames it did not segment), a Python without dask (the jobs end
  before their worker connects: the run fails with the job's own error);
* ``trackmate-cellpose run --cluster slurm``: the same files as the in-process command, and Ctrl-C cancels the jobs
  (``squeue`` lists none afterwards).

Tiers: the tests that start no dask worker in a job (the cluster itself, ``doctor``, jobs that cannot start:
seconds each) carry no marker, so that a run without the ``slow`` tests still checks the real scheduler; those whose
jobs run workers (each job starts Python, torch and the model: tens of seconds on a 2-core machine) are ``slow``
and ``heavy`` (skipped unless ``TMCP_HEAVY=1``; ``.ci/run`` runs that tier when its time allows).

The fault tests make the moment deterministic with a fault plugin (tests/support/dask_faults.py, ``kind="stall"``):
the worker that holds the chosen frame writes a marker naming its SLURM job and waits; the test then cancels that
job, or shortens its time limit with ``scontrol`` so that slurmctld ends it as a real walltime (TIMEOUT) would.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import (BackendUnavailableError, Calibration, DetectorSettings, InvalidSettingsError,
                                RuntimeOptions, SegmentationError, detect)
from trackmate_cellpose.data import sample_path

pytest.importorskip("distributed")
pytest.importorskip("dask_jobqueue")

from trackmate_cellpose.distributed import SlurmOptions, SlurmPool, detect_many, preload_model, worker_stats

from support.dask_faults import frame_fault
from support.identity import assert_identical, movie_files, xml_without_cellprob

REPO = Path(__file__).resolve().parents[2]
CAL = Calibration(x=0.5, y=0.5, z=1.0, t=5.0, space_unit="um", time_unit="s")
#: Small jobs: one CPU (one torch thread) and 2 GB each; the test node declares 8 CPUs whatever the machine has.
JOB = dict(cpus_per_job=1, memory="2GB", walltime="00:15:00", poll_s=1.0)
#: The module's warm pool runs under its own job name, so that the other tests count only their own jobs.
POOL_JOB_NAME = "tmcp-test-pool"


@pytest.fixture(scope="module")
def settings(test_model):
    return DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0, use_gpu=False)


@pytest.fixture(scope="module")
def movie():
    return tifffile.imread(sample_path("2dt"))[:, :64, :64]


@pytest.fixture(scope="module")
def reference(settings, movie):
    """The in-process run of the first 5 frames, one frame per network call (as the SLURM runs below)."""
    return detect(movie[:5], settings, axes="tyx", calibration=CAL, runtime=RuntimeOptions(frames_per_batch=1))


@pytest.fixture(scope="module")
def worker_env(local_slurm):
    """The jobs inherit the test's environment (sbatch --export=ALL): the package under test and tests/support
    (the fault plugin) must be importable there."""
    mp = pytest.MonkeyPatch()
    paths = [str(REPO / "python"), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]
    mp.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    yield local_slurm
    mp.undo()


@pytest.fixture(scope="module")
def pool(worker_env, settings, tmp_path_factory):
    """Two warm worker jobs for the module (a cold model load on a busy 2-core machine takes tens of seconds)."""
    events: list[str] = []
    p = SlurmPool(SlurmOptions(jobs=2, log_directory=str(tmp_path_factory.mktemp("slurm-logs")),
                               job_name=POOL_JOB_NAME, **JOB), log=events.append).start()
    p.events = events
    try:
        p.wait_for_workers(2, timeout=180)
        assert all(preload_model(_client(p), settings).values())
        yield p
    finally:
        p.close()
    assert not _live(worker_env, p), worker_env.jobs()


def _client(pool):
    from trackmate_cellpose.distributed import client_for

    return client_for(pool.runtime())


def _runtime(pool, fpb: int = 1) -> RuntimeOptions:
    return pool.runtime(RuntimeOptions(frames_per_batch=fpb))


def _live(cluster, pool_or_name) -> list[dict]:
    """squeue's not-ended jobs of a pool (its submitted ids) or of a job name (the command line's jobs)."""
    if isinstance(pool_or_name, str):
        return [j for j in cluster.live_jobs() if j["name"] == pool_or_name]
    return [j for j in cluster.live_jobs() if j["id"] in pool_or_name.submitted]


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def test_local_slurm_runs_a_batch_job(local_slurm, tmp_path):
    out = tmp_path / "job.out"
    jid = local_slurm.command("sbatch", "--parsable", "-o", str(out), "--wrap",
                              "echo job $SLURM_JOB_ID on $SLURM_JOB_PARTITION").stdout.strip()
    _wait_for(lambda: out.exists() and out.read_text().strip(), 30, "the job's output")
    assert out.read_text().strip() == f"job {jid} on debug"
    _wait_for(lambda: not [j for j in local_slurm.live_jobs() if j["id"] == jid], 30, "the job to end")


def test_doctor_slurm_line_on_the_real_slurm(local_slurm, monkeypatch, tmp_path, test_model, capsys):
    """``doctor``'s slurm line against the running cluster: sbatch and its version, the partition the jobs would use
    and where that comes from, whether it is up; a partition the cluster lacks is an error naming the others; a
    slurmctld that does not answer is a warning."""
    from trackmate_cellpose.cli import main
    from trackmate_cellpose.diagnosis import Report, _check_slurm

    def line(partition: str = ""):
        r = Report()
        _check_slurm(r, partition)
        (check,) = r.checks
        assert check.name == "slurm"
        return check

    ok = line()
    assert ok.level == "ok", ok
    version = subprocess.run(["sbatch", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert ok.detail.startswith(f"{shutil.which('sbatch')} ({version}); "), ok.detail
    assert "jobs go to partition 'debug' (the cluster's default): up, 1 of 1 node idle" in ok.detail, ok.detail
    monkeypatch.setenv("SBATCH_PARTITION", "down")
    down = line()
    assert down.level == "warn" and "partition 'down' ($SBATCH_PARTITION): down" in down.detail, down
    assert "--slurm-partition" in down.fix
    monkeypatch.delenv("SBATCH_PARTITION")
    bad = line("nosuch")
    assert bad.level == "error" and "partition 'nosuch' is not one of debug, down" in bad.detail, bad
    assert "debug, down" in bad.fix

    assert line("debug").detail.endswith("jobs go to partition 'debug' (asked for): up, 1 of 1 node idle")

    # the command prints the line, and a partition that does not exist makes it fail (one diagnose: seconds)
    assert main(["doctor", "--slurm-partition", "nosuch", "--model-path", str(test_model)]) == 1
    assert re.search(r"\[FAIL\] slurm +.*'nosuch' is not one of debug, down", capsys.readouterr().out)

    # slurmctld not answering: a configuration whose controller port nobody listens on
    conf = tmp_path / "slurm.conf"
    conf.write_text(re.sub(r"SlurmctldPort=\d+", f"SlurmctldPort={_unused_port()}", local_slurm.conf.read_text())
                    + "MessageTimeout=2\n")
    monkeypatch.setenv("SLURM_CONF", str(conf))
    t0 = time.monotonic()
    dead = line()
    assert dead.level == "warn" and "SLURM does not answer" in dead.detail, dead
    assert "slurmctld" in dead.fix and time.monotonic() - t0 < 60


def _unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.heavy
def test_movie_and_files_identical_to_in_process(pool, settings, movie, reference, tmp_path):
    local = reference
    on_slurm = detect(movie[:5], settings, axes="tyx", calibration=CAL, runtime=_runtime(pool))
    assert local.n_detections > 5
    assert_identical(local, on_slurm)
    assert xml_without_cellprob(local, settings, tmp_path / "a.xml") == \
        xml_without_cellprob(on_slurm, settings, tmp_path / "b.xml")
    # the chunks ran in the jobs' workers: each worker's SLURM job is one of the pool's
    job_ids = _client(pool).run(lambda: os.environ.get("SLURM_JOB_ID"))
    assert set(job_ids.values()) <= set(pool.submitted) and len(job_ids) == 2
    # one torch thread per job: the CPUs booked (--cpus-per-task=1), not the machine's cores
    assert all(s["torch_threads"] == 1 for s in worker_stats(_client(pool)).values())

    paths = movie_files(movie, [(0, 1), (1, 3)], tmp_path)
    in_process = detect_many(paths, settings, runtime=RuntimeOptions(frames_per_batch=1))
    results = detect_many(paths, settings, runtime=_runtime(pool))
    assert [len(r.frames) for r in results] == [1, 2]
    for a, b in zip(in_process, results):
        assert_identical(a, b)


def _stalled_job(pool, marker: Path, timeout: float = 120) -> str:
    text = _wait_for(lambda: marker.exists() and marker.read_text().strip(), timeout, "the stalled frame")
    job_id = text.split()[0]
    assert job_id in pool.submitted, (job_id, pool.submitted)
    return job_id


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("how", ["scancel", "walltime"])
def test_lost_job_mid_frame_reruns_it_elsewhere(pool, worker_env, settings, movie, reference, tmp_path, how):
    """The job segmenting frame 2 is cancelled (``scancel``) or reaches its time limit while it does: the frame runs
    again on another job, a new job replaces the lost one, and the result is identical to the in-process run."""
    img, local = movie[:5], reference
    marker = tmp_path / "stalled"
    ended_before = len(pool.ended)
    lost: list[str] = []

    def lose_the_job() -> None:
        job_id = _stalled_job(pool, marker)
        lost.append(job_id)
        if how == "scancel":
            worker_env.command("scancel", job_id)
        else:  # slurmctld ends a job past its limit at its next time-limit check (every 30 s): state TIMEOUT
            worker_env.command("scontrol", "update", f"JobId={job_id}", "TimeLimit=0:01")

    name_of_job = {w.job_id: name for name, w in list(pool.cluster.workers.items())}
    killer = threading.Thread(target=lose_the_job, daemon=True)
    killer.start()
    with frame_fault(_client(pool), img[2], frame=2, kind="stall", marker=str(marker)):
        on_slurm = detect(img, settings, axes="tyx", calibration=CAL, runtime=_runtime(pool))
    killer.join(timeout=5)
    assert lost, "the fault was not triggered"
    assert_identical(local, on_slurm)
    assert [f.frame for f in on_slurm.frames] == list(range(5))
    # the job that held frame 2 ended the way the test made it end, and a new job took its place
    expected = {"scancel": "CANCELLED", "walltime": "TIMEOUT"}[how]
    _wait_for(lambda: any(j == lost[0] for j, _ in pool.ended[ended_before:]), 60, "the keeper to see the loss")
    assert (lost[0], expected) in pool.ended[ended_before:], pool.ended
    if how == "walltime":
        assert re.search(rf"Time limit exhausted for JobId={lost[0]}\b", worker_env.ctld_log())
    assert lost[0] not in pool.live_job_ids()
    pool.wait_for_workers(2, timeout=180)
    assert len(pool.live_job_ids()) == 2 and pool.submitted[-1] != lost[0]
    # the new job has a new worker name: dask's check for the lost worker (15 s later) must not close it
    assert name_of_job[lost[0]] not in pool.cluster.workers, (name_of_job, list(pool.cluster.workers))
    assert any(f"job {lost[0]} ended" in e for e in pool.events)
    preload_model(_client(pool), settings)  # keep the module's workers warm


def _set_allowed_failures(client, n: int) -> int:
    def swap(dask_scheduler, n=n):
        old, dask_scheduler.allowed_failures = dask_scheduler.allowed_failures, n
        return old
    return client.run_on_scheduler(swap)


@pytest.mark.slow
@pytest.mark.heavy
def test_frame_whose_job_is_lost_too_often_fails_naming_it(pool, worker_env, settings, movie, tmp_path):
    """dask gives a chunk ``distributed.scheduler.allowed-failures`` retries after losing its worker (3 by default;
    0 here, for this test, so that one lost job is "too often"): the run fails naming the frame."""
    client = _client(pool)
    marker = tmp_path / "stalled"
    lost: list[str] = []
    killer = threading.Thread(target=lambda: lost.append(_stalled_job(pool, marker)) or
                              worker_env.command("scancel", lost[0]), daemon=True)
    killer.start()
    before = _set_allowed_failures(client, 0)
    try:
        with frame_fault(client, movie[1], frame=1, kind="stall", marker=str(marker)), \
                pytest.raises(SegmentationError, match=r"died repeatedly while segmenting frame 1\b") as err:
            detect(movie[:3], settings, axes="tyx", calibration=CAL, runtime=_runtime(pool))
    finally:
        _set_allowed_failures(client, before)
    assert lost and err.value.frame == 1 and "allowed-failures = 0" in str(err.value)
    pool.wait_for_workers(2, timeout=180)  # the pool replaced the lost job
    preload_model(client, settings)


@pytest.mark.parametrize("case", ["no-such-partition", "too-much-memory"])
def test_job_that_slurm_rejects_fails_at_once(worker_env, tmp_path, case):
    opts = SlurmOptions(jobs=1, log_directory=str(tmp_path), **{**JOB, **(
        {"partition": "nosuch"} if case == "no-such-partition" else {"memory": "4000GB"})})
    t0 = time.monotonic()
    pool = SlurmPool(opts)
    with pytest.raises(InvalidSettingsError, match="SLURM rejects the worker job") as err:
        pool.start()
    assert time.monotonic() - t0 < 30
    assert ("invalid partition" if case == "no-such-partition" else "node configuration is not available") in \
        str(err.value).lower()
    assert not pool.submitted and pool.cluster is None  # nothing was queued, the scheduler is closed


def _warm_driver(settings, movie) -> None:
    """Import what a distributed run imports on the driver (torch for the model check, dask.distributed) before a
    test times how fast the run fails: a first import takes minutes on a loaded 2-core machine."""
    import distributed  # noqa: F401

    from trackmate_cellpose.segment import check_model

    check_model(settings)


def test_job_that_cannot_start_fails_the_run_naming_frames(worker_env, settings, movie, tmp_path):
    """A partition that is down: sbatch accepts the job, it stays pending (PartitionDown); the run stops within
    seconds with the reason and the frames it did not segment, and no job is left queued."""
    _warm_driver(settings, movie)
    with SlurmPool(SlurmOptions(jobs=1, partition="down", log_directory=str(tmp_path), **JOB)) as pool:
        t0 = time.monotonic()
        with pytest.raises(BackendUnavailableError) as err:
            detect(movie[:2], settings, axes="tyx", calibration=CAL, runtime=_runtime(pool))
        assert time.monotonic() - t0 < 60
    msg = str(err.value)
    assert "PartitionDown" in msg and "cannot start" in msg
    assert "Not segmented: frame 0, frame 1" in msg
    assert pool.submitted and not _live(worker_env, pool)


def test_job_pending_longer_than_the_start_timeout_fails_the_run(worker_env, settings, movie, tmp_path):
    """A job that waits for a reason SLURM says will pass (here its begin time, an hour away) is waited for only
    ``start_timeout`` seconds."""
    opts = SlurmOptions(jobs=1, log_directory=str(tmp_path), start_timeout=3, sbatch_lines=("--begin=now+3600",),
                        **JOB)
    _warm_driver(settings, movie)
    with SlurmPool(opts) as pool:
        t0 = time.monotonic()
        with pytest.raises(BackendUnavailableError, match=r"still pending \(BeginTime\) after 3 s") as err:
            detect(movie[:1], settings, axes="tyx", calibration=CAL, runtime=_runtime(pool))
        assert time.monotonic() - t0 < 60
    assert "Not segmented: frame 0" in str(err.value)
    assert pool.submitted and not _live(worker_env, pool)


def test_jobs_whose_worker_cannot_start_fail_with_the_jobs_error(worker_env, settings, movie, tmp_path):
    """The jobs run a Python without dask: each ends before its worker connects; after a few the run fails and
    quotes the job's own error instead of waiting forever."""
    bare = tmp_path / "venv-without-dask"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    with SlurmPool(SlurmOptions(jobs=1, python=str(bare / "bin" / "python"), log_directory=str(tmp_path / "logs"),
                                **JOB)) as pool:
        with pytest.raises(BackendUnavailableError, match="before their dask worker connected") as err:
            detect(movie[:1], settings, axes="tyx", calibration=CAL, runtime=_runtime(pool))
    assert "No module named" in str(err.value)
    assert "Not segmented: frame 0" in str(err.value)
    assert len(pool.submitted) >= 3 and not _live(worker_env, pool)


# -- the command line -------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.heavy
def test_cli_run_cluster_slurm_writes_the_in_process_files(worker_env, movie, test_model, tmp_path, capsys):
    """``run --cluster slurm`` (in this process: its pool is started and closed by the command) writes the same
    labels and TrackMate XML as the in-process command; the extra sbatch line and the prologue reach the jobs."""
    from trackmate_cellpose.cli import main

    src = tmp_path / "movie.tif"
    tifffile.imwrite(src, movie[:3], imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "TYX", "unit": "um", "finterval": 5.0})
    common = ["run", str(src), "--model-path", str(test_model), "--diameter", "10", "--frames-per-batch", "1",
              "--formats", "xml,labels", "--quiet"]
    assert main([*common, "-o", str(tmp_path / "local")]) == 0
    # one job: the identity across several workers is test_movie_and_files_identical_to_in_process's; a cold job
    # (Python, torch, the model) is the costly part of this test on a 2-core machine
    rc = main([*common, "-o", str(tmp_path / "slurm"), "--cluster", "slurm", "--slurm-jobs", "1",
               "--slurm-cpus-per-job", "1", "--slurm-memory", "2GB", "--slurm-walltime", "10:00",
               "--slurm-sbatch=--export=ALL,TMCP_SBATCH_MARK=from-the-sbatch-line",
               "--slurm-prologue", "echo prologue ran with $TMCP_SBATCH_MARK"])
    assert rc == 0, capsys.readouterr().err
    assert not _live(worker_env, "tmcp-worker")
    a = tifffile.imread(tmp_path / "local" / "movie_labels.tif")
    b = tifffile.imread(tmp_path / "slurm" / "movie_labels.tif")
    assert np.array_equal(a, b) and a.max() > 0
    strip = re.compile(rb'MEAN_CELLPROB="[^"]*"')  # float32 rounding with another thread count (support.identity)
    xa, xb = ((tmp_path / d / "movie.xml").read_bytes() for d in ("local", "slurm"))
    assert strip.sub(b"", xa) == strip.sub(b"", xb)
    logs = sorted((tmp_path / "slurm" / "slurm-logs").glob("tmcp-worker-*.out"))
    assert len(logs) >= 1 and all("prologue ran with from-the-sbatch-line" in p.read_text() for p in logs)


_SIGINT_DRIVER = r'''
import sys, time
from trackmate_cellpose.distributed import _driver
orig_completed = _driver._completed
said = []
def completed(client, futures, *, timeout):
    # the driver's wait loop, once a worker in a SLURM job executes one of the run's tasks: wait here for the signal
    if not said and any(str(k).startswith("tmcp-") for keys in client.processing().values() for k in keys):
        said.append(1); print("AT detect", flush=True); time.sleep(120)
    return orig_completed(client, futures, timeout=timeout)
_driver._completed = completed
from trackmate_cellpose.cli import main
sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.slow
@pytest.mark.heavy
def test_ctrl_c_of_the_driver_cancels_its_jobs(worker_env, movie, test_model, tmp_path):
    src = tmp_path / "movie.tif"
    tifffile.imwrite(src, movie[:6], imagej=True, resolution=(2.0, 2.0), metadata={"axes": "TYX"})
    proc = subprocess.Popen(
        [sys.executable, "-c", _SIGINT_DRIVER, "run", str(src), "-o", str(tmp_path / "out"), "--model-path",
         str(test_model), "--diameter", "10", "--frames-per-batch", "1", "--cluster", "slurm", "--slurm-jobs", "1",
         "--slurm-cpus-per-job", "1", "--slurm-memory", "2GB", "--slurm-walltime", "10:00"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = ""
        deadline = time.monotonic() + 400
        while "AT detect" not in line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
        assert "AT detect" in line, proc.stderr.read() if proc.poll() is not None else "no progress"
        assert _live(worker_env, "tmcp-worker")
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert rc == 130, err
    assert "cancelled" in err
    assert not _live(worker_env, "tmcp-worker"), worker_env.jobs()
    assert not (tmp_path / "out" / "movie.xml").exists()
