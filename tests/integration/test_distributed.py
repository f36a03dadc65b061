"""The dask.distributed path against the in-process path: identical results, a killed worker, a failing frame,
cancel, several images, warm models. One loopback LocalCluster of 2 single-threaded worker processes for the module.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import pytest
import tifffile

from trackmate_cellpose import (Calibration, Cancelled, DetectorSettings, RuntimeOptions, SegmentationError,
                                detect)
from trackmate_cellpose.data import sample_path

distributed = pytest.importorskip("distributed")

from trackmate_cellpose.distributed import (detect_distributed, detect_many, local_cluster, plan_chunks,  # noqa: E402
                                            preload_model, shutdown, worker_stats)
from trackmate_cellpose.distributed import _worker  # noqa: E402

from support.dask_faults import frame_fault  # noqa: E402
from support.identity import assert_identical, movie_files, xml_without_cellprob  # noqa: E402

pytestmark = pytest.mark.slow

CAL = Calibration(x=0.5, y=0.5, z=1.0, t=5.0, space_unit="um", time_unit="s")


@pytest.fixture(scope="module")
def settings(test_model):
    return DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0, use_gpu=False)


@pytest.fixture(scope="module")
def movie():
    return tifffile.imread(sample_path("2dt"))


@pytest.fixture(scope="module")
def cluster(request, settings):
    """2 single-threaded worker processes, models preloaded (a cold load on a busy 2-core machine takes tens of
    seconds, during which a task cannot poll for cancel)."""
    cl = local_cluster(2, torch_threads=1)
    client = distributed.Client(cl, set_as_default=False)
    request.addfinalizer(lambda: (shutdown(), client.close(), cl.close()))
    assert all(preload_model(client, settings).values())
    return cl, client


def _runtime(cluster, fpb: int) -> RuntimeOptions:
    return RuntimeOptions(frames_per_batch=fpb, scheduler=cluster[0].scheduler_address)


def _no_tasks_left(client) -> None:
    def ours(dask_scheduler):
        return [str(k) for k, ts in dask_scheduler.tasks.items() if str(k).startswith("tmcp-")
                and ts.state in ("processing", "waiting", "queued", "no-worker")]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not client.run_on_scheduler(ours) and not any(client.run(_worker.running_chunks).values()):
            return
        time.sleep(0.2)
    raise AssertionError(f"tasks left: {client.run_on_scheduler(ours)}, running: {client.run(_worker.running_chunks)}")


def test_plan_chunks_follow_engine_batches():
    assert plan_chunks([0, 1, 2, 3, 4], is_3d=False, frames_per_batch=2) == [(0, 1), (2, 3), (4,)]
    assert plan_chunks([5, 3, 9], is_3d=False, frames_per_batch=4) == [(5, 3, 9)]
    assert plan_chunks([0, 1, 2], is_3d=True, frames_per_batch=4) == [(0,), (1,), (2,)]


def test_two_workers_identical_to_in_process(cluster, settings, movie, tmp_path):
    """detect() with a scheduler = detect() in-process, byte for byte but MEAN_CELLPROB's last float bits; each worker
    loaded the model once."""
    img = movie[:6]
    local = detect(img, settings, axes="tyx", calibration=CAL, runtime=RuntimeOptions(frames_per_batch=2),
                   origin_xyz=(3, 4, 0), frame_offset=10)
    progress: list[float] = []
    dist = detect(img, settings, axes="tyx", calibration=CAL, runtime=_runtime(cluster, 2), origin_xyz=(3, 4, 0),
                  frame_offset=10, progress=lambda f, m: progress.append(f))
    assert_identical(local, dist)
    assert local.n_detections > 20
    assert progress and progress[-1] == 1.0 and all(b >= a for a, b in zip(progress, progress[1:]))
    # MEAN_CELLPROB was compared above to float32 rounding (see support.identity); every other byte is equal
    assert xml_without_cellprob(local, settings, tmp_path / "a.xml") == \
        xml_without_cellprob(dist, settings, tmp_path / "b.xml")

    # a frame list with gaps and out of order: same chunks as the engine's batches, same numbers
    frames = [5, 0, 2, 3]
    local = detect(img, settings, axes="tyx", calibration=CAL, runtime=RuntimeOptions(frames_per_batch=2),
                   frames=frames)
    dist = detect(img, settings, axes="tyx", calibration=CAL, runtime=_runtime(cluster, 2), frames=frames)
    assert_identical(local, dist)

    empty = detect(img, settings, axes="tyx", calibration=CAL, runtime=_runtime(cluster, 2), frames=[])
    assert empty.frames == [] and empty.image_shape_tczyx == local.image_shape_tczyx

    stats = worker_stats(cluster[1])
    assert len(stats) == 2 and all(s["torch_threads"] == 1 for s in stats.values())
    assert sum(s["tasks"] for s in stats.values()) >= 5
    assert all(s["model_loads"] == 1 for s in stats.values()), stats  # preloaded once, reused by every task


@pytest.mark.parametrize("how", ["inside-task", "from-outside"])
def test_killed_worker_gives_complete_identical_result(cluster, settings, movie, tmp_path, how):
    """SIGKILL of a worker mid-run: dask recomputes its chunks elsewhere, nothing lost or doubled.

    ``inside-task``: the worker holding frame 2 kills itself after computing it (deterministic). ``from-outside``: the
    test kills a worker that is processing one of the run's tasks as soon as the first progress arrives.
    """
    client = cluster[1]
    img = movie[:5]
    local = detect(img, settings, axes="tyx", calibration=CAL, runtime=RuntimeOptions(frames_per_batch=1))
    marker = tmp_path / "killed"
    before = set(client.scheduler_info()["workers"])
    pids = client.run(os.getpid)

    def kill_busy_worker(fraction: float, message: str) -> None:
        if marker.exists():
            return
        busy = [w for w, keys in client.processing().items() if any(str(k).startswith("tmcp-") for k in keys)]
        if busy:
            marker.write_text(busy[0])
            os.kill(pids[busy[0]], signal.SIGKILL)

    with (frame_fault(client, img[2], frame=2, kind="kill", marker=str(marker)) if how == "inside-task"
          else contextlib.nullcontext()):
        dist = detect(img, settings, axes="tyx", calibration=CAL, runtime=_runtime(cluster, 1),
                      progress=kill_busy_worker if how == "from-outside" else None)
    assert marker.exists(), "the fault was not triggered"
    assert_identical(local, dist)
    assert [f.frame for f in dist.frames] == list(range(5))
    client.wait_for_workers(2, timeout=120)
    assert set(client.scheduler_info()["workers"]) != before  # the nanny replaced the killed worker
    preload_model(client, settings)  # keep the module's workers warm for the next tests


def test_failing_frame_fails_the_run_naming_it(cluster, settings, movie, tmp_path):
    client = cluster[1]
    with frame_fault(client, movie[3], frame=3, kind="raise"), \
            pytest.raises(SegmentationError, match=r"frame 3\b") as err:
        detect(movie[:4], settings, axes="tyx", calibration=CAL, runtime=_runtime(cluster, 2))
    # the worker's own exception class came back (no string kinds mapped to classes), with the frame it failed on,
    # the caller's settings, and the worker's traceback for --debug
    assert type(err.value) is SegmentationError
    assert err.value.frame == 3 and "injected fault" in str(err.value)
    assert err.value.settings == settings
    assert "On the dask worker" in err.value.remote_traceback
    assert "RuntimeError: injected fault on frame 3" in err.value.remote_traceback
    _no_tasks_left(client)


@pytest.mark.parametrize("how", ["cancel", "ctrl-c"])
def test_cancel_stops_cluster_tasks_promptly(cluster, settings, movie, how):
    """TrackMate's cancel (the callable) or Ctrl-C (KeyboardInterrupt in the waiting loop) mid-run."""
    client = cluster[1]
    flag = threading.Event()
    asked: list[float] = []

    def cancel() -> bool:
        if flag.is_set() and not asked:
            asked.append(time.monotonic())
            if how == "ctrl-c":
                raise KeyboardInterrupt
        return flag.is_set()

    def progress(fraction: float, message: str) -> None:
        if fraction > 0:
            flag.set()

    tasks_before = sum(s["tasks"] for s in worker_stats(client).values())
    with pytest.raises(Cancelled if how == "cancel" else KeyboardInterrupt):
        detect_distributed(movie, settings, axes="tyx", calibration=CAL, runtime=_runtime(cluster, 1),
                           progress=progress, cancel=cancel)
    took = time.monotonic() - asked[0]
    assert took < 10, f"cancel took {took:.1f} s"
    _no_tasks_left(client)
    tasks_after = sum(s["tasks"] for s in worker_stats(client).values())
    assert tasks_after - tasks_before < movie.shape[0]  # not everything ran


