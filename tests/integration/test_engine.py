"""Real cellpose inference with the bundled test model on the bundled synthetic samples (no mocks)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import (Calibration, Cancelled, DetectorSettings, InvalidImageError, InvalidSettingsError,
                                RuntimeOptions, detect)
from trackmate_cellpose.data import sample_path
from trackmate_cellpose.segment._adapter import CellposeAdapter

pytestmark = pytest.mark.slow

CAL = Calibration(x=0.5, y=0.5, z=1.0, t=5.0, space_unit="um", time_unit="s")


def f1_at_iou(pred: np.ndarray, gt: np.ndarray, thr: float = 0.5) -> float:
    """F1 of one-to-one matches with IoU > thr (IoU > 0.5 makes matches unique)."""
    p, g = pred.ravel().astype(np.int64), gt.ravel().astype(np.int64)
    n_p, n_g = int(p.max()), int(g.max())
    inter = np.bincount(p * (n_g + 1) + g, minlength=(n_p + 1) * (n_g + 1)).reshape(n_p + 1, n_g + 1)
    area_p, area_g = inter.sum(1), inter.sum(0)
    iou = inter / np.maximum(area_p[:, None] + area_g[None, :] - inter, 1)
    iou = iou[1:, 1:]
    n_pred, n_gt = len(np.unique(p)) - 1, len(np.unique(g)) - 1
    tp = int((iou > thr).sum())
    return 2 * tp / max(n_pred + n_gt, 1)


@pytest.fixture(scope="module")
def settings(test_model):
    return DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0, use_gpu=False)


@pytest.fixture(scope="module")
def movie2d():
    return tifffile.imread(sample_path("2dt")), tifffile.imread(sample_path("2dt", ground_truth=True))


@pytest.fixture(scope="module")
def vol3d():
    img = tifffile.imread(sample_path("3dt"))[0]
    gt = tifffile.imread(sample_path("3dt", ground_truth=True))[0]
    return img, gt


@pytest.fixture(scope="module")
def result2d(settings, movie2d):
    progress = []
    res = detect(movie2d[0], settings, axes="tyx", calibration=CAL, progress=lambda f, m: progress.append(f))
    return res, progress


def test_2dt_accuracy_and_structure(result2d, movie2d, quality):
    res, progress = result2d
    gt = movie2d[1]
    assert not res.is_3d and len(res.frames) == gt.shape[0]
    f1 = [f1_at_iou(fr.labels, g) for fr, g in zip(res.frames, gt)]
    assert np.mean(f1) >= quality["f1_2d"], f1
    for fr in res.frames:
        assert fr.labels.shape == gt.shape[1:]
        assert len(fr.detections) >= fr.labels.max()  # >= : one spot per connected component
        for d in fr.detections:
            assert d.frame == fr.frame and d.roi_xy is not None and d.mesh is None
            assert d.quality == (fr.labels == d.label).sum() or d.quality < (fr.labels == d.label).sum()
            assert 0 <= d.x <= 128 * 0.5 and 0 <= d.y <= 128 * 0.5
            assert "MEAN_CELLPROB" in d.features and d.features["MEAN_CELLPROB"] > 0
    assert progress and progress[-1] == 1.0 and all(b >= a for a, b in zip(progress, progress[1:]))


def test_positions_follow_calibration_and_origin(settings, movie2d, result2d):
    res0 = result2d[0]
    cal2 = Calibration(x=0.25, y=0.25, space_unit="um")
    res = detect(movie2d[0][:1], settings.replace(diameter=5.0), axes="tyx", calibration=cal2,
                 origin_xyz=(10, 20, 0), frame_offset=7)
    assert res.frames[0].frame == 7 and all(d.frame == 7 for d in res)
    a = sorted((d.x, d.y) for d in res0.frames[0].detections)
    b = sorted(((d.x / 0.25 - 10) * 0.5, (d.y / 0.25 - 20) * 0.5) for d in res.frames[0].detections)
    assert len(a) == len(b)
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.fixture(scope="module")
def result3d(settings, vol3d):
    notes = []
    res = detect(vol3d[0], settings, axes="zyx", calibration=CAL, log=notes.append)
    return res, notes


@pytest.mark.parametrize("do_2dz", [False, True], ids=["3d-mode", "2d+z-stitch"])
def test_3d_accuracy_meshes(settings, vol3d, result3d, do_2dz, quality):
    import trimesh
    from scipy import ndimage as ndi

    from trackmate_cellpose.geometry import labels_to_meshes

    img, gt = vol3d
    if do_2dz:
        notes = []
        res = detect(img, settings.replace(do_2dz=True), axes="zyx", calibration=CAL, log=notes.append)
    else:
        res, notes = result3d
    lab = res.frames[0].labels
    assert res.is_3d and lab.shape == gt.shape
    assert f1_at_iou(lab, gt) >= quality["f1_3d"]
    assert any(("FLOW_THRESHOLD" in n) != do_2dz for n in notes)
    raw = {m.label: m for m in labels_to_meshes(lab, calibration_zyx=CAL.zyx, smoothing_scale=0.0)}
    for d in res:
        assert d.mesh is not None and d.roi_xy is None
        # every spot's mesh is one closed body without tunnels (no floating pieces, no rings)
        tm = trimesh.Trimesh(d.mesh.vertices, d.mesh.faces, process=True)
        assert tm.is_watertight and tm.euler_number == 2 and len(tm.split(only_watertight=False)) == 1, d.label
        voxels = int((lab == d.label).sum())
        assert d.quality == voxels
        voxel_volume = voxels * CAL.x * CAL.y * CAL.z
        # unsmoothed mesh volume (physical, anisotropy applied) agrees with the voxel volume
        if voxels >= 100:
            assert raw[d.label].volume == pytest.approx(voxel_volume, rel=0.15)
        assert 0 < d.features["VOLUME"] <= 1.1 * voxel_volume
        assert np.isclose(d.radius, (3 * d.features["VOLUME"] / (4 * np.pi)) ** (1 / 3))
    # the default smoothing (SMOOTHING_SCALE=1 um) rounds surfaces without eating the objects: thin objects cut
    # by the stack's top/bottom lose more, so the check is on the total volume
    total_voxel_volume = (lab > 0).sum() * CAL.x * CAL.y * CAL.z
    assert sum(d.features["VOLUME"] for d in res) == pytest.approx(total_voxel_volume, rel=0.2)
    # labels of separate objects never share an id
    for lab_id in range(1, lab.max() + 1):
        assert ndi.label(lab == lab_id, structure=np.ones((3, 3, 3)))[1] == 1


def test_anisotropy_changes_3d_result(settings, vol3d, result3d):
    img, gt = vol3d
    right = result3d[0].frames[0].labels
    wrong_cal = Calibration(x=0.5, y=0.5, z=0.5, space_unit="um")  # claims isotropic
    wrong = detect(img, settings, axes="zyx", calibration=wrong_cal).frames[0].labels
    assert not np.array_equal(right, wrong)
    assert f1_at_iou(right, gt) >= f1_at_iou(wrong, gt)


def _fg(settings, img, **kw):
    res = detect(img, settings.replace(**kw), axes="tyx", calibration=CAL)
    return sum(int((fr.labels > 0).sum()) for fr in res.frames), res.n_detections, res


def test_cellprob_threshold_direction(settings, movie2d):
    img = movie2d[0][:2]
    fg_lo, n_lo, _ = _fg(settings, img, cellprob_threshold=-2.0)
    fg_0, n_0, _ = _fg(settings, img, cellprob_threshold=0.0)
    fg_hi, n_hi, _ = _fg(settings, img, cellprob_threshold=3.0)
    assert fg_lo > fg_0 > fg_hi
    assert n_hi <= n_0


def test_flow_threshold_zero_disables_the_check(settings):
    # a hard, noisy, low-contrast frame where masks with bad flows exist
    rng = np.random.default_rng(5)
    from trackmate_cellpose.data import synthetic_frame
    img, _ = synthetic_frame((128, 128), seed=77)
    noisy = img.astype(np.float32) + rng.normal(0, 400, img.shape)
    kw = dict(cellprob_threshold=-4.0)
    _, n_check, _ = _fg(settings, noisy[None], flow_threshold=0.4, **kw)
    _, n_strict, _ = _fg(settings, noisy[None], flow_threshold=0.05, **kw)
    _, n_off, _ = _fg(settings, noisy[None], flow_threshold=0.0, **kw)
    assert n_off >= n_check >= n_strict
    assert n_off > n_strict


def test_min_size_removes_small_objects(settings, movie2d):
    img = movie2d[0][:1]
    _, n_all, res_all = _fg(settings, img, min_size=0.0)
    sizes = sorted(d.quality for d in res_all)
    cut = float(sizes[len(sizes) // 2])
    _, n_cut, res_cut = _fg(settings, img, min_size=cut)
    assert n_cut < n_all and all(d.quality >= cut for d in res_cut)


def test_resample_changes_masks_but_both_accurate(settings, movie2d, quality):
    img, gt = movie2d[0][:1], movie2d[1][0]
    a = detect(img, settings, axes="tyx", calibration=CAL).frames[0].labels
    b = detect(img, settings.replace(resample=False), axes="tyx", calibration=CAL).frames[0].labels
    assert not np.array_equal(a, b)
    assert f1_at_iou(a, gt) >= quality["f1_frame"] and f1_at_iou(b, gt) >= quality["f1_frame"]


def test_empty_constant_nan_and_channels(settings, movie2d, quality):
    blank = np.zeros((2, 64, 64), np.uint16)
    blank[1] = 500
    res = detect(blank, settings, axes="tyx", calibration=CAL)
    assert res.n_detections == 0 and all(fr.labels.max() == 0 for fr in res.frames)
    bad = movie2d[0][:1].astype(np.float32)
    bad[0, 3, 3] = np.nan
    with pytest.raises(InvalidImageError, match="NaN"):
        detect(bad, settings, axes="tyx", calibration=CAL)
    with pytest.raises(InvalidSettingsError, match="TARGET_CHANNEL"):
        detect(movie2d[0][:1], settings.replace(target_channel=2), axes="tyx", calibration=CAL)
    # two channels: the cells are in channel 2, channel 1 is noise
    two = np.stack([np.random.default_rng(1).integers(0, 50, movie2d[0][:1].shape).astype(np.uint16),
                    movie2d[0][:1]], axis=1)  # t c y x
    res2 = detect(two, settings.replace(target_channel=2), axes="tcyx", calibration=CAL)
    assert f1_at_iou(res2.frames[0].labels, movie2d[1][0]) >= quality["f1_frame"]


def test_cancel_between_frames_and_inside_network(settings, movie2d, vol3d):
    calls = []

    def cancel_after_first():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        detect(movie2d[0], settings, axes="tyx", calibration=CAL, runtime=RuntimeOptions(frames_per_batch=2),
               cancel=cancel_after_first)
    # inside 3D work: cancel once the network has run a few batches
    ticks = []

    def cancel_inside():
        ticks.append(1)
        return len(ticks) > 3

    with pytest.raises(Cancelled):
        detect(vol3d[0], settings, axes="zyx", calibration=CAL, cancel=cancel_inside)
    assert len(ticks) < 10  # stopped promptly, not after the whole volume


def test_model_stays_warm(settings):
    assert CellposeAdapter.get(settings) is CellposeAdapter.get(settings)
