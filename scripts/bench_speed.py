"""Issue #15 item 2: where cellpose spends a frame's time, and our detector against calling ``CellposeModel.eval``.

Run from the repository root (not part of the test suite)::

    .venv/bin/python scripts/bench_speed.py profile [--cases 2d256,2d512,3d]
    .venv/bin/python scripts/bench_speed.py compare [--cases 2d256,2d512,3d] [--modes auto,fast] [--reps 3]
    .venv/bin/python scripts/bench_speed.py network [--modes cellpose,fast,onnx] [--tiles 8] [--reps 3]

``profile``: a CPU-time cProfile of one bare ``eval`` per case, split into the network (tiles, incl. tiling and
tile averaging), the flow dynamics + mask assembly, and the rest (normalisation, resizing).

``network``: one network call on ``--tiles`` random tiles of 224 x 224 through each mode's network (the adapters'
own, as the engine runs them), interleaved; CPU and wall medians, and the max |difference| of the output to the
first mode's.

``compare``: ``detect()`` end to end (labels + TrackMate spots) with each ``RuntimeOptions.inference`` mode against
one bare ``CellposeModel.eval`` call on the same frames (cellpose's defaults: ``batch_size=8``, its own MKLDNN path),
interleaved in one process, order rotating; CPU (process time) and wall, medians (min-max), paired ratios, load
before/after. Masks are checked identical up to renumbering against the bare call for every frame; a mode whose masks
differ reports matched IoU and F1@0.5 against the bare masks. With cellpose 4 (the ``.venv-cp4`` env) set
``TMCP_TEST_TINY_CPSAM=1`` and ``PYTHONPATH=python:tests/support/cp4`` to run the tiny CP-SAM of the tests.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import fmt_s, interleaved, loadavg, machine_info, paired_ratio, summary

REPO = Path(__file__).resolve().parents[1]
CAL_XY_UM, DIAMETER_UM = 0.5, 10.0  # 20 px objects: cellpose rescale 1.5 for the cellpose-3 test model
#: case -> (kind, shape): 2D+t (T, Y, X) or one 3D time point (Z, Y, X) at anisotropy 2
CASES = {"2d256": ("2d", (4, 256, 256)), "2d512": ("2d", (2, 512, 512)), "3d": ("3d", (16, 96, 96)),
         "3d_small": ("3d", (12, 64, 64)),
         # 3D with full-size network tiles: 144 px planes x 1.5 = one 224 tile in YX; Z 24 x 2 x 1.5 = 72 rows in ZY/ZX
         "3d144": ("3d", (24, 144, 144)),
         "2d1024": ("2d", (1, 1024, 1024))}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _cp_major() -> int:
    from importlib.metadata import version

    return int(version("cellpose").split(".")[0])


def _settings():
    from trackmate_cellpose import DetectorSettings
    from trackmate_cellpose.data import test_model_path

    path = str(test_model_path())
    if _cp_major() == 4:
        path = str(REPO / "tests" / "data" / "tiny_cpsam.pth")
    return DetectorSettings(model="CUSTOM", model_path=path, diameter=DIAMETER_UM, use_gpu=False)


def _movie(case: str) -> tuple[np.ndarray, str]:
    from trackmate_cellpose.data import synthetic_movie_2d, synthetic_movie_3d

    kind, shape = CASES[case]
    if kind == "2d":
        t, y, x = shape
        return synthetic_movie_2d(n_frames=t, shape_yx=(y, x), n_objects=max(10, y * x // 1200), seed=11)[0], "tyx"
    z, y, x = shape
    return synthetic_movie_3d(n_frames=1, shape_zyx=(z, y, x), n_objects=max(6, y * x // 1500), seed=3)[0], "tzyx"


def _bare_call(model, movie: np.ndarray, axes: str, settings) -> Callable[[], list[np.ndarray]]:
    """What a user writes: one ``eval`` on the frames with the detector's settings, cellpose's other defaults."""
    major = _cp_major()
    is_3d = axes == "tzyx"
    kw: dict[str, Any] = dict(diameter=settings.diameter / CAL_XY_UM, cellprob_threshold=settings.cellprob_threshold,
                              min_size=int(settings.min_size), batch_size=8, channel_axis=-1)
    if major == 3:
        kw["channels"] = [0, 0]
    if is_3d:
        kw.update(do_3D=True, anisotropy=2.0, z_axis=0)
        return lambda: [np.asarray(model.eval(v[..., None], **kw)[0]) for v in movie]
    kw["flow_threshold"] = settings.flow_threshold
    kw["z_axis"] = 0 if major == 3 else None

    def run():
        m = np.asarray(model.eval(movie[..., None], **kw)[0])
        return list(m) if m.ndim == 3 else [m]
    return run


def _same_objects(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a).astype(np.int64), np.asarray(b).astype(np.int64)
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def matched_iou_f1(a: np.ndarray, b: np.ndarray, thr: float = 0.5) -> tuple[float, float, int, int]:
    """Mean IoU of the objects matched at IoU > ``thr`` (one-to-one for thr >= 0.5), F1 at ``thr``, counts."""
    a, b = np.asarray(a).astype(np.int64).ravel(), np.asarray(b).astype(np.int64).ravel()
    na, nb = int(a.max()), int(b.max())
    inter = np.zeros((na + 1, nb + 1), np.int64)
    np.add.at(inter, (a, b), 1)
    area_a, area_b = inter.sum(1), inter.sum(0)
    iou = inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1)
    iou = iou[1:, 1:]
    ids_a = np.unique(a[a > 0])
    ids_b = np.unique(b[b > 0])
    hits = iou[np.ix_(ids_a - 1, ids_b - 1)] > thr if len(ids_a) and len(ids_b) else np.zeros((0, 0), bool)
    tp = int(hits.any(1).sum())
    f1 = 2 * tp / max(len(ids_a) + len(ids_b), 1)
    mean_iou = float(iou[np.ix_(ids_a - 1, ids_b - 1)][hits].mean()) if tp else 0.0
    return mean_iou, f1, len(ids_a), len(ids_b)


def profile(cases: list[str]) -> dict[str, Any]:
    from trackmate_cellpose.segment._adapter import import_cellpose_models

    models = import_cellpose_models()
    settings = _settings()
    model = models.CellposeModel(gpu=False, pretrained_model=settings.model_path)
    out: dict[str, Any] = {}
    for case in cases:
        movie, axes = _movie(case)
        run = _bare_call(model, movie, axes, settings)
        run()  # warm-up
        prof = cProfile.Profile(time.process_time)
        c0, t0, load0 = time.process_time(), time.perf_counter(), loadavg()
        prof.enable()
        masks = run()
        prof.disable()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        st = pstats.Stats(prof)
        cum = {}
        for (fname, _, func), (_, _, _, ct, _) in st.stats.items():
            key = f"{Path(fname).name}:{func}"
            cum[key] = max(cum.get(key, 0.0), ct)
        forward = cum.get("core.py:_forward", 0.0)
        network = cum.get("core.py:run_3D", 0.0) or cum.get("core.py:run_net", 0.0)
        dyn = cum.get("models.py:_compute_masks", 0.0)
        rows = {"total_cpu_s": cpu, "wall_s": wall, "network_forward_cpu_s": forward,
                "tiling_and_tile_averaging_cpu_s": network - forward, "flow_dynamics_and_masks_cpu_s": dyn,
                "rest_cpu_s": cpu - network - dyn, "n_objects": int(sum(len(np.unique(m)) - 1 for m in masks)),
                "shape": list(movie.shape), "load": f"{load0} -> {loadavg()}"}
        rows["share_network"] = network / cpu
        rows["share_dynamics"] = dyn / cpu
        _log(f"profile {case}: {json.dumps(rows)}")
        top = sorted(((ct, k) for k, ct in cum.items()), reverse=True)[:25]
        rows["top_cumulative"] = [[k, round(ct, 3)] for ct, k in top]
        out[case] = rows
    return out


def compare(cases: list[str], modes: list[str], reps: int, save: Callable[[dict], None]) -> dict[str, Any]:
    from trackmate_cellpose import Calibration, RuntimeOptions, detect
    from trackmate_cellpose.segment._adapter import CellposeAdapter, import_cellpose_models

    models = import_cellpose_models()
    settings = _settings()
    cal = Calibration(x=CAL_XY_UM, y=CAL_XY_UM, z=1.0, space_unit="um")  # anisotropy 2 (as the bare call), no warning
    bare_model = models.CellposeModel(gpu=False, pretrained_model=settings.model_path)
    out: dict[str, Any] = {}
    for case in cases:
        movie, axes = _movie(case)
        _log(f"compare {case}: {movie.shape}, load {loadavg()}")
        bare = _bare_call(bare_model, movie, axes, settings)
        t0 = time.perf_counter()
        bare_masks = bare()
        fns: dict[str, Callable[[], Any]] = {"bare": bare}
        row: dict[str, Any] = {"shape": list(movie.shape), "bare_first_call_s": time.perf_counter() - t0,
                               "load_before": loadavg()}
        for mode in modes:  # "fast" or "fast:16" (inference mode : tile_batch_size)
            inf, _, tb = mode.partition(":")
            rt = RuntimeOptions(device="cpu", inference=inf, tile_batch_size=int(tb or 8))
            t0 = time.perf_counter()
            res = detect(movie, settings, axes=axes, calibration=cal, runtime=rt)  # warm-up (load, compile)
            row[f"{mode}_first_call_s"] = time.perf_counter() - t0
            row[f"{mode}_ran_as"] = CellposeAdapter.get(settings, runtime_device="cpu", inference=inf).inference
            labels = [fr.labels for fr in res.frames]
            same = [_same_objects(a, b) for a, b in zip(labels, bare_masks)]
            row[f"{mode}_frames_identical_to_bare"] = f"{sum(same)}/{len(same)}"
            agree = [matched_iou_f1(a, b) for a, b in zip(labels, bare_masks)]
            row[f"{mode}_vs_bare_matched_iou"] = float(np.mean([a[0] for a in agree]))
            row[f"{mode}_vs_bare_f1"] = float(np.mean([a[1] for a in agree]))
            row[f"{mode}_objects"] = sum(a[2] for a in agree)
            row["bare_objects"] = sum(a[3] for a in agree)
            fns[mode] = lambda m=movie, a=axes, r=rt: detect(m, settings, axes=a, calibration=cal, runtime=r)
        res = interleaved(fns, reps, log=_log)
        for name, ts in res.items():
            row[f"{name}_cpu_s"] = summary([t.cpu for t in ts])
            row[f"{name}_wall_s"] = summary([t.wall for t in ts])
            if name != "bare":
                row[f"speedup_{name}_cpu"] = paired_ratio(res["bare"], ts, "cpu")
                row[f"speedup_{name}_wall"] = paired_ratio(res["bare"], ts, "wall")
        row["load_after"] = loadavg()
        for name in modes:
            _log(f"{case} {name}: bare/ours CPU {fmt_s(row[f'speedup_{name}_cpu'], 'x', 2)}, wall "
                 f"{fmt_s(row[f'speedup_{name}_wall'], 'x', 2)}; identical {row[f'{name}_frames_identical_to_bare']}"
                 f", matched IoU {row[f'{name}_vs_bare_matched_iou']:.3f}, F1 {row[f'{name}_vs_bare_f1']:.3f}")
        out[case] = row
        save(out)
    return out


def network(modes: list[str], tiles: int, reps: int) -> dict[str, Any]:
    import torch

    from trackmate_cellpose.segment._adapter import CellposeAdapter

    settings = _settings()
    nets, ran_as = {}, {}
    for mode in modes:
        ad = CellposeAdapter.get(settings, runtime_device="cpu", inference=mode)
        nets[mode], ran_as[mode] = ad.model.net.eval(), ad.inference
    nchan = next(p for p in nets[modes[0]].parameters() if p.dim() == 4).shape[1]
    x = torch.rand(tiles, nchan, 224, 224, generator=torch.Generator().manual_seed(0))
    # the network call exactly as cellpose's engine makes it, for every mode; the first call also warms up (export)
    outs = {m: _cellpose_forward(net, x) for m, net in nets.items()}
    ref = outs[modes[0]]
    row: dict[str, Any] = {"tiles": tiles, "tile": 224, "load_before": loadavg(),
                           "ran_as": ran_as,
                           "max_abs_diff_vs_first": {m: float((o - ref).abs().max()) for m, o in outs.items()}}
    res = interleaved({m: (lambda n=net: _cellpose_forward(n, x)) for m, net in nets.items()}, reps, log=_log)
    for m, ts in res.items():
        row[f"{m}_cpu_s"] = summary([t.cpu for t in ts])
        row[f"{m}_wall_s"] = summary([t.wall for t in ts])
        if m != modes[0]:
            row[f"speedup_{m}_cpu"] = paired_ratio(res[modes[0]], ts, "cpu")
            row[f"speedup_{m}_wall"] = paired_ratio(res[modes[0]], ts, "wall")
            _log(f"{m} vs {modes[0]}: CPU {fmt_s(row[f'speedup_{m}_cpu'], 'x', 2)}, wall "
                 f"{fmt_s(row[f'speedup_{m}_wall'], 'x', 2)}, max|diff| {row['max_abs_diff_vs_first'][m]:.2g}")
    row["load_after"] = loadavg()
    return row


def _cellpose_forward(net, x):
    """cellpose's own ``core._forward`` network call (MKLDNN conversion where the net asks for it), as a tensor."""
    import torch
    from cellpose import core

    y, _ = core._forward(net, x.numpy())
    return torch.from_numpy(y)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["profile", "compare", "network"])
    ap.add_argument("--tiles", type=int, default=8, help="network: tiles of 224 x 224 in one call [8]")
    ap.add_argument("--cases", default="2d256,2d512,3d")
    ap.add_argument("--modes", default="auto,fast",
                    help="RuntimeOptions.inference values, each optionally ':N' for tile_batch_size N")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    bad = [c for c in cases if c not in CASES]
    if bad:
        ap.error(f"--cases must be among {', '.join(CASES)}, got {bad}")
    result: dict[str, Any] = {"machine": machine_info(), "cellpose_major": _cp_major()}
    if args.what == "profile":
        result["profile"] = profile(cases)
    elif args.what == "network":
        result["network"] = network([m for m in args.modes.split(",") if m], args.tiles, args.reps)
    else:
        def save(partial: dict) -> None:  # after every case: a long run that is stopped keeps what it measured
            if args.json:
                Path(args.json).write_text(json.dumps({**result, "compare": partial}, indent=1, default=str))
        result["compare"] = compare(cases, [m for m in args.modes.split(",") if m], args.reps, save)
    result["load_at_end"] = loadavg()
    text = json.dumps(result, indent=1, default=str)
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
