"""Environment diagnosis: Python, torch, cellpose (and the API the adapter uses), device, model weights, Java, Fiji.

Starts no JVM: Java is asked for its version with ``java -version`` and a Fiji folder is inspected by reading its
jars. Each problem comes with its fix. torch and cellpose are reached through ``segment`` only, inside the checks.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .settings import DetectorSettings

if TYPE_CHECKING:
    from .segment._torch_state import TorchInfo

__all__ = ["Check", "Report", "diagnose"]


@dataclass(frozen=True)
class Check:
    """One line of the report. ``level`` is ``ok``, ``info``, ``warn`` (works, but worse) or ``error`` (broken)."""

    name: str
    level: str
    detail: str
    fix: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, level: str, detail: str, fix: str = "") -> None:
        self.checks.append(Check(name, level, detail, fix))

    @property
    def ok(self) -> bool:
        return not any(c.level == "error" for c in self.checks)

    def format(self) -> str:
        tag = {"ok": "[ ok ]", "info": "[info]", "warn": "[warn]", "error": "[FAIL]"}
        width = max((len(c.name) for c in self.checks), default=0)
        lines = []
        for c in self.checks:
            lines.append(f"{tag[c.level]} {c.name:<{width}}  {c.detail}")
            if c.fix:
                lines.append(f"       {'':<{width}}  fix: {c.fix}")
        n_err = sum(c.level == "error" for c in self.checks)
        n_warn = sum(c.level == "warn" for c in self.checks)
        lines.append(f"{n_err} problem(s), {n_warn} warning(s)")
        return "\n".join(lines)


def diagnose(settings: DetectorSettings | None = None, *, fiji_dir: str | Path | None = None,
             start_jvm: bool = False, slurm_partition: str = "") -> Report:
    """Check the environment for ``settings`` (default settings if omitted).

    Parameters
    ----------
    settings : DetectorSettings, optional
        Whose model weights to look for.
    fiji_dir : str or Path, optional
        A Fiji.app folder to inspect (``FIJI_DIR`` is used when not given).
    start_jvm : bool
        Also start a JVM with Fiji's jars in a subprocess and load TrackMate's classes (slow; off by default).
    slurm_partition : str
        The partition ``run --cluster slurm`` would be given (default: ``$SBATCH_PARTITION``, else the cluster's
        default partition); the ``slurm`` line says whether sbatch is reachable and which partition the jobs use.
    """
    from . import __version__

    settings = settings or DetectorSettings()
    r = Report()
    r.add("trackmate-cellpose", "ok", __version__)
    py = sys.version_info
    r.add("python", "ok" if py >= (3, 10) else "error", f"{platform.python_version()} ({sys.executable})",
          "" if py >= (3, 10) else "use Python 3.10 or newer")
    torch = _check_torch(r)
    major = _check_cellpose(r)
    if torch is not None:
        _check_device(r, torch, settings)
        if major is not None:
            _check_network(r, settings, major)
    _check_model(r, settings, major)
    _check_java(r)
    _check_slurm(r, slurm_partition)
    _check_envs(r)
    fiji = fiji_dir or os.environ.get("FIJI_DIR")
    if fiji:
        _check_fiji(r, Path(fiji), start_jvm=start_jvm)
    else:
        r.add("fiji", "info", "no Fiji folder given (standalone use needs none)",
              "pass --fiji /path/to/Fiji.app (or set FIJI_DIR) to check a Fiji installation")
    return r


def _check_torch(r: Report):
    from .segment._torch_state import torch_info

    try:
        info = torch_info()
    except Exception as e:  # noqa: BLE001 - any import failure is the finding
        r.add("torch", "error", f"cannot import torch: {e}",
              "install PyTorch for your platform (https://pytorch.org/get-started/locally/)")
        return None
    r.add("torch", "ok", f"{info.version} (CUDA build {info.cuda_build or 'none'})")
    return info


def _check_cellpose(r: Report) -> int | None:
    from .errors import BackendUnavailableError
    from .segment._models import cellpose_major_version, cellpose_version

    try:
        v = cellpose_version()
        major = cellpose_major_version()
    except BackendUnavailableError as e:
        r.add("cellpose", "error", str(e), "pip install 'cellpose>=3.1,<5' (install torch first)")
        return None
    api = {3: "cellpose 3 API: CellposeModel.eval(channels=[c1, c2], diameter, do_3D/stitch_threshold, anisotropy)",
           4: "cellpose 4 API: CellposeModel.eval(channel_axis, z_axis; Cellpose-SAM models, diameter optional)"}
    try:
        from .segment._adapter import import_cellpose_models

        import_cellpose_models()  # exactly what detection imports (cellpose 4: torchvision too)
    except BackendUnavailableError as e:
        msg = str(e)
        detail, _, fix = msg.partition(" Fix: ")
        r.add("cellpose", "error", f"{v} installed but cellpose.models fails to import: {detail}",
              fix or "reinstall cellpose in this environment")
        return major  # the model can still be checked: that needs no cellpose import
    r.add("cellpose", "ok", f"{v}; adapter uses the {api[major]}")
    return major


def _check_device(r: Report, torch: TorchInfo, settings: DetectorSettings) -> None:
    if torch.cuda_devices:
        r.add("device", "ok", f"CUDA: {', '.join(torch.cuda_devices)}")
    elif torch.mps:
        r.add("device", "ok", "Apple MPS")
    elif settings.use_gpu:
        fix = ("install a CUDA build of torch matching your driver (https://pytorch.org/get-started/locally/)"
               if torch.cuda_build is None else "check the NVIDIA driver (nvidia-smi)")
        r.add("device", "warn", "CPU only: USE_GPU is on but no CUDA/MPS device is visible (runs, slower)", fix)
    else:
        r.add("device", "ok", "CPU (USE_GPU is off)")


def _check_network(r: Report, settings: DetectorSettings, major: int) -> None:
    """How the default ``inference="auto"`` will run the network here (see ``segment/_inference.py``)."""
    from importlib.metadata import version

    from .segment._inference import cpu_has_native_bf16, network_dtype, onnx_available, resolve_inference
    from .segment._adapter import select_device

    device = select_device(settings.use_gpu)[0]  # the device detection picks
    mode = resolve_inference("auto", major, device)
    if mode == "onnx":
        r.add("network", "ok", f"CPU: ONNX Runtime {version('onnxruntime')} (inference 'auto' = 'onnx'; same masks as "
              "cellpose, less CPU)")
    elif device == "cpu" and major == 3:
        r.add("network", "warn", f"CPU: PyTorch (inference 'auto' = '{mode}'): {onnx_available()}",
              "pip install onnxruntime onnx (the ONNX Runtime path gives the same masks with less CPU)")
    elif device == "cpu":
        bf16 = "has" if cpu_has_native_bf16() else "has no"
        r.add("network", "ok", f"CPU: PyTorch, {network_dtype(major, mode)} weights (inference 'auto' = '{mode}': "
              f"this CPU {bf16} native bfloat16)")
    else:
        r.add("network", "ok", f"{device.upper()}: PyTorch, {network_dtype(major, mode)} weights (inference 'auto' = "
              f"'{mode}', cellpose's own path)")


def _check_model(r: Report, settings: DetectorSettings, major: int | None) -> None:
    from .errors import TrackMateCellposeError
    from .settings import default_model

    is_default = not settings.is_custom_model and settings.model == default_model(major)
    label = f"{'default ' if is_default else ''}model"
    if major is None:
        r.add(label, "warn", f"{settings.model_path or settings.model!r}: cannot check without cellpose")
        return
    from .segment._adapter import builtin_weights_path
    from .segment._models import BUILTIN_MODELS, check_model

    try:
        spec = check_model(settings, major)  # the very check detection runs first
    except TrackMateCellposeError as e:
        fix = (f"set CELLPOSE_MODEL_FILEPATH (--model-path) to a cellpose-{major} model file"
               if settings.is_custom_model else
               f"set CELLPOSE_MODEL (--model) to a built-in model of cellpose {major}: "
               + ", ".join(BUILTIN_MODELS[major]))
        r.add(label, "error", str(e), fix)
        return
    if spec.path:
        p = Path(spec.path)
        r.add(label, "ok", f"custom cellpose {major} model file {p} ({p.stat().st_size / 1e6:.1f} MB)")
        return
    p = builtin_weights_path(spec.name)
    if p.exists():
        r.add(label, "ok", f"built-in model {spec.name!r} of cellpose {major}: weights at {p}")
    else:
        r.add(label, "warn", f"built-in model {spec.name!r} of cellpose {major}: weights not yet in {p.parent}; "
                             "cellpose downloads them on first use (needs internet)",
              f"run once with internet access, or copy the weights file to {p.parent} (CELLPOSE_LOCAL_MODELS_PATH "
              "sets that folder), or use --model-path with a local file")


def _check_slurm(r: Report, partition: str) -> None:
    """sbatch reachable? Which partition would ``run --cluster slurm`` use, is it up? dask-jobqueue installed?"""
    from .distributed._slurm import import_slurm_cluster, slurm_status
    from .errors import BackendUnavailableError

    st = slurm_status(partition)
    if not st["sbatch"]:
        level = "error" if partition else "info"
        r.add("slurm", level, "sbatch not found on PATH: run --cluster slurm needs a SLURM login node (nothing else "
              "needs SLURM)", "run on a machine with the SLURM client (sbatch, squeue, scancel) on PATH"
              if partition else "")
        return
    where = f"{st['sbatch']} ({st['version'] or 'version unknown'})"
    if not st["reachable"]:
        r.add("slurm", "warn", f"{where}, but SLURM does not answer: {st['error']}",
              "check SLURM_CONF and that slurmctld and munge are running")
        return
    if st["error"]:
        r.add("slurm", "error" if partition else "warn", f"{where}: {st['error']}",
              f"pass --slurm-partition with one of: {', '.join(st['partitions'])}" if st["partitions"] else "")
        return
    state = f"{st['state']}, {st['nodes']}" if st["nodes"] else st["state"]
    detail = f"{where}; jobs go to partition {st['partition']!r} ({st['source']}): {state}"
    try:
        import_slurm_cluster()
    except BackendUnavailableError:
        r.add("slurm", "warn", f"{detail}; dask-jobqueue is not installed", "pip install 'trackmate-cellpose[slurm]'")
        return
    if st["state"] != "up":
        r.add("slurm", "warn", detail, "jobs in a partition that is not up stay pending: choose another with "
              "--slurm-partition")
        return
    r.add("slurm", "ok", detail)


def _check_java(r: Report) -> None:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which(
        "java")
    if not java:
        r.add("java", "warn", "no Java found (only needed to use the detector inside Fiji / TrackMate)",
              "install a JDK 17+ (21+ for TrackMate 8.1.1+) or set JAVA_HOME; Fiji bundles its own Java")
        return
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        text = (out.stderr or out.stdout).strip().splitlines()
        m = re.search(r'version "([^"]+)"', text[0] if text else "")
        ver = m.group(1) if m else (text[0] if text else "?")
    except (OSError, subprocess.SubprocessError) as e:
        r.add("java", "warn", f"{java} does not run: {e}", "reinstall the JDK or fix JAVA_HOME")
        return
    major = int(ver.split(".")[0]) if ver.split(".")[0].isdigit() else 0
    if major == 1:
        major = 8
    level = "ok" if major >= 17 else "warn"
    r.add("java", level, f"{ver} ({java})",
          "" if level == "ok" else "use Java 17+ (21+ for TrackMate 8.1.1 and newer)")
    javac = shutil.which("javac") or (str(Path(home) / "bin" / "javac") if home else None)
    if not javac or not Path(javac).exists():
        from .bridge._glue import SOURCE_SETS, shipped_jar

        missing = [line for line in SOURCE_SETS if shipped_jar(line) is None]
        if missing:
            r.add("javac", "warn", f"no javac, and no current prebuilt glue jar for TrackMate line(s) "
                                   f"{', '.join(missing)}: the glue cannot be compiled here for those",
                  "reinstall trackmate-cellpose from a wheel (it ships the jars), or install a JDK")
        else:
            r.add("javac", "info", "no javac (not needed: this package ships the prebuilt glue jars)")


def _check_envs(r: Report) -> None:
    """The environments ``setup-env`` (or Fiji's *Set up a Python environment*) built in the data folder."""
    from .envs import data_dir, list_envs

    envs = list_envs()
    done = [e["name"] for e in envs if e["complete"]]
    partial = [e["name"] for e in envs if not e["complete"]]
    if not envs:
        r.add("python envs", "info", f"none built in {data_dir()}",
              "trackmate-cellpose setup-env builds one (in Fiji: Plugins > Tracking > TrackMate-Cellpose > Set up a "
              "Python environment)")
    elif partial:
        r.add("python envs", "warn", f"in {data_dir()}: incomplete {', '.join(partial)}"
              + (f"; built {', '.join(done)}" if done else ""), "run the same setup-env again to resume the build")
    else:
        r.add("python envs", "ok", f"in {data_dir()}: {', '.join(done)}")


def _check_fiji(r: Report, fiji: Path, *, start_jvm: bool) -> None:
    from .bridge import find_fiji

    try:
        inst = find_fiji(fiji)
    except Exception as e:  # noqa: BLE001 - report, do not crash
        r.add("fiji", "error", str(e).splitlines()[0], "pass the Fiji.app folder that contains jars/ and plugins/")
        return
    r.add("fiji", "ok", f"{inst.root}: TrackMate {inst.trackmate_version} (API line {inst.line}, Java "
                        f"{inst.java_release} classes), {len(inst.jars)} jars")
    _check_fiji_glue(r, inst, from_site=_check_fiji_update_site(r, inst))
    if not start_jvm:
        return
    java = shutil.which("java")
    if not java:
        r.add("fiji jvm", "error", "cannot start a JVM: no java", "install a JDK 17+")
        return
    cp = os.pathsep.join(str(p) for p in inst.jars)
    code = ("public class TmcpProbe { public static void main(String[] a) throws Exception { "
            "Class.forName(\"fiji.plugin.trackmate.TrackMate\"); System.out.println(\"ok\"); } }")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "TmcpProbe.java"
        src.write_text(code)
        try:
            out = subprocess.run([java, "-Djava.awt.headless=true", f"-Duser.home={tmp}", "-cp", cp, str(src)],
                                 capture_output=True, text=True, timeout=180)
        except (OSError, subprocess.SubprocessError) as e:
            r.add("fiji jvm", "error", f"JVM start failed: {e}", "check the Java installation")
            return
    if out.returncode == 0 and "ok" in out.stdout:
        r.add("fiji jvm", "ok", "a JVM with Fiji's jars loads TrackMate")
    else:
        r.add("fiji jvm", "error", f"TrackMate classes do not load: {(out.stderr or out.stdout).strip()[:200]}",
              "update Fiji (Help > Update...) and check that Java matches TrackMate's class version")


def _check_fiji_update_site(r: Report, inst) -> bool:
    """Did this Fiji get the detector from the trackmate-cellpose update site (its loader, the glue of its line and
    the Python code), and does install-fiji's jar shadow it."""
    from .bridge._install import installed_glue, site_loaders
    from .bridge._prebuilt import prebuilt_jar_name, read_manifest
    from .bridge._update_site import PYTHON_ZIP, SITE_DIR

    loaders = site_loaders(inst.root)
    if not loaders:
        return False
    version = read_manifest(loaders[-1]).get("TrackMate-Cellpose-Version", "?")
    glue, code = inst.root / SITE_DIR / prebuilt_jar_name(inst.line), inst.root / SITE_DIR / PYTHON_ZIP
    missing = [p.relative_to(inst.root).as_posix() for p in (glue, code) if not p.is_file()]
    where = f"update site: trackmate-cellpose {version} ({loaders[-1].relative_to(inst.root).as_posix()})"
    if missing:
        r.add("fiji update site", "error", f"{where}, but {', '.join(missing)} is missing",
              "update Fiji (Help > Update...) to restore the update site's files")
    elif installed_glue(inst.root, inst.line):
        r.add("fiji update site", "warn", f"{where}; the jar of install-fiji is also there and is the one used",
              f"trackmate-cellpose uninstall-fiji --fiji {inst.root} to use the update site's")
    else:
        r.add("fiji update site", "ok", f"{where}: the glue for {inst.line} and the Python code; a classic launch "
                                        "needs only a Python with cellpose (the detector's PYTHON_EXECUTABLE)")
    return not missing


def _check_site_python(r: Report, root: Path, classic: str) -> None:
    """The update site's classic launch: which Python its worker starts (recorded by the environment builder, or the
    detector's PYTHON_EXECUTABLE), running the site's Python code."""
    from .bridge._install import recorded_config

    config = recorded_config(root)
    python = config.get("python")
    listed = f"{classic}: listed (update site); its worker runs the site's Python code"
    build = (f"set the detector's PYTHON_EXECUTABLE to a Python with cellpose, or build one: in Fiji Plugins > "
             f"Tracking > TrackMate-Cellpose > Set up a Python environment (trackmate-cellpose setup-env --fiji {root})")
    if python and Path(python).exists():
        built = " (an environment the detector's setup built)" if config.get("env") else ""
        r.add("fiji classic", "ok", f"{listed} with {python}{built}; the detector's PYTHON_EXECUTABLE overrides it")
    elif python:
        r.add("fiji classic", "warn", f"{listed}, but the recorded Python {python} is missing", build)
    else:
        r.add("fiji classic", "ok", f"{listed} with the Python set in the detector's PYTHON_EXECUTABLE (one with "
                                    "cellpose); none is recorded for this Fiji", build)


def _check_fiji_glue(r: Report, inst, *, from_site: bool = False) -> None:
    """Is our jar installed in this Fiji (which version, current or stale), and how would the detector run today."""
    from .bridge._glue import shipped_jar
    from .bridge._install import installed_glue

    found = installed_glue(inst.root, inst.line)
    install = f"trackmate-cellpose install-fiji --fiji {inst.root}"
    glue = None
    if not found:
        r.add("fiji glue", "info", "trackmate-cellpose is not installed in this Fiji ('trackmate-cellpose fiji' adds "
                                   "the glue to the Fiji it starts)", f"{install} puts it into the Fiji's jars/")
    for g in found:
        where = f"{g.jar.relative_to(inst.root).as_posix()}: trackmate-cellpose {g.version} for {g.line}"
        if g.current and len(found) == 1:
            glue = "the installed jar"
            r.add("fiji glue", "ok", f"{where}, current")
        else:
            r.add("fiji glue", "error", f"{where}, stale (this trackmate-cellpose ships another glue for "
                                        f"{inst.line}): 'trackmate-cellpose fiji' refuses to start with it",
                  f"{install} (or trackmate-cellpose uninstall-fiji --fiji {inst.root})")
        if g.python:
            recorded = f"recorded for the Python worker: {g.python}"
            if g.config.get("env"):
                recorded += " (an environment setup-env built)"
            if not Path(g.python).exists():
                r.add("fiji python", "warn", f"{recorded} (missing)", f"run {install} from the Python to use")
            elif Path(g.python).resolve() == Path(sys.executable).resolve():
                r.add("fiji python", "ok", recorded)
            else:
                r.add("fiji python", "info", f"{recorded} (not this Python: {sys.executable})")
    if glue is None and not found:
        glue = "the prebuilt jar of this package" if shipped_jar(inst.line) else "the glue compiled with javac at start"
    if glue is not None:
        r.add("fiji mode", "ok", f"in-process: started with 'trackmate-cellpose fiji --fiji {inst.root}' (or "
                                 f"trackmate_cellpose.bridge.start_fiji from Python), the detector runs in that "
                                 f"Python, with {glue}")
    if glue == "the installed jar":
        r.add("fiji python mode", "ok", "Fiji's Python mode (Edit > Options > Python...) or a Fiji started by pyimagej "
                                        "(imagej.init, napari-imagej): in-process, found by the detector itself when "
                                        "that Python has trackmate-cellpose")
    else:
        r.add("fiji python mode", "info", "Fiji's Python mode or a Fiji started by pyimagej: needs our jar in this "
                                          "Fiji", f"{install} (then pip install trackmate-cellpose in that Python)")
    classic = "classic launch (Fiji started from its icon, no Python in it)"
    if not found and from_site:
        _check_site_python(r, inst.root, classic)
        return
    if not found:
        r.add("fiji classic", "info", f"{classic}: the detector is not listed there", f"{install} adds it")
        return
    current = [g for g in found if g.current]
    python = current[0].python if len(found) == 1 and current else None
    if len(found) != 1 or not current:
        r.add("fiji classic", "error", f"{classic}: the installed glue is stale and may fail there", install)
    elif not python or not Path(python).exists():
        r.add("fiji classic", "warn", f"{classic}: no usable Python is recorded for the worker"
                                      + (f" ({python} is missing)" if python else ""),
              f"build one: trackmate-cellpose setup-env --fiji {inst.root} (in Fiji: Plugins > Tracking > "
              f"TrackMate-Cellpose > Set up a Python environment), or run {install} from the Python to use, or set "
              "PYTHON_EXECUTABLE in the detector settings")
    else:
        r.add("fiji classic", "ok", f"{classic}: the detector runs in a warm Python worker process, started on the "
                                    f"first detection or Preview with {python} (the PYTHON_EXECUTABLE setting "
                                    "overrides it) and kept until Fiji exits")
