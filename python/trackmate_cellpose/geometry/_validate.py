"""Input checks shared by the geometry functions.

Imports: numpy; package: errors.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidImageError


def check_labels(labels: object, *, ndim: int | tuple[int, ...], name: str = "labels") -> np.ndarray:
    """Return ``labels`` as an integer array ready for ``scipy.ndimage.find_objects``.

    Any integer dtype is accepted (bool too); negative values are refused.
    """
    arr = np.asarray(labels)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in dims:
        want = " or ".join(f"{d}D" for d in dims)
        raise InvalidImageError(f"{name} must be a {want} label image, got shape {arr.shape}")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "ui":
        raise InvalidImageError(f"{name} must have an integer dtype, got {arr.dtype}")
    if arr.size and arr.dtype.kind == "i" and arr.min() < 0:
        raise InvalidImageError(f"{name} must not contain negative labels, got minimum {arr.min()}")
    return arr


def relabel_for_find_objects(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Renumber labels sequentially when their maximum would make ``find_objects`` wasteful.

    Returns
    -------
    labels : ndarray
        Label image safe for ``find_objects`` (``intp`` when renumbered, unchanged otherwise).
    original : ndarray or None
        ``original[k - 1]`` is the original value of new label ``k``; None when nothing was renumbered.
    """
    if labels.size == 0:
        return labels, None
    top = int(labels.max())
    if top <= max(labels.size, 1 << 16):
        return labels, None
    values, inverse = np.unique(labels, return_inverse=True)
    if values[0] == 0:
        new = inverse.reshape(labels.shape)
        return new.astype(np.intp), values[1:]
    return (inverse.reshape(labels.shape) + 1).astype(np.intp), values
