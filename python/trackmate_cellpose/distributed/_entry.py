"""The distributed path's entry points, re-exported by :mod:`trackmate_cellpose.distributed`: one movie (behind
``detect``) and many images (files or arrays)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..calibration import Calibration
from .._call import CancelCheck, DetectCall, Hooks, LogCallback, Placement, ProgressCallback
from ..errors import InvalidSettingsError
from ..results import DetectionResult
from ..settings import DetectorSettings, RuntimeOptions
from ._driver import prepare_job, run_jobs


def _client(runtime: RuntimeOptions, client: Any):
    if client is not None:
        from ._cluster import _prepare

        _prepare(client)
        return client
    from ._cluster import client_for

    return client_for(runtime)


def detect_distributed(image: Any, settings: DetectorSettings | None = None, *, axes: str | None = None,
                       calibration: Calibration | None = None, runtime: RuntimeOptions | None = None,
                       frames: Sequence[int] | None = None, origin_xyz: tuple[int, int, int] = (0, 0, 0),
                       frame_offset: int = 0, progress: ProgressCallback | None = None,
                       cancel: CancelCheck | None = None, log: LogCallback | None = None,
                       placement: Placement | None = None, hooks: Hooks | None = None, client: Any = None,
                       stats: dict | None = None) -> DetectionResult:
    """:func:`trackmate_cellpose.detect` on a dask cluster: same arguments, same result, frames spread over workers.

    Parameters
    ----------
    image, settings, axes, calibration, frames, origin_xyz, frame_offset, progress, cancel, log, placement, hooks
        As for :func:`trackmate_cellpose.detect`.
    runtime : RuntimeOptions
        ``scheduler`` (address of an existing cluster) or ``workers`` (size of a local cluster, started on first use
        and kept for later calls); ``frames_per_batch`` frames (2D+t) or one time point (3D+t) make one task.
    client : distributed.Client, optional
        Use this client instead of the one ``runtime`` names.
    stats : dict, optional
        Filled with run statistics (wall time, per-chunk worker seconds, model loads during the run).

    Returns
    -------
    DetectionResult
        Identical (labels, spots, ROIs, features, notes) to the in-process run with the same ``frames_per_batch``.
    """
    call = DetectCall.from_keywords(
        image, settings, function="detect_distributed", axes=axes, calibration=calibration, runtime=runtime,
        frames=frames, origin_xyz=origin_xyz, frame_offset=frame_offset, progress=progress, cancel=cancel, log=log,
        placement=placement, hooks=hooks)
    return detect_call_distributed(call, client=client, stats=stats)


def detect_call_distributed(call: DetectCall, *, client: Any = None, stats: dict | None = None) -> DetectionResult:
    """Run one :class:`~trackmate_cellpose._call.DetectCall` on a dask cluster (see :func:`detect_distributed`)."""
    runtime = call.runtime
    if client is None and not runtime.scheduler and runtime.workers < 1:
        raise InvalidSettingsError("detect_distributed needs runtime.workers >= 1 or runtime.scheduler, got "
                                   f"workers={runtime.workers} and scheduler={runtime.scheduler!r}", key="workers",
                                   value=runtime.workers)
    job = prepare_job(0, call)
    cl = _client(runtime, client)
    hooks = call.hooks
    (done,) = list(run_jobs(cl, [job], n_jobs=1, hooks=hooks, stats=stats))
    return done.result()


def iter_detect_many(images: Sequence[Any], settings: DetectorSettings | None = None, *,
                     runtime: RuntimeOptions | None = None, axes: str | None = None,
                     calibration: Calibration | None = None, read: Callable[[Any], Any] | None = None,
                     progress: Callable[[float, str], None] | None = None, cancel: Callable[[], bool] | None = None,
                     log: Callable[[str], None] | None = None, client: Any = None
                     ) -> Iterator[tuple[int, DetectionResult]]:
    """Segment several images on one cluster; yield ``(index into images, result)`` as each image completes.

    Chunks of all images share the workers (a plate keeps every GPU busy); files are read on the driver one after
    another, only as the window of chunks in flight has room, so memory stays bounded.

    Parameters
    ----------
    images : sequence
        File paths (read with :func:`trackmate_cellpose.reader.read_image`, or ``read``), ``ImageData`` objects,
        numpy arrays (need ``axes``) or xarray DataArrays.
    settings : DetectorSettings, optional
    runtime : RuntimeOptions, optional
        As for :func:`detect_distributed`; ``workers=0`` and no scheduler: one image after the other, in-process
        (no dask needed).
    axes : str, optional
        Axis letters for numpy arrays, or an override for files.
    calibration : Calibration, optional
        Overrides the calibration of every image.
    read : callable, optional
        ``read(path) -> ImageData`` (default :func:`trackmate_cellpose.reader.read_image` with ``axes``).
    progress, cancel, log
        Overall progress over images (each image weighs the same), cancel check, notice logger.
    client : distributed.Client, optional

    Yields
    ------
    (int, DetectionResult)
        In completion order; the index says which input it belongs to.
    """
    runtime = runtime or RuntimeOptions()
    settings = settings or DetectorSettings()
    items = list(images)
    if client is None and not runtime.scheduler and runtime.workers < 1:
        yield from _iter_in_process(items, settings, runtime=runtime, axes=axes, calibration=calibration, read=read,
                                    progress=progress, cancel=cancel, log=log)
        return

    def jobs():
        for i, item in enumerate(items):
            name, image, ax, cal = _load(item, axes=axes, calibration=calibration, read=read)
            name = name or f"image {i}"
            yield prepare_job(i, DetectCall(image, settings, axes=ax, calibration=cal, runtime=runtime), name=name)

    cl = _client(runtime, client)
    for job in run_jobs(cl, jobs(), n_jobs=len(items), hooks=Hooks(progress, cancel, log)):
        yield job.index, job.result()


def detect_many(images: Sequence[Any], settings: DetectorSettings | None = None, **kwargs: Any
                ) -> list[DetectionResult]:
    """:func:`iter_detect_many`, collected in input order."""
    items = list(images)
    out: list[DetectionResult | None] = [None] * len(items)
    for i, res in iter_detect_many(items, settings, **kwargs):
        out[i] = res
    return out  # type: ignore[return-value]


def _iter_in_process(items: list, settings: DetectorSettings, *, runtime: RuntimeOptions, axes, calibration, read,
                     progress, cancel, log) -> Iterator[tuple[int, DetectionResult]]:
    from .._engine import run_detection

    n = len(items)
    for i, item in enumerate(items):
        name, image, ax, cal = _load(item, axes=axes, calibration=calibration, read=read)
        name = name or f"image {i}"
        sub = None if progress is None else (lambda f, m, i=i, name=name: progress((i + f) / n, f"{name}: {m}"))
        yield i, run_detection(DetectCall(image, settings, axes=ax, calibration=cal, runtime=runtime,
                                          hooks=Hooks(sub, cancel, log)))


def _load(item: Any, *, axes: str | None, calibration: Calibration | None,
          read: Callable[[Any], Any] | None) -> tuple[str, Any, str | None, Calibration | None]:
    """-> (name for messages, image, axes for to_tczyx, calibration)."""
    from ..reader import ImageData, read_image

    if isinstance(item, (str, Path)):
        data = read(item) if read is not None else read_image(item, axes=axes)
        return Path(item).name, data.array, "tczyx", calibration or data.calibration
    if isinstance(item, ImageData):
        return item.path.name, item.array, "tczyx", calibration or item.calibration
    return "", item, axes, calibration
