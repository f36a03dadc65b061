"""The tutorial-scale test stack of issue #15 item 3 (trackmate_cellpose.data; used by the 3D benchmark).

``render_boxed`` must draw exactly what ``render`` draws (it only skips the voxels outside each blob's box), and
``synthetic_stack_tutorial`` must hold the tutorial's density (600 cells per 86 x 1024 x 1024) with objects of the
stated size and anisotropy, so that the benchmark's projections to the full frame mean something.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from trackmate_cellpose.data._synthetic import (TUTORIAL_ANISOTROPY, TUTORIAL_CELLS, TUTORIAL_RADIUS_PX,
                                               TUTORIAL_SHAPE_ZYX, _place,
                                               render, render_boxed, synthetic_stack_tutorial, tutorial_cell_count)


@pytest.mark.parametrize("shape", [(1, 90, 70), (14, 60, 80)])
def test_render_boxed_draws_what_render_draws(shape):
    blobs = _place(np.random.default_rng(4), shape, 7, (7.0, 12.0), gap=3.0, z_scale=2.5)
    assert len(blobs) >= 3
    img_a, lab_a = render(shape, blobs, np.random.default_rng(9))
    img_b, lab_b = render_boxed(shape, blobs, np.random.default_rng(9))
    assert lab_a.max() == len(blobs)
    np.testing.assert_array_equal(lab_b, lab_a)
    np.testing.assert_array_equal(img_b, img_a)


def test_tutorial_cell_count_keeps_the_tutorial_density():
    assert tutorial_cell_count(TUTORIAL_SHAPE_ZYX) == TUTORIAL_CELLS
    z, y, x = TUTORIAL_SHAPE_ZYX
    assert tutorial_cell_count((z, y // 2, x // 2)) == TUTORIAL_CELLS // 4
    assert tutorial_cell_count((8, 16, 16)) == 1  # never 0


def test_synthetic_stack_tutorial_objects_have_the_stated_count_size_and_anisotropy():
    shape = (32, 256, 256)
    img, lab = synthetic_stack_tutorial(shape, seed=3)
    assert img.shape == lab.shape == shape and img.dtype == np.uint16 and lab.dtype == np.int32
    n = tutorial_cell_count(shape)
    assert n >= 10
    assert sorted(np.unique(lab))[1:] == list(range(1, n + 1))
    lo, hi = TUTORIAL_RADIUS_PX
    for sl in ndi.find_objects(lab):
        dz, dy, dx = (s.stop - s.start for s in sl)
        assert 2 * lo * 0.65 - 2 <= min(dy, dx) and max(dy, dx) <= 2 * hi + 2  # XY extent of a ~30 px cell
        assert dz <= 2 * hi / TUTORIAL_ANISOTROPY + 2  # Z semi-axis = XY / anisotropy
        assert dz >= 2 * lo * 0.65 * 0.8 / TUTORIAL_ANISOTROPY - 2
    # objects are bright on a dim background
    assert img[lab > 0].mean() > 2 * img[lab == 0].mean()
