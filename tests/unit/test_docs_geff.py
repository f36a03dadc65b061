"""The docs' GEFF/CSV/convert documentation (docs/formats.md) matches the code (formats, CSV styles, GEFF properties,
commands)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trackmate_cellpose.cli import build_parser
from trackmate_cellpose.pipeline import CSV_STYLES, DEFAULT_FORMATS, FORMATS, parse_formats

FORMATS_PAGE = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text()


def _choices(subcommand: str, dest: str):
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return next(a for a in sub.choices[subcommand]._actions if a.dest == dest)


def test_formats_line_matches_code():
    assert f"`--formats {','.join(FORMATS)}`" in FORMATS_PAGE
    assert parse_formats(None) == DEFAULT_FORMATS == tuple(f for f in FORMATS if f != "geff")
    assert parse_formats("all") == FORMATS
    for cmd in ("run", "demo"):
        assert _choices(cmd, "formats").default == ",".join(DEFAULT_FORMATS)


def test_csv_styles_match_code():
    for cmd in ("run", "demo"):
        opt = _choices(cmd, "csv_style")
        assert tuple(opt.choices) == CSV_STYLES and opt.default == CSV_STYLES[0]
    assert f"`--csv-style {'|'.join(CSV_STYLES)}`" in FORMATS_PAGE


def test_geff_table_names_every_property_the_writer_writes(tmp_path):
    pytest.importorskip("geff")
    import geff as geffpkg

    from trackmate_cellpose.export import ImageInfo, spot_id_images, write_trackmate_xml
    from support.export_fixtures import balls_result, discs_result
    from trackmate_cellpose.export._geff_write import write_geff
    from trackmate_cellpose.export._xml_read import read_trackmate_xml
    from trackmate_cellpose.tracking import track_overlap

    section = FORMATS_PAGE[FORMATS_PAGE.index("## GEFF"):]
    for kind, res in (("2d", discs_result([[(20, 20, 5)], [(20, 21, 5)]])), ("3d", balls_result([[(5, 20, 20, 6)]]))):
        tr = track_overlap(res)
        xml = tmp_path / f"{kind}.xml"
        write_trackmate_xml(xml, tr, res.calibration, image=ImageInfo.from_path(xml, res.image_shape_tczyx))
        model = read_trackmate_xml(xml)
        model.meshes = {i: d.mesh for i, d in enumerate(tr.spots) if d.mesh is not None}
        meta = geffpkg.GeffMetadata.read(str(write_geff(tmp_path / f"{kind}.geff", model,
                                                        labels_tzyx=spot_id_images(tr, res.frames))))
        features = set(model.declared["spot"]) | set(model.declared["edge"])
        for name in set(meta.node_props_metadata) | set(meta.edge_props_metadata):
            assert name in features or f"`{name}`" in section, name
        for ax in meta.axes:
            assert f"`{ax.name}`" in section


def test_convert_command_is_documented():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert "convert" in sub.choices
    assert re.search(r"trackmate-cellpose convert \S+\.xml \S+\.geff", FORMATS_PAGE)
    assert re.search(r"trackmate-cellpose convert \S+\.geff \S+\.xml", FORMATS_PAGE)
