"""The streamed, pipelined engine keeps results identical (no cellpose: a deterministic stand-in adapter).

* ``run_detection`` streams batches (the network of the next batch runs while pool threads build the previous
  frames' labels and spots; cell-probability maps are dropped frame by frame) instead of segmenting the whole movie
  first: same labels, same spots as segment-everything-then-build, pipelined (``pipeline_depth=1``, the default) or
  one batch after the other (``pipeline_depth=0``); progress is monotonic and ends at 1.
* ``select_channels`` returns a view for one channel instead of a copy of the movie: same values.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from trackmate_cellpose import Calibration, DetectorSettings, RuntimeOptions
from trackmate_cellpose import _engine, _input
from trackmate_cellpose._call import DetectCall, Hooks, Placement
from trackmate_cellpose.geometry import labels_to_detections
from trackmate_cellpose.data import synthetic_movie_2d, synthetic_movie_3d
from trackmate_cellpose.segment import NetworkOutput, clean_labels


def _fake_segment(x: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds the first channel and labels connected components; cellprob = scaled intensity."""
    prob = ((x[..., 0] - 300.0) / 100.0).astype(np.float32)
    if mode == "2d":
        masks = np.stack([ndi.label(p > 0)[0] for p in prob])
    else:
        masks = ndi.label(prob > 0)[0]
    return masks.astype(np.int32), prob


class FakeAdapter:
    """The adapter's network/masks split over :func:`_fake_segment` (its masks come with the network output, as
    when cellpose computes them itself)."""

    diam_mean = 30.0

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def run_network(self, x, *, mode, settings, diameter_px, anisotropy=1.0, tile_batch_size=8, on_batch=None):
        self.calls.append((mode, x.shape))
        for _ in range(2):
            if on_batch is not None:
                on_batch()
        masks, prob = _fake_segment(x, mode)
        n = x.shape[0] if mode == "2d" else 1
        return NetworkOutput(mode=mode, n=n, shape=x.shape[:3], dp=np.zeros((2, *x.shape[:3]), np.float32),
                             cellprob_raw=prob, call=None, masks_done=masks)

    def masks(self, out, index=None):
        return out.masks_done[index] if index is not None else out.masks_done


def _settings(**kw) -> DetectorSettings:
    return DetectorSettings(model="CUSTOM", model_path="/nonexistent/model.pth", diameter=10.0, use_gpu=False, **kw)


def _reference(image, axes, settings, cal, frame_offset=0):
    """Segment every frame first (one call on the whole movie, or per 3D time point), then build every frame's
    spots: what the streamed engine must reproduce."""
    arr, cal = _input.to_tczyx(image, axes, cal)
    data = arr[:, settings.target_channel - 1].astype(np.float32)  # (T, Z, Y, X)
    is_3d = arr.shape[2] > 1
    labels, probs = [], []
    if is_3d:
        for vol in data:
            m, p = _fake_segment(vol[..., None], "3d")
            labels.append(m), probs.append(p)
    else:
        m, p = _fake_segment(data[:, 0, ..., None], "2d")
        labels, probs = list(m), list(p)
    out_labels, dets = [], []
    for t, (lab, prob) in enumerate(zip(labels, probs)):
        if np.all(data[t] == data[t].flat[0]):  # a blank frame: no network, no objects
            lab = np.zeros_like(lab)
            prob = np.full(prob.shape, _engine.BLANK_CELLPROB, np.float32)
        else:
            lab = clean_labels(lab, min_size=settings.min_size, split=is_3d)
        out_labels.append(lab)
        dets.append(labels_to_detections(lab, frame=frame_offset + t, calibration=cal,
                                         simplify=settings.simplify_contours,
                                         smoothing_scale=settings.smoothing_scale if is_3d else 0.0, cellprob=prob))
    return out_labels, dets


def _same_detection(a, b) -> None:
    assert (a.frame, a.label, a.x, a.y, a.z, a.radius, a.quality) == (b.frame, b.label, b.x, b.y, b.z, b.radius,
                                                                       b.quality)
    assert a.features == b.features
    if a.roi_xy is None:
        assert b.roi_xy is None
    else:
        np.testing.assert_array_equal(a.roi_xy, b.roi_xy)
    if a.mesh is None:
        assert b.mesh is None
    else:
        np.testing.assert_array_equal(a.mesh.vertices, b.mesh.vertices)
        np.testing.assert_array_equal(a.mesh.faces, b.mesh.faces)


