"""Overlap (IoU) tracker with the semantics and settings of TrackMate's ``OVERLAP_TRACKER``.

Each object of frame t+1 is linked to the object of frame t with the largest IoU **strictly above** ``MIN_IOU``
(edge cost ``1 - IoU``); an object gets at most one predecessor, so splits are possible and merges are not. Frames are
taken in order; an empty frame breaks the tracks crossing it but does not stop linking after it (as TrackMate v9;
TrackMate 7.13.2 instead links the frame before an empty one to the frame after it, checked against the real jar).

Shapes (as TrackMate): 2D polygons (``PRECISE``) or their bounding boxes (``FAST``), a 32-gon / square of ``RADIUS`` when
a detection has no polygon, all scaled about the spot centre by ``SCALE_FACTOR``. For 3D objects the default compares
the objects' **voxels** (``mode_3d="voxels"``: exact 3D IoU from the label images); ``mode_3d="xy"`` reproduces
TrackMate, whose tracker ignores Z and sees a 3D spot as the XY circle (or square) of its radius.

shapely clips the polygons; scipy groups the links into tracks. Imports: numpy, shapely (lazily) and scipy (lazily);
package: errors, results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import InvalidImageError, InvalidSettingsError
from ..results import Detection, DetectionResult

#: TrackMate key of the overlap tracker factory.
OVERLAP_TRACKER_KEY = "OVERLAP_TRACKER"
_N_CIRCLE = 32


@dataclass(frozen=True)
class OverlapTrackerSettings:
    """Settings of the overlap tracker (TrackMate keys in brackets).

    Parameters
    ----------
    min_iou : float
        [MIN_IOU] Link only when IoU > min_iou (strictly), 0 .. 1. Default 0.3.
    scale_factor : float
        [SCALE_FACTOR] Shapes are scaled about their centre by this factor before the IoU (> 0). Default 1.
    iou_calculation : {"PRECISE", "FAST"}
        [IOU_CALCULATION] Polygon IoU, or IoU of the axis-aligned bounding boxes.
    mode_3d : {"voxels", "xy"}
        3D objects only: exact IoU of the objects' voxels (default), or TrackMate's XY projection of the radius
        circle (parity with TrackMate's own tracker, which ignores Z). Not a TrackMate setting; not written to XML.
    """

    min_iou: float = field(default=0.3, metadata={
        "key": "MIN_IOU", "unit": "-", "range": "0 .. 1",
        "doc": "link an object to the one of the previous frame with the largest IoU strictly above this"})
    scale_factor: float = field(default=1.0, metadata={
        "key": "SCALE_FACTOR", "unit": "-", "range": "> 0",
        "doc": "scale shapes about their centre by this factor before the IoU"})
    iou_calculation: str = field(default="PRECISE", metadata={
        "key": "IOU_CALCULATION", "unit": "-", "range": "PRECISE or FAST", "choices": ("PRECISE", "FAST"),
        "doc": "IoU of the polygons (PRECISE) or of their bounding boxes (FAST)"})
    mode_3d: str = field(default="voxels", metadata={
        "key": None, "unit": "-", "range": "voxels or xy", "choices": ("voxels", "xy"),
        "doc": "3D: IoU of the objects' voxels, or TrackMate's XY circles (Z ignored; parity with TrackMate)"})

    def __post_init__(self) -> None:
        for name in ("min_iou", "scale_factor"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise InvalidSettingsError(f"{name} must be a number, got {v!r}", key=name.upper(), value=v)
        if not 0.0 <= self.min_iou <= 1.0:
            raise InvalidSettingsError(f"MIN_IOU must be within 0 .. 1, got {self.min_iou!r}", key="MIN_IOU",
                                       value=self.min_iou)
        if self.scale_factor <= 0:
            raise InvalidSettingsError(f"SCALE_FACTOR must be > 0, got {self.scale_factor!r}", key="SCALE_FACTOR",
                                       value=self.scale_factor)
        mode = str(self.iou_calculation).upper()
        if mode not in ("PRECISE", "FAST"):
            raise InvalidSettingsError(f"IOU_CALCULATION must be PRECISE or FAST, got {self.iou_calculation!r}",
                                       key="IOU_CALCULATION", value=self.iou_calculation)
        object.__setattr__(self, "iou_calculation", mode)
        m3 = str(self.mode_3d).lower()
        if m3 not in ("voxels", "xy"):
            raise InvalidSettingsError(f"mode_3d must be voxels or xy, got {self.mode_3d!r}", key="mode_3d",
                                       value=self.mode_3d)
        object.__setattr__(self, "mode_3d", m3)

    def to_trackmate_map(self) -> dict[str, object]:
        """TrackMate's tracker settings map (``mode_3d`` has no TrackMate key and is left out)."""
        return {"MIN_IOU": float(self.min_iou), "SCALE_FACTOR": float(self.scale_factor),
                "IOU_CALCULATION": self.iou_calculation}


def tracker_settings_table() -> list[dict[str, object]]:
    """One row per overlap-tracker setting: field, TrackMate key (None for ``mode_3d``), default, unit, range, doc."""
    import dataclasses

    return [{"field": f.name, "default": f.default, **f.metadata} for f in dataclasses.fields(OverlapTrackerSettings)]


@dataclass(frozen=True)
class Link:
    """A directed edge between two spots (indices into ``TrackingResult.spots``), forward in time."""

    source: int
    target: int
    iou: float

    @property
    def cost(self) -> float:
        """TrackMate's LINK_COST for the overlap tracker: 1 - IoU."""
        return 1.0 - self.iou


@dataclass
class TrackingResult:
    """Spots (flat, spot ID = index), links, and tracks (connected components with at least one link).

    Attributes
    ----------
    spots : list of Detection
        Every detection in frame order; its index is its TrackMate spot ID.
    links : list of Link
    tracks : list of list of int
        Spot IDs of each track, sorted by frame then ID; the track ID is the list index.
    track_of : ndarray of int, shape (n_spots,)
        Track ID of each spot, -1 for a spot in no track.
    settings : OverlapTrackerSettings or None
        None when no tracker ran (``--tracker none``).
    """

    spots: list[Detection]
    links: list[Link] = field(default_factory=list)
    tracks: list[list[int]] = field(default_factory=list)
    track_of: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    settings: OverlapTrackerSettings | None = None

    @classmethod
    def untracked(cls, result: DetectionResult) -> "TrackingResult":
        spots = list(result)
        return cls(spots=spots, track_of=np.full(len(spots), -1, int))


def track_overlap(result: DetectionResult, settings: OverlapTrackerSettings | None = None, *,
                  progress: Callable[[int, int], None] | None = None,
                  log: Callable[[str], None] | None = None) -> TrackingResult:
    """Link detections frame to frame by overlap, as TrackMate's overlap tracker does.

    Parameters
    ----------
    result : DetectionResult
        Detections of a movie; 3D voxel mode uses each frame's ``labels`` (shape (Z, Y, X)).
    settings : OverlapTrackerSettings, optional
    progress : callable(done, total), optional
        Called after each frame pair.
    log : callable(str), optional
        Receives notices (e.g. SCALE_FACTOR not applicable to voxel IoU).

    Returns
    -------
    TrackingResult
    """
    settings = settings or OverlapTrackerSettings()
    frames = sorted(result.frames, key=lambda fr: fr.frame)
    spots: list[Detection] = []
    ids_per_frame: list[list[int]] = []
    for fr in frames:
        ids_per_frame.append(list(range(len(spots), len(spots) + len(fr.detections))))
        spots.extend(fr.detections)
    voxels = result.is_3d and settings.mode_3d == "voxels"
    if voxels and settings.scale_factor != 1.0 and log is not None:
        log(f"SCALE_FACTOR={settings.scale_factor} applies to 2D shapes and to mode_3d='xy' only; the 3D voxel IoU "
            "compares the objects' voxels unscaled")
    links: list[Link] = []
    total = max(len(frames) - 1, 0)
    for k in range(1, len(frames)):
        src, tgt = ids_per_frame[k - 1], ids_per_frame[k]
        if src and tgt:
            if voxels:
                iou = _voxel_iou(frames[k - 1], frames[k])
            else:
                iou = _shape_iou([spots[i] for i in src], [spots[i] for i in tgt], settings)
            for j in range(len(tgt)):
                col = iou[:, j]
                best = int(np.argmax(col)) if col.size else -1
                # strictly above, as TrackMate; ties resolved by the first source (lowest spot ID)
                if best >= 0 and col[best] > settings.min_iou:
                    links.append(Link(src[best], tgt[j], float(col[best])))
        if progress is not None:
            progress(k, total)
    tracks, track_of = _components(len(spots), links, spots)
    return TrackingResult(spots=spots, links=links, tracks=tracks, track_of=track_of, settings=settings)


# ---- 2D shapes -----------------------------------------------------------------------------------------------
def _shape(d: Detection, settings: OverlapTrackerSettings):
    import shapely

    s = settings.scale_factor
    if d.roi_xy is not None and len(d.roi_xy) >= 3:
        rel = (np.asarray(d.roi_xy, float) - (d.x, d.y)) * s
        if settings.iou_calculation == "FAST":
            lo, hi = rel.min(axis=0), rel.max(axis=0)
            return shapely.box(d.x + lo[0], d.y + lo[1], d.x + hi[0], d.y + hi[1])
        poly = shapely.Polygon(rel + (d.x, d.y))
        return poly if poly.is_valid else shapely.make_valid(poly)
    r = d.radius * s
    if settings.iou_calculation == "FAST":
        return shapely.box(d.x - r, d.y - r, d.x + r, d.y + r)
    a = 2 * np.pi * np.arange(_N_CIRCLE) / _N_CIRCLE
    return shapely.Polygon(np.c_[d.x + r * np.cos(a), d.y + r * np.sin(a)])


def _shape_iou(sources: list[Detection], targets: list[Detection], settings: OverlapTrackerSettings) -> np.ndarray:
    """IoU matrix (n_sources, n_targets) of the 2D shapes; only bounding-box candidates are clipped."""
    import shapely

    a = np.array([_shape(d, settings) for d in sources], dtype=object)
    b = np.array([_shape(d, settings) for d in targets], dtype=object)
    iou = np.zeros((len(a), len(b)))
    tree = shapely.STRtree(a)
    bi, ai = tree.query(b, predicate="intersects")
    if len(ai):
        inter = shapely.area(shapely.intersection(a[ai], b[bi]))
        union = shapely.area(a[ai]) + shapely.area(b[bi]) - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            iou[ai, bi] = np.where(union > 0, inter / union, 0.0)
    return np.clip(iou, 0.0, 1.0)  # rounding in the clipper can give 1 + 1e-16 for identical shapes


# ---- 3D voxels -----------------------------------------------------------------------------------------------
def _voxel_iou(fa, fb) -> np.ndarray:
    """IoU matrix of the frames' detections from their label images (one detection per label in 3D)."""
    la, lb = np.asarray(fa.labels), np.asarray(fb.labels)
    if la.shape != lb.shape:
        raise InvalidImageError(f"label images of frames {fa.frame} and {fb.frame} differ in shape: {la.shape} vs "
                                f"{lb.shape}; every frame of a detection result must have the image's shape")
    labs_a = np.array([d.label for d in fa.detections], np.int64)
    labs_b = np.array([d.label for d in fb.detections], np.int64)
    na, nb = int(max(la.max(initial=0), labs_a.max(initial=0))) + 1, int(max(lb.max(initial=0),
                                                                              labs_b.max(initial=0))) + 1
    size_a = np.bincount(la.ravel(), minlength=na)
    size_b = np.bincount(lb.ravel(), minlength=nb)
    both = (la > 0) & (lb > 0)
    pair = la[both].astype(np.int64) * nb + lb[both].astype(np.int64)
    keys, counts = np.unique(pair, return_counts=True)
    inter = np.zeros((na, nb))
    inter[keys // nb, keys % nb] = counts
    sub = inter[np.ix_(labs_a, labs_b)]
    union = size_a[labs_a][:, None] + size_b[labs_b][None, :] - sub
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, sub / union, 0.0)


# ---- tracks --------------------------------------------------------------------------------------------------
def _components(n: int, links: list[Link], spots: list[Detection]) -> tuple[list[list[int]], np.ndarray]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    track_of = np.full(n, -1, int)
    if not links or n == 0:
        return [], track_of
    src = np.array([lk.source for lk in links])
    dst = np.array([lk.target for lk in links])
    g = coo_matrix((np.ones(len(links)), (src, dst)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    linked = np.zeros(n, bool)
    linked[src] = linked[dst] = True
    # number tracks by their first spot (frame order, then ID), as a reader would expect
    order: dict[int, int] = {}
    for i in np.flatnonzero(linked):
        order.setdefault(int(comp[i]), len(order))
    tracks: list[list[int]] = [[] for _ in order]
    for i in np.flatnonzero(linked):
        tid = order[int(comp[i])]
        track_of[i] = tid
        tracks[tid].append(int(i))
    for t in tracks:
        t.sort(key=lambda i: (spots[i].frame, i))
    return tracks, track_of
