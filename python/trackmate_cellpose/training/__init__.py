"""Retrain cellpose on the spots a user curated in TrackMate, and use the new model at once.

:func:`train_from_trackmate` turns the visible spots of a TrackMate XML (any TrackMate 7.13 / 8.x / v9, any detector
whose spots have shapes: 2D ROI polygons, v9 3D meshes) into truth label images, fine-tunes a cellpose model on them
with cellpose's own training function (3.x or 4.x), writes a model file the detector takes directly
(``CELLPOSE_MODEL=CUSTOM``), and a report beside it that compares the base and the new model on held-out frames.
:func:`write_curated_xml` writes label images made elsewhere as such an XML.
Command line: ``trackmate-cellpose train IMAGE --from CURATED.xml -o MODEL.pth``; in Fiji: TrackMate's action
"Retrain cellpose on these spots".

The modules are private; this package re-exports the public names. cellpose and torch are loaded only while training,
by ``segment`` (whose option fields :class:`TrainingOptions` extends).

Imports: matplotlib (lazily), numpy, scipy (lazily), skimage (lazily); package: axes, calibration, detect (lazily),
errors, export (lazily), geometry (lazily), reader (lazily), results (lazily), segment, settings, tracking
(lazily).
"""

from ..errors import InvalidTrainingDataError
from ._api import FrameSource, TrainingResult, base_model_of, train_from_trackmate
from ._curated import CuratedXml, parse_frames, read_curated, truth_labels
from ._examples import write_curated_xml
from ._metrics import Agreement, agreement
from ._options import TrainingOptions, action_options_table


__all__ = ["train_from_trackmate", "TrainingOptions", "TrainingResult", "FrameSource", "InvalidTrainingDataError",
           "CuratedXml", "read_curated", "truth_labels", "parse_frames", "base_model_of", "Agreement", "agreement",
           "action_options_table", "write_curated_xml"]
