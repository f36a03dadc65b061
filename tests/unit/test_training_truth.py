"""Curated spots -> truth labels, training pairs and object metrics: analytic oracles, no cellpose.

* polygons: TrackMate's pixel-edge outlines of a label image give back exactly that label image;
* meshes: marching-cubes meshes of a label volume (raw and smoothed, decimated) voxelise back to it, and an analytic
  ellipsoid mesh fills its volume within 2 %;
* the XML reader keeps visible spots only, the crop box and TrackMate's calibration;
* F1 / IoU on hand-made cases; 3D orthogonal planes at the anisotropy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from support.curated import curated_xml, write_image
from trackmate_cellpose.data import synthetic_movie_2d, synthetic_movie_3d
from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.geometry import labels_to_meshes, labels_to_polygons
from trackmate_cellpose.training import agreement, parse_frames, read_curated, truth_labels
from trackmate_cellpose.training._pairs import frame_pairs, orthogonal_planes
from trackmate_cellpose.training._rasterize import fill_ellipsoid, fill_mesh, fill_polygon

CAL2 = Calibration(x=0.5, y=0.5, z=1.0, t=1.0, space_unit="um", time_unit="s")
CAL3 = Calibration(x=0.5, y=0.5, z=1.0, t=1.0, space_unit="um", time_unit="s")


def test_trackmate_outlines_rasterise_back_to_the_labels():
    _, lab = synthetic_movie_2d(n_frames=1, shape_yx=(96, 96), n_objects=9, seed=3)
    lab = lab[0]
    out = np.zeros_like(lab)
    for rec in labels_to_polygons(lab, simplify=False):
        fill_polygon(out, rec.xy, rec.label)
    np.testing.assert_array_equal(out, lab)


@pytest.mark.parametrize("smoothing,simplify", [(0.0, False), (0.0, True), (1.0, False)])
def test_meshes_voxelise_back_to_the_labels(smoothing, simplify):
    _, lab = synthetic_movie_3d(n_frames=1, shape_zyx=(14, 56, 56), n_objects=6, anisotropy=2.0, seed=4)
    lab = lab[0]
    out = np.zeros_like(lab)
    for rec in labels_to_meshes(lab, calibration_zyx=CAL3.zyx, smoothing_scale=smoothing, simplify=simplify):
        fill_mesh(out, rec.vertices / np.array(CAL3.xyz), rec.faces, rec.label)
    ious = [((out == v) & (lab == v)).sum() / ((out == v) | (lab == v)).sum() for v in np.unique(lab)[1:]]
    assert min(ious) > (0.999 if smoothing == 0 and not simplify else 0.93), ious


def test_analytic_ellipsoid_mesh_fills_its_volume():
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=5)
    a, b, c = 14.3, 9.1, 6.2  # semi-axes x, y, z in voxels
    v = sphere.vertices * np.array([a, b, c]) + np.array([20.4, 15.7, 9.3])
    out = np.zeros((20, 32, 40), np.int32)
    n = fill_mesh(out, v, sphere.faces, 7)
    assert n == int((out == 7).sum())
    assert n == pytest.approx(4 / 3 * math.pi * a * b * c, rel=0.02)


def test_filled_shapes_never_overwrite():
    out = np.zeros((20, 20), np.int32)
    fill_ellipsoid(out, (10, 10), (5, 5), 1)
    before = out.copy()
    square = np.array([[2, 2], [17, 2], [17, 17], [2, 17]], float)
    fill_polygon(out, square, 2)
    assert (out[before == 1] == 1).all() and (out == 2).sum() == 16 * 16 - (before == 1).sum()


def test_curated_reader_keeps_visible_spots_crop_and_calibration(tmp_path):
    img, lab = synthetic_movie_2d(n_frames=4, shape_yx=(64, 64), n_objects=5, seed=5)
    ip = write_image(tmp_path / "m.tif", img[:, None], CAL2)
    xp = curated_xml(tmp_path / "m.xml", ip, lab[:, None], CAL2, frames=[0, 2, 3], hide={2: [1, 2], 3: [1, 2, 3, 4, 5]})
    cur = read_curated(xp)
    assert cur.curated_frames == [0, 2]  # frame 1 has no spot, every spot of frame 3 is hidden
    assert cur.size_xyzt == (64, 64, 1, 4) and cur.calibration.xyz == CAL2.xyz and not cur.is_3d
    assert cur.crop_xyzt == ((0, 63), (0, 63), (0, 0), (0, 3))
    truth, plain = truth_labels(cur, 0, (64, 64), (0, 0, 0), CAL2)
    assert plain == 0
    assert agreement(lab[0], truth).f1 == 1.0 and agreement(lab[0], truth).mean_iou == 1.0
    truth2, _ = truth_labels(cur, 2, (64, 64), (0, 0, 0), CAL2)
    hidden = np.isin(lab[2], [1, 2])
    assert not truth2[hidden].any() and (truth2[(lab[2] > 2)] > 0).all()
    # a crop: the same spots, shifted
    part, _ = truth_labels(cur, 0, (40, 30), (10, 20, 0), CAL2)
    np.testing.assert_array_equal(part > 0, truth[20:60, 10:40] > 0)


def test_curated_reader_3d_meshes_and_spheres(tmp_path):
    img, lab = synthetic_movie_3d(n_frames=2, shape_zyx=(12, 48, 48), n_objects=4, anisotropy=2.0, seed=6)
    ip = write_image(tmp_path / "s.tif", img, CAL3)
    xp = curated_xml(tmp_path / "s.xml", ip, lab, CAL3)
    cur = read_curated(xp)
    n = int(lab[0].max() + lab[1].max())
    assert cur.is_3d and n >= 4 and cur.n_shapes([0, 1]) == (n, 0)
    truth, plain = truth_labels(cur, 1, (12, 48, 48), (0, 0, 0), CAL3)
    assert plain == 0 and agreement(lab[1], truth).f1 == 1.0 and agreement(lab[1], truth).mean_iou > 0.95
    xs = curated_xml(tmp_path / "spheres.xml", ip, lab, CAL3, meshes=False)
    assert read_curated(xs).n_shapes([0, 1]) == (0, n)


def test_agreement_counts_and_scores():
    t = np.zeros((10, 30), np.int32)
    t[2:8, 2:8], t[2:8, 12:18], t[2:8, 22:28] = 1, 2, 3
    f = np.zeros_like(t)
    f[2:8, 2:8] = 5  # exact
    f[2:8, 13:18] = 6  # IoU 30/36
    f[0:2, 22:28] = 7  # no overlap
    a = agreement(t, f)
    assert (a.n_true, a.n_found, a.tp, a.fp, a.fn) == (3, 3, 2, 1, 1)
    assert a.f1 == pytest.approx(2 / 3) and a.mean_iou == pytest.approx((1 + 30 / 36) / 2)
    assert agreement(t, np.zeros_like(t)).f1 == 0.0
    assert agreement(np.zeros_like(t), np.zeros_like(t)).f1 == 1.0
    # IoU just below the threshold is no match
    g = np.zeros_like(t)
    g[2:8, 2:5] = 1  # IoU 0.5 exactly: a match at >= 0.5
    g[2:8, 12:14] = 2  # IoU 1/3
    b = agreement(t, g)
    assert b.tp == 1 and b.mean_iou == pytest.approx(0.5)


def test_orthogonal_planes_follow_cellposes_3d_resampling():
    _, lab = synthetic_movie_3d(n_frames=1, shape_zyx=(10, 40, 48), n_objects=3, anisotropy=2.0, seed=7)
    img = np.random.default_rng(0).random((1, 10, 40, 48)).astype(np.float32)
    planes = orthogonal_planes(img, lab[0], 2.0)
    shapes = {p[1].shape for p in planes}
    assert shapes == {(40, 48), (20, 48), (20, 40)}  # YX, ZX (Z resampled x2), ZY
    assert all(p[1].any() for p in planes)
    n_yx = sum(1 for p in planes if p[1].shape == (40, 48))
    assert n_yx == sum(1 for z in range(20) if lab[0][z // 2].any())
    pairs = frame_pairs(img, lab[0], 2.0)
    assert all(im.ndim == 2 and im.shape == lb.shape for im, lb in pairs)


@pytest.mark.parametrize("text,want", [("3", [3]), ("0,3,5-7", [0, 3, 5, 6, 7]), (" 2 , 2,1", [1, 2])])
def test_parse_frames(text, want):
    assert parse_frames(text) == want


@pytest.mark.parametrize("text", ["", "a", "3-1", "-2", "1,,x"])
def test_parse_frames_rejects(text):
    from trackmate_cellpose.training import InvalidTrainingDataError

    with pytest.raises(InvalidTrainingDataError, match="--frames"):
        parse_frames(text)
