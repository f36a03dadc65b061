"""3D label image -> meshes, and Taubin smoothing: analytic oracles (ellipsoid volume and surface area)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import elliprg

from trackmate_cellpose.errors import InvalidImageError, InvalidSettingsError
from trackmate_cellpose.geometry import (is_closed_oriented, labels_to_meshes, mesh_volume_centroid_area,
                                         orient_outward)


def ellipsoid_labels(radii_zyx, cal_zyx, value=1, margin=3, shift=(0.3, -0.2, 0.1)):
    """Voxelised ellipsoid (physical semi-axes) and its centre in physical x, y, z."""
    shape = tuple(int(2 * r / c) + 2 * margin for r, c in zip(radii_zyx, cal_zyx))
    centre = np.array([(s - 1) / 2 + d for s, d in zip(shape, shift)])
    zz, yy, xx = np.indices(shape, dtype=float)
    inside = sum(((g - c0) * c / r) ** 2 for g, c0, c, r in zip((zz, yy, xx), centre, cal_zyx, radii_zyx)) <= 1
    return inside.astype(np.uint16) * value, (centre * np.array(cal_zyx))[::-1]


def ellipsoid_volume_area(a, b, c):
    """Exact volume and surface area (Carlson's symmetric integral R_G)."""
    return 4 / 3 * math.pi * a * b * c, 4 * math.pi * a * b * c * float(elliprg(a**-2, b**-2, c**-2))


def check_closed_outward(rec):
    tm = trimesh.Trimesh(rec.vertices, rec.faces, process=False)
    assert tm.is_watertight and tm.is_winding_consistent
    assert tm.volume > 0 and rec.volume > 0  # outward: positive signed volume
    assert rec.volume == pytest.approx(tm.volume, rel=1e-9)
    assert rec.area == pytest.approx(tm.area, rel=1e-9)
    assert is_closed_oriented(rec.faces)


def test_sphere_is_closed_outward_with_the_right_volume_and_centroid():
    lab, centre = ellipsoid_labels((10, 10, 10), (1, 1, 1), value=5)
    (m,) = labels_to_meshes(lab)
    assert m.label == 5 and m.n_voxels == np.count_nonzero(lab)
    assert m.vertices.dtype == np.float64 and m.faces.dtype == np.int64
    check_closed_outward(m)
    volume, _ = ellipsoid_volume_area(10, 10, 10)
    assert m.volume == pytest.approx(volume, rel=0.02)
    np.testing.assert_allclose(m.centroid_xyz, centre, atol=0.05)


@pytest.mark.parametrize("cal_zyx", [(2.0, 0.5, 0.5), (1.0, 0.5, 0.25)])
def test_anisotropic_ellipsoid(cal_zyx):
    radii = (14.0, 10.0, 8.0)  # physical semi-axes along z, y, x
    lab, centre = ellipsoid_labels(radii, cal_zyx)
    volume, surface = ellipsoid_volume_area(*radii)
    (raw,) = labels_to_meshes(lab, calibration_zyx=cal_zyx)
    check_closed_outward(raw)
    # Marching cubes at 0.5 on the 0/1 mask cuts voxel corners: volume within 1 % of the voxel count, itself within
    # 1 % of the ellipsoid here. Its staircase surface is 10-20 % too large, hence the smoothed mesh for the area.
    assert raw.volume == pytest.approx(volume, rel=0.02)
    assert raw.area > surface
    np.testing.assert_allclose(raw.centroid_xyz, centre, atol=0.05)
    # Extents in x, y, z: vertices are xyz (not zyx) and anisotropy is applied.
    extent = raw.vertices.max(axis=0) - raw.vertices.min(axis=0)
    np.testing.assert_allclose(extent, 2 * np.array(radii[::-1]), rtol=0.15)
    # Smoothing by ~ one XY pixel removes the staircase: area within 3 %, volume still within 2 % (the level-0.5
    # surface of a blurred convex object moves slightly inwards, by about sigma^2 / R).
    (smooth,) = labels_to_meshes(lab, calibration_zyx=cal_zyx, smoothing_scale=1.0)
    check_closed_outward(smooth)
    assert smooth.area == pytest.approx(surface, rel=0.03)
    assert smooth.volume == pytest.approx(volume, rel=0.02)
    np.testing.assert_allclose(smooth.centroid_xyz, centre, atol=0.05)
    assert len(smooth.faces) != len(raw.faces)


def test_box_faces_fall_on_voxel_faces_in_xyz_order():
    lab = np.zeros((6, 10, 24), np.int32)
    lab[2:4, 5:7, 10:20] = 1
    cal = (2.0, 0.5, 0.25)  # z, y, x
    (m,) = labels_to_meshes(lab, calibration_zyx=cal)
    # Voxel centres at integer * calibration, so the 0.5 level of a 0/1 mask lies on the voxel faces.
    # (Up to the 1e-6 voxel by which the level sits below 0.5.)
    np.testing.assert_allclose(m.vertices.min(axis=0), [9.5 * 0.25, 4.5 * 0.5, 1.5 * 2.0], atol=1e-5)
    np.testing.assert_allclose(m.vertices.max(axis=0), [19.5 * 0.25, 6.5 * 0.5, 3.5 * 2.0], atol=1e-5)
    np.testing.assert_allclose(m.centroid_xyz, [14.5 * 0.25, 5.5 * 0.5, 2.5 * 2.0], atol=1e-9)
    check_closed_outward(m)


def test_several_labels_touching_and_split():
    lab = np.zeros((12, 20, 20), np.uint32)
    lab[2:6, 2:8, 2:8] = 3
    lab[2:6, 2:8, 8:14] = 7  # touches label 3
    lab[8:11, 12:18, 12:18] = 3  # second piece of label 3: one mesh, two shells
    lab[:3, 15:, 15:] = 9  # touches the volume border
    meshes = labels_to_meshes(lab)
    assert [m.label for m in meshes] == [3, 7, 9]
    assert [m.n_voxels for m in meshes] == [int(np.count_nonzero(lab == v)) for v in (3, 7, 9)]
    for m in meshes:
        check_closed_outward(m)
    assert trimesh.Trimesh(meshes[0].vertices, meshes[0].faces).body_count == 2


@pytest.mark.parametrize("smoothing_scale", [0.0, 3.0])
def test_single_voxel_gives_a_tiny_closed_mesh(smoothing_scale):
    lab = np.zeros((5, 5, 5), np.uint8)
    lab[2, 2, 2] = 1
    (m,) = labels_to_meshes(lab, calibration_zyx=(2.0, 1.0, 1.0), smoothing_scale=smoothing_scale)
    check_closed_outward(m)
    assert m.n_voxels == 1
    np.testing.assert_allclose(m.centroid_xyz, [2.0, 2.0, 4.0], atol=1e-9)


def test_smoothing_changes_the_surface_but_not_much_the_volume():
    lab, _ = ellipsoid_labels((8, 8, 8), (1, 1, 1))
    (raw,) = labels_to_meshes(lab)
    (smooth,) = labels_to_meshes(lab, smoothing_scale=1.0)
    assert smooth.volume == pytest.approx(raw.volume, rel=0.03)
    assert smooth.area < 0.97 * raw.area  # staircase removed
    assert not np.allclose(np.sort(smooth.vertices, axis=0)[:50], np.sort(raw.vertices, axis=0)[:50])


def test_smoothing_never_leaves_floating_pieces_in_a_spot():
    """A ball with a thin diagonal leg ending in a knob (one 26-connected label): the 1 um smoothing cuts the leg,
    and the knob would be meshed as a second floating body inside the same spot. One body, genus 0, is kept."""
    lab = np.zeros((20, 40, 40), np.int32)
    zz, yy, xx = np.mgrid[:20, :40, :40]
    lab[((zz - 10) ** 2 + (yy - 15) ** 2 + (xx - 15) ** 2) <= 36] = 1
    for k in range(8):
        lab[10, 21 + k, 21 + k] = 1
    lab[9:12, 28:31, 28:31] = 1
    (rec,) = labels_to_meshes(lab, calibration_zyx=(1.0, 0.5, 0.5), smoothing_scale=1.0)
    m = trimesh.Trimesh(rec.vertices, rec.faces, process=True)
    assert len(m.split(only_watertight=False)) == 1 and m.euler_number == 2 and m.is_watertight
    assert rec.volume == pytest.approx(m.volume, rel=1e-9)  # the record describes the mesh it carries


def test_simplify_decimates_and_keeps_the_mesh_closed():
    lab, _ = ellipsoid_labels((10, 8, 8), (1.0, 1.0, 1.0))
    (full,) = labels_to_meshes(lab, smoothing_scale=1.0)
    (small,) = labels_to_meshes(lab, smoothing_scale=1.0, simplify=True)
    check_closed_outward(small)
    assert len(small.faces) <= 0.25 * len(full.faces)  # TrackMate keeps 20 % between 200 and 10k triangles
    assert small.volume == pytest.approx(full.volume, rel=0.02)
    assert small.n_voxels == full.n_voxels


def test_simplify_without_the_library_warns_and_keeps_the_full_mesh(monkeypatch):
    monkeypatch.setitem(sys.modules, "fast_simplification", None)
    lab, _ = ellipsoid_labels((6, 6, 6), (1, 1, 1))
    with pytest.warns(RuntimeWarning, match="fast-simplification"):
        (m,) = labels_to_meshes(lab, simplify=True)
    assert len(m.faces) == len(labels_to_meshes(lab)[0].faces)


@pytest.mark.parametrize("dtype", [np.int16, np.uint64])
def test_label_dtypes_and_huge_values(dtype):
    lab = np.zeros((6, 6, 6), dtype)
    lab[1:3, 1:3, 1:3] = 7
    lab[3:5, 3:5, 3:5] = 2**40 if dtype == np.uint64 else 300
    meshes = labels_to_meshes(lab)
    assert [(m.label, m.n_voxels) for m in meshes] == [(7, 8), (int(lab.max()), 8)]
    for m in meshes:
        check_closed_outward(m)


def test_empty_and_invalid_inputs():
    assert labels_to_meshes(np.zeros((3, 4, 5), np.uint16)) == []
    with pytest.raises(InvalidImageError, match="3D"):
        labels_to_meshes(np.zeros((4, 5), np.uint16))
    with pytest.raises(InvalidSettingsError, match="calibration_zyx"):
        labels_to_meshes(np.ones((2, 2, 2), np.uint16), calibration_zyx=(1.0, 0.0, 1.0))
    with pytest.raises(InvalidSettingsError, match="smoothing_scale"):
        labels_to_meshes(np.ones((2, 2, 2), np.uint16), smoothing_scale=float("nan"))


def test_voxels_touching_along_an_edge_give_one_manifold_surface():
    lab = np.zeros((4, 5, 5), np.uint8)
    lab[1, 1, 1:4] = 1
    lab[2, 2, 1:4] = 1  # touches the first bar along an edge only
    lab[1, 3, 3] = 2
    lab[2, 4, 4] = 2  # touches only at a corner
    m1, m2 = labels_to_meshes(lab)
    check_closed_outward(m1)
    check_closed_outward(m2)
    assert trimesh.Trimesh(m1.vertices, m1.faces).body_count == 1
    assert trimesh.Trimesh(m2.vertices, m2.faces).body_count == 2


small_volumes = arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),
                       elements=st.integers(0, 3))


