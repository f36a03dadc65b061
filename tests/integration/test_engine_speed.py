"""RuntimeOptions.inference: the faster CPU paths give cellpose's own masks (real inference, no mocks)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import Calibration, DetectorSettings, RuntimeOptions, detect
from trackmate_cellpose.data import sample_path
from trackmate_cellpose.errors import BackendUnavailableError
from trackmate_cellpose.segment._adapter import CellposeAdapter

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


def test_auto_picks_onnx_on_a_cpu_and_cellpose_path_is_untouched(settings):
    import torch

    from trackmate_cellpose.segment._inference import cpu_has_native_bf16

    default = CellposeAdapter.get(settings, runtime_device="cpu")
    own = CellposeAdapter.get(settings, runtime_device="cpu", inference="cellpose")
    assert own.inference == "cellpose" and own is not default
    if default.major == 3 or not cpu_has_native_bf16():  # onnxruntime and onnx are dependencies
        assert default.inference == "onnx"
        assert CellposeAdapter.get(settings, runtime_device="cpu", inference="onnx").inference == "onnx"
        assert type(vars(default.model.net)["forward"]).__name__ == "_OnnxForward"
    else:  # cellpose 4 on a CPU with native bfloat16: cellpose's own bfloat16 default
        assert default is own
    if default.major == 3:
        fast = CellposeAdapter.get(settings, runtime_device="cpu", inference="channels_last")
        conv = next(m for m in fast.model.net.modules() if isinstance(m, torch.nn.Conv2d))
        assert fast.model.net.mkldnn is False
        assert conv.weight.is_contiguous(memory_format=torch.channels_last) and conv.weight.shape[-1] > 1
        assert own.model.net.mkldnn  # cellpose 3's own CPU path (MKLDNN tensors)
    else:  # cellpose 4's own default loads bfloat16 weights; "float32" does not
        assert next(own.model.net.parameters()).dtype == torch.bfloat16
        f32 = CellposeAdapter.get(settings, runtime_device="cpu", inference="float32")
        assert next(f32.model.net.parameters()).dtype == torch.float32


@pytest.mark.parametrize("mode", ["auto", "onnx", "channels_last"])
def test_faster_paths_give_cellposes_own_float32_masks_2d_and_3d(settings, mode):
    """Against cellpose's own float32 path: "cellpose" under cellpose 3, "float32" under cellpose 4 (whose own
    default is bfloat16: see the next test)."""
    from trackmate_cellpose.segment import cellpose_major_version

    major = cellpose_major_version()
    if mode == "channels_last" and major == 4:
        pytest.skip("cellpose 4's transformer has no channels_last path")
    reference = "cellpose" if major == 3 else "float32"
    movie = tifffile.imread(sample_path("2dt"))[:4]
    vol = tifffile.imread(sample_path("3dt"))[:1]
    for image, axes in ((movie, "tyx"), (vol, "tzyx")):
        ours, own = _labels(image, settings, axes, mode), _labels(image, settings, axes, reference)
        assert len(ours) == len(own) and all(f.max() > 0 for f in ours)
        assert all(_same_objects(a, b) for a, b in zip(ours, own))


def test_onnx_path_ticks_once_per_network_batch_and_matches_the_network_output(settings):
    """The export at the first call is not a network batch (no progress tick); outputs equal cellpose's up to float
    rounding, for any batch and tile size (dynamic axes)."""
    import torch

    default = CellposeAdapter.get(settings, runtime_device="cpu", inference="onnx")
    own = CellposeAdapter.get(settings, runtime_device="cpu", inference="float32")
    movie = tifffile.imread(sample_path("2dt"))[:3]
    counts = {}
    for name, ad in (("onnx", default), ("cellpose", own)):
        ticks = []
        ad.eval(movie[..., None], mode="2d", settings=settings, diameter_px=20.0, tile_batch_size=2,
                on_batch=lambda: ticks.append(1))
        counts[name] = len(ticks)
    assert counts["onnx"] == counts["cellpose"] > 1
    net = own.model.net.eval()  # PyTorch, float32
    # cellpose 3's own CPU path (mkldnn) swaps the network's convolutions for oneDNN modules in place at its first
    # eval, and their weights are buffers, not parameters: the input channels come from the network's own record
    nchan = net.nchan if own.major == 3 else 3
    shapes = ((1, nchan, 224, 224), (3, nchan, 96, 160)) if own.major == 3 else ((1, 3, 256, 256), (3, 3, 256, 256))
    for shape in shapes:
        x = torch.rand(*shape)
        with torch.no_grad():
            ref_y, ref_style = net(x)[:2]
        y, style = default.model.net(x)
        assert y.shape == ref_y.shape and style.shape == ref_style.shape
        assert float((y - ref_y).abs().max()) < 1e-3 and float((style - ref_style).abs().max()) < 1e-4


def test_bf16_is_opt_in_and_close_to_the_default(settings):
    movie = tifffile.imread(sample_path("2dt"))[:2]
    fast, bf16 = _labels(movie, settings, "tyx", "float32"), _labels(movie, settings, "tyx", "bf16")
    assert all(_f1(b, f) >= 0.9 for b, f in zip(bf16, fast))


def test_compile_mode_wraps_the_forward_and_keeps_the_progress_hook(settings):
    ad = CellposeAdapter.get(settings, runtime_device="cpu", inference="compile")
    net = ad.model.net
    assert "forward" in vars(net)  # the compiled forward, an instance attribute
    assert net._forward_pre_hooks  # our progress/cancel ticker still runs before every network call


def _status_mib(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith(field)).split()[1]) // 1024


def test_onnx_runtime_memory_is_given_back_after_each_cellpose_call(settings):
    """ONNX Runtime keeps a batch's activations in its arena (~0.6 GB for 8 tiles); a long-lived Fiji must not hold
    them between calls: after the call, resident memory is far below the call's peak."""
    default = CellposeAdapter.get(settings, runtime_device="cpu", inference="onnx")
    if default.major != 3:
        pytest.skip("the tiny test Cellpose-SAM's activations are too small to measure against the process")
    movie = np.tile(tifffile.imread(sample_path("2dt"))[:2], (1, 3, 3))[..., None]  # 384 x 384: 8+ tiles a frame
    default.eval(movie, mode="2d", settings=settings, diameter_px=20.0)  # export + warm
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (the peak) to the current resident size
    except OSError:
        pytest.skip("cannot reset the peak resident size here")
    before = _status_mib("VmRSS:")
    default.eval(movie, mode="2d", settings=settings, diameter_px=20.0)
    peak, after = _status_mib("VmHWM:"), _status_mib("VmRSS:")
    assert peak - before > 300, (before, peak, after)  # the call's working set, mostly the runtime's activations
    assert after - before < (peak - before) / 3, (before, peak, after)


