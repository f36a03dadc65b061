"""2D label image -> outline polygons, following TrackMate's label-image detector (numpy, scipy, scikit-image only).

Conventions (shared with TrackMate):

* Pixel centres sit at integer coordinates, so outlines run along pixel edges at half-integers: the single pixel
  ``(x=3, y=5)`` is the square ``(2.5, 4.5)-(3.5, 5.5)``. Vertex columns are **x, y**.
* Each **8-connected** component of a label is one polygon (TrackMate traces with IJ1's wand, which follows
  8-connected pixels); only its outer boundary is traced, holes are ignored (filled).
* Orientation: the signed shoelace area over the raw ``(x, y)`` columns is **positive**. With the image y axis
  pointing down, as displayed, that is clockwise on screen (the interior is on the right of the walker), the same
  orientation as IJ1's wand outlines; in a y-up plot it is counter-clockwise.
* Polygons are closed implicitly: the first vertex is not repeated.

All objects are traced together in a few vectorised passes over the image (connected components, boundary edges,
one graph walk); nothing loops over labels or pixels in Python. Simplification (``_tm_simplify``) reproduces
TrackMate's own, outline by outline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import depth_first_order

from ._tm_simplify import simplify_like_trackmate
from ._validate import check_labels, relabel_for_find_objects



@dataclass(frozen=True, eq=False)
class PolygonRecord:
    """Outline of one connected component of one label.

    Attributes
    ----------
    label : int
        Label value in the label image.
    xy : ndarray, shape (N, 2), float64
        Vertices in pixel coordinates (pixel centres at integers, edges at half-integers), columns x, y, N >= 3,
        positive shoelace orientation, first vertex not repeated.
    n_pixels : int
        Number of pixels of this component (pixels of holes not counted, although the polygon encloses them).
    bbox : tuple of slice, optional
        ``(y_slice, x_slice)`` of the component in the label image.
    """

    label: int
    xy: np.ndarray
    n_pixels: int
    bbox: tuple[slice, slice] | None = None


def polygon_area_centroid(xy: np.ndarray) -> tuple[float, np.ndarray]:
    """Signed shoelace area and area centroid of a closed polygon.

    Parameters
    ----------
    xy : ndarray, shape (N, 2)
        Vertices, first vertex not repeated.

    Returns
    -------
    area : float
        Signed area (positive for this module's orientation).
    centroid : ndarray, shape (2,)
        Centroid of the enclosed region; the first vertex when the area is zero.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) == 0:
        return 0.0, np.full(2, np.nan)
    ref = xy[0]  # a local origin keeps the cross products small (accurate); exact on a pixel grid
    p = xy - ref
    q = np.roll(p, -1, axis=0)
    cross = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
    area = 0.5 * cross.sum()
    if area == 0.0:
        return 0.0, ref
    centroid = ((p + q) * cross[:, None]).sum(axis=0) / (6.0 * area)
    return float(area), centroid + ref


def labels_to_polygons(labels_yx: np.ndarray, *, simplify: bool = True) -> list[PolygonRecord]:
    """Trace one polygon per 8-connected component of every label > 0.

    Parameters
    ----------
    labels_yx : ndarray, shape (Y, X), integer
        Label image; 0 is background. Any integer dtype; negative values are refused.
    simplify : bool
        When False, the polygon is the exact pixel-edge outline with only its corners as vertices; its area equals
        the pixel count of the component plus the pixels of its holes. When True, exactly what TrackMate's
        label-image detector makes of the same outline (ImageJ's 2 px interpolation, TrackMate's Douglas-Peucker
        at 0.5 px, vertices rounded to pixel corners; see ``_tm_simplify``), except that an object too small to
        survive simplification keeps its exact outline instead of being dropped.

    Returns
    -------
    list of PolygonRecord
        Sorted by label, then by the raster position of each component's first pixel. Polygons with fewer than 3
        vertices or zero area are dropped.

    Notes
    -----
    The whole image is handled in a few vectorised passes (connected components with
    ``label_components``, boundary edges, one graph walk), not one pass per label; cost grows with the image
    size plus the total outline length.
    """
    labels = check_labels(labels_yx, ndim=2, name="labels_yx")
    return [rec for rec, _ in _polygons(labels, simplify=bool(simplify))]


