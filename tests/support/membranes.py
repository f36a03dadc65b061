"""Synthetic membrane-stained cells with exact labels (test support; numpy + scipy only).

The bundled test model was trained on filled, textured blobs (``support.synthetic``). Cells whose outline is bright
and whose inside is dark (a membrane stain) are another texture: a case where that model is weak and retraining on
curated spots must help. Seeded and deterministic.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from support.synthetic import _blob_mask, _place

__all__ = ["membrane_movie_2d", "membrane_movie_3d"]


def _render_membranes(shape_zyx, blobs, rng, *, wall_px: float = 1.6) -> tuple[np.ndarray, np.ndarray]:
    zz, yy, xx = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape_zyx], indexing="ij")
    labels = np.zeros(shape_zyx, np.int32)
    for i, blob in enumerate(blobs, start=1):
        m = _blob_mask(shape_zyx, blob, zz, yy, xx) & (labels == 0)
        labels[m] = i
    inside = labels > 0
    # distance to the outside of each cell (anisotropy-aware in 3D): bright within wall_px of the cell's edge
    sampling = (2.0 if shape_zyx[0] > 1 else 1.0, 1.0, 1.0)
    dist = ndi.distance_transform_edt(inside, sampling=sampling)
    signal = np.where(inside & (dist <= wall_px), 1.0, np.where(inside, 0.12, 0.0)).astype(np.float32)
    sigma = (0.6 if shape_zyx[0] > 1 else 0.0, 1.0, 1.0)
    signal = ndi.gaussian_filter(signal, sigma)
    expected = 60.0 + 900.0 * signal
    img = rng.poisson(expected).astype(np.float32) + rng.normal(0, 8.0, shape_zyx)
    return np.clip(img, 0, 65535).astype(np.uint16), labels


def membrane_movie_2d(n_frames: int = 6, shape_yx=(112, 112), n_objects: int = 12, radius=(8.0, 12.0),
                      seed: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """(uint16 (T, Y, X), int32 (T, Y, X)): independent frames of membrane-stained cells (labels 1..n per frame)."""
    imgs, labs = [], []
    for t in range(n_frames):
        rng = np.random.default_rng(seed + t)
        blobs = _place(rng, (1, *shape_yx), n_objects, radius, gap=2.0, z_scale=1.0, margin=1.0)
        img, lab = _render_membranes((1, *shape_yx), blobs, rng)
        imgs.append(img[0])
        labs.append(lab[0])
    return np.stack(imgs), np.stack(labs)


def membrane_movie_3d(n_frames: int = 3, shape_zyx=(12, 64, 64), n_objects: int = 7, radius=(8.0, 11.0),
                      anisotropy: float = 2.0, seed: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """(uint16 (T, Z, Y, X), int32 (T, Z, Y, X)): independent stacks of membrane-stained cells."""
    imgs, labs = [], []
    for t in range(n_frames):
        rng = np.random.default_rng(seed + t)
        blobs = _place(rng, shape_zyx, n_objects, radius, gap=2.0, z_scale=anisotropy)
        img, lab = _render_membranes(shape_zyx, blobs, rng)
        imgs.append(img)
        labs.append(lab)
    return np.stack(imgs), np.stack(labs)
