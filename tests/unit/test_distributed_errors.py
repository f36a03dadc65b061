"""Errors cross the dask process boundary as the package's own exceptions (issue 12 item 5): the worker raises
them with the frame (in the caller's numbering) and its traceback attached; they pickle with those attributes; and
production code carries no fault-injection hook (tests use ``tests/support/dask_faults.py``).

Runs the worker task in this process (no cluster); the cellpose adapter is a stand-in that fails on one frame.
"""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest

from trackmate_cellpose import Calibration, DetectorSettings, RuntimeOptions
from trackmate_cellpose._call import Placement
from trackmate_cellpose.distributed import _driver, _worker
from trackmate_cellpose.errors import (BackendUnavailableError, InvalidImageError, InvalidSettingsError,
                                       SegmentationError)


class _FailsOnBrightFrames:
    """Fails like a real network error on any frame whose pixels are all >= 100."""

    diam_mean = 30.0

    def run_network(self, x, *, mode, **kw):  # only the frames that are not blank reach the network
        if any((x[j] >= 100).all() for j in range(x.shape[0])):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        raise AssertionError("every frame of this test that reaches the network is bright")


@pytest.fixture
def failing_adapter(monkeypatch):
    monkeypatch.setattr("trackmate_cellpose.segment._adapter.CellposeAdapter.get",
                        classmethod(lambda cls, *a, **k: _FailsOnBrightFrames()))


def _spec(frames, *, name="", contiguous=True):
    return _worker.ChunkSpec(run_id="t", index=0, frames=tuple(frames), contiguous=contiguous,
                             settings=DetectorSettings(), calibration=Calibration(), runtime=RuntimeOptions(),
                             placement=Placement(frame_offset=100), name=name)


def test_worker_raises_segmentation_error_naming_the_frame_and_it_pickles(failing_adapter):
    block = np.zeros((3, 1, 1, 8, 8), np.uint16)
    block[1] += 200 + np.arange(64, dtype=np.uint16).reshape(8, 8)  # the block holds frames 4, 5, 6: frame 5 fails
    with pytest.raises(SegmentationError) as err:
        _worker.detect_chunk(block, _spec([4, 5, 6], name="plate.tif"))
    e = pickle.loads(pickle.dumps(err.value))  # what the driver receives
    assert type(e) is SegmentationError
    assert e.frame == 5  # pinpointed inside the chunk, in the caller's numbering (the driver's frame list)
    assert str(e) == "frame 5: plate.tif: RuntimeError: CUDA error: an illegal memory access was encountered"
    assert e.remote_traceback.startswith("On the dask worker (pid ")
    assert "RuntimeError: CUDA error" in e.remote_traceback and "run_network" in e.remote_traceback
    assert e.settings == DetectorSettings()


@pytest.mark.parametrize("error", [
    InvalidSettingsError("TARGET_CHANNEL must be between 1 and 1 for this image, got 2", key="TARGET_CHANNEL",
                         value=2),
    InvalidImageError("axes 'tyx' name 3 axes but the image has 4 dimensions"),
    BackendUnavailableError("cellpose is not installed"),
])
def test_package_errors_keep_their_class_and_attributes(monkeypatch, error):
    def raise_it(*a, **k):
        raise error

    monkeypatch.setattr(_worker, "_warm_adapter", raise_it)
    with pytest.raises(type(error)) as err:
        _worker.detect_chunk(np.zeros((1, 1, 1, 8, 8), np.uint16), _spec([0], name="b.tif"))
    e = pickle.loads(pickle.dumps(err.value))
    assert type(e) is type(error) and str(e) == f"b.tif: {error}"
    assert getattr(e, "key", None) == getattr(error, "key", None)
    assert getattr(e, "value", None) == getattr(error, "value", None)
    assert "On the dask worker" in e.remote_traceback


def test_no_string_kinds_and_no_test_hooks_in_production_code():
    for mod in (_worker, _driver):
        src = inspect.getsource(mod)
        assert "ChunkFailure" not in src and ".kind" not in src, mod.__name__
        assert "_FAULTS" not in src and "os.kill" not in src and "SIGKILL" not in src, mod.__name__
    # the driver waits on dask (distributed.wait), not on an event set by done-callbacks
    driver = inspect.getsource(_driver)
    assert "add_done_callback" not in driver and "threading.Event" not in driver


def test_cli_debug_prints_the_workers_traceback(tmp_path, monkeypatch, capsys):
    import tifffile

    from trackmate_cellpose import pipeline
    from trackmate_cellpose.cli import main

    err = SegmentationError("RuntimeError: boom", frame=3)
    err.remote_traceback = "On the dask worker (pid 42):\nTraceback (most recent call last):\nRuntimeError: boom"

    def fail(*a, **k):
        raise err

    monkeypatch.setattr(pipeline, "_detect", fail)
    img = tmp_path / "in.tif"
    tifffile.imwrite(img, np.zeros((2, 16, 16), np.uint16), imagej=True, metadata={"axes": "TYX"})
    assert main(["run", str(img), "-o", str(tmp_path / "a")]) == 1
    plain = capsys.readouterr().err
    assert plain.strip().splitlines()[-1] == "trackmate-cellpose: error: frame 3: RuntimeError: boom"
    assert "dask worker" not in plain
    assert main(["--debug", "run", str(img), "-o", str(tmp_path / "b")]) == 1
    assert "On the dask worker (pid 42):" in capsys.readouterr().err
