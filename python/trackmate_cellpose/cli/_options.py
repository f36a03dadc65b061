"""Option groups shared by the subcommands, and their conversion into validated settings objects.

One definition per option: detector settings (one option per ``DetectorSettings`` field, help from
``settings_table()``: key, unit, range, default), tracker settings (``OverlapTrackerSettings``, help from
``tracker_settings_table()``; the same flags and defaults in ``run``, ``demo`` and ``fiji``), runtime options and
calibration overrides. Errors raised while turning options into settings name the flag the user typed and the
internal key, e.g. ``--diameter (CELL_DIAMETER) must be >= 0.0, got -3.0``. Old option spellings stay accepted
through :class:`DeprecatedAlias`, which records a notice printed once logging is set up.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InvalidSettingsError
from ..settings import CUSTOM_MODEL, DEPRECATED_INFERENCE, INFERENCE_MODES, DetectorSettings, RuntimeOptions, settings_table

# field -> (option names, argparse kwargs beyond help)
_OPTIONS: dict[str, tuple[tuple[str, ...], dict]] = {
    "model": (("--model",), {"metavar": "NAME"}),
    "model_path": (("--model-path",), {"metavar": "FILE"}),
    "target_channel": (("--channel",), {"type": int, "metavar": "N"}),
    "channel_2": (("--channel2",), {"type": int, "metavar": "N"}),
    "diameter": (("--diameter",), {"type": float, "metavar": "D"}),
    "cellprob_threshold": (("--cellprob",), {"type": float, "metavar": "T"}),
    "flow_threshold": (("--flow",), {"type": float, "metavar": "T"}),
    "iou_threshold": (("--iou",), {"type": float, "metavar": "T"}),
    "min_size": (("--min-size",), {"type": float, "metavar": "N"}),
    "smoothing_scale": (("--smoothing",), {"type": float, "metavar": "S"}),
}
# boolean fields: (on option, off option)
_FLAGS = {
    "use_gpu": ("--gpu", "--cpu"),
    "resample": ("--resample", "--no-resample"),
    "do_2dz": ("--2dz", "--3d"),
    "simplify_contours": ("--simplify", "--no-simplify"),
}
# tracker field -> option
_TRACKER_OPTIONS = {"min_iou": ("--min-iou", "X", float), "scale_factor": ("--scale-factor", "F", float),
                    "iou_calculation": ("--iou-calculation", None, str.upper), "mode_3d": ("--iou-3d", None, str.lower)}
_CALIBRATION = {"pixel_size": ("--pixel-size", "x"), "z_step": ("--z-step", "z"), "dt": ("--dt", "t")}


def _flag_of_key() -> dict[str, str]:
    table = {row["field"]: row["key"] for row in settings_table()}
    out = {table[f]: names[0] for f, (names, _) in _OPTIONS.items()}
    out.update({table[f]: "/".join(pair) for f, pair in _FLAGS.items()})
    from ..tracking import tracker_settings_table

    for row in tracker_settings_table():
        out[row["key"] or row["field"]] = _TRACKER_OPTIONS[row["field"]][0]
    out.update({f"calibration {axis}": flag for flag, axis in _CALIBRATION.values()})
    out["t_range"] = "--t-range"
    return out


#: Internal key (TrackMate key, or "calibration x" ...) -> the command-line flag that sets it.
FLAG_OF_KEY: dict[str, str] = _flag_of_key()


def name_flag(e: InvalidSettingsError, *, flag: str | None = None) -> InvalidSettingsError:
    """The same error, its message naming the flag as well as the internal key (``--diameter (CELL_DIAMETER)``)."""
    key = e.key or ""
    flag = flag or FLAG_OF_KEY.get(key)
    msg = str(e)
    if not flag or msg.startswith(flag):
        return e
    if key and key in msg:
        msg = msg.replace(key, f"{flag} ({key})", 1)
    else:
        msg = f"{flag}: {msg}"
    new = InvalidSettingsError(msg, key=e.key, value=e.value)
    new.__cause__ = e
    return new


class DeprecatedAlias(argparse.Action):
    """An old spelling of an option: stores into the new option's ``dest`` and records a deprecation notice."""

    def __init__(self, option_strings, dest, *, new: str, **kw):
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values if self.nargs != 0 else self.const)
        notes = namespace.__dict__.setdefault("_deprecations", [])
        notes.append(f"{option_string} is deprecated and will be removed; use {self.new}")


def deprecation_notices(args: argparse.Namespace) -> list[str]:
    return list(getattr(args, "_deprecations", []))


def _help(row: dict, extra: str = "") -> str:
    unit = "" if row["unit"] in ("-", "") else f"{row['unit']}; "
    default = row["default"]
    shown = str(default).lower() if isinstance(default, bool) else (repr(default) if isinstance(default, str)
                                                                     else default)
    text = f"{row['key']} ({unit}{row['range']}; default {shown}){extra}: {row['doc']}"
    return text.replace("%", "%%")


