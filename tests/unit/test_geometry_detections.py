"""labels_to_detections: absolute physical positions, crop offsets, QUALITY and features, 2D and 3D."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.errors import InvalidImageError, InvalidSettingsError
from trackmate_cellpose.geometry import labels_to_detections, labels_to_meshes, labels_to_polygons
from trackmate_cellpose.results import Detection, Mesh


def test_trackmate_square_example():
    # TrackMate's verified SpotRoi.createSpot example: a 10 x 10 um square around (20, 30) gives POSITION (20, 30),
    # RADIUS 5.6419, AREA 100 and ROI text "-5 -5 5 -5 5 5 -5 5". Here 2 um pixels, crop offset (3, 4) pixels.
    cal = Calibration(x=2.0, y=2.0, z=3.0, space_unit="um")
    lab = np.zeros((20, 20), np.uint16)
    lab[13 - 4:18 - 4, 8 - 3:13 - 3] = 1  # absolute pixels x 8..12, y 13..17: edges at 15..25 um and 25..35 um
    (d,) = labels_to_detections(lab, frame=7, calibration=cal, origin_xyz=(3, 4, 0), simplify=False)
    assert isinstance(d, Detection) and d.frame == 7 and d.label == 1
    assert (d.x, d.y, d.z) == pytest.approx((20.0, 30.0, 0.0))
    assert d.radius == pytest.approx(5.6419, abs=1e-4)
    assert d.features["AREA"] == pytest.approx(100.0)
    assert d.quality == d.features["N_PIXELS"] == 25
    rx, ry = d.roi_relative()
    np.testing.assert_allclose(np.column_stack([rx, ry]).ravel(), [-5, -5, 5, -5, 5, 5, -5, 5])
    assert d.mesh is None and "MEAN_CELLPROB" not in d.features


def test_2d_anisotropic_pixels_origin_and_cellprob():
    cal = Calibration(x=0.5, y=0.25, z=2.0, space_unit="um")
    lab = np.zeros((40, 50), np.int32)
    lab[10:20, 5:9] = 4  # 4 x 10 pixels
    lab[30:33, 40:50] = 9  # touches the right border
    lab[2:4, 2:4] = 9  # second component of 9
    rng = np.random.default_rng(3)
    prob = rng.normal(size=lab.shape).astype(np.float32)
    dets = labels_to_detections(lab, frame=0, calibration=cal, origin_xyz=(100, 200, 5), cellprob=prob,
                                simplify=False)
    assert [(d.label, d.quality) for d in dets] == [(4, 40), (9, 4), (9, 30)]
    d4 = dets[0]
    assert d4.x == pytest.approx(0.5 * (100 + 6.5))
    assert d4.y == pytest.approx(0.25 * (200 + 14.5))
    assert d4.z == pytest.approx(5 * 2.0)
    assert d4.features["AREA"] == pytest.approx(40 * 0.5 * 0.25)
    assert d4.radius == pytest.approx(math.sqrt(40 * 0.125 / math.pi))
    np.testing.assert_allclose(d4.roi_xy.min(axis=0), [0.5 * (100 + 4.5), 0.25 * (200 + 9.5)])
    np.testing.assert_allclose(d4.roi_xy.max(axis=0), [0.5 * (100 + 8.5), 0.25 * (200 + 19.5)])
    assert d4.features["MEAN_CELLPROB"] == pytest.approx(float(prob[lab == 4].mean()), rel=1e-6)
    assert dets[1].features["MEAN_CELLPROB"] == pytest.approx(float(prob[2:4, 2:4].mean()), rel=1e-6)
    assert dets[2].features["MEAN_CELLPROB"] == pytest.approx(float(prob[30:33, 40:50].mean()), rel=1e-6)
    # The same polygons as labels_to_polygons, scaled and shifted.
    for d, p in zip(dets, labels_to_polygons(lab, simplify=False)):
        np.testing.assert_allclose(d.roi_xy, (p.xy + (100, 200)) * (0.5, 0.25))
    # z_offset_phys overrides the plane's Z.
    (d,) = labels_to_detections(lab == 4, frame=0, calibration=cal, z_offset_phys=-3.5)
    assert d.z == -3.5


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.uint32])
def test_3d_positions_mesh_and_features(dtype):
    cal = Calibration(x=0.5, y=0.5, z=2.0, space_unit="um")
    lab = np.zeros((8, 20, 30), dtype)
    lab[2:5, 4:10, 6:20] = 2
    lab[5:8, 12:18, 20:26] = 5  # touches the last plane
    prob = np.linspace(0, 1, lab.size, dtype=np.float32).reshape(lab.shape)
    origin = (10, 20, 3)
    dets = labels_to_detections(lab, frame=2, calibration=cal, origin_xyz=origin, cellprob=prob, simplify=False)
    meshes = labels_to_meshes(lab, calibration_zyx=cal.zyx)
    assert [d.label for d in dets] == [2, 5]
    d = dets[0]
    assert d.frame == 2 and d.roi_xy is None and isinstance(d.mesh, Mesh)
    # Box: centroid at the voxel-centre mean, absolute.
    assert (d.x, d.y, d.z) == pytest.approx((0.5 * (10 + 12.5), 0.5 * (20 + 6.5), 2.0 * (3 + 3)))
    assert d.quality == d.features["N_VOXELS"] == 3 * 6 * 14
    assert d.features["VOLUME"] == pytest.approx(meshes[0].volume)
    assert d.features["SURFACE_AREA"] == pytest.approx(meshes[0].area)
    assert d.radius == pytest.approx((3 * meshes[0].volume / (4 * math.pi)) ** (1 / 3))
    np.testing.assert_allclose(d.mesh.vertices, meshes[0].vertices + np.array(origin) * cal.xyz)
    np.testing.assert_array_equal(d.mesh.faces, meshes[0].faces)
    np.testing.assert_allclose(d.mesh.vertices.min(axis=0), np.array([10 + 5.5, 20 + 3.5, 3 + 1.5]) * cal.xyz,
                               atol=1e-5)
    for det, v in zip(dets, (2, 5)):
        assert det.features["MEAN_CELLPROB"] == pytest.approx(float(prob[lab == v].mean()), rel=1e-6)
    # simplify=True decimates the meshes (TrackMate v9's SIMPLIFY_CONTOURS in 3D), same object otherwise.
    small = labels_to_detections(lab, frame=2, calibration=cal, origin_xyz=origin, simplify=True)
    assert len(small[0].mesh.faces) < len(d.mesh.faces)
    assert small[0].quality == d.quality
    assert (small[0].x, small[0].y, small[0].z) == pytest.approx((d.x, d.y, d.z), abs=0.1)


def test_3d_z_offset_and_smoothing():
    cal = Calibration(x=1.0, y=1.0, z=1.0)
    lab = np.zeros((12, 12, 12), np.uint8)
    lab[3:9, 3:9, 3:9] = 1
    (d0,) = labels_to_detections(lab, frame=0, calibration=cal)
    (d1,) = labels_to_detections(lab, frame=0, calibration=cal, z_offset_phys=100.0, smoothing_scale=1.0,
                                 simplify=False)
    assert d0.z == pytest.approx(5.5)
    assert d1.z == pytest.approx(105.5, abs=1e-6)
    assert d1.features["VOLUME"] < d0.features["VOLUME"]  # smoothing rounds the cube's corners off


@pytest.mark.parametrize("shape", [(16, 16), (4, 16, 16)])
def test_empty_frame_gives_no_detection(shape):
    assert labels_to_detections(np.zeros(shape, np.uint16), frame=0, calibration=Calibration()) == []


def test_invalid_inputs():
    cal = Calibration()
    lab = np.ones((4, 4), np.uint16)
    with pytest.raises(InvalidImageError, match="2D or 3D"):
        labels_to_detections(np.ones((2, 2, 2, 2), np.uint16), frame=0, calibration=cal)
    with pytest.raises(InvalidImageError, match="cellprob"):
        labels_to_detections(lab, frame=0, calibration=cal, cellprob=np.ones((3, 4)))
    with pytest.raises(InvalidSettingsError, match="calibration"):
        labels_to_detections(lab, frame=0, calibration=(1.0, 1.0, 1.0))
    with pytest.raises(InvalidSettingsError, match="origin_xyz"):
        labels_to_detections(lab, frame=0, calibration=cal, origin_xyz=(1, 2))
