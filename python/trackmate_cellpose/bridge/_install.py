"""Install the prebuilt glue into a user's Fiji (``trackmate-cellpose install-fiji`` / ``uninstall-fiji``).

What install adds to ``Fiji.app`` and uninstall removes (nothing else is touched):

* ``jars/trackmate-cellpose-glue-<version>.jar``: the prebuilt jar of that Fiji's TrackMate line, byte for byte. An
  older copy of ours (a ``jars/trackmate-cellpose-glue-*.jar`` whose manifest carries ``TrackMate-Cellpose-Glue``) is
  removed; other jars are never touched. Files are written new (temporary file + rename), never modified in place.
* ``config/trackmate-cellpose.json``: this environment's Python executable (for the Python worker of a classic
  launch, a later feature), the package version, the jar and the TrackMate line. ``config/`` is created if missing and
  then removed again by uninstall when it is empty.

Pure Python: starts no JVM.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BackendUnavailableError
from ._fiji import FijiInstallation, find_fiji
from ._glue import current_source_hash, prebuilt_dir, shipped_jar
from ._prebuilt import LOADER_MARKER, MANIFEST_MARKER, prebuilt_jar_name, read_manifest

CONFIG_NAME = "trackmate-cellpose.json"
_OURS = re.compile(r"^trackmate-cellpose-glue-.*\.jar$")


class FijiFolderError(BackendUnavailableError):
    """The folder given is not a Fiji this package can install into (the message names it and what was expected)."""


def installed_jar_name(version: str | None = None) -> str:
    if version is None:
        from .. import __version__ as version
    return f"trackmate-cellpose-glue-{version}.jar"


@dataclass(frozen=True)
class InstalledGlue:
    """Our glue jar found in a Fiji's ``jars/``.

    ``current`` is True when it is the jar this package ships for that Fiji's TrackMate line (same line, same source
    hash); otherwise it is stale (an older or newer trackmate-cellpose, or TrackMate changed line since).
    """

    jar: Path
    version: str
    line: str
    source_hash: str
    current: bool
    python: str | None = None
    config: dict = field(default_factory=dict, repr=False)


def _config_path(root: Path) -> Path:
    return root / "config" / CONFIG_NAME


def _read_config(root: Path) -> dict:
    try:
        return json.loads(_config_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def recorded_config(fiji_dir: str | Path) -> dict:
    """What ``config/trackmate-cellpose.json`` of ``fiji_dir`` records (``python``, ``env`` ...); empty when none."""
    return _read_config(Path(fiji_dir))


def _our_jars(root: Path) -> list[Path]:
    jars = root / "jars"
    if not jars.is_dir():
        return []
    return sorted(p for p in jars.iterdir()
                  if p.is_file() and _OURS.match(p.name) and read_manifest(p).get(MANIFEST_MARKER) == "true")


def installed_glue(fiji_dir: str | Path, line: str | None = None) -> list[InstalledGlue]:
    """Our glue jars in ``fiji_dir/jars`` (normally none or one), judged against ``line`` (the Fiji's TrackMate line;
    read from the Fiji when omitted)."""
    root = Path(fiji_dir)
    found = _our_jars(root)
    if not found:
        return []
    if line is None:
        try:
            line = find_fiji(root).line
        except BackendUnavailableError:
            line = None
    config = _read_config(root)
    out = []
    for jar in found:
        m = read_manifest(jar)
        jline, jhash = m.get("TrackMate-Line", "?"), m.get("Glue-Source-Hash", "")
        current = line is not None and jline == line and jhash == current_source_hash(line)
        out.append(InstalledGlue(jar=jar, version=m.get("TrackMate-Cellpose-Version", "?"), line=jline,
                                 source_hash=jhash, current=current,
                                 python=config.get("python") if config.get("jar") == f"jars/{jar.name}" else None,
                                 config=config))
    return out


def check_installed_glue(fiji: FijiInstallation) -> Path | None:
    """The installed glue jar of ``fiji`` when there is exactly one and it is current; None when none is installed.

    Raises
    ------
    BackendUnavailableError
        Our jar is installed but stale (or installed twice): it would clash with the current glue on the class path.
    """
    found = installed_glue(fiji.root, fiji.line)
    if not found:
        return None
    if len(found) == 1 and found[0].current:
        return found[0].jar
    names = ", ".join(f"{g.jar.name} ({g.version}, {g.line})" for g in found)
    raise BackendUnavailableError(
        f"{fiji.root / 'jars'} holds an outdated trackmate-cellpose glue ({names}) that does not match this "
        f"trackmate-cellpose for TrackMate {fiji.trackmate_version} ({fiji.line}); run 'trackmate-cellpose "
        f"install-fiji --fiji {fiji.root}' to update it (or uninstall-fiji to remove it)")


def _inspect(fiji_dir: str | Path) -> FijiInstallation:
    root = Path(fiji_dir).expanduser()
    if not root.is_dir():
        raise FijiFolderError(f"--fiji {root}: not a folder; expected a Fiji.app folder (with jars/ and plugins/)")
    if not (root / "jars").is_dir():
        raise FijiFolderError(f"--fiji {root}: not a Fiji folder; expected a Fiji.app folder with a jars/ subfolder")
    try:
        fiji = find_fiji(root)
    except BackendUnavailableError as e:
        raise FijiFolderError(f"--fiji {root}: {e}") from e
    major = fiji.trackmate_version.split(".")[0]
    with zipfile.ZipFile(fiji.trackmate_jar) as z:
        has_global = "fiji/plugin/trackmate/detection/SpotGlobalDetectorFactory.class" in z.namelist()
    if not has_global or (major.isdigit() and int(major) < 7):
        raise FijiFolderError(
            f"--fiji {root}: TrackMate {fiji.trackmate_version} is not supported; expected TrackMate 7.x, 8.x or v9 "
            "(update Fiji with Help > Update...)")
    return fiji


def _check_writable(folder: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmcp-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise FijiFolderError(f"{folder}: not writable ({e.strerror or e}); expected a Fiji folder you can write to "
                              "(run as its owner, or install Fiji in your home folder)") from e


def _write_new(path: Path, data: bytes) -> None:
    """Write ``path`` as a NEW file (temporary file + rename): a hard-linked copy of Fiji keeps its originals intact."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; Fiji's other users must read it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_fiji(fiji_dir: str | Path, *, python: str | None = None, env: str | None = None) -> list[str]:
    """Copy the prebuilt glue for this Fiji's TrackMate line into ``jars/`` and record the Python executable.

    Idempotent. Returns what was done, one line per action.

    Raises
    ------
    FijiFolderError
        Not a Fiji folder, no TrackMate, an unsupported TrackMate, or a folder that is not writable.
    BackendUnavailableError
        This installation of trackmate-cellpose has no current prebuilt jar for that line.
    """
    from .. import __version__

    fiji = _inspect(fiji_dir)
    root = fiji.root  # resolved: the messages name the real folder
    jar = shipped_jar(fiji.line)
    if jar is None:
        raise BackendUnavailableError(
            f"this trackmate-cellpose has no current prebuilt glue jar for TrackMate's {fiji.line} line (expected "
            f"{prebuilt_dir() / prebuilt_jar_name(fiji.line)}, built from the installed sources); reinstall "
            "trackmate-cellpose from a wheel, or rebuild it with a JDK (pip install -e .)")
    jars_dir, config_dir = root / "jars", root / "config"
    _check_writable(jars_dir)
    if config_dir.exists():
        _check_writable(config_dir)
    else:
        _check_writable(root)
    done: list[str] = []
    target = jars_dir / installed_jar_name(__version__)
    data = jar.read_bytes()
    olds = [p for p in _our_jars(root) if p != target]
    if target.is_file() and target.read_bytes() == data:
        done.append(f"{target} is already installed (TrackMate {fiji.trackmate_version}, {fiji.line})")
    else:
        _write_new(target, data)
        done.append(f"installed {target} (TrackMate {fiji.trackmate_version}, {fiji.line})")
    for old in olds:  # after the new one is in place: a failed write leaves the old glue working
        old.unlink()
        done.append(f"removed {old}")
    created_dir = not config_dir.exists()
    previous = _read_config(root)
    config = {"python": python or sys.executable, "version": __version__, "jar": f"jars/{target.name}",
              "line": fiji.line, "trackmate": fiji.trackmate_version,
              "created_config_dir": created_dir or bool(previous.get("created_config_dir"))}
    if env:  # an environment setup-env built (trackmate_cellpose.envs): what uninstall-env --fiji forgets
        config["env"] = str(env)
    cfg = _config_path(root)
    if previous == config:
        done.append(f"{cfg} already records Python {config['python']}")
    else:
        config_dir.mkdir(exist_ok=True)
        _write_new(cfg, (json.dumps(config, indent=1) + "\n").encode())
        done.append(f"recorded Python {config['python']} in {cfg}")
    if site_loaders(root):
        done.append(f"note: {root} also has the trackmate-cellpose update site; this jar (install-fiji's) is the one "
                    "Fiji uses while both are there (uninstall-fiji goes back to the update site's)")
    return done


