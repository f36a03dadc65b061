"""2D label image -> polygons: analytic oracles, TrackMate conventions, and hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage
from skimage.draw import disk
from skimage.measure import points_in_poly

from trackmate_cellpose.errors import InvalidImageError
from trackmate_cellpose.geometry import labels_to_polygons, polygon_area_centroid


def disc(shape, cx, cy, r, value=1, dtype=np.uint16):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (((xx - cx) ** 2 + (yy - cy) ** 2) <= r * r).astype(dtype) * value


def area(xy):
    return polygon_area_centroid(xy)[0]


def centroid(xy):
    return polygon_area_centroid(xy)[1]


def dist_points_to_polygon(points, poly):
    """Euclidean distance of each point to the closed polygon's boundary."""
    a = poly
    b = np.roll(poly, -1, axis=0)
    ab = b - a
    ap = points[:, None, :] - a[None]
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-300), 0, 1)
    proj = a[None] + t[..., None] * ab[None]
    return np.sqrt(((points[:, None, :] - proj) ** 2).sum(-1)).min(axis=1)


def test_single_pixel_is_the_square_around_its_centre():
    lab = np.zeros((8, 6), np.uint8)
    lab[5, 3] = 4
    (p,) = labels_to_polygons(lab, simplify=False)
    assert p.label == 4 and p.n_pixels == 1
    assert p.xy.dtype == np.float64 and p.xy.shape == (4, 2)
    # x, y columns; starts at the top-left corner going +x, like TrackMate's traced ROIs.
    np.testing.assert_array_equal(p.xy, [[2.5, 4.5], [3.5, 4.5], [3.5, 5.5], [2.5, 5.5]])
    assert area(p.xy) == 1.0  # positive orientation
    assert p.bbox == (slice(5, 6), slice(3, 4))
    # Simplification keeps it.
    np.testing.assert_array_equal(labels_to_polygons(lab)[0].xy, p.xy)


@pytest.mark.parametrize("r", [10, 15, 30])
@pytest.mark.parametrize("centre", [(40.0, 41.0), (40.5, 40.5), (43.3, 38.7)])
def test_disc_area_and_centroid(r, centre):
    lab = disc((90, 90), *centre, r)
    n = int(lab.sum())
    (raw,) = labels_to_polygons(lab, simplify=False)
    (simple,) = labels_to_polygons(lab, simplify=True)
    assert raw.n_pixels == simple.n_pixels == n
    assert area(raw.xy) == pytest.approx(n, abs=1e-9)  # exact pixel count
    assert area(simple.xy) == pytest.approx(math.pi * r * r, rel=0.03)
    assert len(simple.xy) < len(raw.xy)
    # The outline's centroid is exactly the mean pixel centre; the simplified one stays close to it.
    pixel_centroid = np.array(ndimage.center_of_mass(lab))[::-1]
    np.testing.assert_allclose(centroid(raw.xy), pixel_centroid, atol=1e-9)
    np.testing.assert_allclose(centroid(simple.xy), pixel_centroid, atol=0.2)  # TrackMate's rounding to corners


def test_simplified_polygons_equal_trackmate_7_13_2_output():
    """Golden file written by TrackMate 7.13.2's own LabelImageDetector on the bundled label sample."""
    import json
    from pathlib import Path

    import tifffile

    from trackmate_cellpose import sample_path

    gold = json.loads((Path(__file__).parents[1] / "data" /
                       "trackmate-7.13.2_simplified_rois_sample_2dt_labels.json").read_text())
    cal = gold["calibration_xy"][0]
    labels = tifffile.imread(sample_path("2dt", ground_truth=True))
    ours = [(f, p.xy * cal) for f in range(3) for p in labels_to_polygons(labels[f], simplify=True)]
    assert len(ours) == len(gold["spots"]) == 27
    for spot in gold["spots"]:
        theirs = np.column_stack([spot["x"], spot["y"]])
        same = [xy for f, xy in ours if f == spot["frame"] and len(xy) == len(theirs)
                and np.allclose(xy[::-1], theirs, atol=1e-9)]  # same vertices, same start, opposite orientation
        assert len(same) == 1, spot


