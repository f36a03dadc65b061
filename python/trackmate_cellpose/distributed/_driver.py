"""Driver side of the distributed path: plan chunks, submit them, gather by index, report, cancel, fail loudly.

One *job* is one image (a movie or a file); a job is cut into *chunks* exactly as the in-process engine batches it
(``RuntimeOptions.frames_per_batch`` consecutive entries of the frame list for 2D+t, one time point for 3D+t), because
cellpose's results depend on which frames share a network call: same chunks, same numbers. Chunks of all jobs are
submitted through one bounded window (at most ``window`` chunks in flight, so the scheduler never holds a whole plate
of movies) and gathered by chunk index, never by arrival order: a chunk recomputed after a worker died is still
counted once.

Imports: distributed (lazily), numpy; package: _call, _input (lazily), calibration, distributed._cluster (lazily),
distributed._worker, errors, results, segment (lazily), settings.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..calibration import Calibration
from .._call import DetectCall, Hooks, Placement
from ..errors import BackendUnavailableError, Cancelled, SegmentationError, TrackMateCellposeError
from ..results import DetectionResult
from ..settings import DetectorSettings, RuntimeOptions
from ._worker import ChunkOutput, ChunkSpec, cancel_event_name, progress_topic

#: Seconds the driver waits, after a cancel or failure, for workers to stop the run's chunks that are executing.
CANCEL_WAIT_S = 10.0
_POLL_S = 0.1


def plan_chunks(frames: Sequence[int], *, is_3d: bool, frames_per_batch: int) -> list[tuple[int, ...]]:
    """Cut a frame list into task chunks: the engine's batches (2D) or single time points (3D)."""
    step = 1 if is_3d else frames_per_batch
    return [tuple(frames[i:i + step]) for i in range(0, len(frames), step)]


@dataclass
class Job:
    """One image to segment on the cluster, and what came back so far."""

    index: int
    name: str
    data: np.ndarray  # channel-selected (T, C', Z, Y, X)
    shape_tczyx: tuple[int, ...]
    calibration: Calibration
    settings: DetectorSettings  # as given by the caller (goes into the result)
    worker_settings: DetectorSettings  # channels renumbered for the channel-selected data
    runtime: RuntimeOptions
    placement: Placement  # origin and frame offset of the caller (its frames are planned into ``chunks``)
    chunks: list[tuple[int, ...]]
    is_3d: bool
    outputs: dict[int, ChunkOutput] = field(default_factory=dict)
    fractions: dict[int, float] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return sum(len(c) for c in self.chunks)

    @property
    def done(self) -> bool:
        return len(self.outputs) == len(self.chunks)

    def fraction(self) -> float:
        if not self.chunks:
            return 1.0
        done = sum(len(self.chunks[ci]) * (1.0 if ci in self.outputs else min(0.99, self.fractions.get(ci, 0.0)))
                   for ci in range(len(self.chunks)))
        return done / max(1, self.n_frames)

    def result(self) -> DetectionResult:
        frames, notes = [], []
        for ci in range(len(self.chunks)):
            out = self.outputs[ci]
            frames.extend(out.frames)
            notes.extend(n for n in out.notes if n not in notes)
        return DetectionResult(frames=frames, calibration=self.calibration, is_3d=self.is_3d, settings=self.settings,
                               image_shape_tczyx=self.shape_tczyx, notes=notes)

    def describe(self, chunk: Sequence[int]) -> str:
        span = f"frame {chunk[0]}" if len(chunk) == 1 else f"frames {chunk[0]}-{chunk[-1]}"
        return span if not self.name else f"{self.name}: {span}"


def prepare_job(index: int, call: DetectCall, *, name: str = "") -> Job:
    """Validate like the in-process engine does (same errors, before any cluster time is spent) and plan chunks."""
    from .._input import emit_notices, prepare_input
    from ..segment._models import check_model

    prepared = prepare_input(call)
    settings, runtime = call.settings, call.runtime
    if settings.is_custom_model:
        check_model(settings)  # a missing model file fails here, not on every worker
    # warnings here, on the driver; the workers prepare their blocks again and send every notice back as a note
    emit_notices([n for n in prepared.notices if n.category is not None], None, stacklevel=5)
    arr, cal, frame_list, data = prepared.array_tczyx, prepared.calibration, prepared.frames, prepared.data_tczyx
    is_3d = prepared.is_3d
    worker_settings = settings.replace(target_channel=1, channel_2=2 if settings.channel_2 else 0)
    return Job(index=index, name=name, data=data, shape_tczyx=tuple(arr.shape), calibration=cal, settings=settings,
               worker_settings=worker_settings, runtime=runtime,
               placement=Placement(origin_xyz=call.placement.origin_xyz, frame_offset=call.placement.frame_offset),
               chunks=plan_chunks(frame_list, is_3d=is_3d, frames_per_batch=runtime.frames_per_batch), is_3d=is_3d)


