"""Find a Fiji installation, its jars and its TrackMate API line (pure Python: starts no JVM).

TrackMate's detector API differs between three lines (see java-glue/README.md):

* ``tm7`` - 7.x: stateful factories (``setTarget``), ``Spot`` is a class;
* ``tm8`` - 8.x: stateless factories (``TrackMateFactoryBase``), ``Spot`` is a class;
* ``tm9`` - v9: stateless factories, ``Spot`` is an interface, ``SpotMesh`` with imglib2-mesh.

The line is read from the classes inside the TrackMate jar, not from its file name, so snapshots and renamed jars
are classified correctly.
"""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BackendUnavailableError

#: Supported TrackMate API lines.
LINES = ("tm7", "tm8", "tm9")

#: Class-file major version -> Java release (52 = Java 8, 61 = 17, 65 = 21).
JAVA_RELEASE_OF_CLASS_MAJOR = {52: 8, 53: 9, 54: 10, 55: 11, 56: 12, 57: 13, 58: 14, 59: 15, 60: 16, 61: 17,
                               62: 18, 63: 19, 64: 20, 65: 21, 66: 22, 67: 23, 68: 24, 69: 25}

# Other platforms' native folders inside Fiji.app/jars, never put on the class path.
_FOREIGN_NATIVE = re.compile(r"^(win32|win64|linux32|linux64|linux-arm64|macosx|macos-arm64|linux-aarch64)$")
_TRACKMATE_JAR = re.compile(r"^TrackMate-(\d+(?:\.\d+)*(?:-[A-Za-z0-9.]+)?)\.jar$")


@dataclass(frozen=True)
class FijiInstallation:
    """A local Fiji (or any folder of jars holding TrackMate).

    Attributes
    ----------
    root : Path
        Fiji.app folder (or jar folder).
    trackmate_jar : Path
    trackmate_version : str
        From the jar name, e.g. ``"7.13.2"``.
    line : str
        ``"tm7"``, ``"tm8"`` or ``"tm9"``.
    java_release : int
        Java release TrackMate's classes were compiled for (the glue is compiled for the same release).
    jars : tuple of Path
        Every jar of ``jars/`` (recursively, minus other platforms' native folders) and ``plugins/``.
    """

    root: Path
    trackmate_jar: Path
    trackmate_version: str
    line: str
    java_release: int
    jars: tuple[Path, ...] = field(repr=False)

    @property
    def has_imglyb(self) -> bool:
        return any(p.name.startswith("imglib2-imglyb") for p in self.jars)


def _list_jars(root: Path) -> list[Path]:
    out: list[Path] = []
    for sub in ("jars", "plugins"):
        base = root / sub
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*.jar")):
            rel = p.relative_to(base).parts
            if any(_FOREIGN_NATIVE.match(part) for part in rel[:-1]):
                continue
            out.append(p)
    if not out and root.is_dir():  # a plain folder of jars (e.g. a resolved Maven workspace)
        out = sorted(root.glob("*.jar"))
    return out


def trackmate_line_of_jar(jar: Path) -> tuple[str, int]:
    """Return (API line, Java release) of a TrackMate jar by inspecting its classes."""
    try:
        with zipfile.ZipFile(jar) as z:
            names = set(z.namelist())
            spot = z.read("fiji/plugin/trackmate/Spot.class")
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise BackendUnavailableError(f"{jar} is not a readable TrackMate jar: {e}") from e
    magic, _minor, major = struct.unpack(">IHH", spot[:8])
    if magic != 0xCAFEBABE:
        raise BackendUnavailableError(f"{jar}: fiji/plugin/trackmate/Spot.class is not a Java class file")
    release = JAVA_RELEASE_OF_CLASS_MAJOR.get(major, max(8, major - 44))
    if "fiji/plugin/trackmate/SpotMesh.class" in names or "fiji/plugin/trackmate/SpotBase.class" in names:
        line = "tm9"
    elif "fiji/plugin/trackmate/TrackMateFactoryBase.class" in names:
        line = "tm8"
    else:
        line = "tm7"
    return line, release


def find_fiji(path: str | Path) -> FijiInstallation:
    """Inspect a Fiji.app folder (or a folder of jars) and classify its TrackMate.

    Raises
    ------
    BackendUnavailableError
        The folder does not exist or holds no TrackMate jar.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise BackendUnavailableError(f"Fiji folder {str(path)!r} does not exist or is not a folder")
    return installation_from_jars(root, _list_jars(root))


def installation_from_jars(root: Path, jars: list[Path]) -> FijiInstallation:
    """Classify a list of jars (a Fiji's, or a resolved Maven environment's) by its TrackMate jar."""
    if not jars:
        raise BackendUnavailableError(f"{root} holds no jars: expected a Fiji.app folder with jars/ and plugins/")
    tm = [(p, m.group(1)) for p in jars if (m := _TRACKMATE_JAR.match(p.name))]
    if not tm:
        raise BackendUnavailableError(
            f"{root} has no TrackMate jar (jars/TrackMate-*.jar); install TrackMate in Fiji (it ships with Fiji)")
    if len(tm) > 1:
        raise BackendUnavailableError(
            f"{root} has several TrackMate jars ({', '.join(p.name for p, _ in tm)}); keep one (Help > Update...)")
    jar, version = tm[0]
    line, release = trackmate_line_of_jar(jar)
    return FijiInstallation(root=root.resolve(), trackmate_jar=jar.resolve(), trackmate_version=version, line=line,
                            java_release=release, jars=tuple(p.resolve() for p in jars))
