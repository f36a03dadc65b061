"""The glue jar for a Fiji: the prebuilt jar shipped in the package (:func:`shipped_jar`), or, as a fallback when no
current prebuilt jar matches, the glue compiled with plain ``javac`` against that Fiji into a per-user cache.

Needs only a JDK: no Maven, no network. The jar is keyed by a hash of the sources, the line, the Java release and
the TrackMate jar, so upgrading either rebuilds it once. javac's SciJava annotation processor (from scijava-common
on the class path) writes ``META-INF/json/org.scijava.plugin.Plugin``, which is how TrackMate discovers the factory.

Pure Python (subprocess); starts no JVM.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .._cache import cache_dir
from .._version import __version__
from ..errors import BackendUnavailableError, InvalidSettingsError
from ..settings import SETTINGS_RESOURCE, settings_resource_json
from ..training import action_options_table
from ._fiji import FijiInstallation
from ._prebuilt import SOURCE_SETS, load_env_builder, prebuilt_jar_name, read_manifest, source_hash

_PACKAGE_DIR = Path(__file__).resolve().parents[1]

GLUE_PLUGIN_CLASS = "trackmatecellpose.glue.CellposePyDetectorFactory"
_PLUGIN_INDEX = "META-INF/json/org.scijava.plugin.Plugin"


def glue_source_root() -> Path:
    """Folder holding the glue source sets (``common/``, ``tm7/`` ...).

    Looked up in order: ``$TRACKMATE_CELLPOSE_GLUE_SRC``; the copy packaged inside the wheel
    (``trackmate_cellpose/data/java/src``); the repository's ``java-glue/src`` (editable installs).
    """
    env = os.environ.get("TRACKMATE_CELLPOSE_GLUE_SRC")
    candidates = [Path(env)] if env else []
    candidates += [_PACKAGE_DIR / "data" / "java" / "src", _PACKAGE_DIR.parents[1] / "java-glue" / "src"]
    for c in candidates:
        if (c / "common").is_dir():
            return c
    raise BackendUnavailableError(
        "the Java glue sources are missing (looked in " + ", ".join(map(str, candidates)) + "); reinstall trackmate-cellpose")


@dataclass(frozen=True)
class Javac:
    """A javac executable and its major version."""

    path: Path
    major: int

    def release_flags(self, release: int) -> list[str]:
        if self.major < release:
            raise BackendUnavailableError(
                f"javac {self.major} at {self.path} cannot compile for Java {release} (TrackMate's bytecode level); "
                f"install a JDK >= {release} and set JAVA_HOME or pass --java-home")
        flags = ["--release", str(release)] if self.major >= 9 else ["-source", str(release), "-target", str(release)]
        if self.major >= 21:
            flags.append("-proc:full")  # JDK 23+ runs no annotation processor by default: SciJava's index needs it
        return flags


def _javac_version(javac: Path) -> int:
    try:
        out = subprocess.run([str(javac), "-version"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise BackendUnavailableError(f"cannot run {javac}: {e}") from e
    m = re.search(r"javac\s+(\d+)(?:\.(\d+))?", out.stdout + out.stderr)
    if not m:
        raise BackendUnavailableError(f"cannot read the version of {javac}: {out.stdout + out.stderr!r}")
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def _exe(name: str) -> str:
    return name + (".exe" if sys.platform.startswith("win") else "")


def find_javac(java_home: str | Path | None = None) -> Javac:
    """Find a JDK's javac: ``java_home``, then ``$JAVA_HOME``, then the JDK of JPype's default JVM, then ``PATH``."""
    tried: list[str] = []
    homes: list[Path] = []
    if java_home:
        homes.append(Path(java_home))
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    for home in homes:
        cand = home / "bin" / _exe("javac")
        tried.append(str(cand))
        if cand.is_file():
            return Javac(cand, _javac_version(cand))
    if java_home:
        raise BackendUnavailableError(f"no javac in {java_home} (is it a JDK, not a JRE?)")
    try:
        import jpype

        jvm = Path(jpype.getDefaultJVMPath()).resolve()
        for up in jvm.parents[:4]:
            cand = up / "bin" / _exe("javac")
            if cand.is_file():
                return Javac(cand, _javac_version(cand))
            tried.append(str(cand))
    except Exception:  # noqa: BLE001 - no default JVM is fine, PATH may still have one
        pass
    which = shutil.which("javac")
    if which:
        return Javac(Path(which), _javac_version(Path(which)))
    raise BackendUnavailableError(
        "no Java compiler (javac) found; install a JDK (e.g. OpenJDK 17, or 21+ for TrackMate 8.1.1 and later) and set "
        "JAVA_HOME. Tried: " + ", ".join(tried or ["PATH"]))


def _sources(line: str, root: Path | None = None) -> list[Path]:
    if line not in SOURCE_SETS:
        raise InvalidSettingsError(f"line must be one of {', '.join(SOURCE_SETS)} (a TrackMate API line), got "
                                   f"{line!r}", key="line", value=line)
    root = root or glue_source_root()
    files: list[Path] = []
    for sset in SOURCE_SETS[line]:
        files += sorted((root / sset).rglob("*.java"))
    return files


def compile_glue(line: str, classpath: Sequence[Path], out_jar: Path, *, release: int, javac: Javac | None = None,
                 source_root: Path | None = None, extra_sources: Iterable[Path] = (),
                 require_plugin_index: bool = True) -> Path:
    """Compile the glue of ``line`` against ``classpath`` into ``out_jar`` (written atomically).

    ``require_plugin_index=False`` is for compile-only checks against the API mirror, which has no SciJava
    annotation processor.

    Raises
    ------
    BackendUnavailableError
        No suitable javac, or compilation failed (javac's messages are included).
    """
    javac = javac or find_javac()
    sources = _sources(line, source_root) + list(extra_sources)
    out_jar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tmcp-glue-", dir=out_jar.parent) as tmp:
        classes = Path(tmp) / "classes"
        classes.mkdir()
        argfile = Path(tmp) / "javac.args"
        args = ["-encoding", "UTF-8", "-nowarn", "-Xlint:-options", *javac.release_flags(release),
                "-d", str(classes), "-cp", os.pathsep.join(str(p) for p in classpath), *map(str, sources)]
        # An argument file keeps the ~500-jar class path clear of command-line length limits (Windows).
        argfile.write_text("\n".join(_quote_arg(a) for a in args), encoding="utf-8")
        proc = subprocess.run([str(javac.path), f"@{argfile}"], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise BackendUnavailableError(
                f"compiling the TrackMate glue ({line}) with {javac.path} failed:\n{proc.stdout}{proc.stderr}")
        if require_plugin_index and not (classes / _PLUGIN_INDEX).is_file():
            raise BackendUnavailableError(
                f"javac {javac.major} wrote no SciJava plugin index ({_PLUGIN_INDEX}): is scijava-common on the class "
                "path?")
        tmp_jar = Path(tmp) / "glue.jar"
        with zipfile.ZipFile(tmp_jar, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: trackmate-cellpose\n"
                       f"TrackMate-Line: {line}\nTrackMate-Cellpose-Version: {__version__}\n")
            z.writestr(SETTINGS_RESOURCE, glue_table_json())  # what the Java side reads its settings from
            z.writestr(*load_env_builder(_PACKAGE_DIR))  # what it builds a Python environment with
            for f in sorted(classes.rglob("*")):
                if f.is_file():
                    z.write(f, f.relative_to(classes).as_posix())
        os.replace(tmp_jar, out_jar)
    return out_jar


def glue_table_json() -> str:
    """The settings table the glue jar carries: the detector's settings and the retraining action's options (the same
    JSON as ``_prebuilt.load_settings_table`` makes from the sources)."""
    return settings_resource_json({"training": action_options_table()})


def _quote_arg(a: str) -> str:
    return '"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"'


def glue_key(fiji: FijiInstallation, source_root: Path | None = None) -> str:
    """Hash identifying a glue build: sources, settings table, line, release and the TrackMate jar."""
    h = hashlib.sha256()
    root = source_root or glue_source_root()
    for f in _sources(fiji.line, root):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    h.update(glue_table_json().encode())
    h.update(load_env_builder(_PACKAGE_DIR)[1].encode())
    st = fiji.trackmate_jar.stat()
    h.update(f"{fiji.line}|{fiji.java_release}|{fiji.trackmate_jar.name}|{st.st_size}".encode())
    return h.hexdigest()[:16]


def build_glue(fiji: FijiInstallation, *, cache: Path | None = None, javac: Javac | None = None,
               java_home: str | Path | None = None, force: bool = False, log=None) -> Path:
    """Return the glue jar for ``fiji``'s TrackMate line, compiling it into the cache if needed."""
    key = glue_key(fiji)
    jar = (cache or cache_dir()) / "glue" / f"{fiji.line}-{key}" / "trackmate-cellpose-glue.jar"
    if jar.is_file() and not force:
        return jar
    javac = javac or find_javac(java_home)
    if log:
        log(f"compiling the TrackMate {fiji.trackmate_version} glue ({fiji.line}) with javac {javac.major} -> {jar}")
    return compile_glue(fiji.line, fiji.jars, jar, release=fiji.java_release, javac=javac)


def prebuilt_dir() -> Path:
    """Folder of the prebuilt jars shipped in the package (``trackmate_cellpose/data/java/glue``)."""
    return _PACKAGE_DIR / "data" / "java" / "glue"


def current_source_hash(line: str) -> str | None:
    """Hash of the installed glue sources of ``line``, of this package's settings table and of its environment builder
    (what a current prebuilt jar records); None without sources."""
    try:
        return source_hash(glue_source_root(), line, glue_table_json(), load_env_builder(_PACKAGE_DIR)[1])
    except BackendUnavailableError:
        return None


def shipped_jar(line: str, *, log=None) -> Path | None:
    """The prebuilt jar of ``line`` shipped in this package, if present and current with the installed sources.

    A jar whose recorded ``Glue-Source-Hash`` differs from the sources' (a source tree edited after the last build)
    is stale: it is not used (``log`` hears why) and callers fall back to compiling.
    """
    jar = prebuilt_dir() / prebuilt_jar_name(line)
    if not jar.is_file():
        return None
    recorded = read_manifest(jar).get("Glue-Source-Hash")
    current = current_source_hash(line)
    if recorded is None or recorded != current:
        if log:
            log(f"the prebuilt glue {jar} is stale (sources hash {current}, jar built from {recorded}); not used "
                "(rebuild: pip install -e . or python -m build)")
        return None
    return jar
