"""Pictures for a quick look: ROI overlays coloured by track (PNG montage of a few frames, animated GIF for 2D+t)
and a rendering of the 3D meshes (PNG).

Overlays are drawn with Pillow; the mesh rendering uses matplotlib (Agg backend, imported lazily).
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np

from ..calibration import Calibration
from ..tracking import TrackingResult

_LONE = (255, 255, 255)


def track_color(track_id: int) -> tuple[int, int, int]:
    """A distinct, bright colour per track (golden-ratio hues); white for a spot in no track (-1)."""
    if track_id < 0:
        return _LONE
    h = (0.13 + 0.618033988749895 * track_id) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 1.0)
    return int(255 * r), int(255 * g), int(255 * b)


def pick_frames(n_frames: int, k: int = 4) -> list[int]:
    """Up to ``k`` frame indices spread over the movie (first and last included)."""
    if n_frames <= k:
        return list(range(n_frames))
    return sorted({int(round(v)) for v in np.linspace(0, n_frames - 1, k)})


def _to_rgb(plane: np.ndarray) -> np.ndarray:
    p = plane.astype(np.float64)
    lo, hi = np.percentile(p, (1.0, 99.8))
    if hi <= lo:
        hi = lo + 1.0
    g = np.clip((p - lo) / (hi - lo), 0, 1)
    return np.repeat((255 * g).astype(np.uint8)[..., None], 3, axis=2)


def _outline_rgb(rgb: np.ndarray, ids_zyx: np.ndarray, tracking: TrackingResult) -> np.ndarray:
    """Paint the outlines of the objects' XY projections (3D spots have no polygon) in their track colours."""
    from skimage.segmentation import find_boundaries

    proj = ids_zyx.max(axis=0)
    edge = find_boundaries(proj, mode="inner") & (proj > 0)
    if edge.any():
        ids = proj[edge] - 1
        tids = np.asarray(tracking.track_of)[ids] if len(tracking.track_of) else np.full(ids.shape, -1)
        palette = {int(t): track_color(int(t)) for t in np.unique(tids)}
        rgb = rgb.copy()
        rgb[edge] = np.array([palette[int(t)] for t in tids], np.uint8)
    return rgb


