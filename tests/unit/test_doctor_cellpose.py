"""doctor imports what detection imports and checks the model with the code detection uses (issue: cellpose 4)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from trackmate_cellpose.diagnosis import diagnose
from trackmate_cellpose.errors import BackendUnavailableError
from trackmate_cellpose.settings import DetectorSettings, default_model


def _line(report, name):
    return next(c for c in report.checks if c.name == name)


def test_default_model_named_and_checked_for_the_installed_cellpose():
    r = diagnose(DetectorSettings())
    c = _line(r, "default model")
    assert repr(default_model()) in c.detail and c.level in ("ok", "warn")  # warn: weights not downloaded yet


def test_a_model_of_the_other_major_is_an_error(test_model, tmp_path):
    from trackmate_cellpose.segment._models import BUILTIN_MODELS, cellpose_major_version

    other = BUILTIN_MODELS[7 - cellpose_major_version()][0]
    c = _line(diagnose(DetectorSettings(model=other)), "model")
    assert c.level == "error" and "cellpose" in c.detail and other in c.detail
    junk = tmp_path / "m.pth"
    junk.write_text("not a model")
    c = _line(diagnose(DetectorSettings(model="CUSTOM", model_path=str(junk))), "model")
    assert c.level == "error" and "cannot be read as a PyTorch state dict" in c.detail  # never "[ ok ]"
    c = _line(diagnose(DetectorSettings(model="CUSTOM", model_path=str(test_model))), "model")
    assert c.level == "ok"


BROKEN_TORCHVISION = textwrap.dedent("""
    import importlib.abc, sys
    class Broken(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "cellpose.models":
                raise RuntimeError("operator torchvision::nms does not exist")
    sys.meta_path.insert(0, Broken())
    from trackmate_cellpose.diagnosis import diagnose
    from trackmate_cellpose.segment._adapter import import_cellpose_models
    r = diagnose()
    c = next(c for c in r.checks if c.name == "cellpose")
    print(c.level); print(c.detail); print(c.fix)
    try:
        import_cellpose_models()
    except Exception as e:
        print(type(e).__name__)
""")


def test_broken_torchvision_is_reported_with_the_fix():
    env = {k: v for k, v in os.environ.items() if k not in ("TMCP_TEST_TINY_CPSAM",)}
    out = subprocess.run([sys.executable, "-c", BROKEN_TORCHVISION], capture_output=True, text=True, env=env,
                         timeout=300)
    level, detail, fix, exc = out.stdout.strip().splitlines()[-4:]
    assert level == "error" and "does not match torch" in detail and "torchvision::nms" in detail
    assert fix.startswith("install both from one index") and "torchvision==0." in fix
    assert exc == BackendUnavailableError.__name__


def test_real_mismatched_torchvision_is_reported():
    """Where the installed torchvision really cannot load beside this torch (CI's cellpose-4 environment)."""
    probe = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TMCP_TEST_TINY_CPSAM")})
    if probe.returncode == 0 or "torchvision::" not in probe.stderr:
        pytest.skip("torchvision absent or matching torch here: nothing to report")
    code = "from trackmate_cellpose.diagnosis import diagnose; print(diagnose().format())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TMCP_TEST_TINY_CPSAM")})
    assert "[FAIL] cellpose" in out.stdout and "does not match torch" in out.stdout and "fix: install both" in out.stdout


def test_doctor_says_how_the_network_runs_and_what_to_install(monkeypatch):
    from importlib import util

    from trackmate_cellpose.segment._models import cellpose_major_version

    c = _line(diagnose(DetectorSettings(use_gpu=False)), "network")
    if cellpose_major_version() == 3:
        assert c.level == "ok" and c.detail.startswith("CPU: ONNX Runtime ") and "'auto' = 'onnx'" in c.detail
        original = util.find_spec
        monkeypatch.setattr(util, "find_spec", lambda n, *a: None if n == "onnxruntime" else original(n, *a))
        c = _line(diagnose(DetectorSettings(use_gpu=False)), "network")
        assert c.level == "warn" and "onnxruntime not installed" in c.detail
        assert c.fix.startswith("pip install onnxruntime onnx")
    else:  # cellpose 4: its own bfloat16 where this CPU has native bfloat16, else ONNX Runtime in float32
        from trackmate_cellpose.segment._inference import cpu_has_native_bf16

        assert c.level == "ok"
        if cpu_has_native_bf16():
            assert "PyTorch" in c.detail and "'auto' = 'cellpose'" in c.detail and "has native bfloat16" in c.detail
        else:
            assert c.detail.startswith("CPU: ONNX Runtime ") and "'auto' = 'onnx'" in c.detail
