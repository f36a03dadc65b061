"""Train the small bundled cellpose-3 test/demo model from scratch on synthetic data (seeded, ~6 min on 2 cores).

This model is for tests and the demo only: it segments the package's synthetic blobs, not real cells. Two stages:
(1) from scratch on 2D frames (``--epochs``); (2) fine-tuned on 2D frames AND orthogonal (ZY, ZX, YX) slices of
synthetic anisotropic volumes resampled as cellpose's 3D mode resamples them (scripts/tools/training_data.py), so that full
3D mode works on the bundled 3D+t sample (``--finetune-epochs``). ``--init FILE`` starts stage 2 from FILE (e.g.
the stage-1 model of an earlier run) instead of running stage 1.

    python scripts/tools/train_test_model.py [--epochs 40] [--out python/trackmate_cellpose/data/tmcp_test_model.pth]

The result is stored as an fp16 state dict (~13 MB) that ``CellposeModel(pretrained_model=path)`` loads unchanged.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from training_data import training_set

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "python" / "trackmate_cellpose" / "data" / "tmcp_test_model.pth"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--n-frames", type=int, default=16)
    ap.add_argument("--n-volumes", type=int, default=1)
    ap.add_argument("--finetune-epochs", type=int, default=20)
    ap.add_argument("--finetune-lr", type=float, default=0.001)
    ap.add_argument("--per-epoch", type=int, default=28, help="images drawn per fine-tuning epoch")
    ap.add_argument("--init", type=Path, help="skip stage 1: fine-tune this cellpose-3 model file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    import torch
    from cellpose import models, train

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        def stage(net, imgs, labs, epochs, lr, per_epoch, name):
            path, *_ = train.train_seg(
                net, train_data=imgs, train_labels=labs, channels=[0, 0], normalize=True, learning_rate=lr,
                weight_decay=1e-4, n_epochs=epochs, batch_size=8, bsize=112, min_train_masks=1, save_path=tmp,
                model_name=name, save_every=10_000, nimg_per_epoch=min(len(imgs), per_epoch))
            return path

        if args.init:
            model = models.CellposeModel(gpu=False, pretrained_model=str(args.init))
        else:
            model = models.CellposeModel(gpu=False, pretrained_model=False, model_type=None, diam_mean=30.0)
            imgs, labs = training_set(args.n_frames, 0, seed=args.seed)
            stage(model.net, imgs, labs, args.epochs, 0.005, len(imgs), "stage1")
        imgs, labs = training_set(args.n_frames, args.n_volumes, seed=args.seed)
        path = stage(model.net, imgs, labs, args.finetune_epochs, args.finetune_lr, args.per_epoch, "tmcp_test_model")
        state = torch.load(path, map_location="cpu", weights_only=True)
    half = {k: (v.half() if v.is_floating_point() and k not in ("diam_mean", "diam_labels") else v)
            for k, v in state.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(half, args.out)
    print(f"trained ({'from ' + str(args.init) if args.init else f'{args.epochs} epochs from scratch'}, then "
          f"{args.finetune_epochs} fine-tuning epochs on {len(imgs)} images) in {time.time() - t0:.0f} s -> {args.out} "
          f"({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