def test_square_simplification_stays_on_the_square():
    lab = np.zeros((30, 30), np.int32)
    lab[5:17, 8:21] = 9
    expected = [[7.5, 4.5], [20.5, 4.5], [20.5, 16.5], [7.5, 16.5]]
    (p,) = labels_to_polygons(lab, simplify=False)
    np.testing.assert_array_equal(p.xy, expected)
    (s,) = labels_to_polygons(lab, simplify=True)
    assert np.all(np.mod(s.xy, 1) == 0.5)  # rounded to pixel corners, like TrackMate
    assert area(s.xy) == pytest.approx(13 * 12, rel=0.03)  # ImageJ's 2 px chords cut the corners a little
    assert dist_points_to_polygon(s.xy, p.xy).max() < 1e-9


def test_labels_touching_the_border():
    lab = np.zeros((20, 25), np.uint16)
    lab[:4, :] = 1  # whole top band
    lab[10:, 20:] = 2  # bottom-right corner
    lab[19, 0] = 3  # single corner pixel
    polys = {p.label: p for p in labels_to_polygons(lab, simplify=False)}
    assert set(polys) == {1, 2, 3}
    for lb, p in polys.items():
        assert area(p.xy) == np.count_nonzero(lab == lb)
    np.testing.assert_array_equal(polys[1].xy, [[-0.5, -0.5], [24.5, -0.5], [24.5, 3.5], [-0.5, 3.5]])
    assert polys[2].xy[:, 0].max() == 24.5 and polys[2].xy[:, 1].max() == 19.5
    np.testing.assert_array_equal(polys[3].xy, [[-0.5, 18.5], [0.5, 18.5], [0.5, 19.5], [-0.5, 19.5]])


def test_each_8_connected_component_is_a_polygon():
    lab = np.zeros((20, 20), np.uint16)
    lab[2:5, 2:5] = 7
    lab[10:14, 10:12] = 7  # second, separate piece of label 7
    lab[15, 15] = 3
    lab[16, 16] = 3  # diagonal neighbours: one 8-connected component
    polys = labels_to_polygons(lab, simplify=False)
    assert [(p.label, p.n_pixels) for p in polys] == [(3, 2), (7, 9), (7, 8)]
    assert area(polys[0].xy) == 2  # the two diagonal pixels, pinched at one vertex
    assert [area(p.xy) for p in polys[1:]] == [9, 8]


def test_holes_are_ignored_and_inner_labels_still_traced():
    lab = np.zeros((20, 20), np.uint16)
    lab[2:12, 3:13] = 1
    lab[5:9, 6:10] = 0  # hole
    lab[6:8, 7:9] = 2  # an object inside the hole
    p1, p2 = labels_to_polygons(lab, simplify=False)
    assert (p1.label, p2.label) == (1, 2)
    assert area(p1.xy) == 100  # the hole is part of the outline's area...
    assert p1.n_pixels == 100 - 16  # ...not of the pixel count
    np.testing.assert_array_equal(p1.xy, [[2.5, 1.5], [12.5, 1.5], [12.5, 11.5], [2.5, 11.5]])
    assert area(p2.xy) == 4 and p2.n_pixels == 4


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.uint32, np.int64, np.uint64])
def test_any_integer_dtype_gives_the_same_polygons(dtype):
    lab = disc((40, 40), 12, 14, 6, value=3) + disc((40, 40), 28, 26, 5, value=200)
    ref = labels_to_polygons(lab.astype(np.int64))
    got = labels_to_polygons(lab.astype(dtype))
    assert [p.label for p in got] == [3, 200]
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(a.xy, b.xy)


def test_huge_label_values():
    lab = np.zeros((10, 10), np.uint64)
    lab[1:3, 1:3] = 2**40
    lab[6:9, 6:9] = 5
    assert [(p.label, p.n_pixels) for p in labels_to_polygons(lab)] == [(5, 9), (2**40, 4)]


