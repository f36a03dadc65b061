"""Exporters other than the XML: v9 .meshes (read by trimesh), label TIFFs, CSV tables, CTC format, pictures."""

from __future__ import annotations

import csv
import zipfile

import numpy as np
import pytest
import tifffile

from trackmate_cellpose.export import (ctc_segments, spot_id_images, write_csv_tables, write_ctc, write_label_tiff,
                                       write_mesh_png, write_meshes, write_overlay_gif, write_overlay_png)
from trackmate_cellpose.export._pictures import track_color
from support.export_fixtures import balls_result, discs_result
from trackmate_cellpose.reader import read_image
from trackmate_cellpose.tracking import OverlapTrackerSettings, track_overlap


def _division():
    frames = [[(30, 30, 10), (10, 50, 5)], [(30, 30, 10)], [(30, 25, 6), (30, 36, 6)], [(30, 23, 6), (30, 38, 6)]]
    res = discs_result(frames)
    return res, track_overlap(res, OverlapTrackerSettings(min_iou=0.1))


def test_meshes_zip_layout_and_trimesh_volumes(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    res = balls_result([[(5, 20, 20, 6), (6, 10, 30, 4)], [(5, 21, 20, 6)]], shape_zyx=(12, 40, 40))
    tr = track_overlap(res)
    xml = tmp_path / "m.xml"
    out = write_meshes(xml, tr)
    assert out.name == "m.xml.meshes"
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert names == {"0.ply", "1.ply", "2.ply", "mesh-info.txt"}
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
        info = zf.read("mesh-info.txt").decode().splitlines()
        assert info[0] == "frame,ID" and sorted(info[1:]) == ["0,0", "0,1", "1,2"]
        for i, d in enumerate(tr.spots):
            data = zf.read(f"{i}.ply")
            assert data.startswith(b"ply\nformat binary_little_endian 1.0\n")
            assert b"property list uchar int vertex_index\n" in data
            m = trimesh.load(trimesh.util.wrap_as_stream(data), file_type="ply", process=False)
            assert len(m.vertices) == len(d.mesh.vertices) and len(m.faces) == len(d.mesh.faces)
            # absolute physical coordinates, float32 precision
            np.testing.assert_allclose(m.vertices, d.mesh.vertices, atol=1e-5)
            m2 = trimesh.Trimesh(m.vertices, m.faces, process=True)
            assert m2.is_watertight and m2.volume > 0  # closed, outward normals
            assert m2.volume == pytest.approx(d.features["VOLUME"], rel=0.15)
            assert m2.center_mass == pytest.approx([d.x, d.y, d.z], abs=0.3)
    assert write_meshes(tmp_path / "none.xml", track_overlap(discs_result([[(20, 20, 5)]]))) is None


def test_label_tiffs_spot_and_track(tmp_path):
    res, tr = _division()
    spots = spot_id_images(tr, res.frames)
    tracks = spot_id_images(tr, res.frames, by_track=True)
    assert spots.shape == (4, 1, 64, 64)
    for i, d in enumerate(tr.spots):  # the spot's centre pixel carries its ID + 1
        assert spots[d.frame, 0, int(round(d.y / 0.5)), int(round(d.x / 0.5))] == i + 1
    assert set(np.unique(tracks[3])) == {0, 1}  # both daughters belong to track 0 -> label 1
    assert set(np.unique(tracks[0])) == {0, 1, 2}  # the lone spot gets a label after the tracks
    p = write_label_tiff(tmp_path / "l.tif", spots, res.calibration)
    back = read_image(p)
    assert back.array.shape == (4, 1, 1, 64, 64)
    assert back.calibration.x == pytest.approx(0.5) and back.calibration.space_unit == "um"
    assert back.calibration.t == pytest.approx(2.0)
    np.testing.assert_array_equal(back.array[:, 0], spots)


def test_label_tiff_written_frame_by_frame_is_the_same_file_content(tmp_path):
    """The pipeline streams label movies frame by frame (flat memory on long movies): same pixels and metadata."""
    import tifffile

    from trackmate_cellpose.export import iter_spot_id_images

    res, tr = _division()
    for by_track in (False, True):
        whole = write_label_tiff(tmp_path / f"whole{by_track}.tif",
                                 spot_id_images(tr, res.frames, by_track=by_track), res.calibration)
        streamed = write_label_tiff(tmp_path / f"streamed{by_track}.tif",
                                    iter_spot_id_images(tr, res.frames, by_track=by_track), res.calibration,
                                    shape_tzyx=(4, 1, 64, 64), max_label=len(tr.spots))
        with tifffile.TiffFile(whole) as a, tifffile.TiffFile(streamed) as b:
            np.testing.assert_array_equal(a.asarray(), b.asarray())
            assert a.imagej_metadata == b.imagej_metadata and a.series[0].axes == b.series[0].axes
            assert a.pages[0].dtype == b.pages[0].dtype == np.uint16


def test_csv_tables_have_trackmate_columns(tmp_path):
    res, tr = _division()
    paths = write_csv_tables(tmp_path, "mov", tr, res.calibration, style="plain")
    assert [p.name for p in paths] == ["mov_spots.csv", "mov_edges.csv", "mov_tracks.csv"]
    rows = list(csv.DictReader(open(paths[0])))
    assert len(rows) == len(tr.spots)
    for k in ("LABEL", "ID", "TRACK_ID", "QUALITY", "POSITION_X", "POSITION_Y", "POSITION_Z", "POSITION_T", "FRAME",
              "RADIUS", "VISIBILITY", "AREA"):
        assert k in rows[0]
    assert float(rows[0]["POSITION_X"]) == tr.spots[0].x
    trows = list(csv.DictReader(open(paths[2])))
    assert len(trows) == 1 and trows[0]["NUMBER_SPLITS"] == "1" and trows[0]["NUMBER_SPOTS"] == "6"
    assert len(list(csv.DictReader(open(paths[1])))) == 5


def test_ctc_branches_and_validity(tmp_path):
    res, tr = _division()
    seg, rows = ctc_segments(tr)
    # mother 0..1, two daughters 2..3 with parent = mother, lone spot 0..0
    assert sorted((b, e, p) for _, b, e, p in rows) == [(0, 0, 0), (0, 1, 0), (2, 3, 1), (2, 3, 1)]
    paths = write_ctc(tmp_path / "ctc", tr, res.frames, res.calibration)
    assert [p.name for p in paths][:4] == ["mask000.tif", "mask001.tif", "mask002.tif", "mask003.tif"]
    m2 = tifffile.imread(paths[2])
    assert m2.dtype == np.uint16 and set(np.unique(m2)) == {0, 3, 4}
    ctc = pytest.importorskip("ctc_metrics")
    from ctc_metrics.utils.filesystem import read_tracking_file
    from ctc_metrics.metrics.validation.valid import valid
    masks = [str(p) for p in paths[:-1]]
    tracks = read_tracking_file(str(paths[-1]))
    # ctc-metrics' validity check needs the mask-to-track labels per frame
    labels = [np.unique(tifffile.imread(m)).tolist()[1:] for m in masks]
    assert valid(masks, tracks, labels) == 1
    assert ctc is not None


def test_pictures(tmp_path):
    from PIL import Image

    res, tr = _division()
    img = np.random.default_rng(0).integers(0, 1000, size=(4, 1, 1, 64, 64)).astype(np.uint16)
    png = write_overlay_png(tmp_path / "o.png", img, tr, res.calibration)
    gif = write_overlay_gif(tmp_path / "o.gif", img, tr, res.calibration)
    with Image.open(png) as im:
        assert im.size[0] > 4 * 64 and im.mode == "RGB"
    with Image.open(gif) as im:
        assert im.n_frames == 4
    res3 = balls_result([[(5, 20, 20, 6)], [(5, 21, 20, 6)]])
    tr3 = track_overlap(res3)
    p = write_mesh_png(tmp_path / "m.png", tr3, res3.calibration, image_shape_zyx=(12, 40, 40))
    with Image.open(p) as im:
        assert im.size[0] >= 400
    img3 = np.zeros((2, 1, 12, 40, 40), np.uint16)
    p = write_overlay_png(tmp_path / "o3.png", img3, tr3, res3.calibration,
                          spot_ids_tzyx=spot_id_images(tr3, res3.frames))
    with Image.open(p) as im:  # the object outlines are painted in track 0's colour
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3)
        assert (np.abs(rgb.astype(int) - track_color(0)).sum(axis=1) == 0).sum() > 50
