"""Seeded synthetic training data for the bundled test models (shared by the cellpose-3 and cellpose-4 scripts).

Cellpose's full 3D mode runs the 2D network on the YX, ZY and ZX planes of the stack after resampling Z to the XY
pixel size. A model trained on XY frames alone has never seen the ZY/ZX planes (objects cut across, blurred along Z
by the interpolation), and segments 3D stacks badly. So besides 2D frames, this returns orthogonal slices of
synthetic anisotropic volumes resampled exactly as cellpose does it (linear interpolation along Z).
"""

from __future__ import annotations


import numpy as np
from scipy import ndimage as ndi

from trackmate_cellpose.data import synthetic_frame, synthetic_movie_3d


def _orthogonal_slices(img: np.ndarray, lab: np.ndarray, anisotropy: float, per_axis: int,
                       rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """YX, ZY and ZX planes of a (Z, Y, X) volume after resampling Z by ``anisotropy`` (as cellpose 3D mode)."""
    z_new = int(round(img.shape[0] * anisotropy))
    f = z_new / img.shape[0]
    img_i = ndi.zoom(img.astype(np.float32), (f, 1, 1), order=1, grid_mode=True, mode="nearest")
    lab_i = ndi.zoom(lab, (f, 1, 1), order=0, grid_mode=True, mode="nearest")
    out = []
    for axis in range(3):
        n = img_i.shape[axis]
        # planes that cut objects (skip near-empty ones): sample among planes with labels
        has = [i for i in range(n) if np.take(lab_i, i, axis=axis).any()]
        for i in rng.choice(has, size=min(per_axis, len(has)), replace=False):
            out.append((np.take(img_i, i, axis=axis), np.take(lab_i, i, axis=axis)))
    return out


def training_set(n_frames: int = 16, n_volumes: int = 0, per_axis: int = 4, seed: int = 0
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n_frames`` 2D frames (256x256) plus ``3 * per_axis`` orthogonal slices of each of ``n_volumes`` volumes.

    Returns float32 images and int32 label images (lists, ready for cellpose's ``train_seg``).
    """
    rng = np.random.default_rng(seed)
    pairs = [synthetic_frame(seed=1000 + i) for i in range(n_frames)]
    for k in range(n_volumes):
        img, lab = synthetic_movie_3d(n_frames=1, shape_zyx=(20, 112, 112), n_objects=14, radius=(6.0, 12.0),
                                      anisotropy=2.0, seed=2000 + k)
        pairs += _orthogonal_slices(img[0], lab[0], 2.0, per_axis, rng)
    imgs = [np.asarray(i, np.float32) for i, _ in pairs]
    labs = [np.asarray(lab, np.int32) for _, lab in pairs]
    return imgs, labs
