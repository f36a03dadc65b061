"""Fine-tune a cellpose network with cellpose's own training function (``cellpose.train.train_seg``, 3.x and 4.x).

cellpose's ``train_seg`` has no callback. A monitor sees every step through two hooks that change nothing it computes:
a forward pre-hook on the network (the input of each held-out batch) and a wrapper around ``train._loss_fn_seg``
(each training step's loss, each held-out batch's loss), installed only for the call. With them it

* reports progress and the loss after every step, and checks the cancel flag there (a cancel raised inside the loss,
  before the step's backward pass, leaves the weights of the previous step);
* keeps the held-out batches cellpose evaluates at its first evaluation (end of epoch 0; its crops are seeded, so every
  evaluation uses the same ones) and computes the held-out loss on them at the end of EVERY epoch, exactly as cellpose
  does on its own schedule (epochs 0, 5, 10, 20, ...);
* keeps a copy of the weights of the best epoch so far (lowest held-out loss; the latest epoch when nothing is held
  out), which is what :func:`fine_tune` returns, also when training stops early (cancel, Ctrl-C).

The model file is written by :func:`save_network` to a temporary file beside the target, then renamed: never half
written.

Imports: cellpose (lazily), numpy, torch (lazily); package: errors, segment.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import BackendUnavailableError, Cancelled
from ._adapter import import_cellpose_models, select_device
from ._fit_options import FitOptions
from ._models import ModelSpec, models_dir


#: Per cellpose major version: learning rate and weight decay for fine-tuning (cellpose's own defaults for 4.x; for
#: 3.x the rate its docs suggest for fine-tuning a built-in model with AdamW), and the crop size it trains on.
DEFAULTS = {3: {"learning_rate": 1e-3, "weight_decay": 1e-4, "crop": 224},
            4: {"learning_rate": 1e-5, "weight_decay": 0.1, "crop": 256}}


@dataclass
class FitResult:
    """Outcome of :func:`fine_tune`.

    Attributes
    ----------
    state : dict or None
        State dict (CPU tensors) of the best epoch; None when no epoch ended (stopped during the first).
    best_epoch : int
        0-based epoch of ``state`` (-1 when None).
    epochs_done : int
        Epochs that ended.
    stopped : str
        ``""`` when all epochs ran, else why training stopped early (``"cancelled"``, ``"interrupted"``).
    train_loss, held_out_loss : list of float
        Per ended epoch (held-out: NaN when nothing is held out).
    seconds : float
        Training time (without loading the base network).
    diam_labels : float
        Mean object diameter (pixels) of the training images, as cellpose measured it (saved in the model).
    major : int
    device : str
    """

    state: dict | None
    best_epoch: int
    epochs_done: int
    stopped: str
    train_loss: list = field(default_factory=list)
    held_out_loss: list = field(default_factory=list)
    seconds: float = 0.0
    diam_labels: float = float("nan")
    major: int = 3
    device: str = "cpu"

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / self.epochs_done if self.epochs_done else float("nan")


def load_network(spec: ModelSpec, major: int, device: str = "auto") -> tuple[Any, str]:
    """Load the base model to train (a fresh ``CellposeModel`` in float32, never the detector's warm, tuned one).

    Returns the cellpose model and the device it is on. Raises BackendUnavailableError when cellpose cannot load it.
    """
    import torch

    models = import_cellpose_models()
    dev, _ = select_device(device != "cpu", device)
    gpu = dev != "cpu"
    try:
        if major == 3:
            if spec.path:
                model = models.CellposeModel(gpu=gpu, device=torch.device(dev), pretrained_model=spec.path)
            else:
                model = models.CellposeModel(gpu=gpu, device=torch.device(dev), model_type=spec.name)
        else:
            model = models.CellposeModel(gpu=gpu, device=torch.device(dev), pretrained_model=spec.path or spec.name,
                                         use_bfloat16=False)
    except Exception as e:  # cellpose raises plain exceptions
        hint = ""
        if spec.name:
            hint = (f"; the weights of built-in model {spec.name!r} are looked up in {models_dir()} and downloaded "
                    "on first use, which needs internet")
        raise BackendUnavailableError(
            f"cellpose {major} could not load the base model {spec.label!r}: {type(e).__name__}: {e}{hint}") from e
    return model, dev


class _Monitor:
    """Progress, cancel, per-epoch held-out loss and best-epoch weights around one ``train_seg`` call."""

    def __init__(self, net, loss_fn, *, major: int, steps_per_epoch: int, epochs: int, has_held_out: bool,
                 progress: Callable[[float, str], None] | None, cancel: Callable[[], bool] | None,
                 on_epoch: Callable[[int, float, float, bool], None] | None):
        self.net, self.loss_fn, self.major = net, loss_fn, major
        self.steps_per_epoch, self.epochs = steps_per_epoch, epochs
        self.has_held_out = has_held_out
        self.progress, self.cancel, self.on_epoch = progress, cancel, on_epoch
        self.step = 0
        self.epoch_sum = 0.0
        self.epoch_n = 0
        self.train_loss: list[float] = []
        self.held_out_loss: list[float] = []
        self.batches: list[tuple[Any, Any]] = []  # the held-out crops cellpose evaluates (same every time)
        self.recording = False
        self.cellpose_eval: tuple[float, int] | None = None  # held-out loss cellpose computed for the current epoch
        self.best: tuple[float, int, dict] | None = None
        self._last_x = None
        self._own_pass = False

    # hooks -------------------------------------------------------------------------------------------------------
    def pre_hook(self, module, inputs):
        if not module.training and not self._own_pass:
            self._last_x = inputs[0]

    def loss(self, lbl, y, device):
        value = self.loss_fn(lbl, y, device)
        if self._own_pass:
            return value
        if self.net.training:
            self._training_step(float(value.item()), len(y))
        else:
            self._held_out_batch(lbl, float(value.item()), len(y))
        return value

    # bookkeeping -------------------------------------------------------------------------------------------------
    def _training_step(self, loss: float, n: int) -> None:
        epoch = self.step // self.steps_per_epoch
        if epoch > len(self.train_loss) and self.epoch_n:
            self.end_epoch()  # the weights are still those at the end of the previous epoch (no step yet)
        if self.cancel is not None and self.cancel():
            raise Cancelled(f"training cancelled in epoch {epoch + 1} of {self.epochs}")
        self.recording = False
        self.step += 1
        self.epoch_sum += loss * n
        self.epoch_n += n
        if self.progress is not None:
            total = self.steps_per_epoch * self.epochs
            best = f", best held-out {self.best[0]:.4f} (epoch {self.best[1] + 1})" if (
                self.best and self.has_held_out) else ""
            self.progress(self.step / total, f"epoch {epoch + 1}/{self.epochs}, loss "
                                             f"{self.epoch_sum / self.epoch_n:.4f}{best}")

    def _held_out_batch(self, lbl, loss: float, n: int) -> None:
        if not self.batches or self.recording:
            self.recording = True
            self.batches.append((self._last_x, lbl))
        s, k = self.cellpose_eval or (0.0, 0)
        self.cellpose_eval = (s + loss * n, k + n)

    def _held_out_loss(self) -> float:
        if self.cellpose_eval is not None:  # cellpose evaluated this epoch itself: its number
            s, k = self.cellpose_eval
            return s / k
        if not self.batches:
            return float("nan")
        import torch

        was_training = self.net.training
        self._own_pass = True
        total, count = 0.0, 0
        try:
            self.net.eval()
            with torch.no_grad():
                for x, lbl in self.batches:
                    if self.major >= 4 and self.net.dtype != torch.float32:  # as cellpose 4's train_seg
                        with torch.autocast(device_type=x.device.type, dtype=self.net.dtype):
                            y = self.net(x)[0]
                    else:
                        y = self.net(x)[0]
                    total += float(self.loss_fn(lbl, y, x.device).item()) * len(x)
                    count += len(x)
        finally:
            self._own_pass = False
            if was_training:
                self.net.train()
        return total / count

    def end_epoch(self) -> None:
        """Close the epoch that just ended: its losses, and a copy of its weights when they are the best so far."""
        epoch = len(self.train_loss)
        train = self.epoch_sum / self.epoch_n if self.epoch_n else float("nan")
        held = self._held_out_loss() if self.has_held_out else float("nan")
        self.cellpose_eval = None
        self.epoch_sum, self.epoch_n = 0.0, 0
        score = held if self.has_held_out else -epoch  # nothing held out: the latest epoch
        improved = self.best is None or (math.isfinite(score) and score < self.best[0]) or not math.isfinite(
            self.best[0])
        if improved:
            state = {k: v.detach().to("cpu", copy=True) for k, v in self.net.state_dict().items()}
            self.best = (score, epoch, state)  # assigned whole: an interrupt leaves the previous best intact
        self.train_loss.append(train)
        self.held_out_loss.append(held)
        if self.on_epoch is not None:
            self.on_epoch(epoch, train, held, improved)


def fine_tune(model: Any, major: int, device: str, train_images: list[np.ndarray], train_labels: list[np.ndarray],
              held_out_images: list[np.ndarray], held_out_labels: list[np.ndarray], options: FitOptions, *,
              channel_axis: int | None = None, two_channels: bool = False,
              progress: Callable[[float, str], None] | None = None, cancel: Callable[[], bool] | None = None,
              on_epoch: Callable[[int, float, float, bool], None] | None = None) -> FitResult:
    """Train ``model.net`` with ``cellpose.train.train_seg`` on the given images and label images.

    Parameters
    ----------
    model
        A cellpose model from :func:`load_network`.
    train_images, held_out_images : list of ndarray
        2D images, (Y, X), or (C, Y, X) with ``channel_axis=0`` for two channels.
    train_labels, held_out_labels : list of ndarray, (Y, X) integer
    options : FitOptions
    two_channels : bool
        cellpose 3: the images hold the channel to segment and a second (nuclear) channel.
    progress, cancel, on_epoch
        ``progress(fraction, text)`` after every step; ``cancel()`` checked before every step;
        ``on_epoch(epoch, train_loss, held_out_loss, best)`` at the end of every epoch.

    Returns
    -------
    FitResult
        With the best epoch's weights. A cancel (``Cancelled``) or Ctrl-C (``KeyboardInterrupt``) ends training
        early and is reported in ``stopped``, not raised.
    """
    import torch
    from cellpose import train

    d = DEFAULTS[major]
    lr = d["learning_rate"] if options.learning_rate is None else options.learning_rate
    wd = d["weight_decay"] if options.weight_decay is None else options.weight_decay
    crop = d["crop"] if options.crop is None else options.crop
    random.seed(options.seed)
    np.random.seed(options.seed)
    torch.manual_seed(options.seed)
    n_img = len(train_images)
    per_epoch = n_img if options.images_per_epoch is None else max(1, int(options.images_per_epoch))
    batch = max(1, int(options.batch_size))
    steps = math.ceil(per_epoch / batch)
    net = model.net
    monitor = _Monitor(net, train._loss_fn_seg, major=major, steps_per_epoch=steps, epochs=options.epochs,
                       has_held_out=bool(held_out_images), progress=progress, cancel=cancel, on_epoch=on_epoch)
    kw: dict[str, Any] = {
        "train_data": train_images, "train_labels": train_labels, "normalize": {"normalize": True}, "learning_rate": lr,
        "weight_decay": wd, "n_epochs": int(options.epochs), "batch_size": batch, "bsize": int(crop),
        "min_train_masks": 1, "save_every": 10 ** 9, "nimg_per_epoch": per_epoch, "channel_axis": channel_axis,
        "model_name": "trackmate_cellpose_training"}
    if held_out_images:
        kw.update(test_data=held_out_images, test_labels=held_out_labels,
                  nimg_test_per_epoch=min(len(held_out_images), 4 * batch))
    if major == 3:
        kw["channels"] = [1, 2] if two_channels else [0, 0]
    stopped = ""
    hook = net.register_forward_pre_hook(monitor.pre_hook)
    original = train._loss_fn_seg
    train._loss_fn_seg = monitor.loss
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="tmcp-train-") as tmp:
            train.train_seg(net, save_path=tmp, **kw)
            monitor.end_epoch()  # the last epoch (train_seg returns right after it)
    except Cancelled:
        stopped = "cancelled"
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        train._loss_fn_seg = original
        hook.remove()
    seconds = time.perf_counter() - t0
    best = monitor.best
    diam = float(net.diam_labels.item()) if hasattr(net, "diam_labels") else float("nan")
    if best is not None:
        diam = float(best[2]["diam_labels"].item()) if "diam_labels" in best[2] else diam
    return FitResult(state=None if best is None else best[2], best_epoch=-1 if best is None else best[1],
                     epochs_done=len(monitor.train_loss), stopped=stopped, train_loss=monitor.train_loss,
                     held_out_loss=monitor.held_out_loss, seconds=seconds, diam_labels=diam, major=major,
                     device=device)


def save_network(state: dict, path: str | Path) -> Path:
    """Write a state dict as a cellpose model file: to a temporary file beside ``path``, then renamed over it."""
    import torch

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