def label_components(labels: np.ndarray) -> np.ndarray:
    """The connected regions of equal nonzero value (full connectivity), numbered 1..n in raster order of their first
    pixel: what ``skimage.measure.label(labels, background=0, connectivity=labels.ndim)`` gives, with scipy alone
    (a worker's Python may have cellpose, hence scipy, but not scikit-image)."""
    labels, _ = relabel_for_find_objects(labels)  # same regions, ids small enough for find_objects
    structure = ndimage.generate_binary_structure(labels.ndim, labels.ndim)
    out = np.zeros(labels.shape, np.int64)
    n = 0
    for value, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        mask = labels[box] == value
        comp, k = ndimage.label(mask, structure)
        out[box][mask] = comp[mask] + n
        n += k
    if n == 0:
        return out
    ids, first = np.unique(out, return_index=True)
    if ids[0] == 0:  # background
        ids, first = ids[1:], first[1:]
    rank = np.zeros(n + 1, np.int64)
    rank[ids[np.argsort(first, kind="stable")]] = np.arange(1, len(ids) + 1)
    return rank[out]


def _polygons(labels: np.ndarray, *, simplify: bool,
              values: np.ndarray | None = None) -> list[tuple[PolygonRecord, float | None]]:
    """Polygons of a validated 2D label image, each with the mean of ``values`` over its component's pixels."""
    comp = label_components(labels)  # each 8-connected region of one value
    n_comp = int(comp.max()) if comp.size else 0
    if n_comp == 0:
        return []
    flat = comp.ravel()
    owner_label = np.zeros(n_comp + 1, dtype=np.int64)
    owner_label[flat] = labels.ravel()
    n_pixels = np.bincount(flat, minlength=n_comp + 1)
    means = None
    if values is not None:
        means = np.bincount(flat, weights=values.ravel().astype(np.float64), minlength=n_comp + 1)
        means[1:] /= n_pixels[1:]
    bboxes = ndimage.find_objects(comp)
    comp_ids, xy, offsets = _trace_outer_boundaries(comp)
    counts = np.diff(offsets)
    valid = (counts >= 3) & (np.abs(_batch_areas(xy, offsets)) > 1e-12)
    out = []
    order = np.lexsort((comp_ids, owner_label[comp_ids]))
    for i in order[valid[order]]:
        poly = xy[offsets[i]:offsets[i + 1]]
        if simplify:
            simple = simplify_like_trackmate(poly)
            if len(simple) >= 3 and polygon_area_centroid(simple)[0] > 1e-12:
                poly = simple  # else: too small to simplify; keep the exact outline (TrackMate would drop it)
        c = int(comp_ids[i])
        rec = PolygonRecord(label=int(owner_label[c]), xy=poly.copy(), n_pixels=int(n_pixels[c]), bbox=bboxes[c - 1])
        out.append((rec, None if means is None else float(means[c])))
    return out


