"""Build the isolated Python environment the detector's worker runs in: cellpose 3 or 4, the torch build for this
machine and trackmate-cellpose itself, installed by uv (``trackmate-cellpose setup-env``; in Fiji *Plugins ›
Tracking › TrackMate-Cellpose › Set up a Python environment* and the detector panel's button).

Why uv: one static binary (PyPI ships it as a wheel, so Fiji's Java side can fetch it from the package index as it
would any package), it finds a suitable Python or downloads a standalone one when there is none, it installs torch
from PyTorch's own index for the machine (``--torch-backend``: CUDA on NVIDIA, CPU elsewhere) and it resumes from
its cache. Appose's builders (pixi/micromamba) need conda channels and a JVM library TrackMate 7.x/8.x lack.

Steps, each recorded in ``<env>/trackmate-cellpose-env.json`` when done, so that a cancelled or failed build resumes
where it stopped (uv skips what is installed and keeps downloads in its cache):

1. ``python``: ``uv venv`` with a Python matching ``python`` (found on the machine, else fetched by uv);
2. ``torch``: ``torch==2.13.0`` (and torchvision for cellpose 4) FIRST, from the torch backend of the variant;
3. ``cellpose``: cellpose of the chosen major version and trackmate-cellpose, torch pinned again;
4. ``check``: imports torch, cellpose and trackmate-cellpose in the new environment and reports versions/devices.

Everything lives in the data folder (:func:`data_dir`): ``envs/<version>-cellpose<N>-<variant>``, uv's cache
(``uv-cache``, unless ``UV_CACHE_DIR`` is set) and uv-fetched interpreters (``python``, unless
``UV_PYTHON_INSTALL_DIR`` is set); :func:`remove_env` removes exactly these.

Standard library only, and nothing of the package is imported at module level: the Fiji glue runs THIS FILE BY PATH
(``uv run --no-project --python ... _builder.py build --events ...``) with whatever Python uv finds, before
trackmate-cellpose exists anywhere on the machine. In that mode its errors derive from ``Exception``; imported as
``trackmate_cellpose.envs`` they derive from the package's errors.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

try:
    from ..errors import BackendUnavailableError as _ErrorBase
    from ..errors import Cancelled as _CancelledBase
except ImportError:  # run by path (see the module docstring): no package around this file
    _ErrorBase = RuntimeError
    _CancelledBase = Exception


#: Python versions the environment may use (torch 2.13 and both cellpose lines have wheels for these).
PYTHON_REQUEST = ">=3.10,<3.14"
#: Installed FIRST and pinned: letting cellpose pull torch unpinned downloads a multi-GB CUDA build.
TORCH_SPEC = "torch==2.13.0"
#: cellpose 4 imports torchvision; the partner of torch 2.13, from the same backend (a mismatched pair fails).
TORCHVISION_SPEC = "torchvision==0.28.*"
CELLPOSE_SPECS = {3: "cellpose>=3.1,<4", 4: "cellpose>=4.2,<5"}
#: What trackmate-cellpose's own code needs besides torch and cellpose: its distribution's dependencies (a test checks
#: this list against pyproject.toml). Installed instead of the distribution when the code comes from elsewhere
#: (``code``: the update site's copy, which the worker puts first on its path).
WORKER_REQUIREMENTS = ("numpy>=1.24", "xarray>=2023.1", "pyimagej>=1.5", "scyjava>=1.10", "jpype1>=1.5.2",
                       "tifffile>=2023.1", "scikit-image>=0.22", "scipy>=1.10", "tqdm>=4.60", "pillow>=9",
                       "fast-simplification>=0.1", "shapely>=2.0", "matplotlib>=3.7", "onnxruntime>=1.17", "onnx>=1.15")
VARIANTS = ("auto", "cpu", "cuda", "mps")
#: uv's ``--torch-backend`` per variant: ``auto`` lets uv pick the CUDA build for the installed driver; macOS wheels
#: on PyPI carry MPS. ``None``: torch comes from the package index like every other package.
_TORCH_BACKEND = {"cpu": "cpu", "cuda": "auto", "mps": None}
STATE_FILE = "trackmate-cellpose-env.json"
_STEPS = ("python", "torch", "cellpose", "check")
#: Progress fraction at the start of each step (the rest of the bar is the check).
_STEP_START = {"python": 0.05, "torch": 0.15, "cellpose": 0.55, "check": 0.9}


class EnvBuildError(_ErrorBase):
    """The environment could not be built; the message says which step failed and what to do."""


class IndexUnreachableError(EnvBuildError):
    """A package index (or PyTorch's) cannot be reached; the message names the URL."""


class PythonDownloadError(EnvBuildError):
    """No suitable Python on the machine, and uv could not download one; the message says what to install."""


class BuildCancelled(_CancelledBase):
    """The build was cancelled; running it again resumes it."""


def data_dir() -> Path:
    """Per-user data folder of trackmate-cellpose (``$TRACKMATE_CELLPOSE_DATA`` overrides): Linux
    ``$XDG_DATA_HOME/trackmate-cellpose`` (``~/.local/share/...``), macOS ``~/Library/Application
    Support/trackmate-cellpose``, Windows ``%LOCALAPPDATA%\\trackmate-cellpose\\Data``. The Java glue
    (``EnvBuilder.dataDir``) computes the same folder; a test compares them."""
    env = os.environ.get("TRACKMATE_CELLPOSE_DATA")
    if env:
        return Path(env)
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "trackmate-cellpose" / "Data"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "trackmate-cellpose"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "trackmate-cellpose"


def _has_nvidia_gpu() -> bool:
    if sys.platform == "darwin":
        return False
    if Path("/proc/driver/nvidia/version").is_file():
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def resolve_variant(variant: str) -> str:
    """``auto`` -> ``cuda`` with an NVIDIA driver, ``mps`` on Apple silicon, else ``cpu``; others are checked."""
    if variant not in VARIANTS:
        raise EnvBuildError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    apple_silicon = sys.platform == "darwin" and platform.machine() == "arm64"
    if variant == "auto":
        return "mps" if apple_silicon else "cuda" if _has_nvidia_gpu() else "cpu"
    if variant == "mps" and not apple_silicon:
        raise EnvBuildError(f"variant 'mps' needs macOS on Apple silicon, this is {sys.platform} "
                            f"{platform.machine()}; expected cpu, cuda or auto")
    if variant == "cuda" and sys.platform == "darwin":
        raise EnvBuildError("variant 'cuda' is not available on macOS (PyTorch has no CUDA builds for it); "
                            "expected mps, cpu or auto")
    return variant


def env_name(version: str, cellpose: int, variant: str) -> str:
    """Folder name of an environment under ``<data>/envs``: one per trackmate-cellpose version, cellpose major
    version and (resolved) variant."""
    return f"{version}-cellpose{cellpose}-{variant}"


def _env_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if sys.platform.startswith("win") else "bin/python")


