"""The Fiji side of retraining without a JVM: the action's options (the settings table's ``training`` rows, generated
from Python) become ``train_from_trackmate``'s arguments; the result map the action reads; the glue's table carries
the rows, the same JSON for the prebuilt jars and the fallback build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackmate_cellpose.bridge._glue import glue_table_json
from trackmate_cellpose.bridge._prebuilt import load_settings_table
from trackmate_cellpose.bridge._training import result_map, training_kwargs
from trackmate_cellpose.errors import InvalidSettingsError
from trackmate_cellpose.training import TrainingOptions, TrainingResult, action_options_table

PKG = Path(__file__).resolve().parents[2] / "python" / "trackmate_cellpose"


def test_action_options_become_training_arguments():
    kw = training_kwargs({"XML": "/t/c.xml", "OUTPUT": "/t/m.pth", "EPOCHS": 7, "LEARNING_RATE": 0.0, "CROP": 0,
                          "HOLDOUT_FRACTION": 0.5, "SEED": 3, "FRAMES": "0,2-3", "USE_GPU": False,
                          "MODEL_PATH": "/t/base.pth"})
    assert kw["xml"] == "/t/c.xml" and kw["output"] == "/t/m.pth" and kw["frames"] == [0, 2, 3]
    assert kw["model_path"] == "/t/base.pth" and not kw["overwrite"]
    assert kw["options"] == TrainingOptions(epochs=7, holdout_fraction=0.5, seed=3, device="cpu")
    # every option of the Fiji dialog is understood (0 = default where optional)
    defaults = {row["key"]: row["default"] for row in action_options_table()}
    assert training_kwargs({"XML": "x", "OUTPUT": "o", **defaults})["options"] == TrainingOptions()
    with pytest.raises(InvalidSettingsError, match="--epochs"):
        training_kwargs({"XML": "x", "OUTPUT": "o", "EPOCHS": 0})


def test_result_map_is_strings_for_java(tmp_path):
    r = TrainingResult(model_path=tmp_path / "m.pth", report_path=None, picture_path=None, report=None, stopped="",
                       epochs_done=4, best_epoch=2, seconds=10.0, seconds_per_epoch=2.5, train_frames=[0, 1],
                       held_out_frames=[2], diameter=9.5, base_model="cyto3")
    m = result_map(r)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in m.items())
    assert m["model_path"] == str(tmp_path / "m.pth") and m["best_epoch"] == "3" and float(m["diameter"]) == 9.5
    assert m["report_path"] == "" and "f1_new" not in m and str(tmp_path / "m.pth") in m["summary"]


def test_glue_table_carries_the_action_options_once():
    name, by_path = load_settings_table(PKG)
    assert by_path == glue_table_json()  # prebuilt jars and the fallback build read the same table
    doc = json.loads(by_path)
    rows = {r["key"]: r for r in doc["training"]}
    assert list(rows) == ["EPOCHS", "LEARNING_RATE", "HOLDOUT_FRACTION", "FRAMES", "SEED"]
    assert rows["EPOCHS"]["default"] == TrainingOptions().epochs and rows["EPOCHS"]["lo"] == 1
    assert rows["HOLDOUT_FRACTION"]["default"] == TrainingOptions().holdout_fraction
    assert {r["type"] for r in rows.values()} <= {"int", "float", "str"}
    assert all(r["label"] and r["doc"] and r["range"] for r in rows.values())
