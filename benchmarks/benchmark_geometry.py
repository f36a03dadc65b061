"""asv: label images to TrackMate shapes (``trackmate_cellpose.geometry``), on small synthetic label images.

Per-commit cases of the ``geometry`` suite (``python -m benchmarks geometry`` compares with scikit-image and
TrackMate at full size).
"""

from trackmate_cellpose.geometry import labels_to_detections, labels_to_meshes, labels_to_polygons

from . import _cases
from .geometry import CAL_ZYX, grid_labels_2d, grid_labels_3d


class Polygons:
    """144 ellipses in a 512 x 512 label image -> polygons, as ``detect`` builds them."""

    def setup(self):
        self.labels = grid_labels_2d((512, 512))
        self.cal = _cases.calibration()

    def time_polygons_simplified(self):
        labels_to_polygons(self.labels, simplify=True)

    def time_polygons_raw(self):
        labels_to_polygons(self.labels, simplify=False)

    def time_spots_2d(self):
        labels_to_detections(self.labels, frame=0, calibration=self.cal)

    def peakmem_spots_2d(self):
        labels_to_detections(self.labels, frame=0, calibration=self.cal)


class Meshes:
    """About 30 ellipsoids (anisotropy 2) in a 32 x 160 x 160 volume -> meshes."""

    def setup(self):
        self.labels = grid_labels_3d((32, 160, 160))

    def time_meshes_raw(self):
        labels_to_meshes(self.labels, calibration_zyx=CAL_ZYX)

    def time_meshes_smoothed_decimated(self):
        labels_to_meshes(self.labels, calibration_zyx=CAL_ZYX, smoothing_scale=1.0, simplify=True)

    def peakmem_meshes_smoothed_decimated(self):
        labels_to_meshes(self.labels, calibration_zyx=CAL_ZYX, smoothing_scale=1.0, simplify=True)