def _block(job: Job, chunk: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    lo, hi = chunk[0], chunk[-1]
    if list(chunk) == list(range(lo, hi + 1)):
        return job.data[lo:hi + 1], True
    return job.data[list(chunk)], False


def run_jobs(client, jobs: Iterable[Job], *, n_jobs: int, hooks: Hooks = Hooks(), window: int | None = None,
             stats: dict | None = None) -> Iterator[Job]:
    """Run every chunk of ``jobs`` (consumed lazily) on ``client``'s cluster; yield each job when it is complete.

    Raises
    ------
    Cancelled
        ``cancel()`` returned True; the run's tasks were cancelled on the cluster before this returns.
    SegmentationError
        A chunk failed (named by frame), or its worker died more often than dask allows.
    InvalidSettingsError, InvalidImageError, BackendUnavailableError
        As the in-process engine would raise them, from the worker.
    """
    from distributed import Event

    from ._cluster import check_scheduler

    run_id = uuid.uuid4().hex[:12]
    event = Event(cancel_event_name(run_id), client=client)
    if window is None:
        threads = sum(client.nthreads().values()) if client.nthreads() else 1
        window = max(64, 4 * threads)
    lock = threading.Lock()
    remote_fraction: dict[int, float] = {}

    def on_progress(event_record) -> None:
        _, msg = event_record
        if isinstance(msg, dict) and "index" in msg:
            with lock:
                key = int(msg["index"])
                remote_fraction[key] = max(remote_fraction.get(key, 0.0), float(msg.get("fraction", 0.0)))

    topic = progress_topic(run_id)
    client.subscribe_topic(topic, on_progress)
    job_iter = iter(jobs)
    pending: dict[Any, tuple[Job, int, int]] = {}  # future -> (job, chunk index in job, global chunk id)
    by_id: dict[int, tuple[Job, int]] = {}
    open_jobs: dict[int, Job] = {}
    queue: list[tuple[Job, int]] = []
    finished_jobs = 0
    frames_done = 0
    next_id = 0
    reported = 0.0
    seen_notes: set[str] = set()
    exhausted = False
    t_start = time.perf_counter()
    stats = stats if stats is not None else {}
    stats.update(run_id=run_id, wall_s=0.0, chunks=0, chunk_seconds=[], model_loads_in_run=0)

    def refill() -> None:
        nonlocal exhausted, next_id
        while len(pending) < window:
            if not queue:
                if exhausted:
                    return
                try:
                    job = next(job_iter)
                except StopIteration:
                    exhausted = True
                    return
                open_jobs[job.index] = job
                queue.extend((job, ci) for ci in range(len(job.chunks)))
                if not job.chunks:
                    continue
            job, ci = queue.pop(0)
            chunk = job.chunks[ci]
            block, contiguous = _block(job, chunk)
            spec = ChunkSpec(run_id=run_id, index=next_id, frames=chunk, contiguous=contiguous,
                             settings=job.worker_settings, calibration=job.calibration, runtime=job.runtime,
                             placement=job.placement, name=job.name)
            from ._worker import detect_chunk

            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Ll]arge (graph|object).*")
                fut = client.submit(detect_chunk, block, spec, key=f"tmcp-{run_id}-{next_id:06d}", pure=False)
            pending[fut] = (job, ci, next_id)
            by_id[next_id] = (job, ci)
            next_id += 1

    def report() -> None:
        nonlocal reported
        if hooks.progress is None:
            return
        with lock:
            fr = dict(remote_fraction)
        for gid, (job, ci) in by_id.items():
            if gid in fr:
                job.fractions[ci] = max(job.fractions.get(ci, 0.0), fr[gid])
        total = finished_jobs + sum(j.fraction() for j in open_jobs.values())
        value = min(1.0, max(reported, total / max(1, n_jobs)))
        if value > reported:
            reported = value
            hooks.progress(value, f"{finished_jobs}/{n_jobs} images, {frames_done} frames segmented" if n_jobs > 1
                     else f"{frames_done} frames segmented")

    try:
        refill()
        while pending or queue or not exhausted or any(j.done for j in open_jobs.values()):
            if hooks.cancelled():
                raise Cancelled("cancelled while the cluster was segmenting")
            try:
                check_scheduler(client)  # a SLURM pool that cannot run work any more says so here
            except TrackMateCellposeError as e:
                raise BackendUnavailableError(f"{e}. Not segmented: {_unfinished(pending.values(), queue)}") from e
            for fut in _completed(client, list(pending), timeout=_POLL_S):
                job, ci, _ = pending.pop(fut)
                if fut.status != "finished":
                    _raise_for(fut, job, job.chunks[ci])
                out: ChunkOutput = fut.result()
                fut.release()
                job.outputs[ci] = out
                frames_done += len(out.frames)
                stats["chunks"] += 1
                stats["chunk_seconds"].append(out.seconds)
                stats["model_loads_in_run"] += int(out.loaded_model)
                for note in out.notes:
                    if note not in seen_notes:
                        seen_notes.add(note)
                        if hooks.log is not None:
                            hooks.log(note)
            report()
            for idx in [i for i, j in open_jobs.items() if j.done]:
                job = open_jobs.pop(idx)
                finished_jobs += 1
                for gid in [g for g, (j, _) in by_id.items() if j is job]:
                    del by_id[gid]
                report()
                stats["wall_s"] = time.perf_counter() - t_start
                yield job
            refill()
    except BaseException:
        _stop(client, event, list(pending), run_id)
        raise
    finally:
        try:
            client.unsubscribe_topic(topic)
            event.clear()  # forgets the event on the scheduler
        except Exception:  # noqa: BLE001 - cleanup is best effort (the scheduler may be gone)
            pass