def record_python(fiji_dir: str | Path, python: str, *, env: str | None = None) -> list[str]:
    """Record ``python`` (and ``env``, the environment setup-env built) in the Fiji's config, keeping its other
    entries, and install no jar: for a Fiji that has the detector from the update site, whose worker reads the record
    as after install-fiji. Returns what was done.

    Raises
    ------
    FijiFolderError
        Not a Fiji folder, no TrackMate, or a folder that is not writable.
    """
    root = _inspect(fiji_dir).root
    config_dir = root / "config"
    _check_writable(config_dir if config_dir.exists() else root)
    previous = _read_config(root)
    config = {**previous, "python": python}
    if env:
        config["env"] = str(env)
    else:
        config.pop("env", None)
    if not config_dir.exists():
        config["created_config_dir"] = True
    cfg = _config_path(root)
    if previous == config:
        return [f"{cfg} already records Python {python}"]
    config_dir.mkdir(exist_ok=True)
    _write_new(cfg, (json.dumps(config, indent=1) + "\n").encode())
    return [f"recorded Python {python} in {cfg} (the update site's detector uses it; no jar installed)"]


def site_loaders(fiji_dir: str | Path) -> list[Path]:
    """The update site's loader jars in ``fiji_dir/jars`` (``trackmate-cellpose-<version>.jar`` marked
    ``TrackMate-Cellpose-Loader``); install-fiji and uninstall-fiji never touch them (Fiji's updater owns them)."""
    return [j for j in sorted((Path(fiji_dir) / "jars").glob("trackmate-cellpose-*.jar"))
            if read_manifest(j).get(LOADER_MARKER) == "true"]


