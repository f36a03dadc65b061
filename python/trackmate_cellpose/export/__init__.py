"""Exporters of a tracked detection result, and readers of what TrackMate writes: TrackMate XML (+ v9 ``.meshes``),
label TIFFs, CSV tables, Cell Tracking Challenge format, GEFF, pictures. None of them imports cellpose, torch or Java;
GEFF needs the optional ``geff`` package (imported only when a GEFF is written or read).

Imports: PIL (lazily), geff (lazily), geff_spec (lazily), matplotlib (lazily), mpl_toolkits (lazily), numpy, scipy (lazily), skimage (lazily), tifffile (lazily), zarr (lazily); package: _outputs, calibration, errors, results, settings, tracking.
"""

from ._convert import convert, is_geff
from ._ctc import ctc_segments, write_ctc
from ._geff_read import read_geff_model
from ._geff_write import write_geff
from ._label_tiffs import iter_spot_id_images, spot_id_images, spot_index_image, write_label_tiff
from ._meshes_file import MESH_FILE_EXTENSION, mesh_to_ply_bytes, read_meshes, write_meshes
from ._pictures import write_mesh_png, write_overlay_gif, write_overlay_png
from ._tables import CSV_STYLES, write_csv_tables
from ._xml_from_model import write_trackmate_xml_model
from ._xml_read import TrackMateXml, read_trackmate_xml
from ._xml_write import ImageInfo, write_trackmate_xml

__all__ = ["write_trackmate_xml", "ImageInfo", "write_meshes", "read_meshes", "mesh_to_ply_bytes",
           "MESH_FILE_EXTENSION", "read_trackmate_xml", "TrackMateXml", "write_trackmate_xml_model",
           "write_label_tiff", "spot_id_images", "iter_spot_id_images", "spot_index_image", "write_csv_tables",
           "CSV_STYLES", "write_ctc", "ctc_segments", "write_geff", "read_geff_model", "convert", "is_geff",
           "write_overlay_png", "write_overlay_gif", "write_mesh_png"]