def add_detector_options(p: argparse.ArgumentParser) -> None:
    """Add ``--settings`` and one option per detector setting (defaults None: only given ones override)."""
    g = p.add_argument_group("detector settings (override --settings)")
    g.add_argument("--settings", metavar="S.json", type=Path,
                   help="JSON object of TrackMate keys (as written to <name>_settings.json)")
    table = {row["field"]: row for row in settings_table()}
    for fld, (names, kw) in _OPTIONS.items():
        g.add_argument(*names, dest=f"s_{fld}", default=None, help=_help(table[fld]), **kw)
    for fld, (on, off) in _FLAGS.items():
        row = table[fld]
        pair = g.add_mutually_exclusive_group()  # --gpu --cpu: exit 2 naming both, never "the last one wins"
        pair.add_argument(on, dest=f"s_{fld}", action="store_const", const=True, default=None,
                          help=_help(row, " =true"))
        pair.add_argument(off, dest=f"s_{fld}", action="store_const", const=False, help=f"{row['key']}=false")


def require_geff_for(what: str) -> None:
    """Usage error (exit 2, before any work) when ``what`` needs the geff package and it is missing."""
    from ..errors import BackendUnavailableError, UsageError
    from ..pipeline import require_geff

    try:
        require_geff()
    except BackendUnavailableError as e:
        raise UsageError(f"{what} needs the geff package: pip install 'trackmate-cellpose[geff]'") from e


def read_settings_file(path: str | Path) -> DetectorSettings:
    """``--settings FILE``: a JSON object of TrackMate keys; every error names the file."""
    path = Path(path)
    if not path.is_file():
        from ..errors import IsAFolderError, PathNotFoundError

        if path.is_dir():
            raise IsAFolderError(f"--settings {path} is a folder; expected a JSON file of TrackMate keys", path=path)
        raise PathNotFoundError(f"--settings file not found: {path}", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InvalidSettingsError(f"--settings file {path} is not a text (JSON) file: byte {e.start} cannot be read "
                                   "as UTF-8", key="--settings", value=str(path)) from e
    try:
        return DetectorSettings.from_json(text)
    except InvalidSettingsError as e:
        raise InvalidSettingsError(f"--settings file {path}: {e}", key=e.key, value=e.value) from e


def settings_from_args(args: argparse.Namespace, base: DetectorSettings | None = None) -> DetectorSettings:
    """Settings file (or ``base``), then every option given on the command line.

    ``--model NAME`` with ``--model-path FILE`` is contradictory (exit 2); ``--model-path`` alone selects the file.
    """
    settings = base or DetectorSettings()
    if getattr(args, "settings", None) is not None:
        settings = read_settings_file(args.settings)
    changes = {k[2:]: v for k, v in vars(args).items() if k.startswith("s_") and v is not None}
    model = changes.get("model")
    if model is not None and changes.get("model_path") and model.strip() != CUSTOM_MODEL:
        raise InvalidSettingsError(
            f"--model {model} and --model-path {changes['model_path']} contradict each other: give --model-path "
            "alone to use a model file, or --model alone for a built-in model", key="CELLPOSE_MODEL", value=model)
    if changes.get("model_path") and model is None:
        changes["model"] = CUSTOM_MODEL  # a model file given alone means "use this file"
    if model is not None and model.strip() != CUSTOM_MODEL and "model_path" not in changes:
        changes["model_path"] = ""  # a built-in model chosen on the command line: the file's path is not used
    try:
        return settings.replace(**changes) if changes else settings
    except InvalidSettingsError as e:
        if e.key in {row["key"] for row in settings_table() if row["field"] in changes}:
            raise name_flag(e) from e
        raise


def add_tracker_options(p: argparse.ArgumentParser, *, with_3d: bool = True) -> None:
    """TrackMate's overlap tracker: ``--tracker``, ``--min-iou``, ``--scale-factor``, ``--iou-calculation``
    (+ ``--iou-3d`` where our own tracker runs). Defaults come from ``OverlapTrackerSettings``."""
    from ..tracking import tracker_settings_table

    t = p.add_argument_group("tracking (TrackMate's overlap tracker; same options and defaults in run, demo and fiji)")
    t.add_argument("--tracker", choices=("overlap", "none"), default="overlap", help="tracker [overlap]")
    for row in tracker_settings_table():
        flag, metavar, typ = _TRACKER_OPTIONS[row["field"]]
        if row["field"] == "mode_3d" and not with_3d:
            continue
        kw: dict = {"dest": f"tk_{row['field']}", "default": row["default"], "type": typ,
                    "help": _help({**row, "key": row["key"] or "3D IoU"})}
        if "choices" in row:
            kw["choices"] = tuple(c.upper() if typ is str.upper else c for c in row["choices"])
        else:
            kw["metavar"] = metavar
        t.add_argument(flag, **kw)
        if row["field"] == "iou_calculation":
            t.add_argument("--iou-mode", action=DeprecatedAlias, new=flag, dest=f"tk_{row['field']}", type=typ,
                           choices=kw["choices"], help=argparse.SUPPRESS)


def tracker_from_args(args: argparse.Namespace):
    """The validated ``OverlapTrackerSettings`` of the tracker options (errors name the flag)."""
    from ..tracking import OverlapTrackerSettings

    kw = {k[3:]: v for k, v in vars(args).items() if k.startswith("tk_")}
    try:
        return OverlapTrackerSettings(**kw)
    except InvalidSettingsError as e:
        raise name_flag(e) from e


def add_runtime_options(p: argparse.ArgumentParser) -> None:
    """Runtime knobs (never saved with the settings): device, batching, dask.distributed scale-out."""
    r = p.add_argument_group("runtime (how to run; never written into TrackMate files)")
    r.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="auto follows the USE_GPU setting [auto]")
    r.add_argument("--frames-per-batch", type=int, default=RuntimeOptions.frames_per_batch, metavar="N",
                   help="2D frames per cellpose call; progress and cancel are checked between calls "
                        f"[{RuntimeOptions.frames_per_batch}]")
    r.add_argument("--inference", choices=(*INFERENCE_MODES, *DEPRECATED_INFERENCE), default=RuntimeOptions.inference,
                   metavar="{" + ",".join(INFERENCE_MODES) + "}",
                   help="how the network runs: auto = the fastest path that gives cellpose's own masks here "
                        "(cellpose 3 on a CPU: onnx, ONNX Runtime; cellpose 4 on a CPU: cellpose's bfloat16 where the "
                        "CPU has native bfloat16, else onnx in float32; a GPU: cellpose). cellpose = cellpose's own path "
                        "and defaults; float32 = it with float32 weights; channels_last = PyTorch channels_last "
                        "(cellpose 3, CPU); compile = torch.compile (one-time compile, needs a C++ compiler); bf16 = bfloat16 "
                        f"(changes some masks). 'fast' is a deprecated name [{RuntimeOptions.inference}]")
    r.add_argument("--workers", type=int, default=0, metavar="N",
                   help="run frames on a local dask cluster of N worker processes (needs dask[distributed]) [0 = "
                        "in-process]")
    r.add_argument("--scheduler", default="", metavar="ADDRESS",
                   help="run frames on an existing dask cluster, e.g. tcp://10.0.0.5:8786 (wins over --workers)")