def test_detect_many_files_identical(cluster, settings, movie, tmp_path):
    paths = movie_files(movie, [(0, 4), (4, 7)], tmp_path)
    progress: list[float] = []
    results = detect_many(paths, settings, runtime=_runtime(cluster, 2), progress=lambda f, m: progress.append(f))
    in_process = detect_many(paths, settings, runtime=RuntimeOptions(frames_per_batch=2))  # no dask involved
    from trackmate_cellpose.reader import read_image

    local = detect(read_image(paths[1]).array, settings, axes="tczyx", calibration=read_image(paths[1]).calibration,
                   runtime=RuntimeOptions(frames_per_batch=2))
    assert_identical(local, in_process[1])
    for a, b in zip(in_process, results):
        assert_identical(a, b)
    assert [len(r.frames) for r in results] == [4, 3] and results[0].calibration.t == 5.0
    assert progress[-1] == 1.0 and all(b >= a for a, b in zip(progress, progress[1:]))


@pytest.mark.skipif(os.environ.get("TMCP_TEST_3D_DISTRIBUTED") != "1",
                    reason="3D+t on workers takes minutes on 2 CPU cores; set TMCP_TEST_3D_DISTRIBUTED=1")
def test_3dt_time_points_identical(cluster, settings):
    img = tifffile.imread(sample_path("3dt"))[:2, :, :48, :48]
    local = detect(img, settings, axes="tzyx", calibration=CAL)
    dist = detect(img, settings, axes="tzyx", calibration=CAL, runtime=_runtime(cluster, 4))
    assert_identical(local, dist)
