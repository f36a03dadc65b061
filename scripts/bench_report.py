"""Render the results of scripts/bench.py (one or more ``--json`` files) as Markdown tables for BENCHMARKS.md.

Usage: ``python scripts/bench_report.py results.json [more.json ...]`` (later files override earlier sections).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _s(d: dict, unit: str = "s", digits: int = 2) -> str:
    return f"{d['median']:.{digits}f} {unit} ({d['min']:.{digits}f}–{d['max']:.{digits}f})"


def _r(d: dict, digits: int = 2) -> str:
    return f"**{d['median']:.{digits}f}×** ({d['min']:.{digits}f}–{d['max']:.{digits}f})"


def render(res: dict) -> str:
    out: list[str] = []
    b1 = res.get("B1", {})
    if "frames" in b1:
        out += ["### B1 Preview latency", "",
                "| frame | ours, warm (wall) | CLI round trip (wall) | CLI / ours (wall) | ours (CPU) | CLI (CPU) | "
                "CLI / ours (CPU) | same masks |", "|---|---|---|---|---|---|---|---|"]
        for name, f in b1["frames"].items():
            sm = f["same_masks"]
            out.append(f"| {name} | {_s(f['ours_warm_s'])} | {_s(f['cli_round_trip_s'])} | "
                       f"{_r(f['ratio_cli_over_ours'], 1)} | {_s(f['ours_warm_cpu_s'])} | "
                       f"{_s(f['cli_round_trip_cpu_s'])} | {_r(f['ratio_cli_over_ours_cpu'], 1)} | "
                       f"{'identical' if sm['identical'] else 'differ'} ({sm['n_a']} vs {sm['n_b']} objects) |")
        out += ["", f"Fresh process `import cellpose.models` alone: wall {_s(b1['fresh_process_import_cellpose_s'])}, "
                    f"CPU {_s(b1['fresh_process_import_cellpose_cpu_s'])}. Load during B1: {b1['load']}.", ""]
    b2 = res.get("B2", {})
    if "2d" in b2 or "3d" in b2:
        out += ["### B2 Throughput", "",
                "| movie | ours (wall) | bare (wall) | ours / bare (wall) | ours (CPU) | bare (CPU) | "
                "ours / bare (CPU) | frames identical to bare | spots |", "|---|---|---|---|---|---|---|---|---|"]
        for k in ("2d", "3d"):
            if k not in b2:
                continue
            m = b2[k]
            out.append(f"| {k} {tuple(m['shape'])} | {_s(m['ours_s'])} | {_s(m['bare_s'])} | "
                       f"{_r(m['ratio_ours_over_bare'], 3)} | {_s(m['ours_cpu_s'])} | {_s(m['bare_cpu_s'])} | "
                       f"{_r(m['ratio_ours_over_bare_cpu'], 3)} | {m['frames_identical_to_bare']}/{m['n_frames']} | "
                       f"{m['n_spots']} |")
        out += ["", f"Bare calls: {b2.get('bare_call')}. Load during B2: {b2.get('load')}.", ""]
        tm = b2.get("trackmate", {})
        if "movies" in tm:
            out += ["Through real TrackMate (same process, interleaved):", "",
                    "| movie | TrackMate detection step | bare | step / bare | whole run (open + step) / bare |",
                    "|---|---|---|---|---|"]
            for k, m in tm["movies"].items():
                out.append(f"| {k} {tuple(m['shape'])} | {_s(_summ(m['trackmate_detection_step_s']))} | "
                           f"{_s(_summ(m['bare_s']))} | {_r(m['ratio_detection_step_over_bare'], 3)} | "
                           f"{_r(m['ratio_whole_run_trackmate_over_bare'], 3)} |")
            out.append("")
        elif tm:
            out += [f"Through real TrackMate: not measured: {tm.get('skipped')}", ""]
    b3 = res.get("B3", {})
    if "2d" in b3:
        d2, d3 = b3["2d"], b3["3d"]
        out += ["### B3 Geometry", "",
                "| case | objects | ours | per-label scikit-image | speed-up (wall) | speed-up (CPU) | "
                "ours obj/s (CPU) | scikit-image obj/s (CPU) |", "|---|---|---|---|---|---|---|---|",
                f"| 2D {tuple(d2['shape'])} → polygons (simplified) | {d2['n_labels']} | "
                f"{_s(d2['ours_simplified_s'], digits=3)} | {_s(d2['skimage_per_label_s'])} | "
                f"{_r(d2['speedup_vs_skimage'], 0)} | {_r(d2['speedup_vs_skimage_cpu'], 0)} | "
                f"{d2['ours_objects_per_cpu_s']:.0f} | {d2['skimage_objects_per_cpu_s']:.0f} |",
                f"| 3D {tuple(d3['shape'])} → meshes (raw marching cubes) | {d3['n_labels']} | "
                f"{_s(d3['ours_raw_s'])} | {_s(d3['skimage_per_label_s'])} | {_r(d3['speedup_vs_skimage'], 0)} | "
                f"{_r(d3['speedup_vs_skimage_cpu'], 0)} | {d3['ours_objects_per_cpu_s']:.0f} | "
                f"{d3['skimage_objects_per_cpu_s']:.1f} |",
                f"| 3D, detect's defaults (smoothing 1 um + decimation) | {d3['n_labels']} | "
                f"{_s(d3['ours_smoothed_decimated_s'])} | – | – | – | "
                f"{d3['ours_smoothed_decimated_objects_per_cpu_s']:.0f} | – |", "",
                f"Baseline timed on {d2['baseline_labels_timed']} (2D) and {d3['baseline_labels_timed']} (3D) labels "
                f"and "
                f"extrapolated (its cost per label is one full-image pass, the same for every label). Our raw meshes "
                f"enclose the baseline's volumes within {d3['max_rel_volume_diff_vs_baseline']:.1e} (relative). "
                f"Load during B3: {b3.get('load')}.", ""]
        tm = b3.get("trackmate", {})
        if "2d" in tm and "seconds" in tm["2d"]:
            t2 = _summ(tm["2d"]["seconds"])
            line = (f"TrackMate {tm.get('trackmate_jar')} `LabelImageDetector` on the same 2D label image (separate "
                    f"JVM process, warm, its own threads): wall {_s(t2)}, {tm['2d']['n_spots']} spots, "
                    f"{tm['2d']['objects_per_s']:.0f} obj/s; TrackMate time / ours = "
                    f"{tm['2d']['speedup_ours_vs_trackmate']:.2f} (wall medians, not paired)")
            if "cpu_seconds" in tm["2d"]:
                line += (f"; CPU (all JVM threads) {_s(_summ(tm['2d']['cpu_seconds']))}, "
                         f"{tm['2d']['objects_per_cpu_s']:.0f} obj/CPU-s, TrackMate CPU / ours = "
                         f"{tm['2d']['speedup_ours_vs_trackmate_cpu']:.1f}")
            out += [line + "."]
        if "3d" in tm and "error" in tm["3d"]:
            out.append(f"3D: not measured: TrackMate's `LabelImageDetector` fails in this Fiji: `{tm['3d']['error']}`.")
        elif tm.get("skipped"):
            out.append(f"TrackMate comparison: not measured: {tm['skipped']}.")
        out.append("")
    b4 = res.get("B4", {})
    if b4:
        out += ["### B4 Memory", ""]
        for k in ("rss_ours", "rss_bare"):
            if k in b4 and "peak_rss_mb" in b4[k]:
                m = b4[k]
                out.append(f"- {k[4:]}: {m['frames']} frames {m['size']}², movie {m['movie_mb']:.0f} MiB: RSS before "
                           f"the model {m['rss_before_model_mb']:.0f} MiB, after loading + warming it "
                           f"{m['rss_warm_mb']:.0f} MiB, **peak {m['peak_rss_mb']:.0f} MiB** "
                           f"(+{m['peak_rss_mb'] - m['rss_warm_mb']:.0f} MiB for the movie run), {m['n_objects']} "
                           f"objects, {m['seconds']:.0f} s.")
        cc = b4.get("copy_cost", {})
        if "whole_gb_per_s" in cc:
            s = cc["summary_s"]
            out += ["", f"- ImgLib2 `ArrayImg` (uint16, {cc['frames']} × {cc['shape_yx'][0]}²) → numpy: whole "
                        "movie "
                        f"{_s(s['whole'], digits=4)} = **{cc['whole_gb_per_s']:.2f} GB/s**, "
                        f"{cc['whole_frames_per_s']:.0f} frames/s; frame by frame {_s(s['per_frame'], digits=4)} = "
                        f"{cc['per_frame_gb_per_s']:.2f} GB/s, {cc['per_frame_frames_per_s']:.0f} frames/s; int32 "
                        f"label frames numpy → Java `int[]`: {cc['labels_back_gb_per_s']:.2f} GB/s."]
        elif cc:
            out.append(f"- Copy cost: not measured: {cc.get('skipped')}")
        out.append("")
    return "\n".join(out)


def _summ(v: list[float]) -> dict:
    import statistics

    return {"median": statistics.median(v), "min": min(v), "max": max(v)}


def main(argv: list[str] | None = None) -> int:
    paths = (argv if argv is not None else sys.argv[1:])
    res: dict = {}
    for p in paths:
        res.update(json.loads(Path(p).read_text()))
    print(render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
