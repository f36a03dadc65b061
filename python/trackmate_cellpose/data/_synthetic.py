"""Synthetic fluorescence images with exact ground truth (numpy + scipy only).

The one place that makes test and demo data (re-exported by :mod:`trackmate_cellpose.data`): the bundled samples, the
bundled test model's training data, the tests, the benchmarks and the docs' tutorial all use it, without path edits.
Everything is seeded and deterministic. Objects are blurred, textured ellipses (2D) or ellipsoids (3D) kept apart by a
small gap, imaged with Poisson and Gaussian noise; ``membrane_movie_*`` draws the same shapes as membrane-stained cells
(a bright rim, a dark inside), a texture the bundled test model never saw (the retraining tests and benchmark).

Imports: numpy, scipy; package: none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

@dataclass(frozen=True)
class Blob:
    """An ellipse/ellipsoid: centre (zyx, pixels), semi-axes (zyx, pixels), rotation in the YX plane (radians)."""

    center: tuple[float, float, float]
    radii: tuple[float, float, float]
    angle: float
    brightness: float


def _place(rng: np.random.Generator, shape_zyx, n: int, radius_range, gap: float, z_scale: float,
           margin: float = 0.0) -> list[Blob]:
    blobs: list[Blob] = []
    tries = 0
    while len(blobs) < n and tries < 5000:
        tries += 1
        a = rng.uniform(*radius_range)
        b = a * rng.uniform(0.65, 1.0)
        c = rng.uniform(0.8, 1.0) * min(a, b) / z_scale
        ry, rx = max(a, b), max(a, b)
        if shape_zyx[0] > 1:
            cz = rng.uniform(c + 0.5, shape_zyx[0] - c - 1.5) if shape_zyx[0] > 2 * c + 2 else (shape_zyx[0] - 1) / 2
        else:
            cz, c = 0.0, 1.0
        cy = rng.uniform(ry + margin, shape_zyx[1] - ry - margin - 1)
        cx = rng.uniform(rx + margin, shape_zyx[2] - rx - margin - 1)
        ok = all(np.hypot(cy - o.center[1], cx - o.center[2]) > max(a, b) + max(o.radii[1:]) + gap
                 or (shape_zyx[0] > 1 and abs(cz - o.center[0]) > c + o.radii[0] + gap / z_scale)
                 for o in blobs)
        if ok:
            blobs.append(Blob((cz, cy, cx), (c, a, b), rng.uniform(0, np.pi), rng.uniform(0.6, 1.0)))
    return blobs


def _blob_mask(shape_zyx, blob: Blob, zz, yy, xx) -> np.ndarray:
    cz, cy, cx = blob.center
    c, a, b = blob.radii
    ca, sa = np.cos(blob.angle), np.sin(blob.angle)
    dy, dx = yy - cy, xx - cx
    u = (dx * ca + dy * sa) / a
    v = (-dx * sa + dy * ca) / b
    w = (zz - cz) / c if shape_zyx[0] > 1 else 0.0
    return u * u + v * v + w * w <= 1.0


def render(shape_zyx, blobs: list[Blob], rng: np.random.Generator, *, noise: float = 1.0
           ) -> tuple[np.ndarray, np.ndarray]:
    """Render blobs into (uint16 image, int32 labels), both of ``shape_zyx``; label i+1 is ``blobs[i]``."""
    zz, yy, xx = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape_zyx], indexing="ij")
    labels = np.zeros(shape_zyx, np.int32)
    signal = np.zeros(shape_zyx, np.float32)
    texture = ndi.gaussian_filter(rng.standard_normal(shape_zyx).astype(np.float32), 2.0)
    texture = 1.0 + 0.25 * texture / (texture.std() + 1e-6)
    for i, blob in enumerate(blobs, start=1):
        m = _blob_mask(shape_zyx, blob, zz, yy, xx)
        m &= labels == 0
        labels[m] = i
        signal[m] = blob.brightness
    sigma = (0.6 if shape_zyx[0] > 1 else 0.0, 1.2, 1.2)
    signal = ndi.gaussian_filter(signal * texture, sigma)
    expected = 80.0 + 900.0 * signal
    img = rng.poisson(expected).astype(np.float32) + rng.normal(0, 8.0 * noise, shape_zyx)
    return np.clip(img, 0, 65535).astype(np.uint16), labels


def synthetic_frame(shape_yx=(256, 256), n_objects=(10, 30), radius=(6.0, 16.0), seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """One 2D image and its labels (uint16 (Y, X), int32 (Y, X))."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(n_objects[0], n_objects[1] + 1))
    blobs = _place(rng, (1, *shape_yx), n, radius, gap=3.0, z_scale=1.0)
    img, lab = render((1, *shape_yx), blobs, rng)
    return img[0], lab[0]


def _moved(blob: Blob, dz: float, dy: float, dx: float, dangle: float) -> Blob:
    cz, cy, cx = blob.center
    return Blob((cz + dz, cy + dy, cx + dx), blob.radii, blob.angle + dangle, blob.brightness)


