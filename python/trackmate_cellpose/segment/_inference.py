"""How the cellpose network runs (``RuntimeOptions.inference``): same weights, and where they can be, faster kernels.

Each mode is named by what it does; the numbers behind the defaults are in ``benchmarks/`` and docs/performance.md.

* ``"auto"`` (default): where it applies, the fastest path measured to give cellpose's own masks:
  cellpose 3 on a CPU: ``"onnx"`` (``onnxruntime`` installed), else ``"channels_last"``;
  cellpose 4 on a CPU: ``"cellpose"`` (bfloat16 weights, cellpose's own default, and its masks) where the CPU
  computes bfloat16 natively (``avx512_bf16``/``amx_bf16``, Arm ``bf16``), else ``"onnx"`` (else ``"float32"``):
  without native bfloat16 PyTorch emulates it, and a bfloat16 matrix product costs about 100 times its float32 one;
  those masks are cellpose's float32 masks;
  a GPU: ``"cellpose"``. The adapter records the mode it resolved to (``CellposeAdapter.inference``).
* ``"cellpose"``: exactly cellpose's own path with cellpose's own defaults: cellpose 3 converts the network to the
  legacy MKLDNN tensor layout on a CPU; cellpose 4 loads bfloat16 weights (``use_bfloat16=True``) on every device.
* ``"float32"``: cellpose's own path with float32 weights (cellpose 4: ``use_bfloat16=False``; a cellpose-3
  network is float32 already, so there it is ``"cellpose"``). Its masks are cellpose's masks for float32 weights;
  they differ from the bfloat16 default of cellpose 4 where bfloat16 rounding moves a pixel across a threshold.
* ``"onnx"``: the network exported once per model file (dynamic batch; for cellpose 3 also dynamic tile size) and
  run by ONNX Runtime's CPU kernels, in float32. The exported graph is kept on disk
  (:class:`~trackmate_cellpose.segment._disk_cache.OnnxGraphCache`), so only the first process with a model pays
  the export. The graph is checked against PyTorch in float64 (where rounding cannot hide a wrong operation) by
  the tests for the bundled cellpose-3 network and the tiny test Cellpose-SAM; ``python -m benchmarks cpsam
  --prove-only`` runs the same check on the full-size Cellpose-SAM (ViT-L) architecture.
* ``"channels_last"`` (cellpose 3 only): float32 weights in PyTorch's ``channels_last`` memory format with
  cellpose's MKLDNN conversions off: every convolution runs as one oneDNN kernel on NHWC data. Cellpose 4's
  transformer has no convolution layout to change; asking for it there is refused with that reason.
* ``"compile"``: ``"channels_last"`` (cellpose 3) or ``"float32"`` (cellpose 4) plus ``torch.compile`` (Inductor
  with frozen weights). A one-time compile per tile shape, needs a C++ compiler: opt-in.
* ``"bf16"``: bfloat16 arithmetic (cellpose 3: autocast; cellpose 4: its bfloat16 weights, i.e. ``"cellpose"``).
  Fast only with native bfloat16; it changes the network output (~1e-2) and so some masks.
* ``"fast"``: deprecated spelling (removed in 0.3) of ``"channels_last"`` (cellpose 3) / ``"float32"`` (cellpose 4).

On CUDA/MPS only the dtype differs between modes (``"onnx"`` and ``"channels_last"`` are CPU paths and refused).
"""

from __future__ import annotations

import functools
import io
import os
import sys
import threading
import warnings
from typing import Any

from ..errors import BackendUnavailableError, InvalidSettingsError
from ..settings import DEPRECATED_INFERENCE, INFERENCE_MODES

#: Version of the export code below; part of the graph cache key (bump it when the exported graph changes).
EXPORT_FORMAT = 2
ONNX_OPSET = 17


