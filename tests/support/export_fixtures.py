"""Hand-built detection results with analytic geometry (discs, balls), for tests and examples of the exporters.

No cellpose involved: each object is given by its centre and radius (pixels) per frame; the label images are
rasterised, the polygons are regular N-gons and the meshes come from marching cubes on the ball's voxels.
Test support (moved out of the package: issue 12 item 8).
"""

from __future__ import annotations

import numpy as np

from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.results import Detection, DetectionResult, FrameResult, Mesh

__all__ = ["discs_result", "balls_result"]


def discs_result(frames: list[list[tuple[float, float, float]]], *, shape_yx=(64, 64),
                 calibration: Calibration | None = None, n_vertices: int = 24) -> DetectionResult:
    """2D+t result: ``frames[t]`` lists discs ``(cy, cx, r)`` in pixels; label i+1 is the i-th disc of the frame."""
    from skimage.draw import polygon as draw_polygon

    cal = calibration or Calibration(x=0.5, y=0.5, z=1.0, t=2.0, space_unit="um", time_unit="s")
    out = []
    a = 2 * np.pi * np.arange(n_vertices) / n_vertices
    for t, discs in enumerate(frames):
        labels = np.zeros(shape_yx, np.int32)
        dets = []
        for i, (cy, cx, r) in enumerate(discs, start=1):
            px, py = cx + r * np.cos(a), cy + r * np.sin(a)
            rr, cc = draw_polygon(py, px, shape_yx)
            labels[rr, cc] = i
            xy = np.c_[px * cal.x, py * cal.y]
            area = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1)))
            dets.append(Detection(frame=t, label=i, x=cx * cal.x, y=cy * cal.y, z=0.0,
                                  radius=float(np.sqrt(area / np.pi)), quality=float(len(rr)), roi_xy=xy,
                                  features={"AREA": float(area), "MEAN_CELLPROB": 1.5}))
        out.append(FrameResult(frame=t, labels=labels, detections=dets))
    return DetectionResult(frames=out, calibration=cal, is_3d=False, image_shape_tczyx=(len(frames), 1, 1,
                                                                                        *shape_yx))


def balls_result(frames: list[list[tuple[float, float, float, float]]], *, shape_zyx=(12, 40, 40),
                 calibration: Calibration | None = None) -> DetectionResult:
    """3D+t result: ``frames[t]`` lists balls ``(cz, cy, cx, r)`` (pixels; r in XY pixels, anisotropy-aware)."""
    from skimage.measure import marching_cubes

    cal = calibration or Calibration(x=0.5, y=0.5, z=1.0, t=2.0, space_unit="um", time_unit="s")
    zz, yy, xx = np.meshgrid(*[np.arange(s) for s in shape_zyx], indexing="ij")
    out = []
    for t, balls in enumerate(frames):
        labels = np.zeros(shape_zyx, np.int32)
        dets = []
        for i, (cz, cy, cx, r) in enumerate(balls, start=1):
            m = ((xx - cx) * cal.x) ** 2 + ((yy - cy) * cal.y) ** 2 + ((zz - cz) * cal.z) ** 2 <= (r * cal.x) ** 2
            labels[m] = i
            pad = np.pad(m, 1).astype(np.float32)
            verts, faces, _, _ = marching_cubes(pad, 0.5, spacing=cal.zyx)
            verts = verts - np.array(cal.zyx)  # undo the padding
            xyz = verts[:, ::-1].copy()
            # marching_cubes on zyx with xyz-reversed vertices gives outward (counter-clockwise) faces as is
            mesh = Mesh(vertices=xyz, faces=faces.astype(np.int64))
            vol = float(m.sum() * cal.x * cal.y * cal.z)
            dets.append(Detection(frame=t, label=i, x=cx * cal.x, y=cy * cal.y, z=cz * cal.z,
                                  radius=(3 * vol / (4 * np.pi)) ** (1 / 3), quality=float(m.sum()), mesh=mesh,
                                  features={"VOLUME": vol}))
        out.append(FrameResult(frame=t, labels=labels, detections=dets))
    return DetectionResult(frames=out, calibration=cal, is_3d=True,
                           image_shape_tczyx=(len(frames), 1, *shape_zyx))