def runtime_from_args(args: argparse.Namespace) -> RuntimeOptions:
    try:
        return RuntimeOptions(device=args.device, frames_per_batch=args.frames_per_batch, workers=args.workers,
                              scheduler=args.scheduler, inference=args.inference)
    except InvalidSettingsError as e:
        flag = {"frames_per_batch": "--frames-per-batch", "workers": "--workers", "device": "--device",
                "scheduler": "--scheduler", "inference": "--inference"}.get(e.key or "")
        raise name_flag(e, flag=flag) from e


#: SlurmOptions field -> (flag, argparse kwargs beyond help, help). Defaults are None: only given flags override.
SLURM_FLAGS: dict[str, tuple[str, dict, str]] = {
    "jobs": ("--slurm-jobs", {"type": int, "metavar": "N"}, "worker jobs kept running [2]"),
    "partition": ("--slurm-partition", {"metavar": "NAME"}, "#SBATCH -p [SLURM's default partition]"),
    "account": ("--slurm-account", {"metavar": "NAME"}, "#SBATCH -A [SLURM's default account]"),
    "gpus_per_job": ("--slurm-gpus-per-job", {"type": int, "metavar": "N"},
                     "0 or 1: 1 asks for --gres=gpu:1 and the worker runs cellpose on that GPU (with --gpu) [0]"),
    "cpus_per_job": ("--slurm-cpus-per-job", {"type": int, "metavar": "N"},
                     "CPUs per job; torch and ONNX Runtime use that many threads [4]"),
    "memory": ("--slurm-memory", {"metavar": "SIZE"}, "memory per job, e.g. 8GB or 500MB [8GB]"),
    "walltime": ("--slurm-walltime", {"metavar": "TIME"},
                 "time limit per job (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S); a job that reaches it is replaced and "
                 "its frames run again [01:00:00]"),
    "sbatch_lines": ("--slurm-sbatch", {"action": "append", "metavar": "LINE"},
                     "an extra job directive, repeatable: --slurm-sbatch=--qos=short"),
    "prologue": ("--slurm-prologue", {"action": "append", "metavar": "LINE"},
                 "a shell line run in each job before the worker starts, repeatable: 'module load cuda'"),
    "python": ("--slurm-python", {"metavar": "PATH"},
               "the Python the jobs start the worker with; same path on the compute nodes [this Python]"),
    "log_directory": ("--slurm-log-dir", {"metavar": "DIR"}, "folder for the jobs' output [OUTDIR/slurm-logs]"),
    "interface": ("--slurm-interface", {"metavar": "NAME"},
                  "network interface the dask scheduler listens on, e.g. ib0 [the host's address]"),
    "start_timeout": ("--slurm-start-timeout", {"type": float, "metavar": "S"},
                      "fail when a job is still pending after S seconds (0 = as long as SLURM queues it) [0]"),
}


