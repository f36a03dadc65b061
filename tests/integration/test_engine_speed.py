"""RuntimeOptions.inference: the faster CPU paths give cellpose's own masks (real inference, no mocks)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import Calibration, DetectorSettings, RuntimeOptions, detect
from trackmate_cellpose.data import sample_path
from trackmate_cellpose.segment.adapter import CellposeAdapter

pytestmark = pytest.mark.slow

CAL = Calibration(x=0.5, y=0.5, z=1.0, space_unit="um")


@pytest.fixture(scope="module")
def settings(test_model):
    return DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0, use_gpu=False)


def _labels(image, settings, axes, inference):
    res = detect(image, settings, axes=axes, calibration=CAL, runtime=RuntimeOptions(device="cpu",
                                                                                     inference=inference))
    return [fr.labels for fr in res.frames]


def _f1(a: np.ndarray, b: np.ndarray) -> float:
    """F1 of the one-to-one matches with IoU > 0.5."""
    a, b = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
    inter = np.bincount(a * (b.max() + 1) + b, minlength=(a.max() + 1) * (b.max() + 1)).reshape(a.max() + 1, -1)
    iou = (inter / np.maximum(inter.sum(1)[:, None] + inter.sum(0)[None, :] - inter, 1))[1:, 1:]
    return 2 * int((iou > 0.5).sum()) / max(len(np.unique(a)) + len(np.unique(b)) - 2, 1)


def _same_objects(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def test_fast_path_is_what_runs_by_default_and_cellpose_path_is_untouched(settings):
    import torch

    fast = CellposeAdapter.get(settings, runtime_device="cpu")
    own = CellposeAdapter.get(settings, runtime_device="cpu", inference="cellpose")
    assert fast is not own and fast.inference == "fast" and own.inference == "cellpose"
    if fast.major == 3:
        conv = next(m for m in fast.model.net.modules() if isinstance(m, torch.nn.Conv2d))
        assert fast.model.net.mkldnn is False
        assert conv.weight.is_contiguous(memory_format=torch.channels_last) and conv.weight.shape[-1] > 1
        assert own.model.net.mkldnn  # cellpose 3's own CPU path (MKLDNN tensors)


def test_fast_path_gives_cellposes_own_masks_2d_and_3d(settings):
    movie = tifffile.imread(sample_path("2dt"))[:4]
    vol = tifffile.imread(sample_path("3dt"))[:1]
    for image, axes in ((movie, "tyx"), (vol, "tzyx")):
        fast, own = _labels(image, settings, axes, "fast"), _labels(image, settings, axes, "cellpose")
        assert len(fast) == len(own) and all(f.max() > 0 for f in fast)
        assert all(_same_objects(a, b) for a, b in zip(fast, own))


def test_bf16_is_opt_in_and_close_to_the_default(settings):
    movie = tifffile.imread(sample_path("2dt"))[:2]
    fast, bf16 = _labels(movie, settings, "tyx", "fast"), _labels(movie, settings, "tyx", "bf16")
    assert all(_f1(b, f) >= 0.9 for b, f in zip(bf16, fast))


def test_compile_mode_wraps_the_forward_and_keeps_the_progress_hook(settings):
    ad = CellposeAdapter.get(settings, runtime_device="cpu", inference="compile")
    net = ad.model.net
    assert "forward" in vars(net)  # the compiled forward, an instance attribute
    assert net._forward_pre_hooks  # our progress/cancel ticker still runs before every network call
