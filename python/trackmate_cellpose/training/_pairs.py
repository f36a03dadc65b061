"""Training pairs for cellpose from curated frames: 2D frames as they are, 3D stacks as cellpose's 3D mode sees them.

cellpose's full 3D mode runs its 2D network on the YX, ZY and ZX planes of the stack after resampling Z to the XY
pixel size (``anisotropy`` = Z step / pixel size). A network fine-tuned on XY planes alone never sees the ZY/ZX planes
(objects cut across, blurred along Z by the interpolation), so a 3D frame gives the planes of all three orientations
that hold an object, from the stack resampled the same way (linear interpolation for the image, nearest for labels).

Imports: numpy, scipy (lazily); package: none.
"""

from __future__ import annotations

import numpy as np



def channels_of(frame_czyx: np.ndarray, channel: int, channel_2: int) -> np.ndarray:
    """(C', Z, Y, X) float32 with the channel to segment first and the optional second channel (1-based; 0 = none)."""
    picks = [channel - 1] + ([channel_2 - 1] if channel_2 else [])
    return np.asarray(frame_czyx[picks], dtype=np.float32)


def orthogonal_planes(img_czyx: np.ndarray, labels_zyx: np.ndarray, anisotropy: float
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
    """YX, ZY and ZX planes (with at least one object) of a stack resampled along Z by ``anisotropy``.

    Parameters
    ----------
    img_czyx : ndarray, (C, Z, Y, X)
    labels_zyx : ndarray, (Z, Y, X) integer
    anisotropy : float
        Z step / XY pixel size.

    Returns
    -------
    list of (image (C, A, B), labels (A, B))
        ``A, B`` = (Y, X) for YX planes, (Z', X) for ZX planes, (Z', Y) for ZY planes; ``Z'`` = round(Z * anisotropy).
    """
    from scipy import ndimage as ndi

    nz = labels_zyx.shape[0]
    z_new = max(1, int(round(nz * anisotropy)))
    if z_new != nz:
        f = z_new / nz
        img = ndi.zoom(img_czyx.astype(np.float32), (1, f, 1, 1), order=1, grid_mode=True, mode="nearest")
        lab = ndi.zoom(labels_zyx, (f, 1, 1), order=0, grid_mode=True, mode="nearest")
    else:
        img, lab = img_czyx.astype(np.float32), labels_zyx
    out = []
    for axis in range(3):
        for i in range(lab.shape[axis]):
            plane_lab = np.take(lab, i, axis=axis)
            if plane_lab.any():
                out.append((np.take(img, i, axis=axis + 1), np.ascontiguousarray(plane_lab)))
    return out


def frame_pairs(img_czyx: np.ndarray, labels: np.ndarray, anisotropy: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Training pairs of one curated frame: the frame itself in 2D, its orthogonal planes in 3D.

    Images come back as (Y, X) for one channel and (C, Y, X) for two (cellpose ``channel_axis=0``).
    """
    if labels.ndim == 2:
        pairs = [(img_czyx[:, 0], labels)]
    else:
        pairs = orthogonal_planes(img_czyx, labels, anisotropy)
    return [(im[0] if im.shape[0] == 1 else im, lab.astype(np.int32)) for im, lab in pairs]
