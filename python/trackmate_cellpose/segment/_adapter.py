"""One adapter for every cellpose call, for cellpose 3.x and 4.x.

Responsibilities: find the installed cellpose major version, check the model (a custom path must exist: cellpose
would otherwise silently download a default model), pick the device, load each (model, device) once and keep it
warm, translate our settings into the right ``CellposeModel.eval`` keywords for the installed major version, and
report progress / honour cancel inside long network work through a forward pre-hook on the network.

cellpose and torch are imported inside functions only.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import BackendUnavailableError, Cancelled, SegmentationError
from ..settings import DetectorSettings
from ._inference import constructor_kwargs, release_memory, resolve_inference, tune_network
from ._models import ModelSpec, cellpose_major_version, check_model, models_dir

_CACHE: dict[tuple, Any] = {}

# Messages cellpose logs for every frame batch that are expected here (the engine passes batches of 2D frames as a
# stack on purpose, and sets normalisation per mode): not worth a user's attention.
_EXPECTED_CELLPOSE_NOTICES = (
    "3D stack used, but stitch_threshold=0 and do_3D=False",
    "normalize_params['norm3D'] is True but do_3D is False",
)


class _DropExpectedNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(msg.startswith(m) for m in _EXPECTED_CELLPOSE_NOTICES)
_CACHE_LOCK = threading.Lock()


def _interrupt_inside(e: BaseException) -> BaseException | None:
    """The cancel (``Cancelled``) or Ctrl-C (``KeyboardInterrupt``) behind ``e``, if ``e`` only wraps one (numba's
    dispatcher answers one landing in its Python callbacks with "SystemError: ... returned a result with an
    exception set")."""
    seen = e.__cause__ or e.__context__
    while seen is not None:
        if isinstance(seen, (Cancelled, KeyboardInterrupt)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def import_cellpose_models():
    """Import ``cellpose.models`` (what detection imports), turning a broken torch/torchvision pair into a fix."""
    from ._disk_cache import import_cellpose

    try:
        models = import_cellpose("cellpose.models")
    except Cancelled:  # a cancel that reached the import (cellpose 4 imports for seconds) is a cancel, not a failure
        raise
    except ImportError as e:
        raise BackendUnavailableError(f"cellpose cannot be imported: {e}") from e
    except RuntimeError as e:
        if "torchvision::" not in str(e):
            raise BackendUnavailableError(f"cellpose cannot be imported: {type(e).__name__}: {e}") from e
        raise BackendUnavailableError(torchvision_mismatch_message(str(e))) from e
    except Exception as e:  # e.g. OSError for a missing CUDA library: report it, never crash doctor
        raise BackendUnavailableError(f"cellpose cannot be imported: {type(e).__name__}: {e}") from e
    return models


def torchvision_mismatch_message(error: str) -> str:
    """The fix for torchvision's compiled ops not matching the installed torch (cellpose 4 imports torchvision)."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        tv = version("torchvision")
    except PackageNotFoundError:
        tv = "?"
    t_major, t_minor = (int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    partner = f"0.{t_minor + 15}.*" if t_major == 2 else "<the partner of your torch>"
    return (f"torchvision {tv} does not match torch {torch.__version__} ({error.strip().splitlines()[0]}); "
            "cellpose 4 needs torchvision. Typically a CUDA build of torchvision sits beside a CPU build of torch. "
            f"Fix: install both from one index, e.g. pip install 'torch=={torch.__version__.split('+')[0]}' "
            f"'torchvision=={partner}' --index-url https://download.pytorch.org/whl/cpu (CPU) or the CUDA index "
            "of your GPU")


def builtin_weights_path(name: str) -> Path:
    """Where cellpose keeps the weights of a built-in model locally."""
    return models_dir() / name


def select_device(use_gpu: bool, runtime_device: str = "auto") -> tuple[str, str | None]:
    """Return (device, notice). ``device`` is 'cuda', 'mps' or 'cpu'; ``notice`` explains a CPU fallback."""
    import torch

    want = runtime_device
    if want == "auto":
        if not use_gpu:
            return "cpu", None
        if torch.cuda.is_available():
            return "cuda", None
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps", None
        return "cpu", "USE_GPU is on but no CUDA/MPS GPU is available: running cellpose on the CPU"
    if want == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailableError("device 'cuda' requested but torch sees no CUDA GPU")
    if want == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise BackendUnavailableError("device 'mps' requested but torch sees no Apple MPS device")
    return want, None


def build_eval_kwargs(major: int, *, mode: str, settings: DetectorSettings, diameter_px: float,
                      anisotropy: float = 1.0, n_channels: int = 1, tile_batch_size: int = 8) -> dict[str, Any]:
    """Translate our settings to ``CellposeModel.eval`` keywords for cellpose ``major`` (3 or 4).

    Input layouts the engine passes: mode ``"2d"``: array (N, Y, X, C) = N independent frames; mode ``"3d"`` and
    ``"2dz"``: array (Z, Y, X, C). ``C`` = ``n_channels`` (1 or 2), always the last axis.

    Min-size filtering is switched off in cellpose (``min_size=-1``): the engine applies ``CELL_MIN_SIZE`` itself on
    the original grid, after stitching.
    """
    if mode not in ("2d", "3d", "2dz"):
        raise ValueError(f"mode must be '2d', '3d' or '2dz', got {mode!r}")
    kw: dict[str, Any] = {
        "batch_size": tile_batch_size,
        "channel_axis": -1,
        # cellpose 4 reads an (N, Y, X, C) array as N 2D images only with z_axis=None (with z_axis=0 it raises "2D
        # image processing selected, but z_axis is not None"); cellpose 3 needs z_axis=0 to read N planes
        "z_axis": None if (major == 4 and mode == "2d") else 0,
        "diameter": float(diameter_px) if diameter_px and diameter_px > 0 else None,
        "cellprob_threshold": settings.cellprob_threshold,
        "flow_threshold": settings.flow_threshold,
        "resample": settings.resample,
        "min_size": -1,
        # a fresh dict: passing a bool makes cellpose 3 mutate its module-level defaults
        "normalize": {"normalize": True, "norm3D": mode != "2d"},
        "do_3D": mode == "3d",
        "stitch_threshold": settings.iou_threshold if mode == "2dz" else 0.0,
    }
    if mode == "3d":
        kw["anisotropy"] = float(anisotropy)
        kw["flow3D_smooth"] = 0
        kw.pop("flow_threshold")  # ignored by cellpose in 3D; the engine logs a notice instead
    if major == 3:
        kw["channels"] = [1, 2] if n_channels == 2 else [0, 0]
    # cellpose 4: no 'channels' (deprecated: the first 3 channels are used in order, so the engine puts the target
    # channel first); 'diameter' still means rescale = 30 / diameter; no 'invert'/'interp'; bsize fixed at 256.
    return kw


def clear_model_cache() -> None:
    """Forget every loaded model (frees GPU memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()


class _NetTicker:
    """Forward pre-hook: counts network batches, reports progress, raises Cancelled when asked."""

    def __init__(self) -> None:
        self.on_batch: Callable[[], None] | None = None

    def __call__(self, module, inputs):
        if self.on_batch is not None:
            self.on_batch()


class CellposeAdapter:
    """A loaded, warm cellpose model plus the knowledge of how to call it.

    Instances are cached per (model, device): ``CellposeAdapter.get(settings, ...)`` returns the warm one.
    """

    def __init__(self, spec: ModelSpec, device: str, major: int, inference: str = "auto"):
        strict = inference == "onnx"  # asked for by name: it may not fall back to PyTorch
        inference = resolve_inference(inference, major, device)  # the mode that runs
        self.spec, self.device, self.major, self.inference = spec, device, major, inference
        self._lock = threading.Lock()  # one model on one device: serialize calls
        self._ticker = _NetTicker()
        self.model = self._load()
        tune_network(self.model, major, device, inference, strict=strict, weights=self.weights_path)
        net = getattr(self.model, "net", None)
        if net is not None and hasattr(net, "register_forward_pre_hook"):
            net.register_forward_pre_hook(self._ticker)

    @classmethod
    def get(cls, settings: DetectorSettings, *, runtime_device: str = "auto", inference: str = "auto",
            log: Callable[[str], None] | None = None) -> "CellposeAdapter":
        """The warm adapter for (model, device, cellpose major, ``inference``); see ``RuntimeOptions.inference``."""
        major = cellpose_major_version()
        spec = check_model(settings, major)
        device, notice = select_device(settings.use_gpu, runtime_device)
        if notice and log:
            log(notice)
        # "auto" shares the model of the mode it resolves to; "onnx" by name is its own (it may not fall back)
        key = (spec, device, major, resolve_inference(inference, major, device), inference == "onnx")
        with _CACHE_LOCK:
            ad = _CACHE.get(key)
            if ad is None:
                ad = cls(spec, device, major, inference)
                _CACHE[key] = ad
        return ad

    def _load(self):
        import torch

        models = import_cellpose_models()
        if self.spec.name:
            known = set(getattr(models, "MODEL_NAMES", [])) | set(models.get_user_models())
            if self.spec.name not in known:
                # cellpose would log a warning and silently download its default model instead
                raise BackendUnavailableError(f"cellpose {self.major} has no built-in model {self.spec.name!r}; it "
                                              f"has: {', '.join(sorted(known))}")
        logger = logging.getLogger("cellpose.models")
        if not any(isinstance(f, _DropExpectedNotices) for f in logger.filters):
            logger.addFilter(_DropExpectedNotices())

        gpu = self.device != "cpu"
        dev = torch.device(self.device)
        extra = constructor_kwargs(self.major, self.device, self.inference)
        try:
            if self.major == 3:
                if self.spec.path:
                    return models.CellposeModel(gpu=gpu, device=dev, pretrained_model=self.spec.path, **extra)
                return models.CellposeModel(gpu=gpu, device=dev, model_type=self.spec.name, **extra)
            return models.CellposeModel(gpu=gpu, device=dev, pretrained_model=self.spec.path or self.spec.name,
                                        **extra)
        except Exception as e:  # cellpose raises plain exceptions
            hint = ""
            if self.spec.name:
                hint = (f"; the weights of built-in model {self.spec.name!r} are looked up in {models_dir()} and "
                        "downloaded on first use, which needs internet")
            raise BackendUnavailableError(
                f"cellpose {self.major} could not load model {self.spec.label!r}: {type(e).__name__}: {e}{hint}"
            ) from e

    @property
    def diam_mean(self) -> float:
        return float(getattr(self.model, "diam_mean", 30.0))

    @property
    def weights_path(self) -> str | None:
        """The model file cellpose loaded (a custom path, or the built-in model's file), when it is one file."""
        p = self.spec.path or getattr(self.model, "pretrained_model", None)
        return p if isinstance(p, str) and Path(p).is_file() else None

    def eval(self, x: np.ndarray, *, mode: str, settings: DetectorSettings, diameter_px: float,
             anisotropy: float = 1.0, tile_batch_size: int = 8,
             on_batch: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Run cellpose on ``x`` (see :func:`build_eval_kwargs` for layouts): :meth:`run_network`, then every
        frame's :meth:`masks`, as one ``CellposeModel.eval`` would.

        Returns
        -------
        masks : ndarray, (N, Y, X) for "2d", (Z, Y, X) otherwise
        cellprob : ndarray, same shape, cell-probability logits at the original size
        """
        out = self.run_network(x, mode=mode, settings=settings, diameter_px=diameter_px, anisotropy=anisotropy,
                               tile_batch_size=tile_batch_size, on_batch=on_batch)
        if mode == "2d":
            masks = np.stack([self.masks(out, i) for i in range(out.n)])
            cellprob = np.stack([out.cellprob(i) for i in range(out.n)])
        else:
            masks, cellprob = self.masks(out)[None], out.cellprob()[None]
        return masks.reshape(out.shape), cellprob.reshape(out.shape)

    def run_network(self, x: np.ndarray, *, mode: str, settings: DetectorSettings, diameter_px: float,
                    anisotropy: float = 1.0, tile_batch_size: int = 8,
                    on_batch: Callable[[], None] | None = None) -> "NetworkOutput":
        """The network part of ``CellposeModel.eval`` on ``x``: flows and cell probability, no masks yet.

        cellpose's own ``eval`` runs, with the keywords of :func:`build_eval_kwargs`, up to the point where it
        hands its flows to ``CellposeModel._compute_masks``; that call is recorded instead of run (cellpose has
        computed its arguments: iterations, resize, thresholds), and :meth:`masks` makes it later, frame by frame,
        possibly in another thread while the network runs on the next frames. The masks are therefore those of
        ``eval``. If cellpose does not call ``_compute_masks`` (another version), its own masks are kept.
        """
        kw = build_eval_kwargs(self.major, mode=mode, settings=settings, diameter_px=diameter_px,
                               anisotropy=anisotropy, n_channels=x.shape[-1], tile_batch_size=tile_batch_size)
        recorded: list[tuple[tuple, dict]] = []

        def record(*args: Any, **kwargs: Any) -> np.ndarray:
            recorded.append((args, kwargs))
            return np.zeros(0, np.int32)

        with self._lock:
            self._ticker.on_batch = on_batch
            self.model._compute_masks = record  # an instance attribute shadows the method for this call only
            try:
                masks, flows, _ = self.model.eval(x, **kw)
            except (Cancelled, BackendUnavailableError):  # cancelled, or inference 'onnx' cannot run (says why)
                raise
            except Exception as e:
                stop = _interrupt_inside(e)
                if stop is not None:  # a cancel or Ctrl-C that a C extension (numba) turned into its own error
                    raise stop from e
                raise SegmentationError(f"cellpose failed: {type(e).__name__}: {e}") from e
            finally:
                del self.model._compute_masks
                self._ticker.on_batch = None
                release_memory(self.model)
        n = x.shape[0] if mode == "2d" else 1
        shape = x.shape[:3]
        if recorded:
            (call_shape, dp, prob, *rest), call_kw = recorded[0]
            call = ((tuple(call_shape), *rest), call_kw)
            masks = None
        else:  # cellpose computed its masks itself
            masks = np.asarray(masks).reshape(shape)
            dp, prob, call = flows[1], flows[2], None
        # cellpose 3 returns the cell probability as a strided view into its whole (N, Y, X, 3) network output: a
        # compact copy lets that output (3x the size) be freed as soon as the masks are made
        prob = np.ascontiguousarray(prob, dtype=np.float32)
        if mode == "2d":  # eval squeezes what it returns: one frame comes back without its frame axis
            prob = prob.reshape(n, *prob.shape[-2:])
            dp = np.asarray(dp).reshape(dp.shape[0], n, *dp.shape[-2:])
        return NetworkOutput(mode=mode, n=n, shape=shape, dp=dp, cellprob_raw=prob, call=call, masks_done=masks)

    def masks(self, out: "NetworkOutput", index: int | None = None) -> np.ndarray:
        """cellpose's masks of frame ``index`` of a 2D :class:`NetworkOutput` (None: of the whole 3D/2D+Z stack),
        shape (Y, X) / (Z, Y, X); ``CellposeModel._compute_masks`` exactly as ``eval`` would call it (flow dynamics
        on the model's device: the GPU where there is one). Safe to call from another thread than the network's."""
        if out.masks_done is not None:
            return out.masks_done[index] if index is not None else out.masks_done
        (shape, *rest), kw = out.call
        compute = type(self.model)._compute_masks  # the method: never the recorder of a network call in flight
        try:
            if index is None:
                masks = compute(self.model, shape, out.dp, out.cellprob_raw, *rest, **kw)
            else:
                one = (1, *shape[1:])
                masks = compute(self.model, one, out.dp[:, index:index + 1], out.cellprob_raw[index:index + 1],
                                *rest, **kw)
        except Cancelled:
            raise
        except Exception as e:
            raise SegmentationError(f"cellpose failed computing masks: {type(e).__name__}: {e}") from e
        want = out.shape[1:] if index is not None else out.shape
        return np.asarray(masks).reshape(want)


@dataclass(eq=False)
class NetworkOutput:
    """What :meth:`CellposeAdapter.run_network` hands to :meth:`CellposeAdapter.masks`: cellpose's flows ``dp``
    (D, N, Y', X') and cell probability (N, Y', X') for N frames (mode "2d") or one stack of N planes, at the
    network's output size (Y', X' differ from the image's with RESAMPLE off), and cellpose's recorded call.
    Compared and hashed by identity (its arrays have no single truth value)."""

    mode: str
    n: int
    shape: tuple[int, int, int]
    dp: np.ndarray
    cellprob_raw: np.ndarray
    call: tuple[tuple, dict] | None
    masks_done: np.ndarray | None = None

    def cellprob(self, index: int | None = None) -> np.ndarray:
        """Cell-probability logits of frame ``index`` (None: the whole stack) at the image's size."""
        prob = self.cellprob_raw if index is None else self.cellprob_raw[index]
        want = self.shape if index is None else self.shape[1:]
        if prob.shape != tuple(want):
            # RESAMPLE=False: cellpose returns the probability map at the network's rescaled size
            from scipy.ndimage import zoom

            prob = zoom(prob, tuple(w / c for w, c in zip(want, prob.shape)), order=1, grid_mode=True,
                        mode="nearest")
        return prob
