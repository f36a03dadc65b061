"""The model setting is checked before any image is read or cellpose is imported (segment/_models.py).

Real files: the bundled cellpose-3 model, the shipped tiny cellpose-4 model, and files that are not cellpose models.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from trackmate_cellpose.errors import InvalidSettingsError
from trackmate_cellpose.settings import DEFAULT_MODELS, DetectorSettings, default_model
from trackmate_cellpose.segment._models import BUILTIN_MODELS, check_model

TINY_CP4 = Path(__file__).resolve().parents[1] / "data" / "tiny_cpsam.pth"


def custom(path) -> DetectorSettings:
    return DetectorSettings(model="CUSTOM", model_path=str(path))


@pytest.mark.parametrize("major", [3, 4])
def test_file_of_the_installed_major_passes_and_the_other_is_named(major):
    from trackmate_cellpose.data import test_model_path

    files = {3: test_model_path(), 4: TINY_CP4}
    assert check_model(custom(files[major]), major=major).path == str(files[major].resolve())
    other = 7 - major
    with pytest.raises(InvalidSettingsError) as ei:
        check_model(custom(files[other]), major=major)
    msg = str(ei.value)
    assert f"is a cellpose {other} model" in msg and f"cellpose {major} cannot load" in msg
    assert DEFAULT_MODELS[major] in msg and ei.value.key == "CELLPOSE_MODEL_FILEPATH"


@pytest.mark.parametrize("content,reason", [
    (b"just some text\n", "cannot be read as a PyTorch state dict"),
    (pickle.dumps({"a": object()}), "cannot be read as a PyTorch state dict"),
])
def test_not_a_model_file_is_refused_without_torch_advice(tmp_path, content, reason):
    f = tmp_path / "model.pth"
    f.write_bytes(content)
    with pytest.raises(InvalidSettingsError, match=reason) as ei:
        check_model(custom(f), major=3)
    assert "weights_only=False" not in str(ei.value) and "model.pth" in str(ei.value)


def test_truncated_and_foreign_state_dicts(tmp_path, test_model):
    import torch

    cut = tmp_path / "cut.pth"
    cut.write_bytes(test_model.read_bytes()[:100_000])
    with pytest.raises(InvalidSettingsError, match="cannot be read"):
        check_model(custom(cut), major=3)
    foreign = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, foreign)
    with pytest.raises(InvalidSettingsError, match="not a cellpose network"):
        check_model(custom(foreign), major=3)


def test_malicious_pickle_never_runs(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    f = tmp_path / "evil.pth"
    import torch

    torch.save({"x": Evil()}, f)
    with pytest.raises(InvalidSettingsError):
        check_model(custom(f), major=3)
    assert not marker.exists()


@pytest.mark.parametrize("major", [3, 4])
def test_builtin_names_per_major(major):
    for name in BUILTIN_MODELS[major]:
        assert check_model(DetectorSettings(model=name), major=major).name == name
    other = BUILTIN_MODELS[7 - major][0]
    with pytest.raises(InvalidSettingsError, match=f"is a cellpose {7 - major} model"):
        check_model(DetectorSettings(model=other), major=major)
    with pytest.raises(InvalidSettingsError, match="available: " + BUILTIN_MODELS[major][0]) as ei:
        check_model(DetectorSettings(model="nonexistent"), major=major)
    assert "nonexistent" in str(ei.value)


def test_user_models_of_cellpose_are_accepted(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(tmp_path))
    (tmp_path / "gui_models.txt").write_text("my_retrained\n")
    assert check_model(DetectorSettings(model="my_retrained"), major=3).name == "my_retrained"


def test_default_model_follows_the_installed_major():
    assert default_model(3) == "cyto3" and default_model(4) == "cpsam"
    from importlib.metadata import version

    installed = int(version("cellpose").split(".")[0])
    assert DetectorSettings().model == DEFAULT_MODELS[installed]
    assert DetectorSettings.from_trackmate_map({}).model == DEFAULT_MODELS[installed]


def test_model_check_imports_no_cellpose():
    code = ("import sys; from trackmate_cellpose.segment._models import check_model; "
            "from trackmate_cellpose.settings import DetectorSettings; check_model(DetectorSettings()); "
            "print('cellpose' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_model_in_torchs_legacy_format_is_read(tmp_path):
    import torch

    from trackmate_cellpose.data import test_model_path

    legacy = tmp_path / "legacy.pth"
    torch.save(torch.load(test_model_path(), weights_only=True), legacy, _use_new_zipfile_serialization=False)
    assert check_model(custom(legacy), major=3).path == str(legacy.resolve())
