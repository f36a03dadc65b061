"""Shared pytest fixtures and markers.

Markers (registered in pyproject.toml, ``--strict-markers``): ``slow`` (cellpose inference), ``jvm`` (starts a JVM;
run in a subprocess), ``fiji`` (needs ``FIJI_DIR`` pointing at a real Fiji with TrackMate; skipped otherwise),
``gpu`` (needs CUDA; skipped otherwise).
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from trackmate_cellpose.data import test_model_path as bundled_test_model_path

REPO = Path(__file__).resolve().parents[1]
CP4_SUPPORT = REPO / "tests" / "support" / "cp4"
TINY_CPSAM = REPO / "tests" / "data" / "tiny_cpsam.pth"


def _cellpose_major() -> int:
    try:
        return int(version("cellpose").split(".")[0])
    except PackageNotFoundError:
        return 0


CELLPOSE_MAJOR = _cellpose_major()

#: Minimum scores the tests demand from the model they run (per installed cellpose major version): the bundled
#: cellpose-3 test model, or the tiny Cellpose-SAM under cellpose 4 (113 k parameters: good, not as good).
MODEL_QUALITY = {
    3: {"f1_2d": 0.95, "f1_3d": 0.95, "f1_frame": 0.9, "ctc_2d": (0.9, 0.75, 0.9), "ctc_3d": (0.9, 0.8, 0.9),
        "xml_hits": 0.95},
    4: {"f1_2d": 0.8, "f1_3d": 0.7, "f1_frame": 0.7, "ctc_2d": (0.75, 0.5, 0.7), "ctc_3d": (0.6, 0.45, 0.6),
        "xml_hits": 0.8},
}

#: The model the inference tests run: the bundled cellpose-3 model, or the tiny Cellpose-SAM under cellpose 4.
#: Scripts that tests run in their own processes (tests/fiji scenarios) read it from TMCP_TEST_MODEL.
TEST_MODEL = TINY_CPSAM if CELLPOSE_MAJOR == 4 else bundled_test_model_path()
os.environ["TMCP_TEST_MODEL"] = str(TEST_MODEL)

# The package's cache (exported ONNX graphs, numba's compiled cellpose dynamics, glue jars) goes to one folder per
# test run, never to $HOME; processes the tests start inherit it. A test that needs a cache of its own sets its own.
if "TRACKMATE_CELLPOSE_CACHE" not in os.environ:
    import tempfile

    os.environ["TRACKMATE_CELLPOSE_CACHE"] = tempfile.mkdtemp(prefix="tmcp-test-cache-")

if CELLPOSE_MAJOR == 4:
    # Real cellpose-4 code with the tiny test encoder, in this process and in every process a test starts (CLI
    # subprocesses, dask workers, a Fiji started from Python): tests/support/cp4/sitecustomize.py does it there.
    os.environ["TMCP_TEST_TINY_CPSAM"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(CP4_SUPPORT), os.environ.get("PYTHONPATH")) if p)
    sys.path.insert(0, str(CP4_SUPPORT))
    from tiny_cpsam import install_tiny_encoder, shim_torchvision_ops

    shim_torchvision_ops()
    install_tiny_encoder()


def pytest_collection_modifyitems(config, items):
    fiji = os.environ.get("FIJI_DIR")
    skip_fiji = pytest.mark.skip(reason="set FIJI_DIR to a Fiji.app with TrackMate to run")
    has_cuda = False
    if any("gpu" in item.keywords for item in items):  # importing torch costs seconds: only when needed
        try:
            import torch
            has_cuda = torch.cuda.is_available()
        except Exception:  # noqa: BLE001
            has_cuda = False
    skip_gpu = pytest.mark.skip(reason="no CUDA GPU")
    # the heavy tier (minutes per test) runs on request: TMCP_HEAVY=1 (.ci/run runs it when its time allows)
    skip_heavy = pytest.mark.skip(reason="heavy tier (minutes per test): set TMCP_HEAVY=1 to run it")
    heavy = os.environ.get("TMCP_HEAVY") == "1"
    # pytest-timeout's 20 minutes (pyproject.toml) cover one test; Fiji's module fixtures (several Fiji launches) and
    # the heavy tier's environment builds may take longer, once, in the first test of their module
    long_timeout = pytest.mark.timeout(3600)
    for item in items:
        if "heavy" in item.keywords and not heavy:
            item.add_marker(skip_heavy)
        if ("fiji" in item.keywords or "heavy" in item.keywords) and item.get_closest_marker("timeout") is None:
            item.add_marker(long_timeout)
        if "fiji" in item.keywords and not (fiji and Path(fiji).is_dir()):
            item.add_marker(skip_fiji)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def fiji_dir() -> Path:
    return Path(os.environ["FIJI_DIR"])


@pytest.fixture(scope="session")
def test_model() -> Path:
    """The model the inference tests run (``TEST_MODEL``)."""
    if not TEST_MODEL.exists():
        pytest.fail(f"test model missing: {TEST_MODEL} (run scripts/tools/train_test_model.py or "
                    "scripts/tools/train_tiny_cpsam.py)")
    return TEST_MODEL


@pytest.fixture(scope="session")
def quality() -> dict:
    """Minimum scores for the test model of the installed cellpose (see ``MODEL_QUALITY``)."""
    return MODEL_QUALITY[CELLPOSE_MAJOR]


@pytest.fixture(scope="session")
def local_slurm():
    """A private single-node SLURM (slurmctld + slurmd + munged, tests/support/slurm.py) for the session, with
    ``SLURM_CONF`` set so that sbatch/squeue and dask-jobqueue use it; stopped at the end, nothing left running.

    Skipped with the reason where it cannot start (not root, slurm-wlm/munge not installed); with
    ``TMCP_REQUIRE_SLURM=1`` (CI, after installing them) that is a failure instead."""
    from support.slurm import LocalSlurm, SlurmStartError, unavailable_reason

    required = os.environ.get("TMCP_REQUIRE_SLURM") == "1"
    reason = unavailable_reason()
    if reason:
        (pytest.fail if required else pytest.skip)(f"no local SLURM: {reason}")
    cluster = LocalSlurm()
    try:
        cluster.start()
    except SlurmStartError as e:
        (pytest.fail if required else pytest.skip)(f"the local SLURM did not start: {e}")
    mp = pytest.MonkeyPatch()
    mp.setenv("SLURM_CONF", str(cluster.conf))
    try:
        yield cluster
    finally:
        mp.undo()
        left = cluster.live_jobs()
        killed = cluster.stop()
        assert not left, f"jobs left queued by the tests: {left}"
        assert not killed, f"processes of the local SLURM had to be killed at the end: {killed}"
