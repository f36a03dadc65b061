"""Convert between TrackMate XML (+ v9 ``.meshes``) and GEFF, in either direction (``trackmate-cellpose convert``).

Any TrackMate XML works (ours, or one TrackMate wrote): spots with every feature, ROI polygons, 3D meshes, edges,
tracks with their features, feature declarations, settings and log all go into the GEFF (see ``export.geff``) and come
back. A GEFF not written by us gives back what it holds: positions, frames, radii, polygons, edges, and tracks as
connected components. Imports the standard library and sibling modules (geff and zarr load on call).

Why not ``geff.convert.from_trackmate_xml_to_geff`` for the XML side: (geff 1.3) it drops the track features, the
feature short names and dimensions, the filtered-track list and v9 meshes, declares neither ``polygon`` nor ``sphere``,
writes TrackMate's unit names (``um``) where GEFF expects OME-Zarr ones, and names ``TRACK_ID`` as the lineage
property, which fails geff's own lineage validation as soon as one spot is in no track. Its GEFFs are read back here
(``read_geff_model`` understands its ``ROI_coords`` and ``extra.other_trackmate_metadata``).
"""

from __future__ import annotations

from pathlib import Path

from .._outputs import check_output, geff_writer, write_replacing
from ..errors import InvalidSettingsError, NotAFolderError, PathNotFoundError


def is_geff(path: str | Path) -> bool:
    """True when ``path`` is a folder holding a zarr group with GEFF metadata."""
    return geff_writer(Path(path)) is not None


def _check_output(dst: Path, kind: str, overwrite: bool) -> None:
    check_output(dst, kind, overwrite=overwrite)  # before reading the input: only ours is ever replaced
    if not dst.parent.exists():
        raise PathNotFoundError(f"output folder does not exist: {dst.parent}", path=dst.parent)
    if not dst.parent.is_dir():
        raise NotAFolderError(f"output folder {dst.parent} is not a folder", path=dst.parent)


def xml_to_geff(src: str | Path, dst: str | Path, *, overwrite: bool = False) -> Path:
    """TrackMate XML (and its ``.meshes`` beside it) -> GEFF group ``dst``."""
    from ._geff_write import write_geff
    from ._xml_read import read_trackmate_xml

    src, dst = Path(src), Path(dst)
    _check_output(dst, "geff", overwrite)
    model = read_trackmate_xml(src)
    # written beside dst first and moved into place: a failure or a full disk leaves the old GEFF as it was; only a
    # GEFF this package wrote is ever replaced
    return write_replacing(dst, "geff", lambda p: write_geff(p, model, final_path=dst), overwrite=overwrite)


def geff_to_xml(src: str | Path, dst: str | Path, *, overwrite: bool = False) -> Path:
    """GEFF group -> TrackMate XML ``dst`` (+ ``dst.meshes`` when the spots have meshes)."""
    from ._geff_read import read_geff_model
    from ._meshes_file import MESH_FILE_EXTENSION
    from ._xml_from_model import write_trackmate_xml_model

    src, dst = Path(src), Path(dst)
    _check_output(dst, "trackmate-xml", overwrite)
    model = read_geff_model(src)
    return write_replacing(dst, "trackmate-xml", lambda p: write_trackmate_xml_model(p, model), overwrite=overwrite,
                           sidecars=(MESH_FILE_EXTENSION,))


def convert(src: str | Path, dst: str | Path, *, overwrite: bool = False) -> Path:
    """Convert ``src`` to ``dst``; the direction follows ``src``: a TrackMate XML file gives a GEFF, a GEFF an XML.

    Raises
    ------
    PathNotFoundError (a FileNotFoundError)
        ``src`` does not exist, or ``dst``'s folder does not.
    OutputExistsError (a FileExistsError)
        ``dst`` exists and ``overwrite`` is False.
    ForeignOutputError (an OutputExistsError)
        ``dst`` exists and is not ours to replace: a GEFF output must be a GEFF this package wrote, an XML output a
        TrackMate XML file (whatever ``overwrite`` says).
    InvalidSettingsError (a ValueError)
        ``src`` is neither a TrackMate XML nor a GEFF, or ``dst`` has the wrong extension for the direction.
    UnreadableInputError (a ValueError)
        ``src`` is malformed (not well-formed XML, a damaged GEFF or ``.meshes`` file).
    """
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if not src.exists():
        raise PathNotFoundError(f"input not found: {src}", path=src)
    if is_geff(src):
        if dst.suffix.lower() != ".xml":
            raise InvalidSettingsError(f"converting the GEFF {src} gives a TrackMate XML: OUT must end in .xml, "
                                       f"got {dst.name}", key="output", value=str(dst))
        return geff_to_xml(src, dst, overwrite=overwrite)
    if src.is_file() and src.suffix.lower() == ".xml":
        if not dst.name.lower().endswith((".geff", ".zarr")):
            raise InvalidSettingsError(f"converting the TrackMate XML {src} gives a GEFF: OUT must end in .geff "
                                       f"(or .zarr), got {dst.name}", key="output", value=str(dst))
        return xml_to_geff(src, dst, overwrite=overwrite)
    raise InvalidSettingsError(f"input must be a TrackMate XML file (.xml) or a GEFF folder, got {src}",
                               key="input", value=str(src))
