"""Argument translation for both cellpose major versions, and the model check that runs before any work.

The real cellpose-4 calls are exercised by the integration suites under cellpose 4 with the tiny Cellpose-SAM."""

import pytest

from trackmate_cellpose.errors import InvalidSettingsError
from trackmate_cellpose.segment._adapter import build_eval_kwargs
from trackmate_cellpose.segment._models import check_model
from trackmate_cellpose.settings import DetectorSettings

S = DetectorSettings(diameter=10.0, cellprob_threshold=-1.0, flow_threshold=0.6, resample=False,
                     iou_threshold=0.3)


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize("mode", ["2d", "3d", "2dz"])
def test_common_translation(major, mode):
    kw = build_eval_kwargs(major, mode=mode, settings=S, diameter_px=20.0, anisotropy=2.5, n_channels=1)
    assert kw["diameter"] == 20.0
    assert kw["cellprob_threshold"] == -1.0 and kw["resample"] is False
    assert kw["min_size"] == -1  # applied by the engine after stitching, on the original grid
    assert kw["channel_axis"] == -1
    # cellpose 4 reads (N, Y, X, C) as N images only with z_axis=None; cellpose 3 needs z_axis=0
    assert kw["z_axis"] == (None if (major == 4 and mode == "2d") else 0)
    assert isinstance(kw["normalize"], dict)  # never a bool: cellpose 3 would mutate its module defaults
    assert kw["do_3D"] is (mode == "3d")
    assert kw["stitch_threshold"] == (0.3 if mode == "2dz" else 0.0)
    if mode == "3d":
        assert kw["anisotropy"] == 2.5 and "flow_threshold" not in kw
    else:
        assert kw["flow_threshold"] == 0.6 and "anisotropy" not in kw


def test_channels_only_for_cellpose3():
    assert build_eval_kwargs(3, mode="2d", settings=S, diameter_px=20, n_channels=1)["channels"] == [0, 0]
    assert build_eval_kwargs(3, mode="2d", settings=S, diameter_px=20, n_channels=2)["channels"] == [1, 2]
    for n in (1, 2):
        kw4 = build_eval_kwargs(4, mode="2d", settings=S, diameter_px=20, n_channels=n)
        assert "channels" not in kw4 and "invert" not in kw4 and "interp" not in kw4


def test_zero_diameter_means_model_size_and_bad_mode():
    assert build_eval_kwargs(3, mode="2d", settings=S, diameter_px=0)["diameter"] is None
    with pytest.raises(ValueError, match="mode"):
        build_eval_kwargs(3, mode="4d", settings=S, diameter_px=1)


def test_custom_model_path_checked_before_cellpose(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(InvalidSettingsError, match="nope.pth") as ei:
        check_model(DetectorSettings(model="CUSTOM", model_path=str(missing)), major=3)
    assert ei.value.key == "CELLPOSE_MODEL_FILEPATH"
    with pytest.raises(InvalidSettingsError, match="directory"):
        check_model(DetectorSettings(model="CUSTOM", model_path=str(tmp_path)), major=3)