def test_a_network_onnx_cannot_export_falls_back_under_auto_and_is_refused_by_name(settings, monkeypatch, tmp_path):
    """A cellpose network variant the exporter cannot handle: "auto" warns and runs it on PyTorch (same masks);
    "onnx" asked for by name raises BackendUnavailableError with the exporter's reason."""
    import torch

    from trackmate_cellpose.segment._models import cellpose_major_version, check_model

    major = cellpose_major_version()
    monkeypatch.setenv("TRACKMATE_CELLPOSE_CACHE", str(tmp_path))  # no earlier export to load

    def broken_export(*args, **kwargs):
        raise RuntimeError("Unsupported: an operator this exporter does not know")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    spec = check_model(settings, major)
    movie = tifffile.imread(sample_path("2dt"))[:2, ..., None]
    auto = CellposeAdapter(spec, "cpu", major, "auto")  # a fresh adapter, not the warm cached one
    if auto.inference != "onnx":
        pytest.skip("inference 'auto' is cellpose's own bfloat16 path on this CPU")
    with pytest.warns(RuntimeWarning, match="could not be exported to ONNX Runtime .*an operator this exporter does "
                                            "not know.*runs on PyTorch"):
        masks, _ = auto.eval(movie, mode="2d", settings=settings, diameter_px=20.0)
    fast, _ = CellposeAdapter.get(settings, runtime_device="cpu", inference="float32").eval(
        movie, mode="2d", settings=settings, diameter_px=20.0)
    assert masks.max() > 0 and all(_same_objects(a, b) for a, b in zip(masks, fast))
    strict = CellposeAdapter(spec, "cpu", major, "onnx")
    with pytest.raises(BackendUnavailableError, match="inference 'onnx' could not export this network to ONNX "
                                                      "Runtime .*an operator this exporter does not know"):
        strict.eval(movie, mode="2d", settings=settings, diameter_px=20.0)