def find_uv(data: Path | None = None) -> Path:
    """The uv executable: ``$TRACKMATE_CELLPOSE_UV``, the ``uv`` Python package of this Python, the newest copy the
    Fiji glue fetched into ``<data>/uv/<version>/``, else ``uv`` on PATH."""
    env = os.environ.get("TRACKMATE_CELLPOSE_UV")
    if env:
        return Path(env)
    try:
        import uv  # the PyPI package (pip install uv): its wheel carries the binary

        return Path(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    exe = "uv.exe" if sys.platform.startswith("win") else "uv"
    fetched = sorted((p for p in (Path(data or data_dir()) / "uv").glob(f"*/{exe}") if p.is_file()),
                     key=lambda p: tuple(int(x) for x in re.findall(r"\d+", p.parent.name)))
    if fetched:
        return fetched[-1]
    which = shutil.which("uv")
    if which:
        return Path(which)
    raise EnvBuildError("uv is needed to build the environment and was not found: install it into this Python "
                        "(pip install uv), or put uv on PATH, or set TRACKMATE_CELLPOSE_UV to its executable")


@dataclass
class EnvRequest:
    """What to build. Index options are uv's: ``index_url`` replaces PyPI, ``extra_index_urls`` and ``find_links``
    add sources; ``torch_backend`` overrides the variant's (``"none"``: torch from those indexes too).

    trackmate-cellpose itself: ``package`` (a wheel, a source folder or a requirement; default
    ``trackmate-cellpose==<version>`` from the index), or, with ``code`` (a folder or zip holding the
    ``trackmate_cellpose`` package, e.g. the update site's copy), only its dependencies: the check then imports the
    package from ``code``, as the worker does."""

    cellpose: int = 3
    variant: str = "auto"
    python: str = PYTHON_REQUEST
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    torch_backend: str | None = None
    package: str | None = None
    code: str | None = None
    version: str | None = None
    data: str | None = None

    def __post_init__(self):
        try:
            self.cellpose = int(self.cellpose)
        except (TypeError, ValueError):
            self.cellpose = 0
        if self.cellpose not in CELLPOSE_SPECS:
            raise EnvBuildError(f"cellpose must be one of {', '.join(map(str, CELLPOSE_SPECS))}, got "
                                f"{self.cellpose!r}")
        if self.variant not in VARIANTS:
            raise EnvBuildError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.code:
            self.code = str(Path(self.code).absolute())
        if self.package and Path(self.package).exists():  # a wheel or a source folder: children run elsewhere
            self.package = str(Path(self.package).absolute())
        self.find_links = [str(Path(f).absolute()) if Path(f).exists() else f for f in self.find_links]
        if self.version is None:
            try:
                from .._version import __version__
            except ImportError:
                raise EnvBuildError("version is required when the builder runs outside the package") from None
            self.version = __version__


@dataclass(frozen=True)
class BuiltEnv:
    """A complete environment: its folder, Python executable, variant and what its check reported."""

    env: Path
    python: Path
    variant: str
    versions: dict
    resumed: bool = False


# -- running uv ----------------------------------------------------------------------------------------------------

_UNREACHABLE = re.compile(r"error sending request|client error \(Connect\)|dns error|tcp connect error|"
                          r"operation timed out|connection (refused|reset)|failed to lookup address", re.I)


def _child_env(data: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME")}
    env.setdefault("UV_CACHE_DIR", str(data / "uv-cache"))
    env.setdefault("UV_PYTHON_INSTALL_DIR", str(data / "python"))
    env["UV_NO_PROGRESS"] = "1"  # line-oriented output for the log
    return env


def _run(cmd: list[str], *, what: str, env: dict, cwd: Path, log: Callable[[str], None],
         cancel: Callable[[], bool], python_request: str = PYTHON_REQUEST) -> str:
    """Run ``cmd`` (stderr merged), each output line to ``log``; returns the output. A cancel terminates it
    (killed 10 s later) and raises :class:`BuildCancelled`; a failure raises with the last lines."""
    log("$ " + " ".join(a if "\n" not in a else "'...'" for a in cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, cwd=cwd, text=True, encoding="utf-8", errors="replace", bufsize=1)
    lines: list[str] = []

    def pump():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            log(line.rstrip("\n"))

    def stop() -> BuildCancelled:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(5)
        return BuildCancelled(f"cancelled during {what}; run the build again to resume it")

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    while proc.poll() is None:
        try:
            if cancel():
                raise stop()
            time.sleep(0.1)
        except KeyboardInterrupt:  # Ctrl-C reaches uv too in a terminal, but not when only we are signalled
            raise stop() from None
    reader.join(10)
    out = "\n".join(lines)
    if proc.returncode != 0:
        cause = next((ln.strip().removeprefix("cause: ") for ln in reversed(lines) if ln.strip()), "")
        python = re.search(r"Failed to download `?(\S+?(?:cpython|python-build-standalone)\S*?)`?$", out, re.M)
        if python:
            raise PythonDownloadError(
                f"no Python matching {python_request} was found on this machine and uv "
                f"could not download one: {python.group(1)} ({cause}). Install Python 3.10 to 3.13 (python.org), "
                "or give the interpreter to use (--python /path/to/python; in Fiji the command's Python field), "
                "then run the build again")
        failed = re.search(r"Failed to fetch: `?(\S+?)`?$", out, re.M)
        if _UNREACHABLE.search(out):
            url = failed.group(1) if failed else "the package index"
            raise IndexUnreachableError(
                f"the package index cannot be reached ({what}): {url} ({cause}). Check the network connection "
                "or proxy (HTTPS_PROXY), or give a reachable index (index URL / --index-url); run the build again "
                "to resume it")
        tail = "\n".join(lines[-15:])
        raise EnvBuildError(f"{what} failed (exit code {proc.returncode}):\n{tail}")
    return out


def _index_args(req: EnvRequest) -> list[str]:
    args = ["--index-url", req.index_url] if req.index_url else []
    for url in req.extra_index_urls:
        args += ["--extra-index-url", url]
    for link in req.find_links:
        args += ["--find-links", link]
    return args


def _torch_backend(req: EnvRequest, variant: str) -> str | None:
    if req.torch_backend:
        return None if req.torch_backend == "none" else req.torch_backend
    return _TORCH_BACKEND[variant]


_CHECK = """
import json, sys
from importlib.metadata import version
import torch
import cellpose.models
import trackmate_cellpose
mps = getattr(torch.backends, "mps", None)
print(json.dumps({"python": sys.executable, "python_version": sys.version.split()[0], "torch": torch.__version__,
                  "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
                  "mps_available": bool(mps and mps.is_available()), "cellpose": version("cellpose"),
                  "trackmate_cellpose": trackmate_cellpose.__version__}))
"""


# -- state -----------------------------------------------------------------------------------------------------------

def _read_state(env: Path) -> dict:
    try:
        return json.loads((env / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_state(env: Path, state: dict) -> None:
    tmp = env / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, env / STATE_FILE)


class _Lock:
    """``<env>.lock`` holding the builder's pid: one build of an environment at a time (a lock whose process is
    gone is taken over)."""

    def __init__(self, env: Path):
        self.path = env.with_name(env.name + ".lock")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and _alive(pid):
                    raise EnvBuildError(f"another build of this environment is running (pid {pid}); wait for it, "
                                        f"or remove {self.path} if that process is not a build") from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return self
        raise EnvBuildError(f"cannot take the lock {self.path}")

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if sys.platform.startswith("win"):
        out = subprocess.run(["tasklist", "/FI", f"PID eq {pid}", "/NH"], capture_output=True, text=True)
        return str(pid) in out.stdout
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- build -----------------------------------------------------------------------------------------------------------

def build_env(req: EnvRequest, *, uv: str | Path | None = None, progress: Callable[[float, str], None] | None = None,
              log: Callable[[str], None] | None = None, cancel: Callable[[], bool] | None = None) -> BuiltEnv:
    """Build (or resume, or confirm) the environment ``req`` asks for and return it.

    Raises
    ------
    EnvBuildError
        A step failed (the message names it and has uv's last lines); :class:`IndexUnreachableError` when a
        package index cannot be reached.
    BuildCancelled
        ``cancel()`` returned True; the next build resumes.
    """
    progress = progress or (lambda f, m: None)
    log = log or (lambda m: None)
    cancel = cancel or (lambda: False)
    data = (Path(req.data) if req.data else data_dir()).absolute()
    variant = resolve_variant(req.variant)
    env = data / "envs" / env_name(req.version, req.cellpose, variant)
    uv = str(uv or find_uv(data))
    child_env = _child_env(data)
    data.mkdir(parents=True, exist_ok=True)  # also the children's working folder: no stray package shadows ours
    with _Lock(env):
        state = _read_state(env)
        python = _env_python(env)
        if state.get("complete") and python.is_file():
            progress(1.0, f"The environment {env} is already built")
            return BuiltEnv(env, python, variant, state.get("versions", {}))
        done = [s for s in state.get("steps", []) if s in _STEPS] if python.is_file() else []
        resumed = bool(done)
        if resumed:
            log(f"Resuming the build of {env} (done: {', '.join(done)})")
        backend = _torch_backend(req, variant)
        state = {"format": 1, "complete": False, "steps": done, "version": req.version, "cellpose": req.cellpose,
                 "variant": variant, "torch_backend": backend, "python_request": req.python,
                 "index": _index_args(req), "package": req.package}
        torch_specs = [TORCH_SPEC] + ([TORCHVISION_SPEC] if req.cellpose == 4 else [])
        backend_args = ["--torch-backend", backend] if backend else []
        if req.code and not req.package:
            ours, what = list(WORKER_REQUIREMENTS), "trackmate-cellpose's dependencies"
        else:
            ours = [req.package or f"trackmate-cellpose=={req.version}"]
            what = ours[0]
        check_env = dict(child_env)
        if req.code:
            check_env["PYTHONPATH"] = os.pathsep.join(p for p in (req.code, child_env.get("PYTHONPATH")) if p)
        steps = {
            "python": (f"Creating the environment (Python {req.python})",
                       [uv, "venv", "--python", req.python, str(env)]),
            "torch": (f"Installing {' and '.join(torch_specs)} ({backend or 'package index'})",
                      [uv, "pip", "install", "--python", str(python), *torch_specs,
                       *backend_args, *_index_args(req)]),
            "cellpose": (f"Installing {CELLPOSE_SPECS[req.cellpose]} and {what}",
                         [uv, "pip", "install", "--python", str(python), CELLPOSE_SPECS[req.cellpose], *ours,
                          *torch_specs, *backend_args, *_index_args(req)]),
            "check": ("Checking the environment (imports torch, cellpose, trackmate-cellpose)",
                      [str(python), "-c", _CHECK]),
        }
        for step in _STEPS:
            if step in done:
                continue
            if cancel():
                raise BuildCancelled(f"cancelled before {step}; run the build again to resume it")
            title, cmd = steps[step]
            progress(_STEP_START[step], title)
            if step == "python" and env.exists():
                cmd.insert(2, "--clear")  # an environment without its interpreter: start it afresh
            out = _run(cmd, what=title, env=check_env if step == "check" else child_env, cwd=data, log=log,
                       cancel=cancel, python_request=req.python)
            if step == "check":
                state["versions"] = _check_versions(out, req, variant)
            env.mkdir(parents=True, exist_ok=True)
            state["steps"] = [*state["steps"], step]
            _write_state(env, state)
        state.update(complete=True, python=str(python), built=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        _write_state(env, state)
    v = state["versions"]
    progress(1.0, f"Built {env}: Python {v['python_version']}, torch {v['torch']}, cellpose {v['cellpose']}, "
                  f"trackmate-cellpose {v['trackmate_cellpose']}")
    return BuiltEnv(env, python, variant, v, resumed=resumed)


def _check_versions(out: str, req: EnvRequest, variant: str) -> dict:
    last = next((ln for ln in reversed(out.splitlines()) if ln.startswith("{")), None)
    try:
        v = json.loads(last or "")
    except ValueError:
        raise EnvBuildError(f"the environment check printed no report:\n{out[-2000:]}") from None
    if not v["cellpose"].startswith(f"{req.cellpose}."):
        raise EnvBuildError(f"the environment has cellpose {v['cellpose']}, expected cellpose {req.cellpose}.x")
    if v["trackmate_cellpose"] != req.version:
        raise EnvBuildError(f"the environment has trackmate-cellpose {v['trackmate_cellpose']}, expected "
                            f"{req.version} (package {req.package or 'from the index'})")
    if variant == "cuda" and not v["cuda"]:
        raise EnvBuildError(f"variant 'cuda' was asked but torch {v['torch']} is not a CUDA build (uv found no "
                            "CUDA driver); give torch backend cu126, cu128 or cu130 (the CUDA of your driver), or "
                            "choose variant cpu")
    return v


# -- inventory and removal -------------------------------------------------------------------------------------------

def list_envs(data: str | Path | None = None) -> list[dict]:
    """The environments under ``<data>/envs``: name, folder, Python, whether complete, and their recorded state."""
    root = Path(data) if data else data_dir()
    out = []
    for env in sorted((root / "envs").glob("*")):
        if env.is_dir():
            state = _read_state(env)
            out.append({"name": env.name, "env": str(env), "python": str(_env_python(env)),
                        "complete": bool(state.get("complete")), "state": state})
    return out


def _rmtree(path: Path) -> None:
    def onerror(func, p, exc):  # uv's cache holds read-only files
        os.chmod(p, 0o700)
        func(p)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=onerror)
    else:
        shutil.rmtree(path, onerror=lambda f, p, e: onerror(f, p, e))


def remove_env(name: str | None = None, *, data: str | Path | None = None) -> list[str]:
    """Remove the environment ``name`` (a folder name under ``<data>/envs``), or all of them when ``name`` is None;
    when no environment remains, also what the builds added beside them (uv's cache, uv-fetched interpreters, the
    uv the Fiji glue fetched, the builder copy) and the data folder itself if then empty. Returns what was removed."""
    root = Path(data) if data else data_dir()
    envs = root / "envs"
    targets = [envs / name] if name else sorted(p for p in envs.glob("*") if p.is_dir())
    if name and not targets[0].is_dir():
        known = ", ".join(sorted(p.name for p in envs.glob("*") if p.is_dir())) or "none"
        raise EnvBuildError(f"no environment {name!r} in {envs}; expected one of: {known}")
    done = []
    for env in targets:
        _rmtree(env)
        env.with_name(env.name + ".lock").unlink(missing_ok=True)
        done.append(str(env))
    if envs.is_dir() and not any(envs.iterdir()):
        envs.rmdir()
    if not envs.exists():
        for extra in ("uv-cache", "python", "uv", "builder"):
            if (root / extra).exists():
                _rmtree(root / extra)
                done.append(str(root / extra))
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()
            done.append(str(root))
    return done


# -- run by path (the Fiji glue) ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """``_builder.py build|remove [options] [--events]``: with ``--events``, one JSON object per stdout line
    (``progress``/``log``/``done``/``error``) and a cancel when stdin closes (how the Fiji glue drives it)."""
    import argparse

    p = argparse.ArgumentParser(prog="trackmate-cellpose env builder")
    p.add_argument("action", choices=("build", "remove"))
    p.add_argument("--cellpose", type=int, default=3)
    p.add_argument("--variant", default="auto")
    p.add_argument("--python", default=PYTHON_REQUEST)
    p.add_argument("--index-url")
    p.add_argument("--extra-index-url", action="append", default=[])
    p.add_argument("--find-links", action="append", default=[])
    p.add_argument("--torch-backend")
    p.add_argument("--package")
    p.add_argument("--code")
    p.add_argument("--version")
    p.add_argument("--data")
    p.add_argument("--uv")
    p.add_argument("--name")
    p.add_argument("--events", action="store_true")
    a = p.parse_args(argv)
    lock = threading.Lock()

    def emit(**event):
        with lock:
            print(json.dumps(event), flush=True)

    cancelled = threading.Event()
    if a.events:
        def watch():
            while os.read(0, 1 << 16):  # the fd, not sys.stdin: its buffer lock would abort the interpreter's exit
                pass
            cancelled.set()

        threading.Thread(target=watch, daemon=True).start()
    try:
        if a.action == "remove":
            for path in remove_env(a.name, data=a.data):
                emit(event="log", message=f"removed {path}")
            emit(event="done")
            return 0
        req = EnvRequest(cellpose=a.cellpose, variant=a.variant, python=a.python, index_url=a.index_url,
                         extra_index_urls=a.extra_index_url, find_links=a.find_links,
                         torch_backend=a.torch_backend, package=a.package, code=a.code, version=a.version, data=a.data)
        built = build_env(req, uv=a.uv, progress=lambda f, m: emit(event="progress", fraction=f, message=m),
                          log=lambda m: emit(event="log", message=m), cancel=cancelled.is_set)
        emit(event="done", env=str(built.env), python=str(built.python), variant=built.variant,
             versions=built.versions, resumed=built.resumed)
        return 0
    except BuildCancelled as e:
        emit(event="error", kind="cancelled", message=str(e))
        return 130
    except EnvBuildError as e:
        kind = "index" if isinstance(e, IndexUnreachableError) else "python" if isinstance(e, PythonDownloadError) \
            else "failed"
        emit(event="error", kind=kind, message=str(e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