def forget_python(fiji_dir: str | Path, envs: list[Path]) -> list[str]:
    """Drop the Python recorded in the Fiji's config when it lies in one of ``envs`` (environments just removed), so
    that the detector stops using it. Returns what was done (nothing when the record points elsewhere).

    Raises
    ------
    FijiFolderError
        Not a Fiji folder (no ``jars/``).
    """
    root = Path(fiji_dir).expanduser().resolve()
    if not (root / "jars").is_dir():
        raise FijiFolderError(f"--fiji {root}: not a Fiji folder; expected a Fiji.app folder with a jars/ subfolder")
    config = _read_config(root)
    python = config.get("python")
    inside = [e for e in envs if python and Path(python).absolute().is_relative_to(Path(e).absolute())]
    if not inside:
        return []
    for key in ("python", "env"):
        config.pop(key, None)
    _write_new(_config_path(root), (json.dumps(config, indent=1) + "\n").encode())
    return [f"{_config_path(root)} no longer records Python {python} (its environment {inside[0]} was removed)"]


def uninstall_fiji(fiji_dir: str | Path) -> list[str]:
    """Remove what :func:`install_fiji` added (our jar(s), the config file, ``config/`` if we created it and it is
    empty). Returns what was done; an empty list when nothing of ours was there.

    Raises
    ------
    FijiFolderError
        Not a Fiji folder (no ``jars/``), or not writable.
    """
    root = Path(fiji_dir).expanduser().resolve()
    if not (root / "jars").is_dir():
        raise FijiFolderError(f"--fiji {root}: not a Fiji folder; expected a Fiji.app folder with a jars/ subfolder")
    done: list[str] = []
    ours = _our_jars(root)
    if ours:
        _check_writable(root / "jars")
    for jar in ours:
        jar.unlink()
        done.append(f"removed {jar}")
    cfg = _config_path(root)
    if cfg.is_file():
        created = bool(_read_config(root).get("created_config_dir"))
        cfg.unlink()
        done.append(f"removed {cfg}")
        if created:
            try:
                cfg.parent.rmdir()  # only when empty: anything Fiji wrote there since stays
                done.append(f"removed {cfg.parent}")
            except OSError:
                pass
    return done
