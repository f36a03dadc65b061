"""Train the tiny Cellpose-SAM test model with cellpose 4's own training code (seeded; ~7 min on 2 cores).

Needs cellpose 4 (``CELLPOSE_SPEC='cellpose>=4.2,<5' VENV=.venv-cp4 bash scripts/setup.sh``). The encoder is SAM's
``ImageEncoderViT`` in a tiny configuration (tests/support/cp4/tiny_cpsam.py); everything else is cellpose 4's real
CPSAM network and training loop. For tests only: it segments the package's synthetic blobs, nothing else.

    PYTHONPATH=tests/support/cp4 .venv-cp4/bin/python scripts/tools/train_tiny_cpsam.py [--epochs 100] \
        [--out tests/data/tiny_cpsam.pth]

(``tests/support/cp4`` holds the tiny encoder's hooks, which the tests use too.)

Stored as an fp16 state dict (< 1 MB); cellpose 4 loads it with ``CellposeModel(pretrained_model=path)`` once the
tiny encoder builder is installed (the tests do that through tests/support/cp4/sitecustomize.py).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from training_data import training_set

try:
    from tiny_cpsam import install_tiny_encoder, shim_torchvision_ops
except ImportError as e:  # the test support folder is not on the path
    raise SystemExit(f"{e}: run with PYTHONPATH=tests/support/cp4 (see this script's docstring)") from e

ROOT = Path(__file__).resolve().parents[2]

DEFAULT_OUT = ROOT / "tests" / "data" / "tiny_cpsam.pth"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--n-frames", type=int, default=16)
    ap.add_argument("--n-volumes", type=int, default=2)
    ap.add_argument("--keep-fp32", type=Path, help="also keep the float32 state dict here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # cellpose's per-epoch losses
    shim_torchvision_ops()
    install_tiny_encoder()
    import torch
    from cellpose import train, vit

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    imgs, labs = training_set(args.n_frames, args.n_volumes, seed=args.seed)
    net = vit.CPSAM(dtype=torch.float32)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        path, *_ = train.train_seg(
            net, train_data=imgs, train_labels=labs, normalize=True, learning_rate=3e-3, weight_decay=1e-4,
            n_epochs=args.epochs, batch_size=8, bsize=256, min_train_masks=1, save_path=tmp,
            model_name="tiny_cpsam", save_every=10_000, nimg_per_epoch=min(len(imgs), 16))
        state = torch.load(path, map_location="cpu", weights_only=True)
        if args.keep_fp32:
            torch.save(state, args.keep_fp32)
    half = {k: (v.half() if v.is_floating_point() and k not in ("diam_mean", "diam_labels", "W2") else v)
            for k, v in state.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(half, args.out)
    print(f"trained {args.epochs} epochs on {len(imgs)} images in {time.time() - t0:.0f} s -> {args.out} "
          f"({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
