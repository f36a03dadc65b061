"""The prebuilt glue jars: one per TrackMate line, compiled ``--release 8`` against the API mirror at package build.

Users need no JDK: the wheel ships ``trackmate_cellpose/data/java/glue/trackmate-cellpose-glue-<line>.jar``, built by
``setup.py`` (which loads THIS FILE BY PATH, so it imports nothing but the standard library, not even the package).
Each jar also holds the detector settings table generated from ``trackmate_cellpose/settings.py`` (the only
definition: the Java defaults, checks and panel read it). Each jar's manifest records the package version, the line
and a hash of the sources and the table it was built from (``Glue-Source-Hash``); at run time a jar whose hash differs
from the installed sources' and table's is stale and not used.

The mirror (java-glue/api-mirror) has no SciJava annotation processor, so the plugin index that lets TrackMate find the
factory (``META-INF/json/org.scijava.plugin.Plugin``) is written here from the ``@Plugin`` annotation that javac
stored in the compiled class (read from the class file), in the index format SciJava's own processor writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path

#: Source sets (folders of java-glue/src) compiled for each TrackMate line, in order.
SOURCE_SETS: dict[str, tuple[str, ...]] = {
    "tm7": ("common", "tm7", "spots-class"),
    "tm8": ("common", "tm8", "spots-class"),
    "tm9": ("common", "tm8", "spots-v9"),
}

#: The source set of the update site's loader (``trackmatecellpose.loader.GlueLoader``: JDK + SciJava only), compiled
#: once for every line: it picks the line's glue jar at Fiji's start (see ``_update_site``).
LOADER_SOURCE_SET = "loader"
#: File name of the prebuilt loader jar (beside the glue jars).
LOADER_JAR = "trackmate-cellpose-loader.jar"
#: Manifest attribute that marks the loader jar.
LOADER_MARKER = "TrackMate-Cellpose-Loader"

PLUGIN_INDEX = "META-INF/json/org.scijava.plugin.Plugin"
#: Manifest attribute that marks a jar as trackmate-cellpose's glue (install-fiji replaces only such jars).
MANIFEST_MARKER = "TrackMate-Cellpose-Glue"
_PLUGIN_DESC = "Lorg/scijava/plugin/Plugin;"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same jar bytes


def prebuilt_jar_name(line: str) -> str:
    return f"trackmate-cellpose-glue-{line}.jar"


def _line_sources(root: Path, line: str) -> list[Path]:
    if line not in SOURCE_SETS:
        raise ValueError(f"unknown TrackMate line {line!r}; expected one of {', '.join(SOURCE_SETS)}")
    files: list[Path] = []
    for sset in SOURCE_SETS[line]:
        files += sorted((root / sset).rglob("*.java"))
    return files


def source_hash(root: Path, line: str, table: str, builder: str = "") -> str:
    """Hash (32 hex digits) of what the glue jar of ``line`` is built from: the sources under ``root`` (relative paths
    and contents, with line endings normalized: a Windows checkout hashes as a Unix one), the settings table
    ``table`` (the JSON of :func:`load_settings_table`) and the environment builder ``builder`` (the text of
    :func:`load_env_builder`), so that a jar is stale when any of them changed."""
    h = hashlib.sha256(line.encode())
    for f in _line_sources(Path(root), line):
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        h.update(f.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    h.update(b"settings-table\0" + table.encode("utf-8"))
    if builder:
        h.update(b"\0env-builder\0" + builder.replace("\r\n", "\n").encode("utf-8"))
    return h.hexdigest()[:32]


#: The environment builder inside the glue jars: ``trackmate_cellpose/envs/_builder.py`` as it is (the Java side runs
#: it with uv to build a Python environment from Fiji alone, ``EnvBuilder.BUILDER_RESOURCE``).
ENV_BUILDER_RESOURCE = "trackmatecellpose/glue/env_builder.py"


def load_env_builder(package_dir: Path) -> tuple[str, str]:
    """(resource name, text) of the environment builder of the package at ``package_dir``, for the glue jars."""
    return ENV_BUILDER_RESOURCE, (Path(package_dir) / "envs" / "_builder.py").read_text(encoding="utf-8")


def load_settings_table(package_dir: Path) -> tuple[str, str]:
    """(resource name, JSON) of the detector settings table of the package at ``package_dir``
    (``.../trackmate_cellpose``), for the glue jars, with the options of the retraining action (``training``):
    ``settings.py``, ``segment/_fit_options.py`` and ``training/_options.py`` (which import only ``errors.py`` and
    each other) are loaded by path under a private package name, so that neither the package nor its dependencies
    are imported."""
    import importlib.util
    import sys
    import types

    name = "_tmcp_settings_only"
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(package_dir)]
    folders = {}
    for sub in ("segment", "training"):  # stand-ins: their __init__ (cellpose, torch ...) is never run
        folders[f"{name}.{sub}"] = types.ModuleType(f"{name}.{sub}")
        folders[f"{name}.{sub}"].__path__ = [str(Path(package_dir) / sub)]
    subs = ("errors", "settings", "segment._fit_options", "training._options")
    saved = {k: sys.modules.get(k) for k in (name, *folders, *(f"{name}.{sub}" for sub in subs))}
    sys.modules[name] = pkg
    sys.modules.update(folders)
    try:
        for sub in subs:
            spec = importlib.util.spec_from_file_location(f"{name}.{sub}",
                                                          Path(package_dir, *sub.split(".")).with_suffix(".py"))
            mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = mod
            spec.loader.exec_module(mod)
        settings = sys.modules[f"{name}.settings"]
        options = sys.modules[f"{name}.training._options"]
        return settings.SETTINGS_RESOURCE, settings.settings_resource_json(
            {"training": options.action_options_table()})
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


# -- the SciJava plugin index, read from the compiled classes -----------------------------------------------------

class _ClassFile:
    """Just enough of a class-file reader to get the class's runtime-visible annotations."""

    def __init__(self, data: bytes):
        self.d, self.p = data, 0
        if self.u4() != 0xCAFEBABE:
            raise ValueError("not a Java class file")
        self.u2(), self.u2()
        self.cp: list = [None] * self.u2()
        i = 1
        while i < len(self.cp):
            tag = self.u1()
            if tag == 1:
                n = self.u2()
                self.cp[i] = self.d[self.p:self.p + n].decode("utf-8", "replace")
                self.p += n
            elif tag in (3, 4):
                self.cp[i] = self.d[self.p:self.p + 4]
                self.p += 4
            elif tag in (5, 6):
                self.cp[i] = (tag, self.d[self.p:self.p + 8])
                self.p += 8
                i += 1
            elif tag in (7, 8, 16, 19, 20):
                self.cp[i] = self.u2()
            elif tag == 15:
                self.p += 3
            elif tag in (9, 10, 11, 12, 17, 18):
                self.p += 4
            else:
                raise ValueError(f"unknown constant pool tag {tag}")
            i += 1
        self.u2()
        self.name = self.cp[self.cp[self.u2()]].replace("/", ".")
        self.u2()
        n_interfaces = self.u2()
        self.p += 2 * n_interfaces
        for _ in range(2):  # fields, methods
            for _ in range(self.u2()):
                self.p += 6
                self._skip_attributes()
        self.annotations: dict[str, dict] = {}
        for _ in range(self.u2()):
            name, length = self.cp[self.u2()], self.u4()
            end = self.p + length
            if name == "RuntimeVisibleAnnotations":
                for _ in range(self.u2()):
                    desc, values = self._annotation()
                    self.annotations[desc] = values
            self.p = end

    def u1(self) -> int:
        self.p += 1
        return self.d[self.p - 1]

    def u2(self) -> int:
        self.p += 2
        return struct.unpack(">H", self.d[self.p - 2:self.p])[0]

    def u4(self) -> int:
        self.p += 4
        return struct.unpack(">I", self.d[self.p - 4:self.p])[0]

    def _skip_attributes(self) -> None:
        for _ in range(self.u2()):
            self.p += 2
            length = self.u4()  # read before advancing: `self.p += self.u4()` would lose the read
            self.p += length

    def _annotation(self) -> tuple[str, dict]:
        desc = self.cp[self.u2()]
        return desc, {self.cp[self.u2()]: self._element_value() for _ in range(self.u2())}

    def _element_value(self):
        tag = chr(self.u1())
        if tag in "BCISZ":
            v = struct.unpack(">i", self.cp[self.u2()])[0]
            return bool(v) if tag == "Z" else v
        if tag == "D":
            return struct.unpack(">d", self.cp[self.u2()][1])[0]
        if tag == "F":
            return struct.unpack(">f", self.cp[self.u2()])[0]
        if tag == "J":
            return struct.unpack(">q", self.cp[self.u2()][1])[0]
        if tag == "s":
            return self.cp[self.u2()]
        if tag == "c":  # a class literal: its descriptor, e.g. Lfiji/plugin/trackmate/detection/SpotDetectorFactory;
            return self.cp[self.u2()][1:-1].replace("/", ".")
        if tag == "e":
            self.u2()
            return self.cp[self.u2()]
        if tag == "[":
            return [self._element_value() for _ in range(self.u2())]
        if tag == "@":
            return self._annotation()[1]
        raise ValueError(f"unknown annotation element tag {tag!r}")