@settings(max_examples=40, deadline=None)
@given(small_volumes, st.sampled_from([0.0, 0.8]), st.booleans())
def test_every_mesh_is_closed_and_outward(lab, smoothing_scale, simplify):
    meshes = labels_to_meshes(lab, calibration_zyx=(1.5, 1.0, 0.75), smoothing_scale=smoothing_scale,
                              simplify=simplify)
    assert [m.label for m in meshes] == [v for v in (1, 2, 3) if np.any(lab == v)]
    for m in meshes:
        assert m.n_voxels == np.count_nonzero(lab == m.label)
        assert is_closed_oriented(m.faces) and m.volume > 0 and m.area > 0
        if smoothing_scale == 0 and not simplify:
            # The 0/1 mask's surface never leaves the voxels' bounding box, and encloses less than the voxels.
            assert m.volume <= m.n_voxels * 1.5 * 1.0 * 0.75 + 1e-6


# --- orientation: one rule, measured (orient_outward), never assumed from marching cubes' conventions ----------------


def test_orient_outward_reverses_an_inward_mesh_and_keeps_an_outward_one():
    box = trimesh.creation.box(extents=(2.0, 3.0, 5.0))  # trimesh builds it outward
    v, f = np.asarray(box.vertices, np.float64), np.asarray(box.faces, np.int64)
    for faces in (f, f[:, ::-1]):
        out, (volume, centroid, area) = orient_outward(v, faces)
        np.testing.assert_array_equal(out, f)
        assert out.dtype == np.int64 and out.flags.c_contiguous
        assert volume == pytest.approx(30.0) and area == pytest.approx(62.0)
        np.testing.assert_allclose(centroid, 0.0, atol=1e-12)


