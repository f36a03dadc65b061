import dataclasses
import json

import pytest

from trackmate_cellpose.errors import InvalidSettingsError
from trackmate_cellpose.settings import (DETECTOR_KEY, KEY_ALIASES, TRACKMATE_KEYS, DetectorSettings, default_model,
                                         RuntimeOptions, settings_table)

BAD_VALUES = [
    ("CELL_DIAMETER", -1.0), ("CELL_DIAMETER", "30"), ("CELL_DIAMETER", float("nan")), ("CELL_DIAMETER", True),
    ("FLOW_THRESHOLD", -0.2), ("CELL_PROB_THRESHOLD", 6.5), ("CELL_PROB_THRESHOLD", -7.0),
    ("IOUTHRESHOLD", 1.5), ("IOUTHRESHOLD", -0.1), ("CELL_MIN_SIZE", -3.0), ("TARGET_CHANNEL", 0),
    ("TARGET_CHANNEL", 1.5), ("OPTIONAL_CHANNEL_2", -1), ("USE_GPU", 1), ("USE_GPU", "true"),
    ("SIMPLIFY_CONTOURS", None), ("RESAMPLE", 0), ("DO2DZ", "no"), ("CELLPOSE_MODEL", ""),
    ("CELLPOSE_MODEL", 3), ("CELLPOSE_MODEL_FILEPATH", None), ("SMOOTHING_SCALE", float("inf")),
]


@pytest.mark.parametrize("key,value", BAD_VALUES)
def test_invalid_value_names_key_and_value(key, value):
    with pytest.raises(InvalidSettingsError) as ei:
        DetectorSettings.from_trackmate_map({key: value})
    msg = str(ei.value)
    assert key in msg and repr(value) in msg
    assert ei.value.key == key


def test_every_field_has_key_unit_range_doc():
    rows = settings_table()
    assert [r["key"] for r in rows] == list(TRACKMATE_KEYS)
    assert len(set(TRACKMATE_KEYS)) == len(TRACKMATE_KEYS) == 14
    for r in rows:
        assert r["key"].isupper() and r["doc"] and r["unit"] and r["range"]
        assert r["type"] in ("str", "int", "float", "bool")


def test_defaults_match_issue_table():
    m = DetectorSettings().to_trackmate_map()
    assert m == {
        "CELLPOSE_MODEL": default_model(), "CELLPOSE_MODEL_FILEPATH": "", "TARGET_CHANNEL": 1, "OPTIONAL_CHANNEL_2": 0,
        "CELL_DIAMETER": 30.0, "USE_GPU": True, "SIMPLIFY_CONTOURS": True, "CELL_PROB_THRESHOLD": 0.0,
        "FLOW_THRESHOLD": 0.4, "RESAMPLE": True, "DO2DZ": False, "IOUTHRESHOLD": 0.25, "CELL_MIN_SIZE": 15.0,
        "SMOOTHING_SCALE": 1.0,
    }
    assert all(type(v) in (str, int, float, bool) for v in m.values())
    assert DETECTOR_KEY == "CELLPOSE_ADVANCED_PY_DETECTOR"


def test_round_trips_map_model_json():
    s = DetectorSettings(model="CUSTOM", model_path="/x/m.pth", target_channel=2, channel_2=1, diameter=12.5,
                         use_gpu=False, simplify_contours=False, cellprob_threshold=-1.5, flow_threshold=0.0,
                         resample=False, do_2dz=True, iou_threshold=0.5, min_size=40.0, smoothing_scale=0.0)
    assert DetectorSettings.from_trackmate_map(s.to_trackmate_map()) == s
    assert DetectorSettings.from_json(s.to_json()) == s
    assert json.loads(s.to_json())["CELL_DIAMETER"] == 12.5


def test_types_are_normalised():
    s = DetectorSettings.from_trackmate_map({"CELL_DIAMETER": 40, "TARGET_CHANNEL": 2.0})
    assert type(s.diameter) is float and s.diameter == 40.0
    assert type(s.target_channel) is int and s.target_channel == 2


def test_unknown_key_rejected_and_lenient_mode():
    with pytest.raises(InvalidSettingsError, match="NOT_A_KEY"):
        DetectorSettings.from_trackmate_map({"NOT_A_KEY": 1})
    assert DetectorSettings.from_trackmate_map({"NOT_A_KEY": 1}, strict=False) == DetectorSettings()


def test_aliases_warn_and_map():
    with pytest.warns(DeprecationWarning, match="CELLPROB_THRESHOLD"):
        s = DetectorSettings.from_trackmate_map({"CELLPROB_THRESHOLD": 1.0})
    assert s.cellprob_threshold == 1.0
    with pytest.warns(DeprecationWarning, match="not used"):
        DetectorSettings.from_trackmate_map({"CELLPOSE_PYTHON_FILEPATH": "/usr/bin/python"})
    assert all(v is None or v in TRACKMATE_KEYS for v in KEY_ALIASES.values())


def test_custom_needs_path_and_channels_differ():
    with pytest.raises(InvalidSettingsError, match="CELLPOSE_MODEL_FILEPATH"):
        DetectorSettings(model="CUSTOM")
    with pytest.raises(InvalidSettingsError, match="OPTIONAL_CHANNEL_2"):
        DetectorSettings(target_channel=2, channel_2=2)


def test_frozen_and_bad_json():
    s = DetectorSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.diameter = 3.0  # type: ignore[misc]
    with pytest.raises(InvalidSettingsError, match="JSON"):
        DetectorSettings.from_json("{not json")
    with pytest.raises(InvalidSettingsError, match="object"):
        DetectorSettings.from_json("[1, 2]")


@pytest.mark.parametrize("kw,name", [({"device": "tpu"}, "device"), ({"frames_per_batch": 0}, "frames_per_batch"),
                                     ({"tile_batch_size": 2.5}, "tile_batch_size"), ({"workers": -1}, "workers"),
                                     ({"inference": "onnx"}, "inference")])
def test_runtime_options_validated(kw, name):
    with pytest.raises(InvalidSettingsError, match=name):
        RuntimeOptions(**kw)
