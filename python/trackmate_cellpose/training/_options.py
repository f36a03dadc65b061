"""Options of a training run, validated before anything is read or written (leaf of the training package).

Imports: none; package: errors, segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InvalidSettingsError
from ..segment._fit_options import FitOptions


@dataclass(frozen=True)
class TrainingOptions(FitOptions):
    """How to retrain (every value checked; a wrong one raises InvalidSettingsError naming the option).

    Attributes
    ----------
    epochs : int
        Passes over the training images (>= 1). cellpose ramps the learning rate up over the first 10 epochs.
    learning_rate : float or None
        AdamW learning rate (> 0); None = the installed cellpose's fine-tuning default (3.x: 1e-3, 4.x: 1e-5).
    weight_decay : float or None
        AdamW weight decay (>= 0); None = the default of the installed cellpose (3.x: 1e-4, 4.x: 0.1).
    batch_size : int
        Crops per training step (>= 1).
    crop : int or None
        Side of the square training crops in pixels, a multiple of 16 from 32 (cellpose's ``bsize``); None =
        cellpose's (3.x: 224; 4.x: 256, the only size cellpose 4 trains on).
    images_per_epoch : int or None
        Training images drawn per epoch (>= 1); None = every one (2D: every curated frame; 3D: every plane with an
        object of every curated stack, in all three orientations).
    holdout_fraction : float
        Share of the curated frames held out to choose the best epoch and for the report, 0 <= f < 1 (at least one
        frame when f > 0 and there are two or more; never all of them). Ignored when ``holdout_frames`` is given.
    holdout_frames : tuple of int or None
        The frames to hold out, explicitly.
    seed : int
    device : str
        ``auto`` (a GPU when torch sees one), ``cpu``, ``cuda`` or ``mps``.
    """

    # epochs, learning_rate, weight_decay, batch_size, crop, images_per_epoch, seed, device: FitOptions' fields
    holdout_fraction: float = 0.2
    holdout_frames: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        def bad(name: str, v, want: str) -> InvalidSettingsError:
            return InvalidSettingsError(f"--{name.replace('_', '-')} must be {want}, got {v!r}", key=name, value=v)

        def whole(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise bad(name, v, f"an integer >= {lo}")

        whole("epochs", 1)
        whole("batch_size", 1)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise bad("seed", self.seed, "an integer")
        if self.images_per_epoch is not None:
            whole("images_per_epoch", 1)
        if self.crop is not None:
            whole("crop", 32)
            if self.crop % 16:
                raise bad("crop", self.crop, "a multiple of 16 (cellpose's networks halve the size 4 times)")
        if self.learning_rate is not None and not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise bad("learning_rate", self.learning_rate, "a number > 0")
        if self.weight_decay is not None and not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise bad("weight_decay", self.weight_decay, "a number >= 0")
        if not (isinstance(self.holdout_fraction, (int, float)) and 0 <= self.holdout_fraction < 1):
            raise bad("holdout_fraction", self.holdout_fraction, "a number from 0 up to (not including) 1")
        if self.holdout_frames is not None:
            object.__setattr__(self, "holdout_frames", tuple(sorted({int(f) for f in self.holdout_frames})))
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise bad("device", self.device, "one of auto, cpu, cuda, mps")


def action_options_table() -> list[dict]:
    """The options of TrackMate's action "Retrain cellpose on these spots", in the row format of the settings table
    (key, type, default, label, unit, range, doc, lo, hi): generated into the glue jar, so that the Fiji dialog's
    fields, defaults and bounds come from here. Numbers follow :class:`TrainingOptions`; 0 stands for "the default"
    where the option is optional."""
    d = {f.name: f.default for f in TrainingOptions.__dataclass_fields__.values()}

    def row(key, kind, default, label, doc, lo=None, hi=None, rng=None):
        if rng is None and lo is not None:
            rng = f">= {lo:g}" if hi is None else f"{lo:g} to {hi:g}"
        return {"key": key, "type": kind, "default": default, "label": label, "unit": "-", "range": rng, "doc": doc,
                "lo": lo, "hi": hi, "nonempty": False, "only_3d": False, "editor": None}

    return [
        row("EPOCHS", "int", d["epochs"], "Epochs", "Training epochs (cellpose ramps the learning rate up over the "
            "first 10).", lo=1),
        row("LEARNING_RATE", "float", 0.0, "Learning rate", "AdamW learning rate; 0 = the installed cellpose's "
            "fine-tuning default (3.x: 1e-3, 4.x: 1e-5).", lo=0.0),
        row("HOLDOUT_FRACTION", "float", d["holdout_fraction"], "Held-out fraction", "Share of the curated frames "
            "held out to choose the best epoch and for the report.", lo=0.0, hi=0.9),
        row("FRAMES", "str", "", "Curated frames", "Frames to train on, e.g. 0,3,5-9; empty = every frame with a "
            "visible spot.", rng="frame list, or empty"),
        row("SEED", "int", d["seed"], "Seed", "Random seed.", lo=0),
    ]
