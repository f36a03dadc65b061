"""3D label image -> closed triangle meshes, following TrackMate v9's ``SpotMeshUtils``.

``fast_simplification`` is needed only when decimation is asked for. Imports: numpy, scipy, skimage (lazily) and
fast_simplification (lazily); package: errors, geometry._validate.

Conventions:

* One mesh **per label** (not per connected component, as in TrackMate v9); a label made of several pieces gives one
  mesh with several closed shells.
* Vertices are **x, y, z** in physical units relative to the volume origin: the centre of voxel ``(z, y, x)`` is at
  ``(x * cx, y * cy, z * cz)``.
* Meshes are closed (every edge shared by exactly two triangles) and oriented outward (counter-clockwise seen from
  outside), so their signed volume is positive: :func:`orient_outward` is the one step that makes them so.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InvalidSettingsError, MissingPackageError
from ._validate import check_labels, relabel_for_find_objects

_GAUSS_TRUNCATE = 4.0  # scipy's default kernel radius, in sigmas
# On a 0/1 mask, level 0.5 makes every face shared by two diagonal voxels a tie in marching cubes' ambiguity test,
# and skimage then emits edges shared by four triangles (not a manifold). A level a hair below 0.5 settles every
# tie the same way, joining voxels that touch along an edge, and moves the surface by only 1e-6 voxel.
_MASK_LEVEL = 0.5 - 1e-6


@dataclass(frozen=True, eq=False)
class MeshRecord:
    """Surface of one label.

    Attributes
    ----------
    label : int
    vertices : ndarray, shape (N, 3), float64
        x, y, z, physical units, relative to the volume origin.
    faces : ndarray, shape (M, 3), int64
        Counter-clockwise seen from outside.
    n_voxels : int
        Voxels of the label.
    volume : float
        Enclosed volume (sum of signed tetrahedra), physical units, > 0.
    centroid_xyz : ndarray, shape (3,)
        Centroid of the enclosed solid, physical units, same frame as ``vertices``.
    area : float
        Surface area, physical units.
    """

    label: int
    vertices: np.ndarray
    faces: np.ndarray
    n_voxels: int
    volume: float
    centroid_xyz: np.ndarray
    area: float


def labels_to_meshes(labels_zyx: np.ndarray, *, calibration_zyx: tuple[float, float, float] = (1.0, 1.0, 1.0),
                     smoothing_scale: float = 0.0, simplify: bool = False) -> list[MeshRecord]:
    """Mesh every label > 0 of a 3D label image with marching cubes.

    Parameters
    ----------
    labels_zyx : ndarray, shape (Z, Y, X), integer
        Label image; 0 is background. Any integer dtype; negative values are refused.
    calibration_zyx : tuple of 3 float
        Voxel size along z, y, x (physical units, > 0); passed to marching cubes as ``spacing``.
    smoothing_scale : float
        Physical length. When > 0, as TrackMate v9: the object's 0/1 mask (in its bounding box, padded by the kernel
        radius so the surface closes) is blurred with a Gaussian of ``sigma[d] = smoothing_scale / sqrt(3) /
        calibration[d]`` voxels (anisotropy-aware), then meshed at level 0.5. When <= 0 the 0/1 mask itself is meshed
        at level 0.5 (in fact 0.5 - 1e-6, so that voxels touching along an edge give one manifold surface; voxels
        touching only at a corner give two shells). If the blurred object never reaches 0.5 (too thin for the
        scale), its unsmoothed mask is meshed instead, so every label gets a mesh.
    simplify : bool
        Quadric edge-collapse decimation (``fast_simplification``, the algorithm TrackMate v9 uses) for meshes of at
        least 100 triangles, with TrackMate's target ratios (keep 50 % below 200 triangles, 20 % below 10k, 10 %
        below 1M, 5 % above). A decimated mesh that is not closed and outward-oriented is discarded in favour of the
        full mesh. Without ``fast_simplification`` installed a warning is issued and meshes are not decimated.

    Returns
    -------
    list of MeshRecord
        In increasing label order. Unlike TrackMate v9, small objects are not discarded.
    """
    labels = check_labels(labels_zyx, ndim=3, name="labels_zyx")
    cal = _check_calibration(calibration_zyx)
    try:
        scale = float(smoothing_scale)
    except (TypeError, ValueError):
        raise InvalidSettingsError(f"smoothing_scale must be a number, got {smoothing_scale!r}",
                                   key="smoothing_scale", value=smoothing_scale) from None
    if not math.isfinite(scale):
        raise InvalidSettingsError(f"smoothing_scale must be finite, got {smoothing_scale!r}",
                                   key="smoothing_scale", value=smoothing_scale)
    return [rec for rec, _ in _meshes(labels, cal, scale, bool(simplify))]


def _check_calibration(calibration_zyx: object) -> np.ndarray:
    try:
        cal = np.asarray(calibration_zyx, dtype=np.float64).reshape(3)
    except (TypeError, ValueError):
        raise InvalidSettingsError(f"calibration_zyx must be 3 positive numbers, got {calibration_zyx!r}",
                                   key="calibration_zyx", value=calibration_zyx) from None
    if not np.all(np.isfinite(cal) & (cal > 0)):
        raise InvalidSettingsError(f"calibration_zyx must be 3 positive numbers, got {calibration_zyx!r}",
                                   key="calibration_zyx", value=calibration_zyx)
    return cal


def _meshes(labels: np.ndarray, cal: np.ndarray, smoothing_scale: float, simplify: bool,
            values: np.ndarray | None = None) -> list[tuple[MeshRecord, float | None]]:
    """Meshes of a validated 3D label image, each with the mean of ``values`` over the label's voxels."""
    work, original = relabel_for_find_objects(labels)
    decimate = _decimator() if simplify else None
    out = []
    for index, sl in enumerate(ndimage.find_objects(work)):
        if sl is None:
            continue
        mask = work[sl] == index + 1
        label = index + 1 if original is None else int(original[index])
        origin = np.array([s.start for s in sl], dtype=np.float64)
        verts, faces = _mesh_mask(mask, cal, smoothing_scale)
        verts += origin * cal  # still z, y, x
        verts = np.ascontiguousarray(verts[:, ::-1])  # z, y, x -> x, y, z (a mirror: it flips the winding)
        faces, (volume, centroid, area) = orient_outward(verts, faces)
        if decimate is not None and len(faces) >= 100:
            small = decimate(verts, faces)
            if small is not None:
                verts, faces, (volume, centroid, area) = small
        mean = float(values[sl][mask].mean()) if values is not None else None
        rec = MeshRecord(label=label, vertices=verts, faces=faces, n_voxels=int(np.count_nonzero(mask)),
                         volume=float(volume), centroid_xyz=centroid, area=float(area))
        out.append((rec, mean))
    return out


