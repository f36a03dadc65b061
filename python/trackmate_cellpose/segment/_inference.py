"""How the cellpose network is run on a CPU (``RuntimeOptions.inference``): same weights, faster kernels.

Measured on this project's 2-core AMD EPYC (Zen 4, AVX-512 + avx512_bf16, no AMX), cellpose 3.1.1.3 and its CPnet
(``python -m benchmarks network`` and ``engine``; numbers in BENCHMARKS.md):

* ``"auto"`` (default): ``"onnx"`` where it applies (a cellpose-3 network on the CPU, ``onnxruntime`` and ``onnx``
  importable), else ``"fast"``. The adapter records the mode it resolved to (``CellposeAdapter.inference``).
* ``"onnx"``: the network exported once per loaded model (ONNX, dynamic batch and tile size, exported from the very
  weights cellpose loaded) and run by ONNX Runtime's CPU kernels, which fuse BatchNorm/ReLU/add into blocked NCHWc
  convolutions. No compiler, no per-shape compile; the export costs about a second at the first network call. The
  output differs from ``"cellpose"`` only by float rounding (max |diff| ~1e-5); masks identical in the benchmark and in
  ``tests/integration/test_engine_speed.py``.
* ``"cellpose"``: the network exactly as cellpose runs it (cellpose 3 on a CPU converts it to the legacy MKLDNN tensor
  layout and back around every up-sampling step).
* ``"fast"``: the same fp32 weights in PyTorch's ``channels_last`` memory format and cellpose's MKLDNN tensor path
  switched off, so that every convolution runs as one oneDNN kernel on NHWC data without layout conversions. The
  network's output differs from ``"cellpose"`` only by float rounding (max |diff| ~1e-6); the masks are checked
  identical by the benchmark and by ``tests/integration/test_engine_speed.py``.
* ``"compile"``: ``"fast"`` plus ``torch.compile`` (Inductor with frozen weights: fused BatchNorm/ReLU/add around
  oneDNN convolutions). Pays a one-time compile per tile shape (a minute or more on a small CPU; cached on disk by
  torch afterwards) and needs a C++ compiler, so it is opt-in. Same masks as ``"fast"`` in the benchmark.
* ``"bf16"``: ``"fast"`` under bfloat16 autocast (cellpose 4: its own ``use_bfloat16``). Fast only on CPUs with
  native bf16 (avx512_bf16 / AMX); it CHANGES the network output (~1e-2) and therefore some masks: opt-in, and the
  benchmark reports its agreement with the default (matched IoU, F1).

Only the CPU is tuned: on CUDA/MPS every mode but ``"bf16"`` runs cellpose's own path (not measured here), and
cellpose 4's transformer keeps cellpose's own path on the CPU too (``"auto"`` = ``"fast"``; ``"onnx"`` is refused).
"""

from __future__ import annotations

import io
import threading
import warnings
from typing import Any

from ..errors import BackendUnavailableError
from ..settings import INFERENCE_MODES


