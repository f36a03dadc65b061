"""TrackMate spot shapes -> label images: 2D polygon ROIs, v9 3D meshes, and the circles/spheres of spots without one.

Conventions are those of the rest of the package (``geometry``): pixel centres sit at integer coordinates, so a pixel
belongs to a shape when its centre lies inside it. Coordinates given here are already in pixels of the label image
(the caller divides physical coordinates by the calibration and subtracts the crop origin).

* Polygons: scikit-image's ``draw.polygon`` (pixel centres inside the outline).
* Meshes: a closed triangle mesh is filled by ray parity: along each voxel row (y, z) the crossings of the mesh are
  found and the voxels between the first and second, third and fourth ... crossing are inside. The rays are shifted
  by a tiny, fixed irrational amount so that none runs exactly through a vertex or along an edge (marching-cubes
  meshes have vertices on integer grid lines).

Imports: numpy, skimage (lazily); package: none.
"""

from __future__ import annotations

import numpy as np


# Shift of the ray origins (in pixels): irrational and far below any meaningful precision, so no ray runs exactly
# through a vertex or along an edge of a mesh whose vertices lie on the pixel grid or half-way between.
_RAY_SHIFT_Y = 1.0e-4 * np.sqrt(2.0)
_RAY_SHIFT_Z = 1.0e-4 * np.sqrt(3.0)


def fill_polygon(out: np.ndarray, xy_px: np.ndarray, value: int) -> int:
    """Set the pixels of ``out`` (Y, X) whose centre lies inside polygon ``xy_px`` (N, 2; x, y in pixels) to ``value``.

    Only background pixels (0) are written: where outlines overlap, the shape drawn first keeps the pixel. Returns
    the number of pixels written.
    """
    from skimage.draw import polygon

    rr, cc = polygon(xy_px[:, 1], xy_px[:, 0], shape=out.shape)
    free = out[rr, cc] == 0
    out[rr[free], cc[free]] = value
    return int(free.sum())


def fill_ellipsoid(out: np.ndarray, center_px: tuple[float, ...], radii_px: tuple[float, ...], value: int) -> int:
    """Set the background pixels (2D) or voxels (3D) of ``out`` whose centre lies inside an axis-aligned ellipse or
    ellipsoid to ``value``. ``center_px`` and ``radii_px`` are in the array's axis order (y, x) or (z, y, x)."""
    lo = [max(0, int(np.floor(c - r))) for c, r in zip(center_px, radii_px)]
    hi = [min(n, int(np.ceil(c + r)) + 1) for c, r, n in zip(center_px, radii_px, out.shape)]
    if any(h <= lo_ for lo_, h in zip(lo, hi)):
        return 0
    grids = np.meshgrid(*[np.arange(a, b, dtype=np.float64) for a, b in zip(lo, hi)], indexing="ij")
    inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, center_px, radii_px)) <= 1.0
    box = out[tuple(slice(a, b) for a, b in zip(lo, hi))]
    inside &= box == 0
    box[inside] = value
    return int(inside.sum())


def fill_mesh(out: np.ndarray, vertices_xyz_px: np.ndarray, faces: np.ndarray, value: int) -> int:
    """Set the background voxels of ``out`` (Z, Y, X) whose centre lies inside a closed triangle mesh to ``value``.

    Parameters
    ----------
    out : ndarray, shape (Z, Y, X), integer
    vertices_xyz_px : ndarray, shape (N, 3)
        Vertex coordinates **x, y, z** in voxels of ``out`` (voxel centres at integers).
    faces : ndarray, shape (M, 3)
        Vertex indices of each triangle. The orientation does not matter (parity, not winding).
    value : int

    Returns
    -------
    int
        Number of voxels written.
    """
    v = np.asarray(vertices_xyz_px, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if not len(f):
        return 0
    nz, ny, nx = out.shape
    z0, z1 = max(0, int(np.ceil(v[:, 2].min()))), min(nz - 1, int(np.floor(v[:, 2].max())))
    y0, y1 = max(0, int(np.ceil(v[:, 1].min()))), min(ny - 1, int(np.floor(v[:, 1].max())))
    if z1 < z0 or y1 < y0:
        return 0
    tri = v[f]  # (M, 3 vertices, xyz)
    ty, tz, tx = tri[:, :, 1], tri[:, :, 2], tri[:, :, 0]
    written = 0
    for z in range(z0, z1 + 1):
        zr = z + _RAY_SHIFT_Z
        near = (tz.min(axis=1) <= zr) & (tz.max(axis=1) >= zr)
        if not near.any():
            continue
        ys = np.arange(y0, y1 + 1) + _RAY_SHIFT_Y
        a_y, b_y, c_y = ty[near, 0], ty[near, 1], ty[near, 2]
        a_z, b_z, c_z = tz[near, 0], tz[near, 1], tz[near, 2]
        a_x, b_x, c_x = tx[near, 0], tx[near, 1], tx[near, 2]
        # barycentric coordinates of each ray (y, zr) in each triangle's YZ projection: rows = rays, columns = faces
        det = (b_y - a_y) * (c_z - a_z) - (c_y - a_y) * (b_z - a_z)
        ok = det != 0
        if not ok.any():
            continue
        a_y, b_y, c_y, a_z, b_z, c_z, a_x, b_x, c_x, det = (
            q[ok] for q in (a_y, b_y, c_y, a_z, b_z, c_z, a_x, b_x, c_x, det))
        py = ys[:, None] - a_y[None, :]
        pz = zr - a_z[None, :]
        u = (py * (c_z - a_z)[None, :] - pz * (c_y - a_y)[None, :]) / det[None, :]
        w = (pz * (b_y - a_y)[None, :] - py * (b_z - a_z)[None, :]) / det[None, :]
        hit = (u >= 0) & (w >= 0) & (u + w <= 1)
        rows, cols = np.nonzero(hit)
        if not len(rows):
            continue
        xs = (a_x[cols] + u[rows, cols] * (b_x - a_x)[cols] + w[rows, cols] * (c_x - a_x)[cols])
        order = np.lexsort((xs, rows))
        rows, xs = rows[order], xs[order]
        for r in np.unique(rows):
            cross = xs[rows == r]
            row = out[z, y0 + r]
            for k in range(0, len(cross) - 1, 2):  # parity: inside between crossings 1-2, 3-4, ...
                lo, hi = max(0, int(np.ceil(cross[k]))), min(nx - 1, int(np.floor(cross[k + 1])))
                if hi < lo:
                    continue
                seg = row[lo:hi + 1]
                free = seg == 0
                seg[free] = value
                written += int(free.sum())
    return written
