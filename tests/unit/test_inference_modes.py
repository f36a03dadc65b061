"""Which network path ``RuntimeOptions.inference`` resolves to, and why a refused one is refused (no inference)."""

from __future__ import annotations

import pytest

from trackmate_cellpose.errors import BackendUnavailableError
from trackmate_cellpose.segment import _inference
from trackmate_cellpose.settings import INFERENCE_MODES, RuntimeOptions


def test_auto_is_the_default_and_every_mode_is_accepted():
    assert RuntimeOptions().inference == "auto"
    for mode in INFERENCE_MODES:
        assert RuntimeOptions(inference=mode).inference == mode


@pytest.mark.parametrize("major, device, expected", [(3, "cpu", "onnx"), (3, "cuda", "fast"), (3, "mps", "fast"),
                                                     (4, "cpu", "fast")])
def test_auto_takes_onnx_only_for_cellpose_3_on_the_cpu(major, device, expected):
    assert _inference.onnx_available() is None  # onnxruntime and onnx are dependencies of the package
    assert _inference.resolve_inference("auto", major, device) == expected


def test_auto_falls_back_to_fast_without_onnxruntime_and_onnx_says_what_to_install(monkeypatch):
    from importlib import util

    original = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "onnxruntime" else original(name, *a))
    assert _inference.onnx_available() == "onnxruntime not installed (pip install onnxruntime onnx)"
    assert _inference.resolve_inference("auto", 3, "cpu") == "fast"
    with pytest.raises(BackendUnavailableError, match=r"inference 'onnx' cannot run here: onnxruntime not installed "
                                                      r"\(pip install onnxruntime onnx\); use inference 'auto' or"):
        _inference.resolve_inference("onnx", 3, "cpu")


@pytest.mark.parametrize("major, device, why", [(4, "cpu", "cellpose 4's network keeps cellpose's own path"),
                                                (3, "cuda", "it is a CPU path and the detector runs on 'cuda'")])
def test_onnx_refused_where_it_cannot_run(major, device, why):
    with pytest.raises(BackendUnavailableError, match=why):
        _inference.resolve_inference("onnx", major, device)


@pytest.mark.parametrize("mode", ["fast", "cellpose", "compile", "bf16"])
def test_explicit_modes_stay_as_asked(mode):
    assert _inference.resolve_inference(mode, 3, "cpu") == mode
    assert _inference.resolve_inference(mode, 4, "cuda") == mode
