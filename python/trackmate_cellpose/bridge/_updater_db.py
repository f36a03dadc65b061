"""What Fiji's updater (``net.imagej.updater``) reads from an update site: ``db.xml.gz`` and its checksums.

Facts from the imagej-updater sources (``UpdaterUtil``, ``FilterManifest``, ``SkipHashedLines``, ``XMLFileWriter``,
``FilesCollection.getURL``), reproduced here so that a site written by this package passes the updater's own checks
(``Installer.verify`` recomputes each downloaded file's checksum and refuses a mismatch):

* A file of the site lives at ``<site URL><filename>-<timestamp>``; the updater saves it under ``update/<filename>``
  and moves it into place.
* Timestamps are ``yyyyMMddHHmmss`` numbers in the local time zone (``UpdaterUtil.timestamp``).
* The checksum of a ``.jar`` is a SHA-1 over its entries sorted by name: each entry's name (ASCII), then its content,
  where ``.properties`` entries lose their ``#`` comment lines and ``META-INF/MANIFEST.MF`` is filtered to its
  ``Main-Class`` lines (which, as the updater compares an upper-cased line with ``"Main-Class:"``, keeps nothing).
  The checksum of any other file is a SHA-1 over its path (ASCII) and its bytes.

Standard library only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr


#: The document type the updater writes (XMLFileWriter.DTD) and validates against.
_DTD = """<!DOCTYPE pluginRecords [
<!ELEMENT pluginRecords ((update-site | disabled-update-site)*, plugin*)>
<!ELEMENT update-site EMPTY>
<!ELEMENT disabled-update-site EMPTY>
<!ELEMENT plugin (platform*, category*, version?, previous-version*)>
<!ELEMENT version (description?, dependency*, link*, author*)>
<!ELEMENT previous-version EMPTY>
<!ELEMENT description (#PCDATA)>
<!ELEMENT dependency EMPTY>
<!ELEMENT link (#PCDATA)>
<!ELEMENT author (#PCDATA)>
<!ELEMENT platform (#PCDATA)>
<!ELEMENT category (#PCDATA)>
<!ATTLIST update-site name CDATA #REQUIRED>
<!ATTLIST update-site url CDATA #REQUIRED>
<!ATTLIST update-site keep-url CDATA #IMPLIED>
<!ATTLIST update-site official CDATA #IMPLIED>
<!ATTLIST update-site ssh-host CDATA #IMPLIED>
<!ATTLIST update-site upload-directory CDATA #IMPLIED>
<!ATTLIST update-site description CDATA #IMPLIED>
<!ATTLIST update-site maintainer CDATA #IMPLIED>
<!ATTLIST update-site timestamp CDATA #REQUIRED>
<!ATTLIST disabled-update-site name CDATA #REQUIRED>
<!ATTLIST disabled-update-site url CDATA #REQUIRED>
<!ATTLIST disabled-update-site keep-url CDATA #IMPLIED>
<!ATTLIST disabled-update-site official CDATA #IMPLIED>
<!ATTLIST disabled-update-site ssh-host CDATA #IMPLIED>
<!ATTLIST disabled-update-site upload-directory CDATA #IMPLIED>
<!ATTLIST disabled-update-site description CDATA #IMPLIED>
<!ATTLIST disabled-update-site maintainer CDATA #IMPLIED>
<!ATTLIST disabled-update-site timestamp CDATA #REQUIRED>
<!ATTLIST plugin update-site CDATA #IMPLIED>
<!ATTLIST plugin filename CDATA #REQUIRED>
<!ATTLIST plugin executable CDATA #IMPLIED>
<!ATTLIST dependency filename CDATA #REQUIRED>
<!ATTLIST dependency timestamp CDATA #IMPLIED>
<!ATTLIST dependency overrides CDATA #IMPLIED>
<!ATTLIST version timestamp CDATA #REQUIRED>
<!ATTLIST version checksum CDATA #REQUIRED>
<!ATTLIST version filesize CDATA #REQUIRED>
<!ATTLIST previous-version filename CDATA #IMPLIED>
<!ATTLIST previous-version timestamp CDATA #REQUIRED>
<!ATTLIST previous-version timestamp-obsolete CDATA #IMPLIED>
<!ATTLIST previous-version checksum CDATA #REQUIRED>]>
"""


def _ascii(name: str) -> bytes:
    """``String.getBytes("ASCII")``: characters outside ASCII become ``?``."""
    return name.encode("ascii", "replace")


def _skip_hashed_lines(data: bytes) -> bytes:
    """The bytes ``SkipHashedLines`` yields: a port of its state machine (``read()`` recursing while it skips a
    comment), including its quirks (a comment line keeps its newline; after an empty line a ``#`` is not skipped)."""
    src = iter(data)
    state = {"at_line_start": True}
    out = bytearray()

    def read() -> int:
        ch = next(src, -1)
        if state["at_line_start"]:
            if ch == ord("#"):
                while True:
                    ch = read()
                    if ch == ord("\n") or ch == -1:
                        break
            else:
                state["at_line_start"] = False
        elif ch == ord("\n"):
            state["at_line_start"] = True
        return ch

    while (c := read()) != -1:
        out.append(c)
    return bytes(out)


def _filter_manifest_main_class_only(data: bytes) -> bytes:
    """``FilterManifest.filter(reader, keepOnlyMainClass=true)``: keeps the lines whose upper-cased form starts with
    ``"Main-Class:"`` (mixed case, so none), each followed by a newline."""
    text = data.decode("utf-8", "replace")
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()  # BufferedReader.readLine: no empty line after a final terminator
    return "".join(line + "\n" for line in lines if line.upper().startswith("Main-Class:")).encode("utf-8")


def _jar_checksum(jar: Path) -> str:
    digest = hashlib.sha1()
    with zipfile.ZipFile(jar) as z:
        infos = sorted(z.infolist(), key=lambda i: i.filename.encode("utf-16-be"))  # String.compareTo: UTF-16 units
        for info in infos:
            digest.update(_ascii(info.filename))
            data = z.read(info)
            if info.filename.endswith(".properties"):
                data = _skip_hashed_lines(data)
            if info.filename == "META-INF/MANIFEST.MF":
                data = _filter_manifest_main_class_only(data)
            digest.update(data)
    return digest.hexdigest()


def updater_checksum(path: str, file: Path) -> str:
    """The checksum Fiji's updater computes for ``file`` installed at ``path`` (relative to Fiji.app, ``/``-separated):
    ``UpdaterUtil.getDigest(path, file)``."""
    if path.endswith(".jar"):
        return _jar_checksum(Path(file))
    digest = hashlib.sha1(_ascii(path))
    digest.update(Path(file).read_bytes())
    return digest.hexdigest()


def updater_timestamp(epoch: float | None = None) -> int:
    """``UpdaterUtil.timestamp``: ``yyyyMMddHHmmss`` of ``epoch`` (default: now) in the local time zone."""
    return int(time.strftime("%Y%m%d%H%M%S", time.localtime(time.time() if epoch is None else epoch)))


_VERSION = re.compile(r"-(\d+(\.\d+)*(-[A-Za-z0-9.]+)?|[0-9a-f]{7,})(\.jar)$")


def strip_version(filename: str) -> str:
    """The name the updater uses to recognise two versions of one jar (``jars/foo-1.2.jar`` -> ``jars/foo.jar``)."""
    return _VERSION.sub(r"\4", filename) if filename.endswith(".jar") else filename


@dataclass
class SiteEntry:
    """One ``<plugin>`` of a site's db.xml.gz: the current version (None: obsolete, to be removed) and the previous
    ones as ``(timestamp, timestamp_obsolete, checksum, filename)``."""

    filename: str
    checksum: str | None = None
    timestamp: int = 0
    filesize: int = 0
    description: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    previous: list[tuple[int, int, str, str]] = field(default_factory=list)


def read_site_db(path: Path) -> list[SiteEntry]:
    """The entries of an existing site's ``db.xml.gz`` (empty when there is none)."""
    if not Path(path).is_file():
        return []
    with gzip.open(path, "rb") as f:
        root = ElementTree.fromstring(f.read())
    out = []
    for p in root.iter("plugin"):
        e = SiteEntry(filename=p.get("filename", ""), categories=tuple(c.text or "" for c in p.findall("category")))
        v = p.find("version")
        if v is not None:
            e.checksum, e.timestamp, e.filesize = v.get("checksum"), int(v.get("timestamp")), int(v.get("filesize"))
            e.description = (v.findtext("description") or "")
            e.authors = tuple(a.text or "" for a in v.findall("author"))
        for pv in p.findall("previous-version"):
            e.previous.append((int(pv.get("timestamp")), int(pv.get("timestamp-obsolete", "0")), pv.get("checksum"),
                               pv.get("filename") or e.filename))
        out.append(e)
    return out


def write_site_db(path: Path, entries: list[SiteEntry]) -> None:
    """Write a site's ``db.xml.gz`` (no ``<update-site>`` elements, no ``update-site`` attributes: the remote form of
    ``XMLFileWriter.write(out, local=false)``), gzip'd with a fixed header time."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>' + _DTD + "<pluginRecords>"]
    for e in sorted(entries, key=lambda e: e.filename):
        lines.append(f"    <plugin filename={quoteattr(e.filename)}>")
        lines += [f"        <category>{escape(c)}</category>" for c in e.categories]
        if e.checksum is not None:
            lines.append(f'        <version checksum="{e.checksum}" timestamp="{e.timestamp}" filesize="{e.filesize}">')
            if e.description:
                lines.append(f"            <description>{escape(e.description)}</description>")
            lines += [f"            <author>{escape(a)}</author>" for a in e.authors]
            lines.append("        </version>")
        for ts, obsolete, checksum, filename in e.previous:
            lines.append(f'        <previous-version timestamp="{ts}" timestamp-obsolete="{obsolete}" '
                         f'checksum="{checksum}" filename={quoteattr(filename)}/>')
        lines.append("    </plugin>")
    lines.append("</pluginRecords>\n")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write("\n".join(lines).encode("utf-8"))
    Path(path).write_bytes(buf.getvalue())
