"""torch's process-wide state, for the modules that must not import torch themselves.

The distributed worker sets torch's CPU threads and reports them; ``doctor`` reports torch's version and the
devices it sees. torch is imported inside the functions only (and :func:`torch_threads` never imports it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class TorchInfo:
    """What the installed torch is and which accelerators it sees.

    Attributes
    ----------
    version : str
        ``torch.__version__``.
    cuda_build : str or None
        CUDA version torch was built with (None for a CPU build).
    cuda_devices : tuple of str
        Names of the visible CUDA devices (empty when none).
    mps : bool
        True when Apple's MPS device is available.
    """

    version: str
    cuda_build: str | None
    cuda_devices: tuple[str, ...]
    mps: bool


def torch_info() -> TorchInfo:
    """Import torch and describe it; the import's own exception propagates when torch cannot be imported."""
    import torch

    cuda = (tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
            if torch.cuda.is_available() else ())
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return TorchInfo(torch.__version__, torch.version.cuda, cuda, bool(mps))


def set_torch_threads(n: int) -> int:
    """Set torch's intra-op threads in this process (at least 1); return the value torch reports afterwards."""
    import torch

    torch.set_num_threads(max(1, int(n)))
    return torch.get_num_threads()


def torch_threads() -> int | None:
    """torch's intra-op threads in this process, or None when torch is not loaded (it is not imported for this)."""
    torch = sys.modules.get("torch")
    return None if torch is None else torch.get_num_threads()
