"""asv: the TrackMate XML export and the overlap tracker, on spots of a 20-frame 256 x 256 movie (ground-truth
labels, no cellpose)."""

import tempfile
from pathlib import Path

from trackmate_cellpose import tracking
from trackmate_cellpose.export import ImageInfo, write_trackmate_xml

from . import _cases

# asv takes every module-level name starting with time_, mem_, peakmem_ or track_ for a benchmark: call the tracker
# through its module


class TrackAndExport:
    """40 moving objects over 20 frames: link them, write the TrackMate XML."""

    def setup(self):
        self.result = _cases.ground_truth_detections()
        self.tracking = tracking.track_overlap(self.result)
        self.tmp = tempfile.TemporaryDirectory(prefix="tmcp-asv-")
        self.image = ImageInfo.from_path(Path(self.tmp.name) / "movie.tif", self.result.image_shape_tczyx)

    def teardown(self):
        self.tmp.cleanup()

    def time_track_overlap(self):
        tracking.track_overlap(self.result)

    def time_write_trackmate_xml(self):
        write_trackmate_xml(Path(self.tmp.name) / "movie.xml", self.tracking, self.result.calibration,
                            image=self.image, detector_settings=self.result.settings.to_trackmate_map())

    def peakmem_write_trackmate_xml(self):
        write_trackmate_xml(Path(self.tmp.name) / "movie.xml", self.tracking, self.result.calibration,
                            image=self.image, detector_settings=self.result.settings.to_trackmate_map())