def outward_fraction(vertices, faces):
    """Share of faces whose normal points away from the solid's centroid (1.0 for a convex, outward mesh)."""
    tri = vertices[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return float(np.mean(np.einsum("ij,ij->i", normals, tri.mean(axis=1) - tri.reshape(-1, 3).mean(axis=0)) > 0))


@pytest.mark.parametrize("cal_zyx", [(1.0, 1.0, 1.0), (2.0, 0.5, 0.5), (0.3, 1.0, 1.7), (1.0, 0.25, 3.0)])
@pytest.mark.parametrize("smoothing_scale, simplify", [(0.0, False), (1.5, False), (1.5, True)])
def test_every_mesh_has_outward_normals_on_anisotropic_calibrations(cal_zyx, smoothing_scale, simplify):
    # two convex labels (an ellipsoid, a box) and a label in two pieces, each checked against independent oracles
    lab, _ = ellipsoid_labels((6.0, 5.0, 4.0), cal_zyx, value=3, margin=4)
    lab = np.pad(lab, ((0, 0), (0, 0), (0, 12)))
    lab[1:4, 1:5, -10:-4] = 7
    lab[-3:-1, -3:-1, -3:-1] = 9
    lab[0:2, -2:, 0:2] = 9
    meshes = labels_to_meshes(lab, calibration_zyx=cal_zyx, smoothing_scale=smoothing_scale, simplify=simplify)
    assert [m.label for m in meshes] == [3, 7, 9]
    for m in meshes:
        check_closed_outward(m)  # trimesh's own signed volume is positive
        volume, centroid, area = mesh_volume_centroid_area(m.vertices, m.faces)
        assert (m.volume, m.area) == (volume, area)  # the record describes its own faces
        np.testing.assert_array_equal(m.centroid_xyz, centroid)
        if m.label != 9:  # convex: every face normal points away from the centroid
            assert outward_fraction(m.vertices, m.faces) > 0.99
