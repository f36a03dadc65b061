"""Label-image clean-up after cellpose (numpy/scipy/scikit-image only; no cellpose import).

Work is done per object bounding box (``scipy.ndimage.find_objects``), never as a full-image pass per label.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def split_disconnected(labels: np.ndarray) -> np.ndarray:
    """Give every connected component (full connectivity) of every label its own id.

    cellpose's 2D+Z stitching can give one id to separate objects (e.g. after an empty plane); this makes
    "one id = one connected object" true. Returns a new int32 array; the largest component keeps the old id.
    """
    out = labels.astype(np.int32, copy=True)
    next_id = int(out.max()) + 1
    structure = ndi.generate_binary_structure(out.ndim, out.ndim)
    for lab, sl in enumerate(ndi.find_objects(out), start=1):
        if sl is None:
            continue
        mask = out[sl] == lab
        comp, n = ndi.label(mask, structure=structure)
        if n <= 1:
            continue
        sizes = np.bincount(comp.ravel())[1:]
        keep = int(np.argmax(sizes)) + 1
        view = out[sl]
        for c in range(1, n + 1):
            if c != keep:
                view[comp == c] = next_id
                next_id += 1
    return out


def remove_small(labels: np.ndarray, min_size: float) -> np.ndarray:
    """Zero every label with fewer than ``min_size`` pixels/voxels (counted on this grid). Returns a new array."""
    out = labels.astype(np.int32, copy=True)
    if min_size <= 0 or out.max() == 0:
        return out
    counts = np.bincount(out.ravel())
    small = counts < min_size
    small[0] = False
    if small.any():
        out[small[out]] = 0
    return out


def clean_labels(labels: np.ndarray, *, min_size: float, split: bool) -> np.ndarray:
    """Split disconnected objects (if ``split``), remove small ones, renumber 1..n (int32)."""
    out = split_disconnected(labels) if split else labels.astype(np.int32, copy=False)
    out = remove_small(out, min_size)
    if out.max() == 0:
        return out
    values, sequential = np.unique(out, return_inverse=True)  # ids 1..n in the order of the old ids (0 stays 0)
    if values[0] != 0:
        sequential = sequential + 1
    return sequential.reshape(out.shape).astype(np.int32, copy=False)
