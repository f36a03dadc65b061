"""The pipelined detection loop (``_engine.iter_detected``): the network of the next frames runs while pool threads
build the previous frames' masks and spots. Real cellpose inference, no mocks: the masks must be a bare
``CellposeModel.eval``'s, frame for frame, and equal to the sequential loop's (``pipeline_depth=0``)."""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import Calibration, Cancelled, DetectorSettings, InvalidSettingsError, RuntimeOptions, detect
from trackmate_cellpose.data import sample_path
from trackmate_cellpose.segment._adapter import CellposeAdapter, build_eval_kwargs

CAL = Calibration(x=0.5, y=0.5, z=1.0, space_unit="um")


def test_pipeline_depth_is_a_checked_runtime_option():
    assert RuntimeOptions().pipeline_depth == 1 and RuntimeOptions(pipeline_depth=0).pipeline_depth == 0
    for bad in (-1, 1.5, True):
        with pytest.raises(InvalidSettingsError, match=f"pipeline_depth must be an integer >= 0, got {bad!r}"):
            RuntimeOptions(pipeline_depth=bad)


@pytest.fixture(scope="module")
def settings(test_model):
    return DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0, use_gpu=False)


def _bare_eval(adapter, image, mode, settings, **kw):
    """One bare ``CellposeModel.eval`` with the engine's keywords: cellpose's own masks (min-size off, as the
    engine asks, so the clean-up is compared separately)."""
    kwargs = build_eval_kwargs(adapter.major, mode=mode, settings=settings, diameter_px=20.0, **kw)
    masks, _, _ = adapter.model.eval(image, **kwargs)
    return np.asarray(masks)


@pytest.mark.slow
def test_network_and_masks_split_gives_evals_own_masks(settings):
    """``run_network`` + ``masks`` frame by frame (what the pipeline does) = one ``eval`` with masks, 2D and 3D."""
    ad = CellposeAdapter.get(settings, runtime_device="cpu")
    movie = tifffile.imread(sample_path("2dt"))[:3, ..., None].astype(np.float32)
    out = ad.run_network(movie, mode="2d", settings=settings, diameter_px=20.0)
    assert out.call is not None  # cellpose's own mask call was recorded, not run
    split = np.stack([ad.masks(out, i) for i in range(3)])
    bare = _bare_eval(ad, movie, "2d", settings)
    assert split.max() > 0 and np.array_equal(split, bare.reshape(split.shape))
    vol = tifffile.imread(sample_path("3dt"))[0][..., None].astype(np.float32)
    for mode in ("3d", "2dz"):
        s = settings.replace(do_2dz=mode == "2dz", iou_threshold=0.25)
        out = ad.run_network(vol, mode=mode, settings=s, diameter_px=20.0, anisotropy=2.0)
        kw = {"anisotropy": 2.0} if mode == "3d" else {}
        assert np.array_equal(ad.masks(out), _bare_eval(ad, vol, mode, s, **kw).reshape(vol.shape[:3]))


@pytest.mark.slow
@pytest.mark.parametrize("axes", ["tyx", "tzyx"])
def test_pipelined_equals_sequential_frame_for_frame(settings, axes):
    if axes == "tyx":
        image = tifffile.imread(sample_path("2dt"))[:6]
        image[3] = 0  # a blank frame in the middle: no network, an empty frame in order
        runtime = dict(frames_per_batch=2)
    else:
        image = tifffile.imread(sample_path("3dt"))[:2]
        runtime = {}
    seq = detect(image, settings, axes=axes, calibration=CAL, runtime=RuntimeOptions(pipeline_depth=0, **runtime))
    progress = []
    pipe = detect(image, settings, axes=axes, calibration=CAL, runtime=RuntimeOptions(pipeline_depth=2, **runtime),
                  progress=lambda f, m: progress.append(f))
    assert [f.frame for f in pipe.frames] == [f.frame for f in seq.frames] == list(range(len(image)))
    for a, b in zip(pipe.frames, seq.frames):
        assert np.array_equal(a.labels, b.labels)
        assert [(d.label, d.x, d.y, d.z, d.quality) for d in a.detections] == \
            [(d.label, d.x, d.y, d.z, d.quality) for d in b.detections]
    assert sum(f.labels.max() > 0 for f in pipe.frames) >= len(image) - 1
    assert progress[-1] == 1.0 and all(b >= a for a, b in zip(progress, progress[1:]))


@pytest.mark.slow
def test_network_runs_ahead_by_at_most_the_depth_and_post_runs_in_other_threads(settings, monkeypatch):
    """Bounded memory: at most ``pipeline_depth + 1`` network outputs alive at once; masks and spots are built in
    pool threads while the network (in the calling thread) works on the next batch."""
    ad = CellposeAdapter.get(settings, runtime_device="cpu")
    alive: weakref.WeakSet = weakref.WeakSet()
    peak, mask_threads, net_threads = [0], set(), set()
    real_net, real_masks = ad.run_network, ad.masks

    def run_network(*a, **k):
        net_threads.add(threading.get_ident())
        out = real_net(*a, **k)
        alive.add(out)
        peak[0] = max(peak[0], len(alive))
        return out

    def masks(*a, **k):
        mask_threads.add(threading.get_ident())
        return real_masks(*a, **k)

    monkeypatch.setattr(ad, "run_network", run_network)
    monkeypatch.setattr(ad, "masks", masks)
    movie = tifffile.imread(sample_path("2dt"))[:8]
    detect(movie, settings, axes="tyx", calibration=CAL, runtime=RuntimeOptions(frames_per_batch=1, pipeline_depth=1))
    assert net_threads == {threading.get_ident()} and threading.get_ident() not in mask_threads
    assert 1 <= peak[0] <= 2


@pytest.mark.slow
def test_cancel_reaches_a_pipelined_run_and_stops_its_threads(settings):
    movie = tifffile.imread(sample_path("2dt"))[:8]
    asked = []
    callers = set()

    def cancel():
        asked.append(1)
        callers.add(threading.get_ident())
        return len(asked) > 4

    with pytest.raises(Cancelled):
        detect(movie, settings, axes="tyx", calibration=CAL, runtime=RuntimeOptions(frames_per_batch=1),
               cancel=cancel)
    # the caller's cancel is asked in the caller's thread and by the cancel watcher (_cancel.interruptible), never
    # by the post-processing threads
    names = {t.ident: t.name for t in threading.enumerate()}
    assert all(c == threading.get_ident() or names.get(c) == "trackmate-cellpose-cancel" for c in callers), callers
    assert not [t for t in threading.enumerate() if t.name.startswith("tmcp-post")]  # the pool threads are gone