def add_slurm_options(p: argparse.ArgumentParser) -> None:
    """``--cluster slurm`` and the ``--slurm-*`` options of the worker jobs (docs/scale-out-slurm.md)."""
    g = p.add_argument_group("SLURM (--cluster slurm: frames run in SLURM batch jobs started for this command, "
                             "cancelled when it ends; needs dask-jobqueue)")
    g.add_argument("--cluster", choices=("slurm",), default=None,
                   help="run the frames in SLURM worker jobs (the options below) instead of in this process")
    for fld, (flag, kw, text) in SLURM_FLAGS.items():
        g.add_argument(flag, dest=f"slurm_{fld}", default=None, help=text, **kw)


def slurm_from_args(args: argparse.Namespace, *, outdir: Path | None = None):
    """The validated ``SlurmOptions`` of ``--cluster slurm``, or None without it.

    Usage errors (exit 2) name the flag: a ``--slurm-*`` option without ``--cluster slurm``, ``--cluster slurm``
    with ``--workers``/``--scheduler``, and every invalid value (``--slurm-jobs (jobs) must be ..., got 0``).
    """
    from ..errors import UsageError

    given = {fld: getattr(args, f"slurm_{fld}") for fld in SLURM_FLAGS
             if getattr(args, f"slurm_{fld}", None) is not None}
    if getattr(args, "cluster", None) != "slurm":
        if given:
            raise UsageError(f"{SLURM_FLAGS[next(iter(given))][0]} needs --cluster slurm")
        return None
    if getattr(args, "workers", 0):
        raise UsageError(f"--cluster slurm and --workers {args.workers} exclude each other: the SLURM jobs are the "
                         "workers (--slurm-jobs N)")
    if getattr(args, "scheduler", ""):
        raise UsageError(f"--cluster slurm and --scheduler {args.scheduler} exclude each other: --cluster slurm "
                         "starts its own scheduler")
    from ..distributed import SlurmOptions

    if "log_directory" not in given and outdir is not None:
        given["log_directory"] = str(Path(outdir).resolve() / "slurm-logs")
    for key in ("sbatch_lines", "prologue"):
        if key in given:
            given[key] = tuple(given[key])
    try:
        return SlurmOptions(**given)
    except InvalidSettingsError as e:
        raise name_flag(e, flag=SLURM_FLAGS.get(e.key or "", ("",))[0] or None) from e


def add_calibration_options(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("image axes and calibration (override the file's; the file's lengths are converted to "
                             "um from nm, mm, cm, m or inch)")
    a.add_argument("--axes", metavar="AXES", help="axis letters of the stored array, e.g. tyx, zyx, tzcyx")
    a.add_argument("--pixel-size", type=float, metavar="UM", help="XY pixel size in um (> 0)")
    a.add_argument("--z-step", type=float, metavar="UM", help="Z step in um (> 0)")
    a.add_argument("--dt", type=float, metavar="T",
                   help="frame interval (> 0), in the file's time unit (seconds when the file states none)")


def check_calibration_args(args: argparse.Namespace) -> None:
    """Calibration overrides must be positive finite numbers (errors name the flag and the calibration axis)."""
    import math

    for name, (flag, axis) in _CALIBRATION.items():
        v = getattr(args, name, None)
        if v is not None and not (math.isfinite(v) and v > 0):
            raise InvalidSettingsError(f"{flag} (calibration {axis}) must be a positive number, got {v!r}",
                                       key=f"calibration {axis}", value=v)


def _t_range(text: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--t-range must be FIRST:LAST (0-based, inclusive), got {text!r}") from None
    return a, b


def add_t_range_option(p: argparse.ArgumentParser) -> None:
    """``--t-range FIRST:LAST``: TrackMate's T range (0-based, inclusive), the same in ``run`` and ``fiji``."""
    p.add_argument("--t-range", type=_t_range, metavar="FIRST:LAST",
                   help="frames to process (0-based, inclusive, as TrackMate's T range) [every frame]")
