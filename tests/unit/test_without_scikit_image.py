"""A Python with cellpose alone has numpy and scipy but not scikit-image (the worker of an update-site install runs
our code there): the 2D path works without it, and 3D says what is missing, with the command, before any inference."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import ndimage

from trackmate_cellpose import Calibration, DetectorSettings, detect
from trackmate_cellpose.errors import MissingPackageError
from trackmate_cellpose.geometry import labels_to_detections
from trackmate_cellpose.geometry._polygons import label_components
from trackmate_cellpose.segment._label_cleanup import clean_labels


@pytest.fixture
def no_skimage(monkeypatch):
    """Every ``import skimage...`` fails, as in a Python without scikit-image."""
    for name in [m for m in sys.modules if m == "skimage" or m.startswith("skimage.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "skimage", None)


def _labels_2d() -> np.ndarray:
    yy, xx = np.mgrid[:64, :64]
    lab = np.zeros((64, 64), np.int32)
    for k, (cy, cx, r) in enumerate([(15, 15, 7), (15, 29, 7), (45, 40, 10), (50, 10, 4)], start=1):
        lab[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = k
    lab[40:44, 0:3] = 4  # a second piece of label 4
    return lab


def test_components_number_like_skimage_label():
    skimage_measure = pytest.importorskip("skimage.measure")
    rng = np.random.default_rng(3)
    for t in range(100):
        shape = (int(rng.integers(5, 30)), int(rng.integers(5, 30))) if t % 2 else (int(rng.integers(3, 10)),) * 3
        a = ndimage.median_filter(rng.integers(0, 6, size=shape), 2).astype(np.int64) * (1000003 if t % 5 == 0 else 1)
        assert (label_components(a) == skimage_measure.label(a, background=0, connectivity=a.ndim)).all()


def test_2d_spots_and_label_cleanup_need_no_scikit_image(no_skimage):
    with pytest.raises(ImportError):
        import skimage  # noqa: F401
    lab = _labels_2d()
    cleaned = clean_labels(lab, min_size=0, split=True)
    assert sorted(np.unique(cleaned))[-1] == 5  # label 4's two pieces are two objects, numbered 1..5
    dets = labels_to_detections(lab, frame=0, calibration=Calibration(x=0.5, y=0.5, z=1.0, t=1.0,
                                                                         space_unit="um", time_unit="s"))
    assert len(dets) == 5 and all(d.roi_xy is not None and len(d.roi_xy) >= 3 for d in dets)


def test_3d_without_scikit_image_names_it_and_the_command_before_inference(no_skimage, monkeypatch):
    from trackmate_cellpose.segment import _adapter

    def no_inference(*a, **k):
        raise AssertionError("cellpose was set up although the result could not be meshed")

    monkeypatch.setattr(_adapter.CellposeAdapter, "get", no_inference)
    with pytest.raises(MissingPackageError) as e:
        detect(np.zeros((1, 1, 8, 16, 16), np.float32), DetectorSettings(model="cyto3"), axes="tczyx")
    assert e.value.package == "scikit-image"
    assert f"run: {e.value.command}" in str(e.value) and e.value.command.endswith("-m pip install scikit-image")


def test_training_without_scikit_image_or_matplotlib_names_both_and_writes_nothing(no_skimage, monkeypatch, tmp_path):
    from trackmate_cellpose.training import train_from_trackmate

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingPackageError) as e:  # before the XML is even read: no such file here
        train_from_trackmate(np.zeros((1, 16, 16), np.uint8), tmp_path / "absent.xml", tmp_path / "m.pth", axes="tyx")
    assert e.value.package == "scikit-image matplotlib" and "retraining" in str(e.value)
    assert e.value.command.endswith("-m pip install scikit-image matplotlib")
    with pytest.raises(MissingPackageError) as e:  # no report: matplotlib is not needed
        train_from_trackmate(np.zeros((1, 16, 16), np.uint8), tmp_path / "absent.xml", tmp_path / "m.pth", axes="tyx",
                             report=False)
    assert e.value.package == "scikit-image"
    assert list(tmp_path.iterdir()) == []
