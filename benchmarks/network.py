"""One network call per inference mode: the cellpose network alone, as cellpose's engine calls it.

Measures one call of each ``RuntimeOptions.inference`` mode's network (the adapter's own, as detection runs it:
PyTorch with cellpose's MKLDNN path for ``cellpose``, channels-last PyTorch for ``fast``, ONNX Runtime for ``onnx``
...) on ``--tiles`` random tiles of 224 x 224, through cellpose's own network call (``cellpose.core._forward``),
against the first mode given (by default ``cellpose``: **bare cellpose's own network path**). Interleaved, CPU and
wall medians (min-max), paired speed-ups, and the largest absolute difference of each output from the first mode's.
The first call of each mode (which exports the ONNX model) is not timed.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import _cases
from ._measure import fmt_s, interleaved, log, loadavg, paired_ratio, timing_summaries

NAME = "network"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modes", default="cellpose,fast,onnx",
                        help="RuntimeOptions.inference values; the first is the baseline [%(default)s]")
    parser.add_argument("--tiles", type=int, default=8, help="tiles of 224 x 224 in one call [%(default)s]")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions [%(default)s]")


def _forward(net, x):
    """cellpose's own ``core._forward`` network call (MKLDNN conversion where the net asks for it), as a tensor."""
    import torch
    from cellpose import core

    y, _ = core._forward(net, x.numpy())
    return torch.from_numpy(y)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from trackmate_cellpose.segment import CellposeAdapter

    modes = [m for m in args.modes.split(",") if m]
    settings = _cases.settings()
    nets, ran_as = {}, {}
    for mode in modes:
        adapter = CellposeAdapter.get(settings, runtime_device="cpu", inference=mode)
        nets[mode], ran_as[mode] = adapter.model.net.eval(), adapter.inference
    nchan = next(p for p in nets[modes[0]].parameters() if p.dim() == 4).shape[1]
    x = torch.rand(args.tiles, nchan, 224, 224, generator=torch.Generator().manual_seed(0))
    outs = {m: _forward(net, x) for m, net in nets.items()}  # warm-up (ONNX export), and the outputs compared
    ref = outs[modes[0]]
    row: dict[str, Any] = {"tiles": args.tiles, "tile": 224, "baseline": modes[0], "ran_as": ran_as,
                           "cellpose_major": _cases.cellpose_major(), "load_before": loadavg(),
                           "max_abs_diff_vs_baseline": {m: float((o - ref).abs().max()) for m, o in outs.items()}}
    res = interleaved({m: (lambda n=net: _forward(n, x)) for m, net in nets.items()}, args.reps)
    for m, ts in res.items():
        row.update(timing_summaries(m, ts))
        if m != modes[0]:
            row[f"speedup_{m}_cpu"] = paired_ratio(res[modes[0]], ts, "cpu")
            row[f"speedup_{m}_wall"] = paired_ratio(res[modes[0]], ts, "wall")
            log(f"{m} vs {modes[0]}: CPU {fmt_s(row[f'speedup_{m}_cpu'], 'x', 2)}, wall "
                f"{fmt_s(row[f'speedup_{m}_wall'], 'x', 2)}, max|diff| {row['max_abs_diff_vs_baseline'][m]:.2g}")
    row["load_after"] = loadavg()
    return row


def markdown(results: dict[str, Any]) -> str:
    base = results["baseline"]
    lines = [f"| mode (ran as) | CPU-s | wall-s | speed-up vs {base} (CPU) | (wall) | max \\|diff\\| |",
             "|---|---|---|---|---|---|"]
    for m, ran in results["ran_as"].items():
        sp = results.get(f"speedup_{m}_cpu")
        spw = results.get(f"speedup_{m}_wall")
        lines.append(f"| {m} ({ran}) | {fmt_s(results[f'{m}_cpu_s'], digits=2)} | "
                     f"{fmt_s(results[f'{m}_wall_s'], digits=2)} | {fmt_s(sp, 'x', 2) if sp else '-'} | "
                     f"{fmt_s(spw, 'x', 2) if spw else '-'} | {results['max_abs_diff_vs_baseline'][m]:.2g} |")
    return "\n".join(lines)
