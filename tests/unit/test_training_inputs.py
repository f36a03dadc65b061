"""``train_from_trackmate`` refuses bad input before any work, with a message naming what is wrong, and writes
nothing: an XML made on another image size, no curated frame, empty frames, spots without shapes (2D and 3D), a base
model of the other cellpose major, bad options, an existing output. No training runs here (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from support.envs import CELLPOSE_MAJOR, TINY_CPSAM
from support.curated import curated_xml, write_image
from trackmate_cellpose.data import synthetic_movie_2d, synthetic_movie_3d
from trackmate_cellpose import test_model_path as bundled_model
from trackmate_cellpose.calibration import Calibration
from trackmate_cellpose.errors import InvalidSettingsError, OutputExistsError
from trackmate_cellpose.training import InvalidTrainingDataError, TrainingOptions, train_from_trackmate

CAL = Calibration(x=0.5, y=0.5, z=1.0, t=1.0, space_unit="um", time_unit="s")


@pytest.fixture()
def movie(tmp_path):
    img, lab = synthetic_movie_2d(n_frames=3, shape_yx=(48, 48), n_objects=4, seed=8)
    ip = write_image(tmp_path / "movie.tif", img[:, None], CAL)
    return tmp_path, ip, lab


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def _refused(folder, exc, match, *args, **kw):
    before = _files(folder)
    kw.setdefault("model_path", str(TINY_CPSAM if CELLPOSE_MAJOR == 4 else bundled_model()))
    with pytest.raises(exc, match=match):
        train_from_trackmate(*args, **kw)
    assert _files(folder) == before  # nothing written


def test_xml_of_another_image_size(movie):
    folder, ip, lab = movie
    other = write_image(folder / "other.tif", np.zeros((3, 1, 40, 48), np.uint16), CAL)
    xp = curated_xml(folder / "c.xml", ip, lab[:, None], CAL)
    _refused(folder, InvalidTrainingDataError, r"other\.tif is 48 x 40 pixels.*made on an image of 48 x 48",
             other, xp, folder / "new.pth")


def test_no_curated_frame(movie):
    folder, ip, lab = movie
    xp = curated_xml(folder / "c.xml", ip, lab[:, None], CAL, hide={t: list(range(1, 20)) for t in range(3)})
    _refused(folder, InvalidTrainingDataError, "no curated frame", ip, xp, folder / "new.pth")


def test_empty_frames(movie):
    folder, ip, lab = movie
    xp = curated_xml(folder / "c.xml", ip, lab[:, None], CAL, frames=[0, 2])
    _refused(folder, InvalidTrainingDataError, r"--frames \[1\]: no visible spot.*empty frames", ip, xp,
             folder / "new.pth", frames=[0, 1])
    _refused(folder, InvalidTrainingDataError, r"--frames \[5\]: the image has frames 0-2", ip, xp,
             folder / "new.pth", frames=[5])


def test_no_rois(movie):
    folder, ip, lab = movie
    xp = curated_xml(folder / "c.xml", ip, lab[:, None], CAL, rois=False)
    _refused(folder, InvalidTrainingDataError, "none of the .* curated spots has an outline", ip, xp,
             folder / "new.pth")


def test_3d_spheres_only(tmp_path):
    img, lab = synthetic_movie_3d(n_frames=1, shape_zyx=(8, 32, 32), n_objects=2, seed=9)
    ip = write_image(tmp_path / "s.tif", img, CAL)
    xp = curated_xml(tmp_path / "s.xml", ip, lab, CAL, meshes=False)
    _refused(tmp_path, InvalidTrainingDataError, r"spheres only.*TrackMate v9.*\.meshes", ip, xp, tmp_path / "n.pth")


def test_base_model_of_the_other_cellpose_major(movie):
    folder, ip, lab = movie
    xp = curated_xml(folder / "c.xml", ip, lab[:, None], CAL)
    other = bundled_model() if CELLPOSE_MAJOR == 4 else TINY_CPSAM
    want = 3 if CELLPOSE_MAJOR == 4 else 4
    _refused(folder, InvalidSettingsError, rf"is a cellpose {want} model, but the installed cellpose is "
             rf"{CELLPOSE_MAJOR}", ip, xp, folder / "new.pth", model_path=str(other))


def test_base_model_from_the_xml_of_the_other_major(movie):
    """No --model: the XML's detector settings name the base model; one of the other major is refused."""
    folder, ip, lab = movie
    name = "cyto3" if CELLPOSE_MAJOR == 4 else "cpsam"
    xp = curated_xml(folder / "c.xml", ip, lab[:, None], CAL,
                     detector_settings={"CELLPOSE_MODEL": name, "CELLPOSE_MODEL_FILEPATH": ""})
    _refused(folder, InvalidSettingsError, rf"base model from the XML's detector settings.*{name}.*--model",
             ip, xp, folder / "new.pth", model_path=None)


def test_existing_output_and_bad_options(movie):
    folder, ip, lab = movie
    xp = curated_xml(folder / "c.xml", ip, lab[:, None], CAL)
    (folder / "new.pth").write_bytes(b"old")
    _refused(folder, OutputExistsError, "--overwrite", ip, xp, folder / "new.pth")
    assert (folder / "new.pth").read_bytes() == b"old"
    for kw, match in (({"epochs": 0}, "--epochs must be an integer >= 1"),
                      ({"crop": 100}, "--crop must be a multiple of 16"),
                      ({"learning_rate": -1.0}, "--learning-rate must be a number > 0"),
                      ({"holdout_fraction": 1.0}, "--holdout-fraction"),
                      ({"device": "tpu"}, "--device")):
        with pytest.raises(InvalidSettingsError, match=match):
            TrainingOptions(**kw)
    _refused(folder, InvalidTrainingDataError, r"--holdout-frames \[7\] are not among", ip, xp, folder / "x.pth",
             options=TrainingOptions(holdout_frames=(7,)))
    _refused(folder, InvalidTrainingDataError, "every curated frame .* is held out", ip, xp, folder / "x.pth",
             options=TrainingOptions(holdout_frames=(0, 1, 2)))
