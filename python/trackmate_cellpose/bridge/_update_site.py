"""An ImageJ update site for the detector (``trackmate-cellpose build-update-site OUT``).

One site serves every Fiji. Its files, as the updater installs them into ``Fiji.app``:

* ``jars/trackmate-cellpose-<version>.jar``: the loader (``trackmatecellpose.loader.GlueLoader``), the only class of
  ours on Fiji's class path. At Fiji's start it reads which TrackMate line the Fiji has and loads that line's glue jar.
* ``lib/trackmate-cellpose/trackmate-cellpose-glue-{tm7,tm8,tm9}.jar``: the glue of each line, byte for byte the jars
  ``install-fiji`` copies, outside the class path (Fiji puts every jar under ``jars/`` and ``plugins/`` on it).
* ``lib/trackmate-cellpose/trackmate-cellpose-python.zip``: this version's Python code (``trackmate_cellpose``, the
  ``.py`` files only). The worker of a classic launch runs it from there (it is put first on the worker's
  ``PYTHONPATH``), so the Python half is always of the jar's version and the user's Python needs only cellpose.

The site's ``db.xml.gz`` records each file with the checksum and timestamp the updater computes (``_updater_db``).
Building into a folder that already holds a site keeps the timestamps of unchanged files (Fiji then downloads only
what changed) and lists replaced or dropped files as previous versions, as the updater's own upload does.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendUnavailableError
from ._glue import glue_source_root, prebuilt_dir, shipped_jar
from ._prebuilt import LOADER_JAR, LOADER_MARKER, SOURCE_SETS, prebuilt_jar_name, read_manifest
from ._updater_db import SiteEntry, read_site_db, strip_version, updater_checksum, updater_timestamp, write_site_db


#: Folder (relative to Fiji.app) of the line jars and the Python code; GlueLoader.SITE_DIR on the Java side.
SITE_DIR = "lib/trackmate-cellpose"
#: The Python code's file name (WorkerPython looks for it beside the glue jar).
PYTHON_ZIP = "trackmate-cellpose-python.zip"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_AUTHOR = "trackmate-cellpose contributors"


@dataclass(frozen=True)
class SiteFile:
    """A file of the site: where Fiji gets it (``path``, relative to Fiji.app), its bytes (``source``) and a line
    for the updater's description."""

    path: str
    source: Path
    description: str


def python_code_zip(out: Path, package_dir: Path | None = None) -> Path:
    """Write the package's Python code (every ``.py`` of ``trackmate_cellpose``, no data, no caches) as a zip that
    Python imports from directly (``zipimport``). Fixed entry times and order: the same code gives the same bytes."""
    if package_dir is None:
        package_dir = Path(__file__).resolve().parents[1]
    package_dir = Path(package_dir)
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    if not (package_dir / "__init__.py").is_file():
        raise BackendUnavailableError(f"{package_dir} is not the trackmate_cellpose package (no __init__.py)")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            info = zipfile.ZipInfo(f"{package_dir.name}/{f.relative_to(package_dir).as_posix()}", _ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, f.read_bytes())
    return out


def _loader_jar() -> Path:
    """The prebuilt loader jar of this package (built with the glue jars)."""
    jar = prebuilt_dir() / LOADER_JAR
    if not jar.is_file() or read_manifest(jar).get(LOADER_MARKER) != "true":
        raise BackendUnavailableError(
            f"this trackmate-cellpose has no prebuilt update-site loader ({jar}); reinstall it from a wheel, or "
            "rebuild the jars with a JDK (python scripts/tools/build_glue_jars.py in a checkout)")
    return jar


def site_files(work: Path) -> list[SiteFile]:
    """The files of this version's site; the Python code zip is written into ``work``."""
    from .. import __version__

    glue_source_root()  # the sources the glue jars are checked against must be there
    files = [SiteFile(f"jars/trackmate-cellpose-{__version__}.jar", _loader_jar(),
                      "trackmate-cellpose: loads the Cellpose advanced (Python) detector for this Fiji's TrackMate "
                      "line (7.x, 8.x or v9).")]
    for line in SOURCE_SETS:
        jar = shipped_jar(line)
        if jar is None:
            raise BackendUnavailableError(
                f"this trackmate-cellpose has no current prebuilt glue jar for TrackMate's {line} line (expected "
                f"{prebuilt_dir() / prebuilt_jar_name(line)}); rebuild the jars with a JDK "
                "(python scripts/tools/build_glue_jars.py in a checkout) or reinstall from a wheel")
        files.append(SiteFile(f"{SITE_DIR}/{prebuilt_jar_name(line)}", jar,
                              f"trackmate-cellpose {__version__}: the detector's glue for TrackMate's {line} line "
                              "(loaded by the loader, not on the class path)."))
    code = python_code_zip(Path(work) / PYTHON_ZIP)
    files.append(SiteFile(f"{SITE_DIR}/{PYTHON_ZIP}", code,
                          f"trackmate-cellpose {__version__}: the Python code the detector's worker runs (a Python "
                          "with cellpose 3 or 4 needs nothing else)."))
    return files


def _merge(old: list[SiteEntry], new: list[tuple[SiteFile, str, int]], now: int) -> tuple[list[SiteEntry], list]:
    """Entries of the new site db from the old one and the new files; also the files whose bytes must be written."""
    by_key = {strip_version(e.filename): e for e in old}
    out, to_write = [], []
    for f, checksum, size in new:
        e = by_key.pop(strip_version(f.path), None)
        if e is not None and e.checksum == checksum:
            e.filename, e.description, e.filesize = f.path, f.description, size  # unchanged bytes: same timestamp
            out.append(e)
            continue
        previous = list(e.previous) if e else []
        if e is not None and e.checksum is not None:
            previous.append((e.timestamp, now, e.checksum, e.filename))
        out.append(SiteEntry(filename=f.path, checksum=checksum, timestamp=now, filesize=size,
                             description=f.description, authors=(_AUTHOR,), previous=previous))
        to_write.append((f, now))
    for e in by_key.values():  # dropped since: obsolete, so the updater removes it from Fijis that have it
        if e.checksum is not None:
            e.previous.append((e.timestamp, now, e.checksum, e.filename))
            e.checksum = None
        out.append(e)
    return out, to_write


def build_update_site(out: str | Path, *, timestamp: int | None = None) -> list[str]:
    """Write (or update) the update site in folder ``out``: ``db.xml.gz`` and each file as ``<path>-<timestamp>``.

    Returns what was done, one line per action. ``timestamp`` (``yyyyMMddHHmmss``) defaults to now.

    Raises
    ------
    BackendUnavailableError
        This installation lacks a current prebuilt jar (glue or loader), or ``out`` is not a folder we can write.
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise BackendUnavailableError(f"build-update-site: {out} is not a folder; expected a folder for the site")
    out.mkdir(parents=True, exist_ok=True)
    now = timestamp if timestamp is not None else updater_timestamp()
    done: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tmcp-site-") as work:
        files = site_files(Path(work))
        new = [(f, updater_checksum(f.path, f.source), f.source.stat().st_size) for f in files]
        entries, to_write = _merge(read_site_db(out / "db.xml.gz"), new, now)
        for f, ts in to_write:
            dest = out / f"{f.path}-{ts}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f.source, dest)
            done.append(f"wrote {dest}")
        unchanged = len(files) - len(to_write)
        if unchanged:
            done.append(f"{unchanged} file(s) unchanged since the site's last build")
        write_site_db(out / "db.xml.gz", entries)
        done.append(f"wrote {out / 'db.xml.gz'} ({sum(e.checksum is not None for e in entries)} files)")
    return done
