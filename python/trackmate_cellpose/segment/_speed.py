"""How the cellpose network is run on a CPU (``RuntimeOptions.inference``): same weights, faster kernels.

Measured on this project's 2-core AMD EPYC (Zen 4, AVX-512 + avx512_bf16, no AMX), cellpose 3.1.1.3 and its CPnet
(``scripts/bench_speed.py``; numbers in BENCHMARKS.md):

* ``"cellpose"``: the network exactly as cellpose runs it (cellpose 3 on a CPU converts it to the legacy MKLDNN tensor
  layout and back around every up-sampling step).
* ``"fast"`` (default): the same fp32 weights in PyTorch's ``channels_last`` memory format and cellpose's MKLDNN
  tensor path switched off, so that every convolution runs as one oneDNN kernel on NHWC data without layout
  conversions. The network's output differs from ``"cellpose"`` only by float rounding (max |diff| ~1e-6); the masks
  are checked identical by the benchmark and by ``tests/integration/test_engine_speed.py``.
* ``"compile"``: ``"fast"`` plus ``torch.compile`` (Inductor with frozen weights: fused BatchNorm/ReLU/add around
  oneDNN convolutions). Pays a one-time compile per tile shape (a minute or more on a small CPU; cached on disk by
  torch afterwards), so it is opt-in and worth it for long movies and 3D stacks. Same masks as ``"fast"`` in the
  benchmark (rounding-level differences in the network output).
* ``"bf16"``: ``"fast"`` under bfloat16 autocast (cellpose 4: its own ``use_bfloat16``). Fast only on CPUs with
  native bf16 (avx512_bf16 / AMX); it CHANGES the network output (~1e-2) and therefore some masks: opt-in, and the
  benchmark reports its agreement with the default (matched IoU, F1).

Only the CPU is tuned: on CUDA/MPS every mode but ``"bf16"`` runs cellpose's own path (not measured here).
"""

from __future__ import annotations

from typing import Any

__all__ = ["INFERENCE_MODES", "constructor_kwargs", "tune_network"]

INFERENCE_MODES = ("fast", "cellpose", "compile", "bf16")


def constructor_kwargs(major: int, device: str, inference: str) -> dict[str, Any]:
    """Extra ``CellposeModel(...)`` keywords for ``inference`` on ``device``."""
    if major == 3 and device == "cpu" and inference != "cellpose":
        return {"mkldnn": False}  # the channels_last oneDNN path replaces cellpose's MKLDNN tensor conversions
    if major == 4:
        return {"use_bfloat16": inference == "bf16" or device != "cpu"}
    return {}


def _nets(model) -> list:
    nets = [getattr(model, "net", None), getattr(model, "net_ortho", None)]
    return [n for n in nets if n is not None and hasattr(n, "forward")]


def tune_network(model, major: int, device: str, inference: str) -> None:
    """Apply ``inference`` to a freshly loaded cellpose model's network(s), in place."""
    import torch

    if inference not in INFERENCE_MODES:
        raise ValueError(f"inference must be one of {', '.join(INFERENCE_MODES)}, got {inference!r}")
    if inference == "cellpose":
        return
    for net in _nets(model):
        if device == "cpu" and major == 3:
            net.mkldnn = False
            net.to(memory_format=torch.channels_last)
        if inference == "bf16" and major == 3:
            _wrap_forward(net, _autocast_bf16(net.forward, device))
        elif inference == "compile" and device == "cpu":
            # frozen weights let Inductor pre-pack them for oneDNN and fuse the element-wise work around each conv;
            # compiling the bound forward (not the module) keeps our progress/cancel pre-hook outside the graph
            # dynamic: cellpose's last tile batch of a call is smaller; a new batch size must not mean a new compile
            _wrap_forward(net, torch.compile(net.forward, dynamic=True, options={"freezing": True}))


def _wrap_forward(net, fn) -> None:
    net.forward = fn  # nn.Module.__call__ runs hooks, then self.forward: the instance attribute wins


def _autocast_bf16(forward, device: str):
    import torch

    dev_type = "cuda" if device == "cuda" else "cpu"

    def run(x, *args, **kwargs):
        with torch.autocast(dev_type, dtype=torch.bfloat16):
            out = forward(x, *args, **kwargs)
        return tuple(o.float() if torch.is_tensor(o) and o.is_floating_point() else o for o in out)
    return run