def onnx_available() -> str | None:
    """None when the ``"onnx"`` mode can run here, else why not (what to install)."""
    from importlib.util import find_spec

    missing = [m for m in ("onnxruntime", "onnx") if find_spec(m) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (pip install onnxruntime onnx)"
    return None


def resolve_inference(inference: str, major: int, device: str) -> str:
    """The mode that will run: ``"auto"`` made concrete; ``"onnx"`` refused where it cannot run, saying why."""
    if inference not in INFERENCE_MODES:
        raise ValueError(f"inference must be one of {', '.join(INFERENCE_MODES)}, got {inference!r}")
    if inference == "auto":
        return "onnx" if major == 3 and device == "cpu" and onnx_available() is None else "fast"
    if inference == "onnx":
        why = onnx_available()
        if major != 3:
            why = f"it runs cellpose 3's network (CPnet); cellpose {major}'s network keeps cellpose's own path"
        elif device != "cpu":
            why = f"it is a CPU path and the detector runs on {device!r}"
        if why:
            raise BackendUnavailableError(f"inference 'onnx' cannot run here: {why}; use inference 'auto' or 'fast'")
    return inference


def constructor_kwargs(major: int, device: str, inference: str) -> dict[str, Any]:
    """Extra ``CellposeModel(...)`` keywords for ``inference`` (a resolved mode) on ``device``."""
    if major == 3 and device == "cpu" and inference != "cellpose":
        return {"mkldnn": False}  # the channels_last oneDNN path replaces cellpose's MKLDNN tensor conversions
    if major == 4:
        return {"use_bfloat16": inference == "bf16" or device != "cpu"}
    return {}


def _nets(model) -> list:
    nets = [getattr(model, "net", None), getattr(model, "net_ortho", None)]
    return [n for n in nets if n is not None and hasattr(n, "forward")]


def tune_network(model, major: int, device: str, inference: str, *, strict: bool = False) -> None:
    """Apply ``inference`` (a mode from :func:`resolve_inference`) to a freshly loaded cellpose model's network(s), in
    place. ``strict``: ``"onnx"`` was asked for by name, so a network that cannot be exported is an error, not a
    fall-back to PyTorch."""
    import torch

    if inference == "cellpose":
        return
    for net in _nets(model):
        if device == "cpu" and major == 3:
            net.mkldnn = False
            net.to(memory_format=torch.channels_last)
        if inference == "onnx":
            _wrap_forward(net, _OnnxForward(net, strict=strict))
        elif inference == "bf16" and major == 3:
            _wrap_forward(net, _autocast_bf16(net.forward, device))
        elif inference == "compile" and device == "cpu":
            # frozen weights let Inductor pre-pack them for oneDNN and fuse the element-wise work around each conv;
            # compiling the bound forward (not the module) keeps our progress/cancel pre-hook outside the graph
            # dynamic: cellpose's last tile batch of a call is smaller; a new batch size must not mean a new compile
            _wrap_forward(net, torch.compile(net.forward, dynamic=True, options={"freezing": True}))


def release_memory(model) -> None:
    """Give back what the network's runtime keeps between calls (ONNX Runtime's arena); call after a cellpose call.

    ONNX Runtime keeps the activations' memory of its largest batch (~0.6 GB for 8 tiles of 224 x 224) for the next
    run; between cellpose calls (a batch of frames, a 3D stack) a long-lived Fiji or Python should not hold it."""
    for net in _nets(model):
        release = getattr(vars(net).get("forward"), "release", None)
        if release is not None:
            release()


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


class _OnnxForward:
    """``CPnet.forward`` run by ONNX Runtime: exported from the live network at the first call, then reused.

    The export traces the network with dynamic batch, height and width. cellpose's style vector is an average pool
    whose kernel is the whole (shape-dependent) feature map, which ONNX cannot express with dynamic shapes: during
    the export only, that one module computes the same mean with ``mean(dim=(2, 3))``.

    If the export or the runtime's session fails (a network variant this path does not know): with ``strict``
    (``inference="onnx"`` asked for by name) a :class:`BackendUnavailableError` says why; otherwise (``"auto"``) a
    warning says why and the network runs on PyTorch's ``"fast"`` path from then on.
    """

    def __init__(self, net, *, strict: bool = False) -> None:
        self._net = net
        self._strict = strict
        self._session = None
        self._torch_forward = None  # set when "auto" fell back to PyTorch
        self._lock = threading.Lock()

    def _export(self):
        import onnxruntime as ort
        import torch

        if getattr(self._net, "conv_3D", False):
            raise ValueError("the network uses 3D convolutions (this path exports cellpose's 2D CPnet)")
        style = self._net.make_style
        nchan = int(getattr(self._net, "nchan", 0)) or next(p for p in self._net.parameters() if p.dim() == 4).shape[1]

        def mean_style(x0):
            s = x0.mean(dim=(2, 3))
            return s / torch.sum(s ** 2, dim=1, keepdim=True) ** .5

        class _TwoOutputs(torch.nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                out = self.net(x)
                return out[0], out[1]

        buf = io.BytesIO()
        example = torch.zeros(2, nchan, 64, 64)
        dyn = {0: "batch", 2: "height", 3: "width"}
        hooks = dict(self._net._forward_pre_hooks)
        self._net._forward_pre_hooks.clear()  # the export's trace is not a network batch: no progress tick
        wrapped = vars(self._net).pop("forward")  # trace CPnet's own forward, not this wrapper
        style.forward = mean_style
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(_TwoOutputs(self._net).eval(), (example,), buf, input_names=["x"],
                                  output_names=["y", "style"], dynamic_axes={"x": dyn, "y": dyn, "style": {0: "batch"}},
                                  dynamo=False, opset_version=17)
        finally:
            del style.forward
            self._net.forward = wrapped
            self._net._forward_pre_hooks.update(hooks)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()  # follow torch's (and so the user's) thread setting
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting between calls
        return ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])

    def release(self) -> None:
        """Shrink the CPU arena to what is in use (nothing, between runs): a tiny run with the shrinkage option."""
        import numpy as np
        import onnxruntime as ort

        with self._lock:
            if self._session is None:
                return
            opts = ort.RunOptions()
            opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
            nchan = self._session.get_inputs()[0].shape[1]
            self._session.run(None, {"x": np.zeros((1, nchan, 16, 16), np.float32)}, opts)

    def __call__(self, x, *args, **kwargs):
        import numpy as np
        import torch

        with self._lock:
            if self._session is None and self._torch_forward is None:
                try:
                    self._session = self._export()
                except Exception as e:
                    why = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
                    if self._strict:
                        raise BackendUnavailableError(f"inference 'onnx' could not export this network to ONNX "
                                                      f"Runtime ({why}); use inference 'auto' or 'fast'") from e
                    warnings.warn(f"inference 'auto': the network could not be exported to ONNX Runtime ({why}); "
                                  "it runs on PyTorch (inference 'fast') instead", RuntimeWarning, stacklevel=2)
                    self._torch_forward = type(self._net).forward.__get__(self._net)
            session, fallback = self._session, self._torch_forward
        if fallback is not None:
            return fallback(x, *args, **kwargs)
        with self._lock:
            y, style = session.run(None, {"x": np.ascontiguousarray(x.detach().cpu().numpy(), np.float32)})
        return torch.from_numpy(y), torch.from_numpy(style)
