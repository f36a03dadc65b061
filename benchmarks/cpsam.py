"""Cellpose-SAM on the CPU: the network paths of cellpose 4 on the full-size architecture, and the proof of the export.

The full-size CP-SAM (SAM ViT-L encoder, 305 M parameters) is built with seeded random weights (its trained
weights cannot be downloaded here; timings do not depend on the values) and saved once to ``--weights`` (1.2 GB).
Measured, in one process, interleaved (``--reps``), on ``--tiles`` random 256 x 256 tiles through the adapter's
network as detection runs it: ``float32`` (cellpose's own PyTorch path, ``use_bfloat16=False``), ``onnx`` (ONNX
Runtime, float32; the export is not timed, it is cached on disk) and, with ``--bf16``, ``cellpose`` (cellpose 4's
own default: bfloat16 weights; ~100x slower per matrix product on a CPU without native bfloat16, so off by default;
one bfloat16 and one float32 matrix product of a ViT-L layer's size are always timed). ``--prove`` also runs the
export in float64: ONNX's reference evaluator on the exported float64 graph against PyTorch's float64 forward of
the same network (the full architecture; minutes). Masks: under cellpose 4 with the tests' tiny trained CP-SAM
(``TMCP_TEST_TINY_CPSAM=1 PYTHONPATH=tests/support/cp4``), the default's masks against cellpose's own float32 and
bfloat16 calls on the bundled 2D+t sample (frames identical, F1, matched IoU).
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from . import _cases
from ._measure import UsageError, fmt_s, interleaved, loadavg, log, paired_ratio, timing_summaries


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, default=Path("/tmp/tmcp-cpsam-full-seed0.pth"),
                        help="where the full-size random-weight CP-SAM is saved (built once) [%(default)s]")
    parser.add_argument("--tiles", type=int, default=1, help="256 x 256 tiles per network call [%(default)s]")
    parser.add_argument("--reps", type=int, default=2, help="interleaved repetitions [%(default)s]")
    parser.add_argument("--bf16", action="store_true", help="also time cellpose's own bfloat16 default")
    parser.add_argument("--prove", action="store_true", help="float64: the exported graph against PyTorch")
    parser.add_argument("--prove-only", action="store_true", help="--prove without the timings")
    parser.add_argument("--skip-masks", action="store_true", help="no tiny-model mask comparison")


def full_size_weights(path: Path) -> Path:
    """The full-size CP-SAM with seeded random weights, saved as a cellpose-4 model file (built once)."""
    import torch

    if path.is_file():
        return path
    from cellpose import vit

    torch.manual_seed(0)
    net = vit.CPSAM(dtype=torch.float32)
    if sum(p.numel() for p in net.parameters()) < 100_000_000:
        raise UsageError("this process builds the tiny test encoder (TMCP_TEST_TINY_CPSAM is set): run the timing "
                         "part without it")
    tmp = path.with_suffix(".tmp")
    torch.save(net.state_dict(), tmp)
    os.replace(tmp, path)
    return path


def matmul_probe() -> dict[str, float]:
    """CPU seconds of one 1024 x 1024 by 1024 x 4096 matrix product (a ViT-L MLP layer's shape) in float32 and in
    bfloat16: what decides between cellpose 4's own bfloat16 default and a float32 path on this CPU."""
    import torch

    from ._measure import timed

    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(1024, 1024, generator=gen), torch.rand(1024, 4096, generator=gen)
    res = {}
    for dtype in (torch.float32, torch.bfloat16):
        x, y = a.to(dtype), b.to(dtype)
        torch.matmul(x[:8], y)  # first call: kernel selection
        res[f"{str(dtype).removeprefix('torch.')}_cpu_s"] = timed(lambda: torch.matmul(x, y)).cpu
    return res


def prove_float64(net) -> dict[str, float]:
    """The exported graph run in float64 by ONNX's reference evaluator against PyTorch's float64 forward of the same
    network: equal to round-off only if the graph computes what the network does (rounding cannot hide a wrong
    operation in float64). The float64 graph is written to a temporary folder (over 2 GB at full size)."""
    import onnx
    import torch
    from onnx.reference import ReferenceEvaluator

    from trackmate_cellpose.segment import export_onnx

    net64 = copy.deepcopy(net).double().eval()
    x64 = torch.rand(1, 3, 256, 256, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = net64(x64)[0].numpy()
    with tempfile.TemporaryDirectory(prefix="tmcp-cpsam64-") as tmp:
        path, fixed = export_onnx(net64, 4, Path(tmp) / "cpsam64.onnx")
        del net64
        if fixed != (3, 256, 256):
            raise UsageError(f"the network's tiles are {fixed}, this proof feeds 3 x 256 x 256")
        y = ReferenceEvaluator(onnx.load(str(path))).run(None, {"x": x64.numpy()})[0]
    return {"max_abs_diff": float(np.abs(y - ref).max()), "max_abs": float(np.abs(ref).max())}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from trackmate_cellpose.segment import CellposeAdapter, cellpose_major_version, cpu_has_native_bf16

    if cellpose_major_version() != 4:
        raise UsageError("this suite measures cellpose 4 (Cellpose-SAM); the installed cellpose is not 4.x")
    out: dict[str, Any] = {"native_bf16": cpu_has_native_bf16(), "load_before": loadavg()}
    out["matmul_probe"] = matmul_probe()
    log(f"one 1024 x 1024 x 4096 matrix product: {out['matmul_probe']}")
    tiny = os.environ.get("TMCP_TEST_TINY_CPSAM") == "1"
    if not tiny:
        weights = full_size_weights(args.weights)
        settings = _cases.settings().replace(model_path=str(weights))
        modes = ["float32"] if args.prove_only else ["float32", "onnx"] + (["cellpose"] if args.bf16 else [])
        nets = {m: CellposeAdapter.get(settings, runtime_device="cpu", inference=m) for m in modes}
        x = torch.rand(args.tiles, 3, 256, 256, generator=torch.Generator().manual_seed(1))

        def call(m: str):
            net = nets[m].model.net
            dtype = next(net.parameters()).dtype

            def forward():
                with torch.no_grad():  # as cellpose runs it: no autograd graph
                    return net(x.to(dtype))[0].float()
            return forward
        if not args.prove_only:
            outs = {m: call(m)() for m in modes}  # warm-up: the ONNX graph is exported (or loaded) here
            out["max_abs_diff_vs_float32"] = {m: float((o - outs["float32"]).abs().max()) for m, o in outs.items()}
            out["max_abs_float32"] = float(outs["float32"].abs().max())
            res = interleaved({m: call(m) for m in modes}, args.reps)
            for m, ts in res.items():
                out.update(timing_summaries(m, ts))
                if m != "float32":
                    out[f"float32 / {m} (cpu)"] = paired_ratio(res["float32"], ts, "cpu")
                    out[f"float32 / {m} (wall)"] = paired_ratio(res["float32"], ts, "wall")
                    log(f"float32 / {m}: CPU {fmt_s(out[f'float32 / {m} (cpu)'], 'x', 2)}")
        if args.prove or args.prove_only:
            args.checkpoint(out)  # the timings are kept if the proof runs out of time or memory
            out["float64_proof"] = prove_float64(nets["float32"].model.net)
            log(f"float64 proof: {out['float64_proof']}")
    elif not args.skip_masks:
        from trackmate_cellpose import RuntimeOptions, detect
        from trackmate_cellpose.data import sample_path
        import tifffile

        movie = tifffile.imread(sample_path("2dt"))
        settings = _cases.settings()
        labels = {m: [f.labels for f in detect(movie, settings, axes="tyx", calibration=_cases.calibration(),
                                               runtime=RuntimeOptions(device="cpu", inference=m)).frames]
                  for m in ("auto", "onnx", "float32", "cellpose")}
        out["auto_ran_as"] = CellposeAdapter.get(settings, runtime_device="cpu").inference
        out["masks"] = {f"{a} vs {b}": _cases.match_frames(labels[a], labels[b])
                        for a, b in (("onnx", "float32"), ("auto", "float32"), ("auto", "cellpose"),
                                     ("float32", "cellpose"))}
        log(f"masks: {out['masks']}")
    out["load_after"] = loadavg()
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [f"native bfloat16: {results['native_bf16']}; load {results['load_before']} -> {results['load_after']}"]
    if "matmul_probe" in results:
        p = results["matmul_probe"]
        lines.append(f"- one 1024 x 1024 x 4096 matrix product: float32 {p['float32_cpu_s']:.2f} CPU-s, bfloat16 "
                     f"{p['bfloat16_cpu_s']:.2f} CPU-s")
    for m in ("float32", "onnx", "cellpose"):
        if f"{m}_cpu_s" in results:
            r = results.get(f"float32 / {m} (cpu)")
            lines.append(f"- {m}: CPU {fmt_s(results[f'{m}_cpu_s'], digits=1)}, wall "
                         f"{fmt_s(results[f'{m}_wall_s'], digits=1)}" + (f"; float32 / {m} CPU {fmt_s(r, 'x', 2)}"
                                                                        if r else ""))
    for k, v in results.get("masks", {}).items():
        lines.append(f"- masks {k}: {v['frames_identical']} identical, F1 {v['f1']:.3f}, IoU {v['mean_matched_iou']:.4f}")
    if "float64_proof" in results:
        lines.append(f"- float64 proof: {results['float64_proof']}")
    return "\n".join(lines)
