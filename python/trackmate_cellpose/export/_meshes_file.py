"""TrackMate v9 ``.meshes`` file: a ZIP next to the XML holding one binary PLY per 3D spot plus a ``frame,ID`` index.

Layout (documented in TrackMate v9's TmXmlWriter/TmXmlReader and imglib2-mesh's PLYMeshIO): ``<xml path>.meshes`` is a
DEFLATE zip with entries ``<spotID>.ply`` (binary little-endian PLY; vertex = float x, y, z, nx, ny, nz, u, v;
face = ``list uchar int vertex_index``), vertices in **absolute physical coordinates**, and ``mesh-info.txt`` (CSV,
header ``frame,ID``). The PLY bytes are produced here with numpy.

Imports: numpy; package: errors, results, tracking.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import UnreadableInputError
from ..results import Mesh
from ..tracking import TrackingResult

#: Appended to the XML file name (``tracks.xml`` -> ``tracks.xml.meshes``), as TrackMate v9 does.
MESH_FILE_EXTENSION = ".meshes"

_VERTEX = np.dtype([(c, "<f4") for c in ("x", "y", "z", "nx", "ny", "nz", "u", "v")])
_FACE = np.dtype([("n", "u1"), ("i", "<i4", (3,))])


def mesh_to_ply_bytes(mesh: Mesh) -> bytes:
    """Binary little-endian PLY of a triangle mesh, in the vertex/face layout TrackMate v9 reads.

    Parameters
    ----------
    mesh : Mesh
        ``vertices`` (N, 3) xyz, ``faces`` (M, 3) vertex indices.
    """
    v = np.asarray(mesh.vertices, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment written by trackmate-cellpose\n"
        f"element vertex {len(v)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property float nx\nproperty float ny\nproperty float nz\n"
        "property float u\nproperty float v\n"
        f"element face {len(f)}\nproperty list uchar int vertex_index\nend_header\n"
    ).encode("ascii")
    verts = np.zeros(len(v), _VERTEX)
    verts["x"], verts["y"], verts["z"] = v[:, 0], v[:, 1], v[:, 2]
    n = _vertex_normals(v, f)
    verts["nx"], verts["ny"], verts["nz"] = n[:, 0], n[:, 1], n[:, 2]
    faces = np.zeros(len(f), _FACE)
    faces["n"] = 3
    faces["i"] = f
    return header + verts.tobytes() + faces.tobytes()


_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "<i2", "int16": "<i2",
              "ushort": "<u2", "uint16": "<u2", "int": "<i4", "int32": "<i4", "uint": "<u4", "uint32": "<u4",
              "float": "<f4", "float32": "<f4", "double": "<f8", "float64": "<f8"}


def mesh_from_ply_bytes(data: bytes) -> Mesh:
    """Triangle mesh from a binary little-endian PLY (the layout :func:`mesh_to_ply_bytes` and TrackMate v9 write).

    Vertex properties other than x, y, z are skipped; faces must be ``list <count type> <index type>`` triangles.

    Raises
    ------
    UnreadableInputError
        Not a binary little-endian PLY, faces that are not triangles, or fewer bytes than the header declares.
    """
    try:
        return _mesh_from_ply(data)
    except UnreadableInputError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as e:  # numpy/struct on a damaged file
        raise _unreadable_ply(f"{type(e).__name__}: {e}") from e


def _unreadable_ply(reason: str) -> UnreadableInputError:
    return UnreadableInputError(f"cannot be read as a PLY mesh: {reason}", reason=reason)


def _mesh_from_ply(data: bytes) -> Mesh:
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise _unreadable_ply("not a PLY file (no 'ply' magic or no end_header)")
    header = data[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in header:
        raise _unreadable_ply("only binary_little_endian PLY meshes are supported")
    elements: list[tuple[str, int, list[tuple]]] = []
    for line in header:
        tok = line.split()
        if tok[:1] == ["element"]:
            elements.append((tok[1], int(tok[2]), []))
        elif tok[:1] == ["property"]:
            elements[-1][2].append(tuple(tok[1:]))
    pos = end + len(b"end_header\n")
    vertices = np.zeros((0, 3))
    faces = np.zeros((0, 3), np.int64)
    for name, count, props in elements:
        if props and props[0][0] == "list":
            _, ctype, itype, _ = props[0]
            rec = np.dtype([("n", _PLY_TYPES[ctype]), ("i", _PLY_TYPES[itype], (3,))])
            arr = np.frombuffer(data, rec, count, pos)
            if count and not np.all(arr["n"] == 3):
                raise _unreadable_ply(f"{name} element: only triangles are supported")
            pos += rec.itemsize * count
            if name == "face":
                faces = arr["i"].astype(np.int64)
        else:
            rec = np.dtype([(p[1], _PLY_TYPES[p[0]]) for p in props])
            arr = np.frombuffer(data, rec, count, pos)
            pos += rec.itemsize * count
            if name == "vertex":
                vertices = np.c_[arr["x"], arr["y"], arr["z"]].astype(np.float64)
    return Mesh(vertices=vertices, faces=faces)


def read_meshes(xml_path: str | Path) -> dict[int, Mesh]:
    """Meshes of ``<xml_path>.meshes`` by spot ID (empty when the file does not exist)."""
    p = Path(str(xml_path) + MESH_FILE_EXTENSION)
    if not p.is_file():
        return {}
    out = {}
    try:
        with zipfile.ZipFile(p) as zf:
            for name in zf.namelist():
                if name.endswith(".ply") and name[:-4].isdigit():
                    try:
                        out[int(name[:-4])] = mesh_from_ply_bytes(zf.read(name))
                    except UnreadableInputError as e:
                        raise UnreadableInputError(f"{p}: mesh {name} {e}", path=p, reason=e.reason) from e
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
        raise UnreadableInputError(f"{p} cannot be read as TrackMate meshes (a zip of PLY files): "
                                   f"{type(e).__name__}: {e}", path=p, reason=str(e)) from e
    return out


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    n = np.zeros_like(v)
    if len(f):
        fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # area-weighted face normals
        for k in range(3):
            np.add.at(n, f[:, k], fn)
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)


def write_meshes(xml_path: str | Path, tracking: TrackingResult) -> Path | None:
    """Write ``<xml_path>.meshes`` for every spot that has a mesh; return its path, or None when there is none.

    Spot IDs are the indices of ``tracking.spots``, the same as in the XML.
    """
    with_mesh = [(i, d) for i, d in enumerate(tracking.spots) if d.mesh is not None and len(d.mesh.faces)]
    if not with_mesh:
        return None
    return write_mesh_zip(Path(str(xml_path) + MESH_FILE_EXTENSION), {i: d.mesh for i, d in with_mesh},
                          {i: int(d.frame) for i, d in with_mesh})


def write_mesh_zip(out: str | Path, meshes: Mapping[int, Mesh], frames: Mapping[int, int]) -> Path:
    """TrackMate v9's ``.meshes`` zip: one binary PLY per spot ID in ``meshes``, and ``mesh-info.txt`` listing
    ``frame,ID`` for the IDs whose frame ``frames`` gives (in that order)."""
    out = Path(out)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as zf:
        for sid, mesh in meshes.items():
            zf.writestr(f"{sid}.ply", mesh_to_ply_bytes(mesh))
        zf.writestr("mesh-info.txt", "frame,ID\n" + "".join(f"{frame},{sid}\n" for sid, frame in frames.items()))
    return out