def onnx_available() -> str | None:
    """None when the ``"onnx"`` mode can run here, else why not (what to install)."""
    from importlib.util import find_spec

    missing = [m for m in ("onnxruntime", "onnx") if find_spec(m) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (pip install onnxruntime onnx)"
    return None


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bfloat16 in hardware (x86 ``avx512_bf16``/``amx_bf16``, Arm ``bf16``).

    Read from ``/proc/cpuinfo`` (Linux) or ``sysctl`` (macOS); False where neither can tell.
    """
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo") as fh:
                for line in fh:
                    key = line.split(":", 1)[0].strip().lower()
                    if key in ("flags", "features"):
                        flags = set(line.split(":", 1)[1].split())
                        return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
        except OSError:
            return False
        return False
    if sys.platform == "darwin":
        import subprocess

        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True,
                                 timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return False
        return out == "1"
    return False


def resolve_inference(inference: str, major: int, device: str) -> str:
    """The mode that will run: ``"auto"`` made concrete, ``"fast"`` mapped to its new name, a mode that cannot run
    here refused with the reason."""
    if inference not in INFERENCE_MODES and inference not in DEPRECATED_INFERENCE:
        raise InvalidSettingsError(f"inference must be one of {', '.join(INFERENCE_MODES)}, got {inference!r}",
                                   key="inference", value=inference)
    if inference in DEPRECATED_INFERENCE:
        inference = DEPRECATED_INFERENCE[inference][major]
    if inference == "auto":
        if device != "cpu":
            return "cellpose"
        if major == 4 and cpu_has_native_bf16():
            return "cellpose"
        return "onnx" if onnx_available() is None else ("channels_last" if major == 3 else "float32")
    why = None
    if inference == "onnx":
        why = onnx_available()
        if device != "cpu":
            why = f"it is a CPU path and the detector runs on {device!r}"
    elif inference == "channels_last":
        if major != 3:
            why = ("it re-lays out cellpose 3's convolutions; cellpose 4's network is a transformer with no "
                   "convolution layout to change (use 'float32' for its float32 path)")
        elif device != "cpu":
            why = f"it is a CPU path and the detector runs on {device!r}"
    if why:
        raise BackendUnavailableError(f"inference {inference!r} cannot run here: {why}; use inference 'auto'")
    return inference


def constructor_kwargs(major: int, device: str, inference: str) -> dict[str, Any]:
    """Extra ``CellposeModel(...)`` keywords for ``inference`` (a resolved mode) on ``device``."""
    if major == 3 and device == "cpu" and inference not in ("cellpose", "float32"):
        return {"mkldnn": False}  # the channels_last oneDNN path replaces cellpose's MKLDNN tensor conversions
    if major == 4:
        return {"use_bfloat16": inference in ("cellpose", "bf16")}
    return {}


def network_dtype(major: int, inference: str) -> str:
    """The weights' dtype a resolved mode runs with (what a result records)."""
    if inference == "bf16" or (major == 4 and inference == "cellpose"):
        return "bfloat16"
    return "float32"


def _nets(model) -> list:
    nets = [getattr(model, "net", None), getattr(model, "net_ortho", None)]
    return [n for n in nets if n is not None and hasattr(n, "forward")]


def tune_network(model, major: int, device: str, inference: str, *, strict: bool = False,
                 weights: str | None = None) -> None:
    """Apply ``inference`` (a mode from :func:`resolve_inference`) to a freshly loaded cellpose model's network(s), in
    place. ``strict``: ``"onnx"`` was asked for by name, so a network that cannot be exported is an error, not a
    fall-back to PyTorch. ``weights``: the model file the network was loaded from (keys the on-disk graph cache)."""
    import torch

    if inference in ("cellpose", "float32"):
        return
    for net in _nets(model):
        if device == "cpu" and major == 3:
            net.mkldnn = False
            net.to(memory_format=torch.channels_last)
        if inference == "onnx":
            _wrap_forward(net, _OnnxForward(net, major, strict=strict, weights=weights))
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


def export_onnx(net, major: int, path: str | os.PathLike | None = None) -> tuple[Any, tuple[int, ...] | None]:
    """Export a cellpose network (as loaded, in its own dtype) to an ONNX graph with outputs ``y`` and ``style``:
    its bytes, or with ``path`` the file written there (a graph over protobuf's 2 GB, e.g. the full-size
    Cellpose-SAM in float64, keeps its weights in external data files beside it).

    cellpose 3's CPnet: dynamic batch, height and width. Its style vector is an average pool whose kernel is the
    whole (shape-dependent) feature map, which ONNX cannot express with dynamic shapes: during the export only, that
    one module computes the same mean with ``mean(dim=(2, 3))``. cellpose 4's Cellpose-SAM: dynamic batch; its
    tiles are always ``bsize`` x ``bsize`` (the position embedding is sized for them), returned as the fixed
    ``(C, H, W)`` of an input (None for cellpose 3: any tile size).

    The network's own forward is traced, not a wrapper set on the instance, and its forward pre-hooks (our
    progress/cancel ticker) are off during the trace.
    """
    import torch

    if getattr(net, "conv_3D", False):
        raise ValueError("the network uses 3D convolutions (this path exports cellpose's 2D networks)")
    dtype = next(net.parameters()).dtype

    class _TwoOutputs(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            out = self.inner(x)
            return out[0], out[1]

    fixed: tuple[int, ...] | None = None
    undo = []
    if major == 3:
        style = net.make_style
        nchan = int(getattr(net, "nchan", 0)) or next(p for p in net.parameters() if p.dim() == 4).shape[1]

        def mean_style(x0):
            s = x0.mean(dim=(2, 3))
            return s / torch.sum(s ** 2, dim=1, keepdim=True) ** .5

        style.forward = mean_style
        undo.append(lambda: delattr(style, "forward"))
        example = torch.zeros(2, nchan, 64, 64, dtype=dtype)
        dyn = {0: "batch", 2: "height", 3: "width"}
    else:
        enc = getattr(net, "encoder", None)
        ps = int(getattr(net, "ps", 0))
        if enc is None or not ps or getattr(enc, "pos_embed", None) is None:
            raise ValueError(f"{type(net).__name__} is not the Cellpose-SAM network this path exports")
        bsize = int(enc.pos_embed.shape[1]) * ps
        fixed = (3, bsize, bsize)
        example = torch.zeros(2, *fixed, dtype=dtype)
        dyn = {0: "batch"}
    buf = io.BytesIO() if path is None else os.fspath(path)
    hooks = dict(net._forward_pre_hooks)
    net._forward_pre_hooks.clear()  # the export's trace is not a network batch: no progress tick
    wrapped = vars(net).pop("forward", None)  # trace the network's own forward, not a wrapper
    was_training = net.training
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_TwoOutputs(net).eval(), (example,), buf, input_names=["x"], output_names=["y", "style"],
                              dynamic_axes={"x": dyn, "y": dyn, "style": {0: "batch"}}, dynamo=False,
                              opset_version=ONNX_OPSET)
    finally:
        for u in undo:
            u()
        if wrapped is not None:
            net.forward = wrapped
        net._forward_pre_hooks.update(hooks)
        net.train(was_training)
    return (buf.getvalue() if path is None else path), fixed


def ort_session(graph, threads: int | None = None):
    """An ONNX Runtime CPU session for ``graph`` (bytes or a file path), threads following torch's setting."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads is None:
        import torch

        threads = torch.get_num_threads()  # follow torch's (and so the user's) thread setting
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting between calls
    return ort.InferenceSession(graph if isinstance(graph, bytes) else os.fspath(graph), opts,
                                providers=["CPUExecutionProvider"])


class _OnnxForward:
    """A cellpose network's forward run by ONNX Runtime: the graph comes from the on-disk cache or is exported from
    the live network at the first call (:func:`export_onnx`), then reused.

    If the export or the runtime's session fails (a network variant this path does not know): with ``strict``
    (``inference="onnx"`` asked for by name) a :class:`BackendUnavailableError` says why; otherwise (``"auto"``) a
    warning says why and the network runs on PyTorch from then on.
    """

    def __init__(self, net, major: int, *, strict: bool = False, weights: str | None = None) -> None:
        self._net = net
        self._major = major
        self._strict = strict
        self._weights = weights
        self._session = None
        self._fixed: tuple[int, ...] | None = None
        self._torch_forward = None  # set when "auto" fell back to PyTorch
        self._lock = threading.Lock()

    def _cache_key(self) -> str | None:
        from ._disk_cache import OnnxGraphCache, package_versions, weights_digest

        if not self._weights or not os.path.isfile(self._weights):
            return None
        return OnnxGraphCache.key_of({
            "format": EXPORT_FORMAT, "opset": ONNX_OPSET, "major": self._major, "net": type(self._net).__name__,
            "dtype": str(next(self._net.parameters()).dtype), "weights": weights_digest(self._weights),
            "versions": package_versions("cellpose", "torch", "onnx")})

    def _start(self):
        from ._disk_cache import OnnxGraphCache

        cache = OnnxGraphCache()
        key = self._cache_key()
        path = cache.load(key) if key else None
        if path is not None:
            try:
                session = ort_session(path)
                self._fixed = _fixed_shape(session)
                return session
            except Exception:  # noqa: BLE001 - a cached graph this runtime cannot read: export it again
                cache.forget(key)
        graph, self._fixed = export_onnx(self._net, self._major)
        if key:
            cache.store(key, graph)
        return ort_session(graph)

    def release(self) -> None:
        """Shrink the CPU arena to what is in use (nothing, between runs): a tiny run with the shrinkage option."""
        import numpy as np
        import onnxruntime as ort

        with self._lock:
            if self._session is None:
                return
            opts = ort.RunOptions()
            opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
            shape = self._fixed or (self._session.get_inputs()[0].shape[1], 16, 16)
            self._session.run(None, {"x": np.zeros((1, *shape), np.float32)}, opts)

    def __call__(self, x, *args, **kwargs):
        import numpy as np
        import torch

        with self._lock:
            if self._session is None and self._torch_forward is None:
                try:
                    self._session = self._start()
                except Exception as e:
                    why = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
                    if self._strict:
                        raise BackendUnavailableError(f"inference 'onnx' could not export this network to ONNX "
                                                      f"Runtime ({why}); use inference 'auto'") from e
                    warnings.warn(f"inference 'auto': the network could not be exported to ONNX Runtime ({why}); "
                                  "it runs on PyTorch instead", RuntimeWarning, stacklevel=2)
                    self._torch_forward = type(self._net).forward.__get__(self._net)
            session, fallback = self._session, self._torch_forward
        if fallback is None and self._fixed is not None and tuple(x.shape[1:]) != self._fixed:
            fallback = type(self._net).forward.__get__(self._net)  # a tile shape the graph was not made for
        if fallback is not None:
            return fallback(x, *args, **kwargs)
        with self._lock:
            y, style = session.run(None, {"x": np.ascontiguousarray(x.detach().cpu().numpy(), np.float32)})
        return torch.from_numpy(y), torch.from_numpy(style)


def _fixed_shape(session) -> tuple[int, ...] | None:
    dims = session.get_inputs()[0].shape[1:]
    return tuple(dims) if all(isinstance(d, int) for d in dims) else None
