"""What "identical to the in-process run" means for the distributed and SLURM tests: frames, label arrays, spot
records (positions, ROI arrays, meshes, features) and notes exactly equal, MEAN_CELLPROB to float32 rounding, and the
TrackMate XML equal byte for byte but for MEAN_CELLPROB."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tifffile

__all__ = ["assert_identical", "same_features", "xml_bytes", "xml_without_cellprob", "movie_files"]


def same_features(fa: dict, fb: dict) -> bool:
    """Everything derived from the labels is exactly equal. The network's output (hence MEAN_CELLPROB) can differ in
    the last float32 bits between a 2-thread in-process run and 1-thread workers: ONNX Runtime's and oneDNN's
    convolutions (cellpose 3, ``inference="auto"``, the default, and ``"fast"``) and the ViT's matrix products
    (cellpose 4) sum in another order with another thread count."""
    return fa.keys() == fb.keys() and all(
        fa[k] == fb[k] or (k == "MEAN_CELLPROB" and fa[k] == pytest.approx(fb[k], rel=1e-6)) for k in fa)


def assert_identical(a, b) -> None:
    """Exact equality of frames, label arrays, spot records (positions, ROI arrays, features) and notes."""
    assert [f.frame for f in a.frames] == [f.frame for f in b.frames]
    assert a.is_3d == b.is_3d and a.image_shape_tczyx == b.image_shape_tczyx and a.notes == b.notes
    assert a.calibration == b.calibration
    for fa, fb in zip(a.frames, b.frames):
        assert fa.labels.dtype == fb.labels.dtype and np.array_equal(fa.labels, fb.labels)
        assert len(fa.detections) == len(fb.detections)
        for da, db in zip(fa.detections, fb.detections):
            assert (da.frame, da.label, da.x, da.y, da.z, da.radius, da.quality) == \
                   (db.frame, db.label, db.x, db.y, db.z, db.radius, db.quality)
            assert same_features(da.features, db.features), (da.features, db.features)
            if da.roi_xy is None:
                assert db.roi_xy is None
            else:
                assert da.roi_xy.dtype == db.roi_xy.dtype and np.array_equal(da.roi_xy, db.roi_xy)
            if da.mesh is not None:
                assert np.array_equal(da.mesh.vertices, db.mesh.vertices)
                assert np.array_equal(da.mesh.faces, db.mesh.faces)


def xml_bytes(result, settings, path) -> bytes:
    """The TrackMate XML of ``result`` (tracked with the overlap tracker), as written to ``path``."""
    from trackmate_cellpose.export import ImageInfo, write_trackmate_xml
    from trackmate_cellpose.tracking import track_overlap

    t, _, z, y, x = result.image_shape_tczyx
    write_trackmate_xml(path, track_overlap(result), result.calibration,
                        image=ImageInfo(filename="movie.tif", folder="/data", width=x, height=y, nslices=z, nframes=t),
                        detector_settings=settings.to_trackmate_map())
    return path.read_bytes()


def xml_without_cellprob(result, settings, path) -> bytes:
    """:func:`xml_bytes` without the MEAN_CELLPROB attributes (compared to float32 rounding by assert_identical)."""
    return re.sub(rb'MEAN_CELLPROB="[^"]*"', b"", xml_bytes(result, settings, path))


def movie_files(movie: np.ndarray, spans, folder) -> list:
    """The batch of files of the ``detect_many`` identity tests: ``movie[a:b]`` for each ``(a, b)`` of ``spans``
    as an ImageJ TIFF ``folder/movie<i>.tif`` (0.5 um pixels, 5 s frame interval)."""
    paths = []
    for i, (a, b) in enumerate(spans):
        p = folder / f"movie{i}.tif"
        tifffile.imwrite(p, movie[a:b], imagej=True, resolution=(2.0, 2.0),
                         metadata={"axes": "TYX", "unit": "um", "finterval": 5.0})
        paths.append(p)
    return paths