def test_empty_and_invalid_inputs():
    assert labels_to_polygons(np.zeros((16, 16), np.uint16)) == []
    with pytest.raises(InvalidImageError, match="2D"):
        labels_to_polygons(np.zeros((2, 4, 4), np.uint16))
    with pytest.raises(InvalidImageError, match="integer dtype"):
        labels_to_polygons(np.zeros((4, 4), np.float32))
    with pytest.raises(InvalidImageError, match="negative"):
        labels_to_polygons(-np.ones((4, 4), np.int16))


def test_tiny_objects_keep_their_exact_outline_when_simplified():
    lab = np.zeros((10, 10), np.int32)
    lab[2, 2] = 1
    lab[6:8, 6:8] = 2
    raw = {p.label: p for p in labels_to_polygons(lab, simplify=False)}
    simple = {p.label: p for p in labels_to_polygons(lab, simplify=True)}
    assert set(simple) == {1, 2}  # TrackMate would drop the single pixel; we never lose an object
    np.testing.assert_array_equal(simple[1].xy, raw[1].xy)
    assert area(simple[2].xy) == 4 and dist_points_to_polygon(simple[2].xy, raw[2].xy).max() < 1e-9


def test_many_objects_in_a_large_image():
    lab = np.zeros((1024, 1024), np.uint16)
    k = 0
    for cy in np.arange(20, 1010, 40.5):
        for cx in np.arange(20, 1010, 40.5):
            k += 1
            lab[disk((cy, cx), 15, shape=lab.shape)] = k
    polys = labels_to_polygons(lab)
    assert len(polys) == k >= 500
    counts = np.bincount(lab.ravel())
    assert all(p.n_pixels == counts[p.label] for p in polys)


label_images = arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.integers(0, 3))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_images)
def test_outline_properties(lab):
    raw = labels_to_polygons(lab, simplify=False)
    simple = labels_to_polygons(lab, simplify=True)
    assert sum(p.n_pixels for p in raw) == np.count_nonzero(lab)
    assert [(p.label, p.n_pixels) for p in raw] == [(p.label, p.n_pixels) for p in simple]
    yy, xx = np.mgrid[: lab.shape[0], : lab.shape[1]]
    centres = np.column_stack([xx.ravel(), yy.ravel()]).astype(float)
    for p, s in zip(raw, simple):
        xy = p.xy
        assert len(xy) >= 4 and not np.array_equal(xy[0], xy[-1])  # implicitly closed
        assert np.all(np.mod(xy, 1) == 0.5)  # on pixel edges
        step = np.roll(xy, -1, axis=0) - xy
        assert np.all((step[:, 0] == 0) != (step[:, 1] == 0))  # axis-aligned, closing edge included
        assert area(xy) > 0  # one orientation for all
        inside = points_in_poly(centres, xy).reshape(lab.shape)
        comp = np.zeros(lab.shape, bool)
        comp[p.bbox] = True
        comp &= lab == p.label
        comp_l, _ = ndimage.label(comp, structure=np.ones((3, 3)))
        comp = comp_l == comp_l[inside & comp][0]
        assert np.count_nonzero(comp) == p.n_pixels
        assert np.all(inside[comp])  # every pixel of the component is enclosed
        assert area(xy) == np.count_nonzero(inside)  # area = pixels enclosed (component + holes)
        # Simplified (TrackMate's way): vertices on pixel corners, close to the exact outline both ways.
        assert len(s.xy) >= 3 and area(s.xy) > 0
        assert np.all(np.mod(s.xy, 1) == 0.5)
        assert dist_points_to_polygon(s.xy, xy).max() <= 1.0 + 1e-9
        # 2 px chords cut corners by up to ~1 px, rounding to corners adds up to 0.71 px
        assert dist_points_to_polygon(xy, s.xy).max() <= 2.5
