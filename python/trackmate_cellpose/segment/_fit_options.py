"""How a network is fine-tuned: the options :func:`~trackmate_cellpose.segment._training.fine_tune` reads, the base of
the public :class:`~trackmate_cellpose.training.TrainingOptions` (which adds the held-out frames and checks every value).

Imports: none.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FitOptions:
    """How to train (see :func:`trackmate_cellpose.training.train_from_trackmate` for the user-facing meaning).

    Attributes
    ----------
    epochs : int
    learning_rate, weight_decay : float or None
        None = ``DEFAULTS`` of the installed major version.
    batch_size : int
        Crops per training step.
    crop : int or None
        Side of the square training crops in pixels (cellpose's ``bsize``); None = ``DEFAULTS``. cellpose 4
        trains on 256 only.
    images_per_epoch : int or None
        Images drawn per epoch (cellpose's ``nimg_per_epoch``); None = all training images.
    seed : int
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``mps`` (``auto``: a GPU when torch sees one).
    """

    epochs: int = 100
    learning_rate: float | None = None
    weight_decay: float | None = None
    batch_size: int = 8
    crop: int | None = None
    images_per_epoch: int | None = None
    seed: int = 0
    device: str = "auto"
