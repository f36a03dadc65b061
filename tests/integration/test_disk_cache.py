"""What a process reuses from an earlier one (``segment/_disk_cache.py``): the exported ONNX graph, keyed by the
model file's content, and numba's compiled cellpose dynamics. Real exports, real cellpose, real processes."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import DetectorSettings
from trackmate_cellpose.data import sample_path
from trackmate_cellpose.segment._adapter import CellposeAdapter
from trackmate_cellpose.segment._models import cellpose_major_version, check_model

pytestmark = pytest.mark.slow


def _adapter(path, inference="onnx"):
    settings = DetectorSettings(model="CUSTOM", model_path=str(path), diameter=10.0, use_gpu=False)
    major = cellpose_major_version()
    return CellposeAdapter(check_model(settings, major), "cpu", major, inference), settings  # fresh, not cached


def _masks(adapter, settings):
    frame = tifffile.imread(sample_path("2dt"))[:1, ..., None]
    return adapter.eval(frame, mode="2d", settings=settings, diameter_px=20.0)[0]


def test_onnx_graph_is_exported_once_per_model_content(test_model, tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("TRACKMATE_CELLPOSE_CACHE", str(tmp_path / "cache"))
    first, settings = _adapter(test_model)
    masks = _masks(first, settings)
    graphs = list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert len(graphs) == 1 and graphs[0].stat().st_size > 100_000
    assert not list((tmp_path / "cache" / "onnx").glob(".*.tmp"))  # written atomically: no leftovers

    def no_export(*a, **k):
        raise AssertionError("exported again although the graph is in the cache")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    copy_path = tmp_path / "renamed copy.pth"  # the same bytes under another name: the same graph
    shutil.copy(test_model, copy_path)
    again, _ = _adapter(copy_path)
    assert np.array_equal(_masks(again, settings), masks)
    monkeypatch.undo()

    # other weights: another key, a second export
    monkeypatch.setenv("TRACKMATE_CELLPOSE_CACHE", str(tmp_path / "cache"))
    state = torch.load(test_model, map_location="cpu", weights_only=True)
    state = copy.copy(state)
    key = next(k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and v.dim() == 4)
    state[key] = state[key] * 1.01
    changed = tmp_path / "changed.pth"
    torch.save(state, changed)
    other, _ = _adapter(changed)
    _masks(other, settings)
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 2


def test_a_broken_cached_graph_is_exported_again(test_model, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKMATE_CELLPOSE_CACHE", str(tmp_path))
    first, settings = _adapter(test_model)
    masks = _masks(first, settings)
    (graph,) = (tmp_path / "onnx").glob("*.onnx")
    graph.write_bytes(b"not an onnx graph")
    again, _ = _adapter(test_model)
    assert np.array_equal(_masks(again, settings), masks)
    assert graph.stat().st_size > 100_000


@pytest.mark.parametrize("dtype", ["float64"])
def test_exported_graph_is_the_network_in_float64(test_model, dtype):
    """The proof of the export: in float64, where rounding cannot hide a wrong operation, ONNX's reference
    evaluator on the exported graph matches PyTorch's float64 run of the same network to round-off."""
    import onnx
    import torch
    from onnx.reference import ReferenceEvaluator

    from trackmate_cellpose.segment._inference import export_onnx

    adapter, _ = _adapter(test_model, "float32")
    net = copy.deepcopy(adapter.model.net).double().eval()
    if hasattr(net, "mkldnn"):
        net.mkldnn = False
    graph, fixed = export_onnx(net, adapter.major)
    x = torch.rand(2, *(fixed or (next(p for p in net.parameters() if p.dim() == 4).shape[1], 64, 96)),
                   dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = net(x)[0].numpy()
    y = ReferenceEvaluator(onnx.load_from_string(graph)).run(None, {"x": x.numpy()})[0]
    assert y.dtype == np.float64 and y.shape == ref.shape
    assert np.abs(y - ref).max() <= 1e-7 * max(1.0, np.abs(ref).max())


_NUMBA_PROBE = """
import json
from trackmate_cellpose.segment._disk_cache import import_cellpose
import_cellpose("cellpose.models")
from cellpose import dynamics
f = dynamics.steps2D
print(json.dumps({"hits": sum(f.stats.cache_hits.values()), "misses": sum(f.stats.cache_misses.values())}))
"""


def test_numba_compiles_cellposes_dynamics_once_per_machine(tmp_path):
    if cellpose_major_version() != 3:
        pytest.skip("cellpose 4 has no numba code")
    env = {**os.environ, "TRACKMATE_CELLPOSE_CACHE": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    runs = [json.loads(subprocess.run([sys.executable, "-c", _NUMBA_PROBE], env=env, capture_output=True, text=True,
                                      check=True, timeout=900).stdout.strip().splitlines()[-1]) for _ in range(2)]
    assert runs[0] == {"hits": 0, "misses": 1}  # compiled, and written to the cache
    assert runs[1] == {"hits": 1, "misses": 0}  # loaded: no LLVM work in the second process
    assert list((tmp_path / "numba").rglob("*steps2D*.nbi"))
