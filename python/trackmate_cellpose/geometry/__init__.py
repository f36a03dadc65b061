"""Label image -> TrackMate shapes: 2D outline polygons, 3D triangle meshes.

Pixel coordinates follow TrackMate: pixel centres at integers, polygon vertices as x, y, mesh vertices as x, y, z.
Meshes are closed and outward-oriented (:func:`orient_outward` is the one place that orients them).

Never imports cellpose, torch or Java (``fast_simplification`` is for mesh decimation). Imports: fast_simplification (lazily), numpy, scipy, skimage (lazily); package: calibration, errors, results.
"""

from ._detections import labels_to_detections
from ._meshes import (MeshRecord, is_closed_oriented, labels_to_meshes, marching_cubes_function,
                      mesh_volume_centroid_area, orient_outward)
from ._polygons import PolygonRecord, labels_to_polygons, polygon_area_centroid

__all__ = [
    "PolygonRecord",
    "labels_to_polygons",
    "polygon_area_centroid",
    "MeshRecord",
    "labels_to_meshes",
    "marching_cubes_function",
    "mesh_volume_centroid_area",
    "is_closed_oriented",
    "orient_outward",
    "labels_to_detections",
]
