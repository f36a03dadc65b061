"""What the suites measure on: settings with the bundled model, calibrations, named test images, the bare cellpose
call a user would write, and comparisons of label images.

Images are the package's seeded synthetic movies (``trackmate_cellpose.data``) or crops of its bundled samples. A
case is named (``2d256``) or spelled out: ``2d:TxYxX`` (a synthetic 2D+t movie), ``3d:ZxYxX`` (one synthetic 3D time
point), ``sample2d:T`` (the first T frames of the bundled 2D+t sample, 128 x 128), ``sample3d:TxZxYxX`` (a crop of
the bundled 3D+t sample).

With cellpose 4 the model is the tests' tiny Cellpose-SAM (``tests/data/tiny_cpsam.pth``); run with
``TMCP_TEST_TINY_CPSAM=1 PYTHONPATH=tests/support/cp4`` so that cellpose 4 loads it (as the tests do).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, Callable

import numpy as np

from ._measure import REPO, UsageError

PX_UM = 0.5  # pixel size of every case (the bundled samples: xy 0.5 um, z 1.0 um)
Z_UM = 1.0
#: named cases -> spelled-out cases
NAMED_CASES = {
    "2d96": "2d:20x96x96",  # 20 frames of 96 x 96: the throughput movie
    "2d256": "2d:4x256x256",
    "2d512": "2d:2x512x512",
    "2d1024": "2d:1x1024x1024",
    "3d": "3d:16x96x96",
    "3d_small": "3d:12x64x64",
    "3d144": "3d:24x144x144",  # planes of 144 px x rescale 1.5 = one full 224 px network tile
    "preview128": "sample2d:1",  # one frame of the bundled 2D+t sample: a Preview
    "3dt": "sample3d:2x12x48x48",  # two time points of the bundled 3D+t sample
}


def cellpose_major() -> int:
    """Major version of the installed cellpose."""
    return int(version("cellpose").split(".")[0])


def model_path() -> str:
    """The bundled cellpose-3 test model, or under cellpose 4 the tests' tiny Cellpose-SAM."""
    from trackmate_cellpose.data import test_model_path

    if cellpose_major() == 4:
        return str(REPO / "tests" / "data" / "tiny_cpsam.pth")
    return str(test_model_path())


def settings(diameter_um: float = 10.0, **fields: Any):
    """DetectorSettings with the test model (CUSTOM), ``diameter_um`` (10 um = 20 px: cellpose rescale 1.5 for the
    bundled model), on the CPU unless ``use_gpu=True``; other fields at their defaults unless given."""
    from trackmate_cellpose import DetectorSettings

    return DetectorSettings(**{"model": "CUSTOM", "model_path": model_path(), "diameter": diameter_um,
                               "use_gpu": False, **fields})


def calibration(z_um: float = Z_UM):
    """0.5 um pixels, ``z_um`` planes (anisotropy 2 by default), frame interval 1 s."""
    from trackmate_cellpose import Calibration

    return Calibration(x=PX_UM, y=PX_UM, z=z_um, t=1.0, space_unit="um", time_unit="s")


def parse_shape(text: str, n: int, what: str) -> tuple[int, ...]:
    """'4x256x256' -> (4, 256, 256), with ``n`` positive sizes."""
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != n or min(shape) < 1:
        raise UsageError(f"{what}: expected {n} sizes like {'x'.join(['64'] * n)}, got {text!r}")
    return shape


def parse_shape_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """:func:`parse_shape` of ``spec["text"]`` with ``spec["n"]`` sizes, as a result dict (a child process's task in
    the tests of :func:`~benchmarks._measure.run_child`)."""
    return {"shape": list(parse_shape(spec["text"], int(spec["n"]), "text"))}


def check_cases(text: str) -> list[str]:
    """Split a comma-separated list of cases and check each one (ValueError names the bad one)."""
    cases = [c.strip() for c in text.split(",") if c.strip()]
    for c in cases:
        image(c, dry=True)
    return cases


