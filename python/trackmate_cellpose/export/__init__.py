"""Exporters of a tracked detection result: TrackMate XML (+ v9 ``.meshes``), label TIFFs, CSV tables, Cell Tracking
Challenge format, pictures. None of them imports cellpose, torch or Java.
"""

from .ctc import ctc_segments, write_ctc
from .labels import iter_spot_id_images, spot_id_images, spot_index_image, write_label_tiff
from .meshes import MESH_FILE_EXTENSION, mesh_to_ply_bytes, write_meshes
from .pictures import write_mesh_png, write_overlay_gif, write_overlay_png
from .tables import write_csv_tables
from .xml import ImageInfo, write_trackmate_xml

__all__ = ["write_trackmate_xml", "ImageInfo", "write_meshes", "mesh_to_ply_bytes", "MESH_FILE_EXTENSION",
           "write_label_tiff", "spot_id_images", "iter_spot_id_images", "spot_index_image", "write_csv_tables",
           "write_ctc", "ctc_segments", "write_overlay_png", "write_overlay_gif", "write_mesh_png"]
