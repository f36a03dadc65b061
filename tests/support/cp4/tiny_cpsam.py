"""Test-only support for running REAL cellpose-4 code on a CPU without the 1.2 GB Cellpose-SAM weights.

Two hooks, both used only by tests and by ``scripts/tools/train_tiny_cpsam.py`` (never by the package):

* :func:`shim_torchvision_ops` - PyPI's torchvision wheels are CUDA builds; beside the CPU torch their import fails
  with ``operator torchvision::nms does not exist``, so ``from cellpose import models`` fails. cellpose only uses
  torchvision's pure-Python transforms: declaring the two operator schemas (never called) lets it import.
* :func:`install_tiny_encoder` - cellpose 4's ``CPSAM`` always builds SAM ViT-L through
  ``segment_anything.sam_model_registry["vit_l"]``. Replacing that entry by a builder of the same
  ``ImageEncoderViT`` class with a tiny configuration keeps every other line of cellpose 4 real (patch
  convolution, position embedding, W2 readout, dynamics, 3D, stitching); ``CellposeModel(pretrained_model=path)``
  then loads a tiny model trained with cellpose 4's own ``train_seg``.
"""

from __future__ import annotations

import functools
import types
from pathlib import Path

#: Encoder configuration of the tiny model (must match the shipped ``tiny_cpsam.pth``; checked by the tests).
TINY = {"embed_dim": 32, "depth": 1, "num_heads": 1, "out_chans": 32}

_LIBS: list = []  # keep the torch.library handles alive for the life of the process


def shim_torchvision_ops() -> bool:
    """Declare ``torchvision::nms``/``qnms`` when torchvision's compiled ops cannot load. Returns True if it did."""
    import importlib.util

    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        return False
    for folder in spec.submodule_search_locations or []:
        for lib in Path(folder).glob("_C*.so"):
            try:
                torch.ops.load_library(str(lib))  # a torchvision built for this torch: its own ops, no shim
                return False
            except (OSError, RuntimeError):
                pass
    lib = torch.library.Library("torchvision", "DEF")  # noqa: TOR901 - schemas only, never called
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor qdets, Tensor qscores, float iou_threshold) -> Tensor")
    _LIBS.append(lib)
    return True


def tiny_encoder(config: dict | None = None):
    """A segment_anything ``ImageEncoderViT`` with the tiny configuration (positions for 1024/16 = 64 tokens)."""
    import torch
    from segment_anything.modeling import ImageEncoderViT

    c = {**TINY, **(config or {})}
    return ImageEncoderViT(
        img_size=1024, patch_size=16, in_chans=3, embed_dim=c["embed_dim"], depth=c["depth"],
        num_heads=c["num_heads"], mlp_ratio=4.0, out_chans=c["out_chans"], qkv_bias=True,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6), act_layer=torch.nn.GELU, use_rel_pos=True,
        rel_pos_zero_init=True, window_size=0, global_attn_indexes=tuple(range(c["depth"])))


def install_tiny_encoder() -> None:
    """Make ``sam_model_registry["vit_l"]`` (which cellpose 4's CPSAM calls) build the tiny encoder."""
    from segment_anything import sam_model_registry

    def build(checkpoint=None):
        if checkpoint is not None:
            raise RuntimeError("the tiny test encoder has no SAM checkpoint")
        return types.SimpleNamespace(image_encoder=tiny_encoder())

    sam_model_registry["vit_l"] = build


def encoder_config_of(state_dict) -> dict:
    """Read the encoder configuration back from a saved state dict (embed_dim, depth, out_chans)."""
    depth = len({k.split(".")[2] for k in state_dict if k.startswith("encoder.blocks.")})
    return {"embed_dim": int(state_dict["encoder.patch_embed.proj.weight"].shape[0]), "depth": depth,
            "out_chans": int(state_dict["encoder.neck.0.weight"].shape[0])}
