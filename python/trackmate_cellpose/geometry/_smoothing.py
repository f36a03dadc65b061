"""Taubin smoothing of triangle meshes, as TrackMate v9's "Smooth 3D meshes" action (numpy and scipy.sparse only)."""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from ..errors import InvalidSettingsError

__all__ = ["taubin_smooth", "WEIGHT_TYPES"]

#: Accepted values of ``weights``: uniform neighbour weights (TrackMate's NAIVE) or cotangent weights.
WEIGHT_TYPES = ("naive", "cotangent")
_MAX_COT = 1e3


def taubin_smooth(vertices: np.ndarray, faces: np.ndarray, *, iterations: int = 10, mu: float = 0.5,
                  lambda_: float = -0.53, weights: str = "naive") -> np.ndarray:
    """Taubin (lambda|mu) smoothing with TrackMate's defaults.

    Each iteration applies two Laplacian steps, ``x <- x + w * (sum_i w_i x_i / sum_i w_i - x)`` over the
    neighbours ``i`` of each vertex: first with ``w = lambda_``, then with ``w = mu``. This is the order TrackMate's
    mesh smoother uses (it hands its negative ``lambda`` to imglib2-mesh as the first factor and its positive ``mu``
    as the second): with the defaults the first step inflates, the second shrinks, and as ``|lambda_| > mu`` the
    pair low-pass filters the surface without the shrinkage of plain Laplacian smoothing.

    Parameters
    ----------
    vertices : ndarray, shape (N, 3)
        Any units; the result is in the same frame.
    faces : ndarray, shape (M, 3), integer
        Triangles; only their edges (the vertex neighbourhoods) are used, plus their angles for ``"cotangent"``.
    iterations : int
        Number of (lambda_, mu) step pairs, >= 0 (TrackMate default 10).
    mu : float
        Second factor (TrackMate default 0.5; its GUI keeps it in [0, 1]).
    lambda_ : float
        First factor (TrackMate default -0.53; its GUI keeps it in [-1, 0]).
    weights : {"naive", "cotangent"}
        ``"naive"``: every neighbour weighs 1 (TrackMate's default NAIVE). ``"cotangent"``: edge ``ij`` weighs
        ``(cot a + cot b) / 2`` for the two angles opposite to it, recomputed from the current positions at every
        step; negative weights (obtuse triangles) are clipped to 0 and huge ones (degenerate triangles) to 500; a
        vertex whose weights all vanish does not move in that step.

    Returns
    -------
    ndarray, shape (N, 3), float64
        Smoothed vertices (a new array; faces are unchanged). Vertices used by no face do not move.
    """
    v = np.array(vertices, dtype=np.float64, copy=True)
    if v.ndim != 2 or v.shape[1] != 3:
        raise InvalidSettingsError(f"vertices must have shape (N, 3), got {v.shape}", key="vertices")
    f = np.asarray(faces)
    if f.size == 0:
        f = f.reshape(0, 3)
    if f.ndim != 2 or f.shape[1] != 3 or f.dtype.kind not in "ui":
        raise InvalidSettingsError(f"faces must be an integer array of shape (M, 3), got {f.dtype} {f.shape}",
                                   key="faces")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise InvalidSettingsError(f"faces index vertices 0..{len(v) - 1}, got indices {f.min()}..{f.max()}",
                                   key="faces")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise InvalidSettingsError(f"iterations must be an integer >= 0, got {iterations!r}",
                                   key="iterations", value=iterations)
    for name, val in (("mu", mu), ("lambda_", lambda_)):
        if not isinstance(val, (int, float, np.floating, np.integer)) or not math.isfinite(float(val)):
            raise InvalidSettingsError(f"{name} must be a finite number, got {val!r}", key=name, value=val)
    if weights not in WEIGHT_TYPES:
        raise InvalidSettingsError(f"weights must be one of {', '.join(map(repr, WEIGHT_TYPES))}, got {weights!r}",
                                   key="weights", value=weights)
    if iterations == 0 or len(f) == 0:
        return v
    f = f.astype(np.int64)
    if weights == "naive":
        op = _uniform_operator(f, len(v))
        for _ in range(int(iterations)):
            for w in (float(lambda_), float(mu)):
                v += w * (op @ v - v)
    else:
        for _ in range(int(iterations)):
            for w in (float(lambda_), float(mu)):
                v += w * _cotangent_displacement(v, f)
    return v


def _uniform_operator(faces: np.ndarray, n: int) -> sparse.csr_matrix:
    """Row-normalised adjacency: ``(op @ v)[i]`` is the mean of the neighbours of vertex ``i`` (``v[i]`` if none)."""
    i = faces.ravel()
    j = faces[:, [1, 2, 0]].ravel()
    adj = sparse.coo_matrix((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    adj.data[:] = 1.0  # an edge shared by two triangles was summed twice
    deg = np.asarray(adj.sum(axis=1)).ravel()
    lonely = deg == 0
    adj = adj + sparse.diags(lonely.astype(np.float64))
    deg[lonely] = 1.0
    return sparse.diags(1.0 / deg) @ adj


def _cotangent_displacement(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``sum_i w_i x_i / sum_i w_i - x`` with clipped cotangent weights (zero where all weights vanish)."""
    n = len(v)
    rows, cols, vals = [], [], []
    for k in range(3):  # the corner k is opposite to the edge (a, b)
        o, a, b = faces[:, k], faces[:, (k + 1) % 3], faces[:, (k + 2) % 3]
        ea, eb = v[a] - v[o], v[b] - v[o]
        cross = np.linalg.norm(np.cross(ea, eb), axis=1)
        cot = np.einsum("ij,ij->i", ea, eb) / np.maximum(cross, 1e-300)
        w = 0.5 * np.clip(cot, 0.0, _MAX_COT)  # degenerate triangles must not dominate
        rows += [a, b]
        cols += [b, a]
        vals += [w, w]
    wmat = sparse.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(n, n)).tocsr()
    total = np.asarray(wmat.sum(axis=1)).ravel()
    disp = np.zeros_like(v)
    ok = total > 0
    disp[ok] = (wmat @ v)[ok] / total[ok, None] - v[ok]
    return disp