def plugin_index_entries(text: str) -> list[dict]:
    """The entries of a SciJava plugin index (JSON objects one after another, as SciJava's processor and
    :func:`plugin_index_of_classes` write them)."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        entry, i = decoder.raw_decode(text, i)
        out.append(entry)
    return out


def plugin_index_of_classes(classes_dir: Path) -> str:
    """SciJava plugin index (JSON objects, one per ``@Plugin`` class) of the class files under ``classes_dir``.

    Only the values written in the annotation are listed (defaults are not), as SciJava's processor does.
    """
    entries = []
    for f in sorted(Path(classes_dir).rglob("*.class")):
        cf = _ClassFile(f.read_bytes())
        if _PLUGIN_DESC in cf.annotations:
            values = dict(sorted(cf.annotations[_PLUGIN_DESC].items()))
            entries.append(json.dumps({"class": cf.name, "values": values}, separators=(",", ":")))
    return "".join(entries)


# -- building ------------------------------------------------------------------------------------------------------

def find_javac_simple() -> Path | None:
    """``$JAVA_HOME/bin/javac``, else ``javac`` on PATH (the build machine's JDK), else None."""
    exe = "javac.exe" if os.name == "nt" else "javac"
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / exe).is_file():
        return Path(home) / "bin" / exe
    which = shutil.which("javac")
    return Path(which) if which else None


