"""Overlap tracker: analytic cases (moving discs, division, disappearance, empty frames), 3D voxel IoU, features."""

from __future__ import annotations

import numpy as np
import pytest

from trackmate_cellpose.errors import InvalidSettingsError
from support.export_fixtures import balls_result, discs_result
from trackmate_cellpose.tracking import OverlapTrackerSettings, track_features, track_overlap


def _edges(tr):
    return {(tr.spots[lk.source].frame, tr.spots[lk.source].label, tr.spots[lk.target].frame,
             tr.spots[lk.target].label) for lk in tr.links}


def test_moving_discs_make_one_track_each():
    frames = [[(15 + t, 15, 6), (45, 45 - t, 8)] for t in range(5)]
    tr = track_overlap(discs_result(frames))
    assert len(tr.tracks) == 2
    assert all(len(t) == 5 for t in tr.tracks)
    assert len(tr.links) == 8
    # disc 1 always follows disc 1
    assert {(f1, l1, l2) for f1, l1, _, l2 in _edges(tr)} == {(t, i, i) for t in range(4) for i in (1, 2)}


def test_iou_is_exact_and_threshold_strict():
    # two discs of radius r shifted by d: IoU known analytically (lens area)
    r, d = 8.0, 4.0
    frames = [[(30, 30, r)], [(30, 30 + d, r)]]
    res = discs_result(frames, n_vertices=256)
    tr = track_overlap(res, OverlapTrackerSettings(min_iou=0.0))
    lens = 2 * r * r * np.arccos(d / (2 * r)) - 0.5 * d * np.sqrt(4 * r * r - d * d)
    expected = lens / (2 * np.pi * r * r - lens)
    assert tr.links[0].iou == pytest.approx(expected, rel=2e-3)
    assert tr.links[0].cost == pytest.approx(1 - expected, rel=1e-2)
    # strictly above: a threshold equal to the IoU links nothing
    assert not track_overlap(res, OverlapTrackerSettings(min_iou=tr.links[0].iou)).links
    assert track_overlap(res, OverlapTrackerSettings(min_iou=tr.links[0].iou - 1e-9)).links


def test_division_gives_a_split_not_a_merge():
    frames = [[(30, 30, 10)], [(30, 30, 10)], [(30, 25, 6), (30, 36, 6)], [(30, 23, 6), (30, 38, 6)]]
    tr = track_overlap(discs_result(frames), OverlapTrackerSettings(min_iou=0.1))
    assert len(tr.tracks) == 1
    feats = track_features(tr, discs_result(frames).calibration)[0]
    assert feats["NUMBER_SPLITS"] == 1 and feats["NUMBER_MERGES"] == 0 and feats["NUMBER_SPOTS"] == 6
    # reversed in time (a merge): each target keeps one source, so no spot gets two predecessors
    tr2 = track_overlap(discs_result(frames[::-1]), OverlapTrackerSettings(min_iou=0.1))
    targets = [lk.target for lk in tr2.links]
    assert len(targets) == len(set(targets))


def test_disappearing_object_ends_its_track():
    frames = [[(15, 15, 6), (45, 45, 6)], [(15, 16, 6), (45, 45, 6)], [(15, 17, 6)], [(15, 18, 6)]]
    tr = track_overlap(discs_result(frames))
    lengths = sorted(len(t) for t in tr.tracks)
    assert lengths == [2, 4]


def test_empty_frame_does_not_stop_later_linking():
    frames = [[(20, 20, 6)], [(20, 21, 6)], [], [(20, 22, 6)], [(20, 23, 6)], [(20, 24, 6)]]
    tr = track_overlap(discs_result(frames))
    assert sorted(len(t) for t in tr.tracks) == [2, 3]
    assert {(a, c) for a, _, c, _ in _edges(tr)} == {(0, 1), (3, 4), (4, 5)}


def test_fast_mode_uses_bounding_boxes_and_scale_factor_scales():
    frames = [[(30, 30, 8)], [(30, 30, 8)]]
    res = discs_result(frames)
    assert track_overlap(res, OverlapTrackerSettings(iou_calculation="fast")).links[0].iou == pytest.approx(1.0)
    # far apart discs link only once their shapes are blown up
    far = discs_result([[(30, 20, 5)], [(30, 31, 5)]])
    assert not track_overlap(far, OverlapTrackerSettings(min_iou=0.05)).links
    assert track_overlap(far, OverlapTrackerSettings(min_iou=0.05, scale_factor=2.0)).links


def test_3d_voxels_see_z_but_xy_mode_does_not():
    # two balls stacked in Z at the same XY; the lower one moves up in the next frame and vice versa
    f0 = [(3, 20, 20, 4), (9, 20, 20, 4)]
    f1 = [(9, 20, 20, 4), (3, 20, 20, 4)]  # label 1 is now the upper ball
    res = balls_result([f0, f1], shape_zyx=(12, 40, 40), )
    vox = track_overlap(res, OverlapTrackerSettings())
    assert {(l1, l2) for _, l1, _, l2 in _edges(vox)} == {(1, 2), (2, 1)}
    assert all(lk.iou > 0.9 for lk in vox.links)
    xy = track_overlap(res, OverlapTrackerSettings(mode_3d="xy"))
    # TrackMate's XY circles are identical for all four: every target picks the first source
    assert {(l1, l2) for _, l1, _, l2 in _edges(xy)} == {(1, 1), (1, 2)}


def test_track_features_durations_and_speed():
    cal_res = discs_result([[(20, 20 + 2 * t, 6)] for t in range(4)])
    tr = track_overlap(cal_res)
    f = track_features(tr, cal_res.calibration)[0]
    assert f["TRACK_DURATION"] == pytest.approx(3 * 2.0)
    assert f["TRACK_DISPLACEMENT"] == pytest.approx(3 * 2 * 0.5)
    assert f["TRACK_MEAN_SPEED"] == pytest.approx(1.0 / 2.0)
    assert f["NUMBER_GAPS"] == 0


@pytest.mark.parametrize("kw", [{"min_iou": 1.5}, {"scale_factor": 0}, {"iou_calculation": "EXACT"},
                                {"mode_3d": "mesh"}])
def test_bad_tracker_settings(kw):
    with pytest.raises(InvalidSettingsError):
        OverlapTrackerSettings(**kw)


from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402


@hsettings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.tuples(st.floats(10, 50), st.floats(10, 50), st.floats(3, 9)), max_size=5),
                min_size=2, max_size=4),
       st.floats(0.0, 0.9), st.sampled_from(["PRECISE", "FAST"]))
def test_link_invariants(frames, min_iou, mode):
    res = discs_result(frames)
    tr = track_overlap(res, OverlapTrackerSettings(min_iou=min_iou, iou_calculation=mode))
    targets = [lk.target for lk in tr.links]
    assert len(targets) == len(set(targets))  # no merges
    for lk in tr.links:
        assert tr.spots[lk.target].frame - tr.spots[lk.source].frame == 1
        assert min_iou < lk.iou <= 1.0 + 1e-9 and 0.0 <= lk.cost < 1.0 - min_iou + 1e-9
    assert sorted(i for t in tr.tracks for i in t) == sorted(set(targets) | {lk.source for lk in tr.links})
