"""Tracking without Fiji: TrackMate's overlap (IoU) tracker on 2D polygons, or on 3D voxels; track features.

Never imports cellpose or Java. Imports: numpy, scipy (lazily), shapely (lazily); package: calibration, errors, results.
"""

from ._features import edge_features, spot_features, track_features
from ._overlap import (OVERLAP_TRACKER_KEY, Link, OverlapTrackerSettings, TrackingResult, track_overlap,
                       tracker_settings_table)

__all__ = ["OverlapTrackerSettings", "Link", "TrackingResult", "track_overlap", "OVERLAP_TRACKER_KEY",
           "spot_features", "edge_features", "track_features", "tracker_settings_table"]