@pytest.mark.parametrize("depth", [0, 1, 3])
@pytest.mark.parametrize("kind", ["2d", "3d"])
def test_streamed_detection_equals_segment_then_build(monkeypatch, kind, depth):
    if kind == "2d":
        movie, _ = synthetic_movie_2d(n_frames=7, shape_yx=(64, 64), n_objects=4, seed=3)
        movie[2] = 0  # a blank frame inside a batch
        axes = "tyx"
    else:
        movie, _ = synthetic_movie_3d(n_frames=3, shape_zyx=(8, 48, 48), n_objects=3, seed=4)
        axes = "tzyx"
    settings = _settings(min_size=5.0)
    cal = Calibration(x=0.5, y=0.5, z=1.0, space_unit="um")
    runtime = RuntimeOptions(frames_per_batch=3, pipeline_depth=depth)
    ref_labels, ref_dets = _reference(movie, axes, settings, cal, frame_offset=5)
    fake = FakeAdapter()
    monkeypatch.setattr("trackmate_cellpose.segment._adapter.CellposeAdapter.get",
                        classmethod(lambda cls, *a, **k: fake))
    progress: list[tuple[float, str]] = []
    res = _engine.run_detection(DetectCall(movie, settings, axes=axes, calibration=cal, runtime=runtime,
                                           placement=Placement(frame_offset=5),
                                           hooks=Hooks(progress=lambda f, m: progress.append((f, m)))))
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len(fake.calls) == (3 if kind == "2d" else len(movie))  # batches of 3 frames / one call per time point
    assert [fr.frame for fr in res.frames] == [5 + t for t in range(len(movie))]
    for fr, lab, dets in zip(res.frames, ref_labels, ref_dets):
        np.testing.assert_array_equal(fr.labels, lab.reshape(fr.labels.shape))
        assert len(fr.detections) == len(dets)
        for a, b in zip(fr.detections, dets):
            _same_detection(a, b)
    assert res.n_detections > 0


def test_streamed_detection_stops_between_batches_on_cancel(monkeypatch):
    movie, _ = synthetic_movie_2d(n_frames=6, shape_yx=(48, 48), n_objects=3, seed=5)
    fake = FakeAdapter()
    monkeypatch.setattr("trackmate_cellpose.segment._adapter.CellposeAdapter.get",
                        classmethod(lambda cls, *a, **k: fake))
    seen = []

    def cancel() -> bool:
        return len(fake.calls) >= 1 and len(seen) >= 2

    with pytest.raises(_engine.Cancelled):
        _engine.run_detection(DetectCall(movie, _settings(), axes="tyx", runtime=RuntimeOptions(frames_per_batch=2),
                                         hooks=Hooks(progress=lambda f, m: seen.append(f), cancel=cancel)))
    assert len(fake.calls) == 1  # the second batch never reached the network


@pytest.mark.parametrize("channels", [(1, 0), (2, 0), (3, 1)])
def test_select_channels_view_has_same_values(channels):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 1000, size=(3, 3, 2, 8, 9), dtype=np.uint16)
    s = _settings(target_channel=channels[0], channel_2=channels[1])
    idx = [channels[0] - 1] + ([channels[1] - 1] if channels[1] else [])
    out = _input.select_channels(arr, s)
    np.testing.assert_array_equal(out, arr[:, idx])
    assert out.shape == (3, len(idx), 2, 8, 9)


def test_adapter_cellprob_is_a_compact_copy_not_a_view_of_the_network_output():
    from trackmate_cellpose.segment import CellposeAdapter

    rng = np.random.default_rng(1)
    net_out = rng.standard_normal((3, 16, 20, 3)).astype(np.float32)  # (N, Y, X, [dY, dX, cellprob]) as cellpose 3

    class FakeModel:
        diam_mean = 30.0

        def eval(self, x, **kw):  # no _compute_masks call: cellpose's own masks are kept
            return (np.ones(x.shape[:3], np.uint16), [None, np.moveaxis(net_out[..., :2], -1, 0), net_out[..., 2]],
                    None)

    ad = CellposeAdapter.__new__(CellposeAdapter)  # no model loading: only eval's post-processing is under test
    ad.spec, ad.device, ad.major, ad.model = None, "cpu", 3, FakeModel()
    ad._lock = __import__("threading").Lock()
    ad._ticker = type("T", (), {"on_batch": None})()
    x = np.zeros((3, 16, 20, 1), np.float32)
    masks, cellprob = ad.eval(x, mode="2d", settings=_settings(), diameter_px=20.0)
    np.testing.assert_array_equal(cellprob, net_out[..., 2])
    assert cellprob.flags["C_CONTIGUOUS"] and not np.shares_memory(cellprob, net_out)
    assert masks.shape == (3, 16, 20)
