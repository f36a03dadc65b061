"""The distributed path's plumbing without cellpose: import hygiene, dispatch, chunk plans, the SLURM recipe."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trackmate_cellpose import DetectorSettings, InvalidSettingsError, RuntimeOptions


def test_import_loads_no_dask_and_in_process_is_default():
    code = ("import sys, trackmate_cellpose, trackmate_cellpose.distributed; "
            "assert RuntimeOptions().workers == 0 and not RuntimeOptions().scheduler; "
            "print(sorted(m for m in ('dask', 'distributed', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", "from trackmate_cellpose import RuntimeOptions; " + code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_model_fails_before_any_cluster_starts(tmp_path):
    from trackmate_cellpose import detect
    from trackmate_cellpose.distributed import _cluster

    s = DetectorSettings(model="CUSTOM", model_path=str(tmp_path / "nope.pth"), use_gpu=False)
    import numpy as np

    with pytest.raises(InvalidSettingsError, match="CELLPOSE_MODEL_FILEPATH"):
        detect(np.zeros((2, 16, 16), np.uint16), s, axes="tyx", runtime=RuntimeOptions(workers=2))
    assert not _cluster._CLIENTS and not _cluster._CLUSTERS


def test_plan_chunks():
    from trackmate_cellpose.distributed import plan_chunks

    assert plan_chunks(list(range(9)), is_3d=False, frames_per_batch=4) == [(0, 1, 2, 3), (4, 5, 6, 7), (8,)]
    assert plan_chunks([2, 7], is_3d=True, frames_per_batch=4) == [(2,), (7,)]
    assert plan_chunks([], is_3d=False, frames_per_batch=4) == []


def test_slurm_recipe_one_gpu_one_thread_per_worker():
    pytest.importorskip("dask_jobqueue")
    from trackmate_cellpose.distributed import slurm_cluster

    cluster = slurm_cluster(0, queue="gpu", account="lab", cpus_per_gpu=6, memory="24GB",
                            prologue=["module load cuda"], scheduler_options={"host": "127.0.0.1"},
                            python="/opt/venv/bin/python")
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH --gres=gpu:1", "#SBATCH --cpus-per-task=6", "#SBATCH -p gpu", "module load cuda",
                 "/opt/venv/bin/python -m distributed.cli.dask_worker", "--nthreads 1", "--resources GPU=1"):
        assert line in script, (line, script)