def _trace_outer_boundaries(comp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corners of the outer pixel-edge boundary of every component of a component image.

    The boundary is the set of directed unit edges between a component's pixels and any other pixel, each directed
    so that the component is on its right (screen, y down). Leaving a vertex, the walker takes the first of left
    turn, straight on, right turn that belongs to the same component; at a vertex where two diagonal pixels of one
    component meet, the left turn joins them (8-connectivity). Each walk starts on the top edge of the component's
    first pixel in raster order, which always lies on the outer boundary, so hole boundaries are never visited.

    Returns
    -------
    comp_ids : ndarray, shape (P,)
        Component id of each polygon.
    xy : ndarray, shape (N, 2)
        Concatenated corners, pixel coordinates x, y.
    offsets : ndarray, shape (P + 1,)
        Polygon ``i`` is ``xy[offsets[i]:offsets[i + 1]]``.
    """
    m = np.pad(comp, 1)
    w1 = m.shape[1] + 1  # vertices per row; vertex (r, c) is the top-left corner of padded pixel (r, c)
    # Directions: 0 = +x, 1 = +y, 2 = -x, 3 = -y.
    a, b = m[:-1, :], m[1:, :]
    r, c = np.nonzero(a != b)
    above, below = a[r, c], b[r, c]
    hb, ha = below > 0, above > 0
    parts = [  # (start row, start col, direction, owner)
        (r[hb] + 1, c[hb], 0, below[hb]),  # top edge of the pixel below
        (r[ha] + 1, c[ha] + 1, 2, above[ha]),  # bottom edge of the pixel above
    ]
    a, b = m[:, :-1], m[:, 1:]
    r, c = np.nonzero(a != b)
    left, right = a[r, c], b[r, c]
    hl, hr = left > 0, right > 0
    parts += [
        (r[hl], c[hl] + 1, 1, left[hl]),  # right edge of the left pixel
        (r[hr] + 1, c[hr] + 1, 3, right[hr]),  # left edge of the right pixel
    ]
    sr = np.concatenate([p[0] for p in parts])
    sc = np.concatenate([p[1] for p in parts])
    d = np.concatenate([np.full(len(p[0]), p[2], dtype=np.int64) for p in parts])
    owner = np.concatenate([p[3] for p in parts])
    n_edges = len(d)
    er = sr + _DR[d]
    ec = sc + _DC[d]
    # At most one edge leaves a vertex in a given direction, so (vertex, direction) is a key.
    key = (sr * w1 + sc) * 4 + d
    sort = np.argsort(key)
    skey = key[sort]
    end = (er * w1 + ec) * 4
    nxt = np.full(n_edges, -1, dtype=np.int64)
    for turn in (3, 0, 1):  # left, straight, right
        k = end + (d + turn) % 4
        pos = np.minimum(np.searchsorted(skey, k), n_edges - 1)
        cand = sort[pos]
        ok = (nxt < 0) & (skey[pos] == k) & (owner[cand] == owner)
        nxt[ok] = cand[ok]
    # First top edge of each component in raster order (top edges come first, in raster order).
    comp_ids, start = np.unique(owner[:int(hb.sum())], return_index=True)
    # One depth-first walk from a virtual root whose children are the start edges lists every outer cycle
    # contiguously, in walking order.
    n_comp = len(comp_ids)
    rows = np.concatenate([np.arange(n_edges), np.full(n_comp, n_edges)])
    cols = np.concatenate([nxt, start])
    graph = csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n_edges + 1, n_edges + 1))
    walk = depth_first_order(graph, n_edges, directed=True, return_predecessors=False)[1:]
    wo = owner[walk]
    first = np.flatnonzero(np.r_[True, wo[1:] != wo[:-1]])
    last = np.r_[first[1:], len(walk)] - 1
    wd = d[walk]
    prev = np.roll(wd, 1)
    prev[first] = wd[last]
    corner = wd != prev
    idx = walk[corner]
    xy = np.column_stack([sc[idx] - 1.5, sr[idx] - 1.5]).astype(np.float64)
    counts = np.add.reduceat(corner.astype(np.int64), first)
    offsets = np.r_[0, np.cumsum(counts)]
    return wo[first], xy, offsets


def _batch_areas(xy: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Signed shoelace areas of many polygons (``xy[offsets[i]:offsets[i + 1]]``), each about its first vertex."""
    n = np.diff(offsets)
    poly = np.repeat(np.arange(len(n)), n)
    nxt = np.arange(len(xy)) + 1
    nxt[offsets[1:] - 1] = offsets[:-1]
    ref = xy[offsets[:-1][poly]]
    p, q = xy - ref, xy[nxt] - ref
    cross = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
    return 0.5 * np.bincount(poly, weights=cross, minlength=len(n))


_DR = np.array([0, 1, 0, -1])
_DC = np.array([1, 0, -1, 0])
