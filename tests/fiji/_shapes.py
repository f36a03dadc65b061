"""Spot shapes and documented behaviour per TrackMate line (test support for the real-Fiji tests).

The three lines store a spot's shape differently (``../shared/reference/trackmate-api.md`` §2, java-glue/README.md):

* ``tm7`` (7.x) and ``tm8`` (8.x): ``Spot`` is a class; a 2D spot *holds* a ``SpotRoi`` (``spot.getRoi()``, public
  arrays ``x``/``y`` relative to the centre); there are no meshes: 3D objects are spheres (no ROI, a RADIUS).
* ``tm9`` (v9): ``Spot`` is an interface; a 2D spot *is* a ``SpotRoi`` (``nPoints()``, ``xr(i)``/``yr(i)`` relative,
  ``area()``); a 3D object is a ``SpotMesh`` (``getMesh()``, ``volume()``); a plain ``SpotBase`` is a sphere.

The accessors below (:class:`Shapes`) run inside the JVM subprocess of a scenario and take JPype spot objects; the
expectation tables are plain Python, usable on the pytest side. :func:`line_of` reads the line from the Fiji folder
without starting a JVM.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Shape TrackMate keeps for a 3D object, per line: spheres of equal volume on 7.x/8.x, meshes on v9.
SHAPE_3D = {"tm7": "sphere", "tm8": "sphere", "tm9": "mesh"}

#: Overlap tracker (TrackMate's ``OverlapTracker``), known differences from ours per line, as documented in the
#: reference §7:
#: * ``bridges_empty_frame``: 7.x and 8.x keep the frame before an empty frame as the source (edges span 2 frames);
#:   v9 restarts from the empty frame, as we do.
#: * ``fast_box_at_scaled_centre``: v9's FAST bounding box is placed at centre * (1 + SCALE_FACTOR) (its ROI ``realMin``
#:   is already absolute and the centre is added again); 7.x/8.x place it around the centre, as we do (factor 1).
TRACKER_DIFFERENCES = {
    "tm7": {"bridges_empty_frame": True, "fast_box_at_scaled_centre": False},
    "tm8": {"bridges_empty_frame": True, "fast_box_at_scaled_centre": False},
    "tm9": {"bridges_empty_frame": False, "fast_box_at_scaled_centre": True},
}


def line_of(fiji_dir: str | Path | None = None) -> str:
    """TrackMate API line (``tm7``/``tm8``/``tm9``) of a Fiji folder (default ``$FIJI_DIR``); starts no JVM."""
    from trackmate_cellpose.bridge import find_fiji

    return find_fiji(fiji_dir or os.environ["FIJI_DIR"]).line


class Shapes:
    """Read a TrackMate spot's shape the way its line stores it. Needs a running JVM with TrackMate."""

    def __init__(self, line: str):
        if line not in SHAPE_3D:
            raise ValueError(f"line must be one of {', '.join(SHAPE_3D)}, got {line!r}")
        self.line = line
        if line == "tm9":
            from jpype import JClass

            self._roi_cls = JClass("fiji.plugin.trackmate.SpotRoi").class_
            self._mesh_cls = JClass("fiji.plugin.trackmate.SpotMesh").class_

    def kind(self, spot) -> str:
        """``"roi"`` (2D polygon), ``"mesh"`` (v9 3D surface) or ``"sphere"`` (centre + RADIUS only)."""
        if self.line == "tm9":
            if self._roi_cls.isInstance(spot):
                return "roi"
            return "mesh" if self._mesh_cls.isInstance(spot) else "sphere"
        return "sphere" if spot.getRoi() is None else "roi"

    def roi_relative(self, spot) -> tuple[list[float], list[float]] | None:
        """Polygon vertices relative to the spot centre (physical units), or None for a spot without polygon."""
        if self.kind(spot) != "roi":
            return None
        if self.line == "tm9":
            n = int(spot.nPoints())
            return [float(spot.xr(i)) for i in range(n)], [float(spot.yr(i)) for i in range(n)]
        roi = spot.getRoi()
        return [float(v) for v in roi.x], [float(v) for v in roi.y]

    def roi_area(self, spot) -> float | None:
        """Polygon area (physical units²) as TrackMate computes it, or None for a spot without polygon."""
        if self.kind(spot) != "roi":
            return None
        return float(spot.area()) if self.line == "tm9" else float(spot.getRoi().area())

    def mesh_info(self, spot) -> dict | None:
        """Vertex and triangle counts and volume of a v9 ``SpotMesh``; None for any other spot."""
        if self.kind(spot) != "mesh":
            return None
        mesh = spot.getMesh()
        return {"n_vertices": int(mesh.vertices().size()), "n_triangles": int(mesh.triangles().size()),
                "volume": float(spot.volume())}

    def describe(self, spot) -> dict:
        """Plain facts of one spot (frame, centre, radius, shape) for the JSON results of a scenario."""
        kind = self.kind(spot)
        out = {"kind": kind, "frame": int(spot.getFeature("FRAME")),
               "x": float(spot.getFeature("POSITION_X")), "y": float(spot.getFeature("POSITION_Y")),
               "z": float(spot.getFeature("POSITION_Z")), "radius": float(spot.getFeature("RADIUS"))}
        if kind == "roi":
            out["n_points"] = len(self.roi_relative(spot)[0])
            out["area"] = self.roi_area(spot)
        elif kind == "mesh":
            out.update(self.mesh_info(spot))
        return out