def _javac(javac: Path, args: list[str], tmp: Path, what: str) -> None:
    argfile = tmp / f"{what}.args"
    argfile.write_text("\n".join('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in args), "utf-8")
    proc = subprocess.run([str(javac), f"@{argfile}"], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"javac ({javac}) failed compiling {what}:\n{proc.stdout}{proc.stderr}")


def _write_jar(out_jar: Path, manifest: str, index: str, classes: Path, extra: dict[str, bytes]) -> None:
    """Write a jar with fixed timestamps (the same inputs give the same bytes), atomically."""
    tmp_jar = out_jar.with_name(out_jar.name + ".tmp")
    with zipfile.ZipFile(tmp_jar, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("META-INF/MANIFEST.MF", _ZIP_DATE), manifest)
        z.writestr(zipfile.ZipInfo(PLUGIN_INDEX, _ZIP_DATE), index)
        for name, data in extra.items():
            info = zipfile.ZipInfo(name, _ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
        for f in sorted(classes.rglob("*.class")):
            info = zipfile.ZipInfo(f.relative_to(classes).as_posix(), _ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, f.read_bytes())
    os.replace(tmp_jar, out_jar)


_FLAGS = ["-encoding", "UTF-8", "-nowarn", "-Xlint:-options", "--release", "8"]


def build_loader_jar(src_root: Path, mirror_root: Path, out_jar: Path, *, javac: Path, version: str) -> Path:
    """Compile the update site's loader (source set ``loader``, against the mirror's SciJava stubs alone) with
    ``--release 8`` into ``out_jar``; its manifest carries ``TrackMate-Cellpose-Loader`` and the version."""
    src_root, mirror_root, out_jar = Path(src_root), Path(mirror_root), Path(out_jar)
    out_jar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tmcp-loader-") as tmp_s:
        tmp = Path(tmp_s)
        mirror_classes, classes = tmp / "mirror", tmp / "classes"
        mirror_classes.mkdir()
        classes.mkdir()
        _javac(javac, [*_FLAGS, "-proc:none", "-d", str(mirror_classes),
                       *map(str, sorted((mirror_root / "shared" / "org" / "scijava").rglob("*.java")))], tmp, "mirror-loader")
        _javac(javac, [*_FLAGS, "-proc:none", "-d", str(classes), "-cp", str(mirror_classes),
                       *map(str, sorted((src_root / LOADER_SOURCE_SET).rglob("*.java")))], tmp, "loader")
        index = plugin_index_of_classes(classes)
        if not index:
            raise RuntimeError("the loader has no @Plugin class: SciJava would never start it")
        manifest = ("Manifest-Version: 1.0\r\nCreated-By: trackmate-cellpose\r\n"
                    f"{LOADER_MARKER}: true\r\nTrackMate-Cellpose-Version: {version}\r\n\r\n")
        _write_jar(out_jar, manifest, index, classes, {})
    return out_jar


def build_prebuilt_jar(line: str, src_root: Path, mirror_root: Path, out_jar: Path, *, javac: Path,
                       version: str, table: tuple[str, str], builder: tuple[str, str] | None = None) -> Path:
    """Compile the glue of ``line`` with ``--release 8`` against the API mirror into ``out_jar`` (atomically).

    The jar holds only the glue's classes (never the mirror's), the settings table ``table`` (resource name, JSON:
    :func:`load_settings_table`), the environment builder ``builder`` (resource name, text: :func:`load_env_builder`),
    the plugin index and a manifest with ``TrackMate-Cellpose-Glue``, ``TrackMate-Cellpose-Version``,
    ``TrackMate-Line`` and ``Glue-Source-Hash`` (sources, table and builder).
    """
    resource, table_json = table
    resources = {resource: table_json, **dict([builder] if builder else [])}
    src_root, mirror_root, out_jar = Path(src_root), Path(mirror_root), Path(out_jar)
    flags = _FLAGS
    out_jar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"tmcp-prebuilt-{line}-") as tmp_s:
        tmp = Path(tmp_s)
        mirror_classes, classes = tmp / "mirror", tmp / "classes"
        mirror_classes.mkdir()
        classes.mkdir()
        mirror_src = sorted((mirror_root / "shared").rglob("*.java")) + sorted((mirror_root / line).rglob("*.java"))
        _javac(javac, [*flags, "-proc:none", "-d", str(mirror_classes), *map(str, mirror_src)], tmp, f"mirror-{line}")
        _javac(javac, [*flags, "-proc:none", "-d", str(classes), "-cp", str(mirror_classes),
                       *map(str, _line_sources(src_root, line))], tmp, f"glue-{line}")
        index = plugin_index_of_classes(classes)
        if not index:
            raise RuntimeError(f"the {line} glue has no @Plugin class: TrackMate would not find its detector")
        manifest = ("Manifest-Version: 1.0\r\nCreated-By: trackmate-cellpose\r\n"
                    f"{MANIFEST_MARKER}: true\r\nTrackMate-Cellpose-Version: {version}\r\n"
                    f"TrackMate-Line: {line}\r\n"
                    f"Glue-Source-Hash: {source_hash(src_root, line, table_json, builder[1] if builder else '')}\r\n"
                    "Glue-Compiled-Against: api-mirror, release 8\r\n\r\n")
        _write_jar(out_jar, manifest, index, classes, {n: t.encode("utf-8") for n, t in resources.items()})
    return out_jar


def build_prebuilt_jars(src_root: Path, mirror_root: Path, out_dir: Path, *, javac: Path, version: str,
                        table: tuple[str, str], builder: tuple[str, str] | None = None) -> list[Path]:
    """Build the jar of every line into ``out_dir`` (``trackmate-cellpose-glue-<line>.jar``), and the update site's
    loader jar (``trackmate-cellpose-loader.jar``) when the sources have its source set."""
    jars = [build_prebuilt_jar(line, src_root, mirror_root, Path(out_dir) / prebuilt_jar_name(line), javac=javac,
                               version=version, table=table, builder=builder) for line in SOURCE_SETS]
    if (Path(src_root) / LOADER_SOURCE_SET).is_dir():
        jars.append(build_loader_jar(src_root, mirror_root, Path(out_dir) / LOADER_JAR, javac=javac, version=version))
    return jars


def read_manifest(jar: Path) -> dict[str, str]:
    """Main attributes of a jar's manifest (continuation lines joined); empty if it has none or is unreadable."""
    try:
        with zipfile.ZipFile(jar) as z:
            text = z.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return {}
    out: dict[str, str] = {}
    key = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        if not raw:
            if out:
                break  # end of the main section
            continue
        if raw.startswith(" ") and key:
            out[key] += raw[1:]
        elif ":" in raw:
            key, _, value = raw.partition(":")
            out[key] = value.strip()
    return out
