"""The throughput suites (``python -m benchmarks startup|pipeline|cpsam|gpu``) run end to end at a tiny size and
measure what they say: real cellpose, real processes, masks compared with a bare ``CellposeModel.eval``.

The GPU suite is prepared for a machine with a CUDA GPU: without one it refuses ``--device cuda`` at once (exit 2);
``--device cpu`` checks the whole script anywhere; the ``gpu``-marked test runs it on the card where there is one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks
from trackmate_cellpose.segment import cellpose_major_version

REPO = Path(__file__).resolve().parents[2]


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_gpu_suite_without_a_gpu_stops_with_a_usage_error(tmp_path):
    if _has_cuda():
        pytest.skip("this machine has a CUDA GPU")
    out = subprocess.run([sys.executable, "-m", "benchmarks", "gpu", "--json", str(tmp_path / "r.json")], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    assert "--device cuda: torch sees no CUDA GPU" in out.stderr
    assert not (tmp_path / "r.json").exists()


def _tiny_gpu_suite(tmp_path: Path, device: str) -> dict:
    return benchmarks.run_suite(["gpu", "--device", device, "--shape", "8x64x64", "--frames", "1", "--reps", "1",
                                 "--movies", "2d:2x64x64", "--json", str(tmp_path / "gpu.json")])["results"]


@pytest.mark.slow
def test_gpu_suite_runs_every_part_on_the_cpu(tmp_path):
    res = _tiny_gpu_suite(tmp_path, "cpu")
    for mode in ("3d", "2dz"):
        stages = res["stages"][mode]
        assert {"network", "dynamics + masks", "clean-up", "spots (meshes)"} <= set(stages)
        assert stages["objects"] > 0 and stages["spots"] == stages["objects"]
        assert stages["movie_projected_s"]["sequential"] >= stages["movie_projected_s"]["pipelined (network hidden)"]
    loop = res["loop"]
    assert loop["pipelined_vs_sequential"]["frames_identical"] == "1/1"  # on the CPU the pipeline changes no mask
    assert loop["pipelined_vs_bare"]["f1"] > 0.9
    (row,) = res["table"]
    assert row["device"] == "cpu" and row["pipelined_vs_bare"]["frames_identical"] == "2/2"


@pytest.mark.gpu
@pytest.mark.slow
def test_gpu_suite_on_the_card_agrees_with_bare_eval(tmp_path):
    res = _tiny_gpu_suite(tmp_path, "cuda")
    assert res["gpu"] != "none" and res["stages"]["3d"]["network"]["gpu_peak_mb"] > 0
    assert res["loop"]["pipelined_vs_bare"]["f1"] > 0.9  # on a GPU agreement, not bit-identity, is promised
    assert res["table"][0]["pipelined_vs_bare"]["f1"] > 0.9


@pytest.mark.slow
def test_pipeline_suite_gives_bare_evals_masks_every_frame(tmp_path):
    res = benchmarks.run_suite(["pipeline", "--movies", "2d:3x64x64,3d:1x8x48x48", "--reps", "1",
                                "--json", str(tmp_path / "p.json")])["results"]
    two_d, three_d = res["rows"]
    assert two_d["pipelined_vs_bare"]["frames_identical"] == "3/3"
    assert two_d["pipelined_vs_sequential"]["frames_identical"] == "3/3"
    assert three_d["pipelined_vs_bare"]["frames_identical"] == "1/1"
    for row in res["rows"]:
        assert row["pipelined_cpu_s"]["median"] > 0 and row["bare / pipelined (wall)"]["median"] > 0


@pytest.mark.slow
def test_startup_suite_times_fresh_processes_and_compares_their_masks(tmp_path):
    res = benchmarks.run_suite(["startup", "--movie", "2x64x64", "--reps", "1",
                                "--json", str(tmp_path / "s.json")])["results"]
    for case in ("bare", "ours", "ours (cold cache)"):
        assert res[f"{case}_cpu_s"]["median"] > 0.5  # a fresh process importing cellpose, not a no-op
    assert res["masks_vs_bare"]["frames_identical"] == "2/2"


@pytest.mark.slow
@pytest.mark.skipif(cellpose_major_version() != 4, reason="Cellpose-SAM needs cellpose 4")
def test_cpsam_suite_masks_of_the_default_are_cellposes_float32_masks(tmp_path):
    res = benchmarks.run_suite(["cpsam", "--json", str(tmp_path / "c.json")])["results"]
    masks = res["masks"]

    def all_identical(key: str) -> bool:
        same, n = masks[key]["frames_identical"].split("/")
        return int(n) > 0 and same == n

    assert all_identical("onnx vs float32")
    if not res["native_bf16"]:
        assert res["auto_ran_as"] == "onnx" and all_identical("auto vs float32")
    else:
        assert res["auto_ran_as"] == "cellpose" and all_identical("auto vs cellpose")
