"""Command-line and pipeline handling of the GEFF/CSV options: clear errors before any computation."""

from __future__ import annotations

import sys

import pytest

from trackmate_cellpose.cli import main
from trackmate_cellpose.errors import BackendUnavailableError, InvalidSettingsError
from trackmate_cellpose.pipeline import run_pipeline


def test_geff_format_without_the_geff_package_fails_first(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "geff", None)  # import geff -> ImportError
    with pytest.raises(BackendUnavailableError, match=r"trackmate-cellpose\[geff\]"):
        run_pipeline(tmp_path / "missing.tif", tmp_path / "out", formats="xml,geff")
    assert not (tmp_path / "out").exists()  # refused before anything was made


def test_convert_without_the_geff_package_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "geff", None)
    assert main(["convert", str(tmp_path / "a.xml"), str(tmp_path / "a.geff")]) == 2
    assert "needs the geff package" in capsys.readouterr().err


def test_bad_csv_style_is_refused(tmp_path, capsys):
    with pytest.raises(InvalidSettingsError, match="csv_style must be one of trackmate, plain, got 'excel'"):
        run_pipeline(tmp_path / "missing.tif", tmp_path / "out", csv_style="excel")
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path / "x.tif"), "-o", str(tmp_path), "--csv-style", "excel"])
    assert "invalid choice: 'excel'" in capsys.readouterr().err


def test_unknown_format_names_geff_among_the_choices(tmp_path, capsys):
    assert main(["run", str(tmp_path / "x.tif"), "-o", str(tmp_path), "--formats", "xml,zarr"]) == 2
    assert "xml,labels,csv,ctc,png,geff" in capsys.readouterr().err


def test_convert_missing_input_is_a_usage_error(tmp_path, capsys):
    pytest.importorskip("geff")
    assert main(["convert", str(tmp_path / "nope.xml"), str(tmp_path / "a.geff")]) == 2
    assert "input not found" in capsys.readouterr().err
