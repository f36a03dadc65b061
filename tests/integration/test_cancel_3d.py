"""Cancel during the 3D stages that ask no cancel check (issue #25 item 3), with real cellpose inference on the bundled
model: cellpose's dynamics and masks, and the meshes of the 3D objects.

On a large stack those stages run for minutes without asking anything; here the real stage function is made that long
by running it again (the same real work, as a bigger stack would need) for up to a minute. The cancel must stop it
within seconds, in the Python API (``detect(cancel=)``, as TrackMate's cancel reaches it in Fiji and in the worker) and
in the command line (a real SIGINT), leaving nothing written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tifffile

from trackmate_cellpose import Calibration, Cancelled, DetectorSettings, detect
from trackmate_cellpose.data import sample_path

pytestmark = [pytest.mark.slow, pytest.mark.heavy]
REPO = Path(__file__).resolve().parents[2]
CAL = Calibration(x=0.5, y=0.5, z=1.0, space_unit="um")
STAGE_S = 60.0  # how long the stage would go on without the cancel reaching it


@pytest.fixture(scope="module")
def volume():
    return tifffile.imread(sample_path("3dt"))[0, 3:9]  # 6 x 96 x 96: one network batch in 2D+Z


class _Started:
    """Set when the stage starts; used as the cancel check."""

    def __init__(self):
        self.at: float | None = None
        self.stopped_by: BaseException | None = None  # what ended the stage early, in whichever thread it ran

    def __call__(self) -> bool:
        return self.at is not None


def _stretched(monkeypatch, module, name: str) -> _Started:
    """Make ``module.name`` a stage of STAGE_S seconds of its own real work."""
    real = getattr(module, name)
    started = _Started()

    def stage(*args, **kwargs):
        if started.at is None:
            started.at = time.monotonic()
        end = time.monotonic() + STAGE_S
        try:
            out = real(*args, **kwargs)
            while time.monotonic() < end:
                out = real(*args, **kwargs)
        except BaseException as e:
            started.stopped_by = e
            raise
        return out

    monkeypatch.setattr(module, name, stage)
    return started


@pytest.mark.parametrize("stage", ["dynamics", "meshes"])
def test_cancel_stops_a_3d_stage_that_asks_nothing(monkeypatch, test_model, volume, stage):
    if stage == "dynamics":
        from cellpose import dynamics as module
        name = "compute_masks"
    else:
        from trackmate_cellpose.geometry import _meshes as module
        name = "_mesh_mask"
    started = _stretched(monkeypatch, module, name)
    settings = DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0, use_gpu=False, do_2dz=True)
    with pytest.raises(Cancelled):
        detect(volume, settings, axes="zyx", calibration=CAL, cancel=started)
    took = time.monotonic() - started.at
    assert took < 8, f"cancel took {took:.1f} s"  # STAGE_S without the helper thread
    # stopped inside the stage, not at the next check after it (the pipeline runs the stage in a pool thread, so the
    # caller's Cancelled may come from its own wait; the stage's own exception says where the stage ended)
    assert isinstance(started.stopped_by, Cancelled), started.stopped_by
    # nothing stays armed: the same thread detects again, uncancelled, with the model still loaded
    monkeypatch.undo()
    time.sleep(1.5)
    res = detect(volume[:1], settings.replace(do_2dz=False), axes="zyx", calibration=CAL)
    assert len(res.frames) == 1


_DRIVER = r"""
import ctypes, sys, time
from cellpose import dynamics
real = dynamics.compute_masks

def stage(*args, **kwargs):
    def inside():  # a callback from C, as numba's compiler makes them: ctypes drops an exception raised in here
        print("AT dynamics", flush=True)
        time.sleep(5)  # the signal is sent now
    ctypes.CFUNCTYPE(None)(inside)()
    end = time.monotonic() + %(stage_s)s
    out = real(*args, **kwargs)
    while time.monotonic() < end:
        out = real(*args, **kwargs)
    return out

dynamics.compute_masks = stage
from trackmate_cellpose.cli import main
rc = main(sys.argv[1:])
print("RETURNED", flush=True)  # the command has stopped; the interpreter's own teardown is not timed
sys.exit(rc)
"""


def test_ctrl_c_during_3d_dynamics_stops_the_run_with_nothing_written(tmp_path, test_model, volume):
    img = tmp_path / "vol.tif"
    tifffile.imwrite(img, volume, imagej=True, resolution=(2.0, 2.0), metadata={"axes": "ZYX", "spacing": 1.0})
    out = tmp_path / "new" / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    cmd = [sys.executable, "-c", _DRIVER % {"stage_s": STAGE_S}, "run", str(img), "-o", str(out), "--model-path",
           str(test_model), "--diameter", "10", "--cpu", "--2dz", "--formats", "all", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    line = "x"
    while line and not line.startswith("AT "):
        line = proc.stdout.readline()
    assert line.strip() == "AT dynamics", (line, proc.stderr.read() if proc.poll() is not None else "")
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # lands in the callback: Python's own handler would lose it there
    t0 = time.monotonic()
    rest = proc.stdout.readline()  # RETURNED once main() is back, or "" at exit
    took = time.monotonic() - t0
    _, err = proc.communicate(timeout=STAGE_S + 120)
    assert proc.returncode == 130, err
    assert rest.strip() == "RETURNED" and took < 20, f"Ctrl-C took {took:.1f} s"  # a repeated Ctrl-C, in the masks
    assert "cancelled" in err
    assert not (tmp_path / "new").exists(), list((tmp_path / "new").rglob("*"))