def _render_frame(image_tczyx: np.ndarray, t: int, tracking: TrackingResult, calibration: Calibration,
                  channel: int, scale: int, spot_ids_tzyx: np.ndarray | None = None):
    from PIL import Image, ImageDraw

    stack = image_tczyx[t, channel]
    plane = stack.max(axis=0)  # 2D: the plane; 3D: max projection
    rgb = _to_rgb(plane)
    if spot_ids_tzyx is not None:
        rgb = _outline_rgb(rgb, spot_ids_tzyx[t], tracking)
    im = Image.fromarray(rgb).resize((plane.shape[1] * scale, plane.shape[0] * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(im)
    for i, d in enumerate(tracking.spots):
        if d.frame != t:
            continue
        tid = int(tracking.track_of[i]) if len(tracking.track_of) else -1
        col = track_color(tid)
        if spot_ids_tzyx is not None and d.roi_xy is None:
            pass  # outline already painted from the label projection
        elif d.roi_xy is not None and len(d.roi_xy) > 2:
            # physical -> pixel edges: TrackMate pixel centres sit at integer * calibration
            px = (d.roi_xy[:, 0] / calibration.x + 0.5) * scale
            py = (d.roi_xy[:, 1] / calibration.y + 0.5) * scale
            draw.polygon(list(zip(px.tolist(), py.tolist())), outline=col, width=max(1, scale // 2))
        else:
            cx, cy = (d.x / calibration.x + 0.5) * scale, (d.y / calibration.y + 0.5) * scale
            r = d.radius / calibration.x * scale
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=col, width=max(1, scale // 2))
        if tid >= 0:
            draw.text(((d.x / calibration.x + 0.5) * scale, (d.y / calibration.y + 0.5) * scale), str(tid),
                      fill=col, anchor="mm")
    draw.text((4, 4), f"t={t}", fill=(255, 255, 0))
    return im


def _scale_for(shape_yx) -> int:
    return max(1, min(4, int(np.ceil(256 / max(shape_yx)))))


def write_overlay_png(path: str | Path, image_tczyx: np.ndarray, tracking: TrackingResult,
                      calibration: Calibration, *, channel: int = 0, frames: list[int] | None = None,
                      spot_ids_tzyx: np.ndarray | None = None) -> Path:
    """Montage (one row) of a few frames with the ROIs (or radius circles) coloured by track.

    Parameters
    ----------
    image_tczyx : ndarray, shape (T, C, Z, Y, X)
        The input image; 3D frames are shown as maximum projections.
    channel : int
        0-based channel shown.
    frames : list of int, optional
        Frame indices; by default up to four spread over the movie.
    spot_ids_tzyx : ndarray, shape (T, Z, Y, X), optional
        Spot ID + 1 per voxel (:func:`~trackmate_cellpose.export.spot_id_images`): 3D objects are then outlined by
        their XY projection instead of a circle of their radius.
    """
    from PIL import Image

    frames = frames if frames is not None else pick_frames(image_tczyx.shape[0])
    scale = _scale_for(image_tczyx.shape[-2:])
    tiles = [_render_frame(image_tczyx, t, tracking, calibration, channel, scale, spot_ids_tzyx) for t in frames]
    w, h = tiles[0].size
    gap = 4
    sheet = Image.new("RGB", (len(tiles) * w + (len(tiles) - 1) * gap, h), (40, 40, 40))
    for k, tile in enumerate(tiles):
        sheet.paste(tile, (k * (w + gap), 0))
    p = Path(path)
    sheet.save(p)
    return p


def write_overlay_gif(path: str | Path, image_tczyx: np.ndarray, tracking: TrackingResult,
                      calibration: Calibration, *, channel: int = 0, ms_per_frame: int = 250,
                      max_frames: int = 200) -> Path:
    """Animated GIF of the frames with their ROIs coloured by track (at most ``max_frames``, evenly spread)."""
    scale = _scale_for(image_tczyx.shape[-2:])
    n = image_tczyx.shape[0]
    frames = range(n) if n <= max_frames else np.unique(np.linspace(0, n - 1, max_frames).round().astype(int))
    tiles = [_render_frame(image_tczyx, int(t), tracking, calibration, channel, scale) for t in frames]
    p = Path(path)
    tiles[0].save(p, save_all=True, append_images=tiles[1:], duration=ms_per_frame, loop=0)
    return p


def write_mesh_png(path: str | Path, tracking: TrackingResult, calibration: Calibration, *,
                   frames: list[int] | None = None, image_shape_zyx: tuple[int, int, int] | None = None) -> Path:
    """Render the 3D meshes of a few frames (one panel per frame), coloured by track."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    all_frames = sorted({d.frame for d in tracking.spots})
    frames = frames if frames is not None else [all_frames[k] for k in pick_frames(len(all_frames), 3)]
    fig = plt.figure(figsize=(4.2 * max(1, len(frames)), 4.2), dpi=100)
    for k, t in enumerate(frames or [0]):
        ax = fig.add_subplot(1, max(1, len(frames)), k + 1, projection="3d")
        for i, d in enumerate(tracking.spots):
            if d.frame != t or d.mesh is None or not len(d.mesh.faces):
                continue
            tid = int(tracking.track_of[i]) if len(tracking.track_of) else -1
            col = np.array(track_color(tid)) / 255.0 if tid >= 0 else (0.7, 0.7, 0.7)
            tri = np.asarray(d.mesh.vertices)[np.asarray(d.mesh.faces)]
            ax.add_collection3d(Poly3DCollection(tri, facecolors=np.tile([*col, 1.0], (len(tri), 1)), shade=True,
                                                 linewidths=0))
        if image_shape_zyx is not None:
            z, y, x = image_shape_zyx
            ax.set_xlim(0, x * calibration.x)
            ax.set_ylim(y * calibration.y, 0)  # image convention: y down
            ax.set_zlim(0, z * calibration.z)
            ax.set_box_aspect((x * calibration.x, y * calibration.y, z * calibration.z))
        ax.set_title(f"t={t}")
        ax.set_xlabel(f"x ({calibration.space_unit})")
        ax.set_ylabel("y")
        ax.set_zlabel("z")
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p)
    plt.close(fig)
    return p
