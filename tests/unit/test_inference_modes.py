"""Which network path ``RuntimeOptions.inference`` resolves to, and why a refused one is refused (no inference)."""

from __future__ import annotations

import pytest

from trackmate_cellpose.errors import BackendUnavailableError, InvalidSettingsError
from trackmate_cellpose.segment import _inference
from trackmate_cellpose.settings import INFERENCE_MODES, RuntimeOptions


def test_auto_is_the_default_and_every_mode_is_accepted():
    assert RuntimeOptions().inference == "auto"
    for mode in INFERENCE_MODES:
        assert RuntimeOptions(inference=mode).inference == mode
    with pytest.raises(InvalidSettingsError, match="inference must be one of auto, onnx, channels_last, float32"):
        RuntimeOptions(inference="fastest")


@pytest.mark.parametrize("bf16", [True, False])
@pytest.mark.parametrize("major, device, expected", [(3, "cpu", "onnx"), (3, "cuda", "cellpose"),
                                                     (3, "mps", "cellpose"), (4, "cpu", None),
                                                     (4, "cuda", "cellpose")])
def test_auto_resolution(monkeypatch, major, device, expected, bf16):
    """cellpose 3 on a CPU: ONNX Runtime; cellpose 4 on a CPU: cellpose's own bfloat16 where the CPU has native
    bfloat16, else ONNX Runtime (float32); a GPU: cellpose's own path."""
    monkeypatch.setattr(_inference, "cpu_has_native_bf16", lambda: bf16)
    assert _inference.onnx_available() is None  # onnxruntime and onnx are dependencies of the package
    if expected is None:
        expected = "cellpose" if bf16 else "onnx"
    assert _inference.resolve_inference("auto", major, device) == expected


def test_native_bf16_is_read_from_the_cpu_flags():
    flags = open("/proc/cpuinfo").read() if _inference.sys.platform.startswith("linux") else ""
    native = any(f in flags.split() for f in ("avx512_bf16", "amx_bf16", "bf16"))
    assert _inference.cpu_has_native_bf16() is native


@pytest.mark.parametrize("major, mode, use_bf16", [(4, "cellpose", True), (4, "bf16", True), (4, "float32", False),
                                                   (4, "onnx", False), (4, "compile", False)])
def test_cellpose_4_weights_dtype_follows_the_mode(major, mode, use_bf16):
    assert _inference.constructor_kwargs(major, "cpu", mode) == {"use_bfloat16": use_bf16}
    assert _inference.network_dtype(major, mode) == ("bfloat16" if use_bf16 else "float32")


def test_cellpose_3_own_path_keeps_mkldnn_and_the_others_drop_it():
    for mode in ("cellpose", "float32"):
        assert _inference.constructor_kwargs(3, "cpu", mode) == {}
    for mode in ("onnx", "channels_last", "compile", "bf16"):
        assert _inference.constructor_kwargs(3, "cpu", mode) == {"mkldnn": False}


def test_fast_is_a_deprecated_name_of_what_it_did(recwarn):
    with pytest.warns(DeprecationWarning, match=r"inference='fast' is deprecated and will be removed in "
                                                r"trackmate-cellpose 0.3; use inference='channels_last' \(cellpose 3\)"
                                                r" / 'float32' \(cellpose 4\)"):
        opts = RuntimeOptions(inference="fast")
    assert opts.inference == "fast"
    assert _inference.resolve_inference("fast", 3, "cpu") == "channels_last"
    assert _inference.resolve_inference("fast", 4, "cpu") == "float32"


def test_auto_falls_back_to_channels_last_without_onnxruntime_and_onnx_says_what_to_install(monkeypatch):
    from importlib import util

    original = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "onnxruntime" else original(name, *a))
    assert _inference.onnx_available() == "onnxruntime not installed (pip install onnxruntime onnx)"
    assert _inference.resolve_inference("auto", 3, "cpu") == "channels_last"
    monkeypatch.setattr(_inference, "cpu_has_native_bf16", lambda: False)
    assert _inference.resolve_inference("auto", 4, "cpu") == "float32"
    with pytest.raises(BackendUnavailableError, match=r"inference 'onnx' cannot run here: onnxruntime not installed "
                                                      r"\(pip install onnxruntime onnx\); use inference 'auto'"):
        _inference.resolve_inference("onnx", 3, "cpu")


@pytest.mark.parametrize("mode, major, device, why", [
    ("onnx", 3, "cuda", "it is a CPU path and the detector runs on 'cuda'"),
    ("onnx", 4, "mps", "it is a CPU path and the detector runs on 'mps'"),
    ("channels_last", 4, "cpu", "cellpose 4's network is a transformer with no convolution layout to change"),
    ("channels_last", 3, "cuda", "it is a CPU path")])
def test_cpu_paths_refused_where_they_cannot_run(mode, major, device, why):
    with pytest.raises(BackendUnavailableError, match=why):
        _inference.resolve_inference(mode, major, device)


def test_onnx_runs_cellpose_4_on_the_cpu():
    assert _inference.resolve_inference("onnx", 4, "cpu") == "onnx"


@pytest.mark.parametrize("mode", ["float32", "cellpose", "compile", "bf16"])
def test_explicit_modes_stay_as_asked(mode):
    assert _inference.resolve_inference(mode, 3, "cpu") == mode
    assert _inference.resolve_inference(mode, 4, "cuda") == mode


def test_the_renamed_value_goes_in_the_release_of_every_other_deprecation():
    from trackmate_cellpose import _deprecated, settings

    assert settings.INFERENCE_ALIASES_REMOVED_IN == _deprecated.REMOVED_IN