def synthetic_movie_2d(n_frames=12, shape_yx=(128, 128), n_objects=10, radius=(6.0, 11.0), seed: int = 1
                       ) -> tuple[np.ndarray, np.ndarray]:
    """A drifting 2D+t movie: (uint16 (T, Y, X), int32 (T, Y, X)); a label keeps its value over time (track id)."""
    rng = np.random.default_rng(seed)
    vel = rng.uniform(-0.6, 0.6, size=(n_objects, 2))
    gap = 3.0 + 2 * 0.85 * n_frames
    blobs = _place(rng, (1, *shape_yx), n_objects, radius, gap=gap, z_scale=1.0, margin=2.0)
    imgs, labs = [], []
    for t in range(n_frames):
        moved = [_moved(b, 0, vel[i, 0] * t, vel[i, 1] * t, 0.02 * t) for i, b in enumerate(blobs)]
        img, lab = render((1, *shape_yx), moved, rng)
        imgs.append(img[0])
        labs.append(lab[0])
    return np.stack(imgs), np.stack(labs)


def synthetic_movie_3d(n_frames=3, shape_zyx=(12, 96, 96), n_objects=8, radius=(7.0, 11.0), anisotropy=2.0,
                       seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A 3D+t movie of ellipsoids sampled with ``anisotropy`` = z step / xy pixel size.

    Returns uint16 (T, Z, Y, X) and int32 (T, Z, Y, X) (label = track id).
    """
    rng = np.random.default_rng(seed)
    vel = rng.uniform(-0.6, 0.6, size=(n_objects, 2))
    blobs = _place(rng, shape_zyx, n_objects, radius, gap=3.0 + 2 * 0.85 * n_frames, z_scale=anisotropy)
    imgs, labs = [], []
    for t in range(n_frames):
        moved = [_moved(b, 0, vel[i, 0] * t, vel[i, 1] * t, 0.0) for i, b in enumerate(blobs)]
        img, lab = render(shape_zyx, moved, rng)
        imgs.append(img)
        labs.append(lab)
    return np.stack(imgs), np.stack(labs)


#: The documented 3D use case (issue 15 item 3): ~600 cells per frame in an 86 x 1024 x 1024 (Z, Y, X) stack.
TUTORIAL_SHAPE_ZYX = (86, 1024, 1024)
TUTORIAL_CELLS = 600
#: Assumed acquisition of that stack: z step / xy pixel size, and cells ~30 px across in XY (15 um at 0.5 um/px),
#: which is the bundled model's ``diam_mean`` (cellpose rescale 1).
TUTORIAL_ANISOTROPY = 2.5
TUTORIAL_RADIUS_PX = (13.5, 16.5)


def tutorial_cell_count(shape_zyx) -> int:
    """Cells a stack of ``shape_zyx`` holds at the tutorial's density (600 per 86 x 1024 x 1024 voxels), >= 1."""
    ref = float(np.prod(TUTORIAL_SHAPE_ZYX))
    return max(1, int(round(TUTORIAL_CELLS * float(np.prod(shape_zyx)) / ref)))


def render_boxed(shape_zyx, blobs: list[Blob], rng: np.random.Generator, *, noise: float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`render` with each blob drawn inside its bounding box only: the same arrays for the same ``rng`` state
    (same random draws in the same order), but memory and time grow with the stack plus the blobs, not stack x
    blobs, so that a full 86 x 1024 x 1024 stack with 600 cells can be drawn."""
    labels = np.zeros(shape_zyx, np.int32)
    signal = np.zeros(shape_zyx, np.float32)
    texture = ndi.gaussian_filter(rng.standard_normal(shape_zyx).astype(np.float32), 2.0)
    texture = 1.0 + 0.25 * texture / (texture.std() + 1e-6)
    for i, blob in enumerate(blobs, start=1):
        reach = (blob.radii[0], max(blob.radii[1:]), max(blob.radii[1:]))  # the rotation stays inside the YX disc
        box = tuple(slice(max(0, int(np.floor(c - r)) - 1), min(n, int(np.ceil(c + r)) + 2))
                    for c, r, n in zip(blob.center, reach, shape_zyx))
        if shape_zyx[0] == 1:
            box = (slice(0, 1), *box[1:])
        zz, yy, xx = np.meshgrid(*[np.arange(s.start, s.stop, dtype=np.float32) for s in box], indexing="ij")
        m = _blob_mask(shape_zyx, blob, zz, yy, xx)
        lab_box = labels[box]
        m &= lab_box == 0
        lab_box[m] = i
        signal[box][m] = blob.brightness
    sigma = (0.6 if shape_zyx[0] > 1 else 0.0, 1.2, 1.2)
    signal = ndi.gaussian_filter(signal * texture, sigma)
    expected = 80.0 + 900.0 * signal
    img = rng.poisson(expected).astype(np.float32) + rng.normal(0, 8.0 * noise, shape_zyx)
    return np.clip(img, 0, 65535).astype(np.uint16), labels


def synthetic_stack_tutorial(shape_zyx=(24, 176, 176), *, anisotropy: float = TUTORIAL_ANISOTROPY,
                             radius=TUTORIAL_RADIUS_PX, seed: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """One 3D frame at the tutorial's cell density (:func:`tutorial_cell_count`) and object size.

    Ellipsoids with XY semi-axes in ``radius`` (pixels) and a Z semi-axis divided by ``anisotropy`` (z step / xy
    pixel size), kept apart by a 3-pixel gap. Returns uint16 (Z, Y, X) and int32 (Z, Y, X) (labels 1..n).
    """
    rng = np.random.default_rng(seed)
    blobs = _place(rng, shape_zyx, tutorial_cell_count(shape_zyx), radius, gap=3.0, z_scale=anisotropy)
    return render_boxed(shape_zyx, blobs, rng)


# -- membrane-stained cells: another texture than the blobs above (the bundled model is weak on it) --------------

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