def image(case: str, *, dry: bool = False) -> tuple[np.ndarray | None, str]:
    """The image of a case and its axes (``tyx`` or ``tzyx``); ``dry``: check the name only."""
    spec = NAMED_CASES.get(case, case)
    kind, _, size = spec.partition(":")
    if kind == "2d":
        t, y, x = parse_shape(size, 3, case)
        if dry:
            return None, "tyx"
        from trackmate_cellpose.data import synthetic_movie_2d

        return synthetic_movie_2d(n_frames=t, shape_yx=(y, x), n_objects=max(10, y * x // 1200), seed=11)[0], "tyx"
    if kind == "3d":
        z, y, x = parse_shape(size, 3, case)
        if dry:
            return None, "tzyx"
        from trackmate_cellpose.data import synthetic_movie_3d

        return synthetic_movie_3d(n_frames=1, shape_zyx=(z, y, x), n_objects=max(6, y * x // 1500), seed=3)[0], "tzyx"
    if kind in ("sample2d", "sample3d"):
        shape = parse_shape(size, 1 if kind == "sample2d" else 4, case)
        if dry:
            return None, "tyx" if kind == "sample2d" else "tzyx"
        import tifffile

        from trackmate_cellpose.data import sample_path

        movie = tifffile.imread(sample_path("2dt" if kind == "sample2d" else "3dt"))
        return np.ascontiguousarray(movie[tuple(slice(0, n) for n in shape)]), "tyx" if kind == "sample2d" else "tzyx"
    raise UsageError(f"unknown case {case!r}: expected one of {', '.join(NAMED_CASES)}, or 2d:TxYxX, 3d:ZxYxX, "
                     "sample2d:T, sample3d:TxZxYxX")


def tiled_sample(frames: int, size: int) -> np.ndarray:
    """The bundled 2D+t sample (12 frames of 128 x 128, about 10 moving objects each) tiled to ``size`` x ``size``
    and cycled to ``frames`` frames: realistic objects at the sample's density, at any size."""
    import tifffile

    from trackmate_cellpose.data import sample_path

    sample = tifffile.imread(sample_path("2dt"))
    reps = -(-size // sample.shape[1])
    tiled = np.tile(sample, (1, reps, reps))[:, :size, :size]
    return np.ascontiguousarray(tiled[np.arange(frames) % len(tiled)])


def ground_truth_detections(n_frames: int = 20, size: int = 256, n_objects: int = 40):
    """A ``DetectionResult`` without cellpose: the synthetic 2D+t movie's ground-truth labels turned into spots by
    the package's geometry (for the export and tracking cases)."""
    from trackmate_cellpose import DetectionResult, FrameResult
    from trackmate_cellpose.data import synthetic_movie_2d
    from trackmate_cellpose.geometry import labels_to_detections

    _, labels = synthetic_movie_2d(n_frames=n_frames, shape_yx=(size, size), n_objects=n_objects, seed=11)
    cal = calibration()
    frames = [FrameResult(frame=t, labels=lab, detections=labels_to_detections(lab, frame=t, calibration=cal))
              for t, lab in enumerate(labels)]
    return DetectionResult(frames=frames, calibration=cal, is_3d=False, settings=settings(),
                           image_shape_tczyx=(n_frames, 1, 1, size, size))


def bare_model(path: str, device: str = "cpu"):
    """A cellpose model loaded the way a user loads it (an independent copy of the weights), on ``device``."""
    import torch
    from cellpose import models

    return models.CellposeModel(gpu=device != "cpu", device=torch.device(device), pretrained_model=path)


def bare_call(model, movie: np.ndarray, axes: str, settings, *, anisotropy: float = Z_UM / PX_UM
              ) -> Callable[[], list[np.ndarray]]:
    """What a user writes: ``CellposeModel.eval`` with the detector's settings and cellpose's other defaults
    (``batch_size=8``); one call on the whole 2D+t stack, one ``do_3D`` call per 3D time point. Returns masks per
    frame."""
    major = cellpose_major()
    kw: dict[str, Any] = dict(diameter=settings.diameter / PX_UM, cellprob_threshold=settings.cellprob_threshold,
                              min_size=int(settings.min_size), batch_size=8, channel_axis=-1)
    if major == 3:
        kw["channels"] = [0, 0]
    if axes == "tzyx":
        kw.update(do_3D=True, anisotropy=anisotropy, z_axis=0)
        return lambda: [np.asarray(model.eval(v[..., None], **kw)[0]) for v in movie]
    kw["flow_threshold"] = settings.flow_threshold
    kw["z_axis"] = 0 if major == 3 else None

    def run() -> list[np.ndarray]:
        m = np.asarray(model.eval(movie[..., None], **kw)[0])
        return list(m) if m.ndim == 3 else [m]
    return run


def match_objects(a: np.ndarray, b: np.ndarray, thr: float = 0.5) -> dict[str, Any]:
    """Compare two label images: object counts, ``identical`` (the same objects up to renumbering), the one-to-one
    matches at IoU > ``thr`` (one-to-one for thr >= 0.5), their mean IoU, F1 at ``thr``, and the share of pixels
    whose foreground/background agrees."""
    a, b = np.asarray(a).astype(np.int64).ravel(), np.asarray(b).astype(np.int64).ravel()
    pairs = np.unique(np.stack([a, b]), axis=1)
    identical = len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))
    inter = np.zeros((int(a.max()) + 1, int(b.max()) + 1), np.int64)
    np.add.at(inter, (a, b), 1)
    union = inter.sum(1)[:, None] + inter.sum(0)[None, :] - inter
    iou = (inter / np.maximum(union, 1))[1:, 1:]
    ids_a, ids_b = np.unique(a[a > 0]), np.unique(b[b > 0])
    iou = iou[np.ix_(ids_a - 1, ids_b - 1)] if len(ids_a) and len(ids_b) else np.zeros((len(ids_a), len(ids_b)))
    hits = iou > thr
    matched = int(hits.any(1).sum())
    return {"n_a": len(ids_a), "n_b": len(ids_b), "identical": bool(identical), "matched": matched,
            "mean_matched_iou": float(iou[hits].mean()) if matched else 0.0,
            "f1": 2 * matched / max(len(ids_a) + len(ids_b), 1),
            "foreground_agreement": float(np.mean((a > 0) == (b > 0)))}


def match_frames(a: list[np.ndarray], b: list[np.ndarray]) -> dict[str, Any]:
    """:func:`match_objects` over paired frames: totals, identical frames, mean of the per-frame IoU and F1."""
    m = [match_objects(x, y) for x, y in zip(a, b)]
    return {"frames_identical": f"{sum(r['identical'] for r in m)}/{len(m)}", "n_a": sum(r["n_a"] for r in m),
            "n_b": sum(r["n_b"] for r in m), "matched": sum(r["matched"] for r in m),
            "mean_matched_iou": float(np.mean([r["mean_matched_iou"] for r in m])) if m else 0.0,
            "f1": float(np.mean([r["f1"] for r in m])) if m else 0.0}