def _unfinished(pending: Iterable[tuple[Job, int, int]], queue: Sequence[tuple[Job, int]], *, limit: int = 8) -> str:
    """The chunks submitted but not done, and those not submitted yet, as "name: frames a-b, ..." (at most
    ``limit`` named; images not read yet are not listed)."""
    items = sorted({(job.index, ci): job for job, ci, _ in pending}.items()) + \
        sorted({(job.index, ci): job for job, ci in queue}.items())
    text = [job.describe(job.chunks[ci]) for (_, ci), job in items[:limit]]
    more = len(items) - limit
    return ", ".join(text) + (f" and {more} more chunk(s)" if more > 0 else "") if text else "(none submitted)"


def _completed(client, futures: list, *, timeout: float) -> list:
    """The futures of ``futures`` that are done (finished, failed or cancelled), waiting at most ``timeout`` seconds
    for the first one with ``distributed.wait`` (the caller checks cancel and reports progress between waits)."""
    from distributed import client as dask_client
    from distributed import wait

    # newer distributed raise this group when a done future was cancelled (the caller handles it as Cancelled)
    cancelled_group = getattr(dask_client, "FuturesCancelledError", None)
    quiet = (TimeoutError, asyncio.TimeoutError) + ((cancelled_group,) if cancelled_group else ())
    if not futures:
        time.sleep(timeout)
        return []
    try:
        with client.as_current():  # ``wait`` asks for the current client: the caller's, not a global default
            wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
    except quiet:
        pass
    return [f for f in futures if f.done()]


def _stop(client, event, futures: list, run_id: str) -> None:
    """Cancel the run's tasks and wait (bounded) until no worker still executes one of its chunks."""
    from ._worker import running_chunks

    try:
        event.set()
        client.cancel(futures, force=True)
    except Exception:  # noqa: BLE001 - a dead scheduler has nothing left to cancel
        return
    deadline = time.monotonic() + CANCEL_WAIT_S
    while time.monotonic() < deadline:
        try:
            counts = client.run(running_chunks, run_id, on_error="return")
        except Exception:  # noqa: BLE001
            return
        if not any(isinstance(c, int) and c > 0 for c in counts.values()):
            return
        time.sleep(_POLL_S)


def _raise_for(fut, job: Job, chunk: tuple[int, ...]) -> None:
    """Turn a failed or cancelled chunk future into the package's error, naming the frame (and image)."""
    where = job.describe(chunk)
    if fut.status == "cancelled":
        raise Cancelled(f"{where}: the task was cancelled on the cluster")
    exc = fut.exception()
    name = f"{job.name}: " if job.name else ""
    if isinstance(exc, TrackMateCellposeError) and not isinstance(exc, Cancelled):
        # raised on the worker as the package's own error, frame and image name included (remote_traceback too)
        if isinstance(exc, SegmentationError):
            exc.settings = job.settings  # the caller's settings (the worker ran them with renumbered channels)
        raise exc
    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        KilledWorker = ()  # noqa: N806
    if isinstance(exc, KilledWorker):
        raise SegmentationError(
            f"{name}worker processes died repeatedly while segmenting {where} (dask gave up after "
            f"distributed.scheduler.allowed-failures = {getattr(exc, 'allowed_failures', '?')} retries; out of memory, "
            "or their batch jobs were cancelled or reached their walltime?)", frame=chunk[0],
            settings=job.settings) from exc
    if isinstance(exc, Cancelled):
        raise Cancelled(f"{where}: cancelled on the worker") from exc
    if isinstance(exc, ModuleNotFoundError):
        raise BackendUnavailableError(f"a dask worker cannot import {exc.name!r}: install trackmate-cellpose (and "
                                      "cellpose) in the workers' environment") from exc
    raise SegmentationError(f"{where} failed on a worker: {type(exc).__name__}: {exc}", frame=chunk[0],
                            settings=job.settings) from exc
