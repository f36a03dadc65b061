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
    assert len(set(TRACKMATE_KEYS)) == len(TRACKMATE_KEYS) == 15
    for r in rows:
        assert r["key"].isupper() and r["doc"] and r["unit"] and r["range"]
        assert r["type"] in ("str", "int", "float", "bool")


def test_defaults_match_issue_table():
    m = DetectorSettings().to_trackmate_map()
    assert m == {
        "CELLPOSE_MODEL": default_model(), "CELLPOSE_MODEL_FILEPATH": "", "TARGET_CHANNEL": 1, "OPTIONAL_CHANNEL_2": 0,
        "CELL_DIAMETER": 30.0, "USE_GPU": True, "SIMPLIFY_CONTOURS": True, "CELL_PROB_THRESHOLD": 0.0,
        "FLOW_THRESHOLD": 0.4, "RESAMPLE": True, "DO2DZ": False, "IOUTHRESHOLD": 0.25, "CELL_MIN_SIZE": 15.0,
        "SMOOTHING_SCALE": 1.0, "PYTHON_EXECUTABLE": "",
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
                                     ({"inference": "tensorrt"}, "inference")])
def test_runtime_options_validated(kw, name):
    with pytest.raises(InvalidSettingsError, match=name):
        RuntimeOptions(**kw)


def test_range_text_is_derived_from_the_bounds():
    """One fact, one place: a number's range is stored as bounds only; its text is derived (docs, CLI, Fiji panel)."""
    from trackmate_cellpose.settings import range_text

    meta = {"kind": float, "lo": None, "hi": None, "range_text": None}
    assert range_text({**meta, "lo": -6.0, "hi": 6.0}) == "-6 .. 6"
    assert range_text({**meta, "lo": 0.0}) == ">= 0"
    assert range_text({**meta, "hi": 1.5}) == "<= 1.5"
    assert range_text(meta) == "any"
    assert range_text({**meta, "kind": bool}) == "true/false"
    rows = {r["key"]: r for r in settings_table()}
    assert rows["CELL_PROB_THRESHOLD"]["range"] == "-6 .. 6" and rows["TARGET_CHANNEL"]["range"] == ">= 1"
    for f in dataclasses.fields(DetectorSettings):
        assert "lo_open" not in f.metadata and "range" not in f.metadata
        if f.metadata["kind"] in (int, float):
            assert f.metadata["range_text"] is None, f"{f.metadata['key']}: range typed as text"


def test_a_number_cannot_carry_a_typed_range():
    from trackmate_cellpose.settings import _f

    with pytest.raises(ValueError, match="derived from lo/hi"):
        _f("X", 1.0, unit="-", doc="d", range=">= 0", lo=0.0)


def test_settings_resource_is_the_table_and_does_not_depend_on_the_installed_cellpose(monkeypatch):
    """What the Java glue reads (generated into each jar at build time): every row with label, unit, range, bounds
    and editor; aliases; models per cellpose version. The build must give the same bytes whatever cellpose it has."""
    from trackmate_cellpose import settings as settings_mod

    doc = json.loads(settings_mod.settings_resource_json())
    assert [r["key"] for r in doc["settings"]] == list(TRACKMATE_KEYS)
    assert doc["aliases"] == KEY_ALIASES
    assert doc["builtin_models"] == {str(k): list(v) for k, v in settings_mod.BUILTIN_MODELS.items()}
    assert "cpsam_v2" in doc["builtin_models"]["4"]
    rows = {r["key"]: r for r in settings_table()}
    for r in doc["settings"]:
        assert r["label"] and r["doc"] == rows[r["key"]]["doc"] and r["range"] == rows[r["key"]]["range"]
        assert (r["lo"], r["hi"]) == (rows[r["key"]]["lo"], rows[r["key"]]["hi"])
    assert {r["key"]: r["editor"] for r in doc["settings"] if r["type"] == "str"} == {
        "CELLPOSE_MODEL": "model", "CELLPOSE_MODEL_FILEPATH": "file",
        "PYTHON_EXECUTABLE": "file"}
    before = settings_mod.settings_resource_json()
    monkeypatch.setattr(settings_mod, "installed_cellpose_major", lambda: 4)
    assert settings_mod.settings_resource_json() == before


def test_string_settings_get_a_generic_editor():
    """A new string setting needs no Java change: a path gets a file field, other text a text field."""
    from trackmate_cellpose.settings import _editor

    assert _editor({"kind": str, "unit": "path", "editor": None}) == "file"
    assert _editor({"kind": str, "unit": "-", "editor": None}) == "text"
    assert _editor({"kind": bool, "unit": "-", "editor": None}) == "check"
    assert _editor({"kind": float, "unit": "-", "editor": None}) == "number"


def test_build_loads_the_table_by_path_without_importing_the_package():
    import sys
    from pathlib import Path

    from trackmate_cellpose.bridge._glue import glue_table_json
    from trackmate_cellpose.bridge._prebuilt import load_settings_table
    from trackmate_cellpose.settings import SETTINGS_RESOURCE

    before = set(sys.modules)
    pkg = Path(__file__).resolve().parents[2] / "python" / "trackmate_cellpose"
    assert load_settings_table(pkg) == (SETTINGS_RESOURCE, glue_table_json())  # the settings and the action's options
    assert set(sys.modules) == before