def orient_outward(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, tuple[float, np.ndarray, float]]:
    """The orientation rule of every mesh, in one place: faces counter-clockwise seen from outside (outward normals),
    which for a closed mesh is the same as a positive signed volume.

    The winding marching cubes produces depends on its conventions and on the axis order of the vertices (swapping
    z, y, x to x, y, z is a mirror and reverses it), so the rule is not assumed but measured: the winding is reversed
    when the signed volume is not positive.

    Parameters
    ----------
    vertices : ndarray, shape (N, 3)
    faces : ndarray, shape (M, 3)
        A closed, consistently oriented mesh (either orientation).

    Returns
    -------
    faces : ndarray, shape (M, 3), int64
        Outward-oriented (contiguous).
    stats : tuple
        :func:`mesh_volume_centroid_area` of the returned mesh (volume > 0 unless the mesh encloses nothing).
    """
    stats = mesh_volume_centroid_area(vertices, faces)
    if stats[0] <= 0:
        faces = faces[:, ::-1]
        stats = mesh_volume_centroid_area(vertices, faces)
    return np.ascontiguousarray(faces, dtype=np.int64), stats


def _mesh_mask(mask: np.ndarray, cal: np.ndarray, smoothing_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of one bounding-box mask; vertices z, y, x physical relative to the box's first voxel."""
    if smoothing_scale > 0:
        sigma = smoothing_scale / math.sqrt(3.0) / cal
        pad = np.ceil(_GAUSS_TRUNCATE * sigma).astype(int) + 1
        vol = np.pad(mask.astype(np.float32), [(p, p) for p in pad])
        vol = ndimage.gaussian_filter(vol, sigma, truncate=_GAUSS_TRUNCATE, mode="constant")
        if vol.max() > 0.5:
            verts, faces = _marching_cubes(_main_body(vol), cal, 0.5)
            return verts - pad * cal, faces
    vol = np.pad(mask.astype(np.float32), 1)
    verts, faces = _marching_cubes(vol, cal, _MASK_LEVEL)
    return verts - cal, faces


def _main_body(vol: np.ndarray) -> np.ndarray:
    """The smoothed object without the pieces that smoothing cut off it.

    Blurring one 26-connected object can cut a thin appendage or a diagonal contact, which marching cubes at 0.5
    then meshes as a separate floating body inside the same spot. The parts of ``vol > 0.5`` are taken as marching
    cubes joins them (face-connected); only the one holding the largest mass is kept. The others are set to 0: they
    are never face neighbours of the kept part, so no vertex of its surface moves.
    """
    above = vol > 0.5
    parts, n = ndimage.label(above)
    if n <= 1:
        return vol
    main = 1 + int(np.argmax(ndimage.sum_labels(vol, parts, index=np.arange(1, n + 1))))
    return np.where(above & (parts != main), 0, vol).astype(vol.dtype, copy=False)


def marching_cubes_function():
    """scikit-image's ``marching_cubes``, imported on first use: a Python with cellpose alone (e.g. a detector worker
    running the update site's code) lacks scikit-image.

    Raises
    ------
    MissingPackageError
        scikit-image is not installed; the message names the command that installs it into this Python.
    """
    try:
        from skimage.measure import marching_cubes
    except ImportError as e:
        raise MissingPackageError("scikit-image", "3D objects (meshes, marching cubes)") from e
    return marching_cubes


def _marching_cubes(vol: np.ndarray, cal: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    marching_cubes = marching_cubes_function()
    verts, faces, _, _ = marching_cubes(vol, level=level, spacing=tuple(cal), allow_degenerate=False)
    return verts.astype(np.float64), faces.astype(np.int64)


def mesh_volume_centroid_area(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Signed volume, solid centroid and surface area of a closed triangle mesh.

    Parameters
    ----------
    vertices : ndarray, shape (N, 3)
    faces : ndarray, shape (M, 3)

    Returns
    -------
    volume : float
        Sum of the signed volumes of the tetrahedra (reference point, triangle); positive for outward faces.
    centroid : ndarray, shape (3,)
        Volume-weighted centroid of those tetrahedra (the solid's centroid); the vertex mean if the volume is 0.
    area : float
    """
    v = np.asarray(vertices, dtype=np.float64)
    if len(faces) == 0:
        return 0.0, v.mean(axis=0) if len(v) else np.full(3, np.nan), 0.0
    ref = v.mean(axis=0)  # a reference point near the mesh keeps the sums accurate far from the origin
    p0, p1, p2 = (v[faces[:, k]] - ref for k in range(3))
    tet = np.einsum("ij,ij->i", p0, _cross(p1, p2)) / 6.0
    volume = float(tet.sum())
    area = float(0.5 * np.linalg.norm(_cross(p1 - p0, p2 - p0), axis=1).sum())
    if volume == 0.0:
        return 0.0, ref, area
    centroid = (tet[:, None] * (p0 + p1 + p2)).sum(axis=0) / (4.0 * volume) + ref
    return volume, centroid, area


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (M, 3) arrays (np.cross's axis handling costs more than the arithmetic here)."""
    return np.column_stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
                            a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]])


def is_closed_oriented(faces: np.ndarray) -> bool:
    """True when every directed edge appears once and its reverse once (closed, consistently oriented, manifold)."""
    f = np.asarray(faces, dtype=np.int64)
    if len(f) == 0:
        return False
    a = f.ravel()
    b = f[:, [1, 2, 0]].ravel()
    n = int(f.max()) + 1
    fwd = a * n + b
    rev = b * n + a
    fwd_sorted = np.sort(fwd)
    if np.any(fwd_sorted[1:] == fwd_sorted[:-1]):
        return False
    pos = np.searchsorted(fwd_sorted, rev)
    return bool(np.all(pos < len(fwd_sorted)) and np.all(fwd_sorted[np.minimum(pos, len(fwd) - 1)] == rev))


def _decimation_keep_ratio(n_faces: int) -> float:
    """TrackMate v9's target ratios (fraction of triangles kept)."""
    if n_faces < 200:
        return 0.5
    if n_faces < 10_000:
        return 0.2
    if n_faces < 1_000_000:
        return 0.1
    return 0.05


def _decimator():
    """Return ``decimate(verts, faces) -> (verts, faces, stats) | None``, or None (with a warning) without the library.

    ``stats`` is :func:`mesh_volume_centroid_area` of the result; None means "keep the full mesh".
    """
    try:
        import fast_simplification
    except ImportError:
        warnings.warn("simplify=True for 3D meshes needs the 'fast-simplification' package (pip install "
                      "fast-simplification); meshes are kept undecimated", RuntimeWarning, stacklevel=4)
        return None

    def decimate(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple] | None:
        keep = _decimation_keep_ratio(len(faces))
        v, f = fast_simplification.simplify(verts, faces.astype(np.int32), target_reduction=1.0 - keep, agg=10.0)
        f = np.asarray(f, dtype=np.int64)
        if len(f) < 4:
            return None
        used, f = np.unique(f, return_inverse=True)
        f = f.reshape(-1, 3)
        v = np.ascontiguousarray(np.asarray(v, dtype=np.float64)[used])
        if not is_closed_oriented(f):
            return None
        stats = mesh_volume_centroid_area(v, f)
        return (v, f, stats) if stats[0] > 0 else None

    return decimate
