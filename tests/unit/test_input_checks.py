"""The input checks live in one preparation step (issue 12 item 4): the same message, naming the parameter, the
value and what was expected, through every entry point — ``detect()``, the pipeline and the CLI, the Fiji bridge's
``run_request`` (with a request object shaped like the Java ``DetectionRequest``), and the distributed driver.

No cellpose inference: the checks fail or report before the network; where a run must go on, the cellpose adapter is
replaced by a stand-in that is never asked to segment (the images are blank).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import Calibration, DetectorSettings, InvalidImageError, RuntimeOptions, detect, pipeline
from trackmate_cellpose import _input
from trackmate_cellpose.calibration import AnisotropyWarning
from trackmate_cellpose.bridge._service import run_request
from trackmate_cellpose._call import DetectCall
from trackmate_cellpose.cli import main
from trackmate_cellpose.distributed import _entry as dist_entry

NAN_MSG = r"frame {} contains 1 NaN or infinite pixel value\(s\); cellpose needs finite values"
ANISO_MSG = "the image has no spatial calibration (no length unit): anisotropy cannot be corrected"


class _NoNetwork:
    """Stands in for the cellpose adapter on blank images (the engine never calls ``eval`` on them)."""

    diam_mean = 30.0

    def eval(self, *a, **k):  # pragma: no cover - a call means the test image was not blank
        raise AssertionError("the network must not run on a blank image")


@pytest.fixture
def no_network(monkeypatch):
    monkeypatch.setattr("trackmate_cellpose.segment._adapter.CellposeAdapter.get",
                        classmethod(lambda cls, *a, **k: _NoNetwork()))


def _movie_with_nan(t_bad: int = 2) -> np.ndarray:
    img = np.zeros((4, 8, 8), np.float32)
    img[t_bad, 3, 3] = np.nan
    return img


class FakeRequest:
    """The methods of ``trackmatecellpose.glue.DetectionRequest`` that ``run_request`` calls, on numpy frames."""

    def __init__(self, frames_czyx: np.ndarray, first: int, unit: str = "um"):
        self.frames_ = frames_czyx
        self.first = first
        self.unit = unit

    def settings(self):
        return _JMap(DetectorSettings(model="CUSTOM", model_path="/x.pth").to_trackmate_map())

    def nFrames(self):  # noqa: N802 - Java names
        return len(self.frames_)

    def firstFrame(self):  # noqa: N802
        return self.first

    def originXYZ(self):  # noqa: N802
        return [0, 0, 0]

    def frameShapeCZYX(self):  # noqa: N802
        return list(self.frames_.shape[1:])

    def dtype(self):
        return str(self.frames_.dtype)

    def frame(self, i):
        return self.frames_[i].ravel().view(np.uint8)

    def calibrationXYZT(self):  # noqa: N802
        return [1.0, 1.0, 1.0, 1.0]

    def spaceUnit(self):  # noqa: N802
        return self.unit

    def timeUnit(self):  # noqa: N802
        return "s"


class _JMap(dict):
    def keySet(self):  # noqa: N802
        return list(self)


class FakeSink:
    def __init__(self):
        self.logs: list[str] = []
        self.frames: list[int] = []

    def log(self, m):
        self.logs.append(m)

    def progress(self, f, m):
        pass

    def isCanceled(self):  # noqa: N802
        return False

    def frameDone(self, f):  # noqa: N802
        self.frames.append(f)


# ---- non-finite pixels --------------------------------------------------------------------------------------------
def test_detect_names_the_frame_with_nan_and_checks_only_the_frames_asked_for(no_network):
    with pytest.raises(InvalidImageError, match=NAN_MSG.format(2)):
        detect(_movie_with_nan(2), axes="tyx")
    with pytest.raises(InvalidImageError, match=NAN_MSG.format(12)):  # as the caller numbers frames
        detect(_movie_with_nan(2), axes="tyx", frame_offset=10)
    res = detect(_movie_with_nan(2), axes="tyx", frames=[0, 1, 3])  # frame 2 is not processed: no error
    assert [f.frame for f in res.frames] == [0, 1, 3]


def test_distributed_driver_refuses_nan_before_any_cluster(monkeypatch):
    def no_cluster(*a, **k):  # pragma: no cover - reaching it means the check came too late
        raise AssertionError("a cluster was asked for")

    monkeypatch.setattr(dist_entry, "_client", no_cluster)
    with pytest.raises(InvalidImageError, match=NAN_MSG.format(2)):
        detect(_movie_with_nan(2), axes="tyx", runtime=RuntimeOptions(workers=2))


def test_reader_pipeline_and_cli_name_the_file_and_frame(tmp_path, capsys):
    path = tmp_path / "nan.tif"
    tifffile.imwrite(path, _movie_with_nan(1), imagej=True, metadata={"axes": "TYX"})
    with pytest.raises(InvalidImageError, match="nan.tif: " + NAN_MSG.format(1)):
        pipeline.run_pipeline(path, tmp_path / "out", progress=False)
    assert main(["run", str(path), "-o", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert "nan.tif: frame 1 contains 1 NaN or infinite pixel value(s)" in err


def test_bridge_request_names_the_trackmate_frame():
    frames = _movie_with_nan(1)[:, None, None]  # (T, C, Z, Y, X)
    with pytest.raises(InvalidImageError, match=NAN_MSG.format(6)):  # TrackMate's frame: firstFrame 5 + 1
        run_request(FakeRequest(frames, first=5), FakeSink(), detect, RuntimeOptions())


def test_one_check_definition_is_used_everywhere():
    # the engine, the driver and the reader all reach check_finite through prepare_input or directly; no copy
    import inspect

    from trackmate_cellpose import _engine, reader
    from trackmate_cellpose.distributed import _driver

    for mod in (_engine, _driver, reader, dist_entry):
        src = inspect.getsource(mod)
        assert "np.isfinite" not in src, mod.__name__  # pixel checks; calibration numbers use math.isfinite
        assert "check_anisotropy" not in src and "catch_warnings(record" not in src, mod.__name__


# ---- anisotropy -----------------------------------------------------------------------------------------------
def test_detect_reports_the_anisotropy_once_as_notice_and_warning(no_network):
    logged: list[str] = []
    with pytest.warns(AnisotropyWarning, match="no spatial calibration") as rec:
        res = detect(np.zeros((3, 8, 8), np.uint16), axes="zyx", log=logged.append)
    assert [w.filename for w in rec if w.category is AnisotropyWarning] == [__file__]  # points at the caller
    assert sum(ANISO_MSG in m for m in logged) == 1
    assert sum(ANISO_MSG in m for m in res.notes) == 1
    assert any(m.startswith("3D mode:") for m in logged)


def test_calibrated_stack_has_no_anisotropy_notice(no_network):
    cal = Calibration(x=0.5, y=0.5, z=1.0, space_unit="um")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnisotropyWarning)
        res = detect(np.zeros((3, 8, 8), np.uint16), axes="zyx", calibration=cal)
    assert not any("anisotropy cannot be corrected" in n for n in res.notes)


def test_bridge_logs_the_anisotropy_notice_to_trackmate(no_network):
    sink = FakeSink()
    with pytest.warns(AnisotropyWarning):
        run_request(FakeRequest(np.zeros((2, 1, 3, 8, 8), np.uint16), first=0, unit="pixel"), sink, detect,
                    RuntimeOptions(frames_per_batch=1))  # 3D: one detect call per frame anyway
    assert sum(ANISO_MSG in m for m in sink.logs) == 1  # once per request, not once per batch or report path
    assert sink.frames == [0, 1]


def test_distributed_driver_warns_the_anisotropy_before_any_cluster(monkeypatch):
    class Stop(Exception):
        pass

    def no_cluster(*a, **k):
        raise Stop

    monkeypatch.setattr(dist_entry, "_client", no_cluster)
    with pytest.warns(AnisotropyWarning, match="no spatial calibration"), pytest.raises(Stop):
        detect(np.zeros((2, 3, 8, 8), np.uint16), axes="tzyx", runtime=RuntimeOptions(workers=2))


def test_prepare_input_returns_the_notices_and_reports_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepared = _input.prepare_input(DetectCall(np.zeros((3, 8, 8), np.uint16), axes="zyx"))
    assert [n.category for n in prepared.notices] == [AnisotropyWarning, None]
    assert prepared.notices[0].message.startswith("the image has no spatial calibration")
