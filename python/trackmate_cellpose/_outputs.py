"""Where the pipeline's files go: which names it owns, refusing to replace earlier results, and moving finished
outputs into OUTDIR as one step that Ctrl-C cannot cut in half.

Rules: (1) the pipeline writes only names it owns (``<stem>.xml``, ``<stem>_labels.tif``, ..., and inside
``<stem>_ctc/`` only ``mask*.tif`` and ``res_track.txt``); (2) an existing file of one of those names is replaced only
with ``overwrite``, and then the older outputs of the formats being written (including a stale ``.xml.meshes`` or
CTC mask of a longer movie) are removed, never anything else (a user's own file in ``<stem>_ctc/`` stays); (3) what
is replaced must be provably ours (:func:`find_foreign`): a GEFF folder carries our metadata, a file output is a file
(not a folder), ``<stem>_ctc`` is a folder; anything else at those names is never replaced, ``overwrite`` or not
(:class:`~trackmate_cellpose.errors.ForeignOutputError`), the same rule as ``convert`` and ``fiji -o`` follow through
:func:`check_replaceable`; (4) the move into OUTDIR defers SIGINT until it is done, puts the XML last, and rolls back
(restoring what it replaced) on any error; (5) a folder created by a run that fails is removed again when it is still
empty; (6) the hidden staging folder (``.<stem>.partial-*``) of a run killed outright (SIGKILL, power loss) is removed
by the next run into that folder (:func:`remove_stale_stages`).

Imports the standard library and :mod:`trackmate_cellpose.errors` only.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import DiskFullError, ForeignOutputError, NotAFolderError, NotWritableError, OutputExistsError

_CTC_FILE = re.compile(r"^(mask\d+\.tif|res_track\.txt)$")


def owned_names(stem: str, formats: tuple[str, ...]) -> list[str]:
    """Top-level names in OUTDIR that a run with ``formats`` writes or replaces (the settings JSON always)."""
    names = [f"{stem}_settings.json"]
    per = {"xml": [f"{stem}.xml", f"{stem}.xml.meshes"],
           "labels": [f"{stem}_labels.tif", f"{stem}_track_labels.tif"],
           "csv": [f"{stem}_spots.csv", f"{stem}_edges.csv", f"{stem}_tracks.csv"],
           "ctc": [f"{stem}_ctc"],
           "png": [f"{stem}_overlay.png", f"{stem}_overlay.gif", f"{stem}_meshes.png"],
           "geff": [f"{stem}.geff"]}
    for f in formats:
        names += per[f]
    return names


def _ctc_dir_names(stem: str) -> set[str]:
    return {f"{stem}_ctc"}


def find_existing(out: Path, stem: str, formats: tuple[str, ...]) -> list[Path]:
    """Outputs of an earlier run in ``out`` that this run would replace (a ``_ctc`` folder counts only when it
    holds CTC files)."""
    found = []
    if not out.is_dir():
        return found
    for name in owned_names(stem, formats):
        p = out / name
        if name in _ctc_dir_names(stem):
            if p.is_dir() and any(_CTC_FILE.match(q.name) for q in p.iterdir()):
                found.append(p)
            elif p.exists() and not p.is_dir():
                found.append(p)
        elif p.exists() or p.is_symlink():
            found.append(p)
    return found


#: Key of our block in a GEFF's ``extra`` metadata (``export._geff_write`` writes it; its ``writer`` names us).
GEFF_EXTRA_KEY = "trackmate"
GEFF_WRITER = "trackmate-cellpose"


def geff_writer(path: Path) -> str | None:
    """Who wrote the zarr group at ``path``: ``"trackmate-cellpose"`` (our GEFF), ``"other"`` (a GEFF of another
    program), or None (not a GEFF: no folder, no zarr attributes, no ``geff`` metadata)."""
    if not path.is_dir():
        return None
    for attrs in (path / ".zattrs", path / "zarr.json"):
        if attrs.is_file():
            try:
                data = json.loads(attrs.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                return None
            meta = data.get("geff", data.get("attributes", {}).get("geff")) if isinstance(data, dict) else None
            if not isinstance(meta, dict):
                return None
            ours = (meta.get("extra") or {}).get(GEFF_EXTRA_KEY)
            # older versions of this package wrote no "writer": their block holds the feature declarations
            if isinstance(ours, dict) and (ours.get("writer") == GEFF_WRITER or "feature_declarations" in ours):
                return GEFF_WRITER
            return "other"
    return None


def _foreign_reason(path: Path, kind: str) -> str | None:
    """Why the existing ``path`` is not an output of ours of ``kind`` (None: it is, or nothing is there)."""
    if not (path.exists() or path.is_symlink()):
        return None
    is_folder = path.is_dir() and not path.is_symlink()
    if kind == "geff":
        if not is_folder:
            return "a file, not a GEFF folder"
        owner = geff_writer(path)
        if owner == GEFF_WRITER:
            return None
        return "a GEFF written by another program" if owner else "a folder that is not a GEFF written by trackmate-cellpose"
    if kind == "ctc":
        if not is_folder:
            return "a file where the CTC folder goes"
        odd = sorted(q.name for q in path.iterdir() if _CTC_FILE.match(q.name) and (q.is_dir() and not q.is_symlink()))
        return f"a folder holding a folder named {odd[0]}" if odd else None
    if kind == "trackmate-xml":
        if is_folder:
            return "a folder"
        if not _is_trackmate_xml(path):
            return "not a TrackMate XML file"
        return None
    return "a folder" if is_folder else None  # "file": any file of an output's name is replaceable


def _is_trackmate_xml(path: Path) -> bool:
    """True when ``path`` is an XML file whose root element is ``<TrackMate>`` (reads only up to the root tag)."""
    import xml.etree.ElementTree as ET

    try:
        for _, el in ET.iterparse(path, events=("start",)):
            return el.tag == "TrackMate"
    except (ET.ParseError, OSError, UnicodeDecodeError):
        return False
    return False


def check_replaceable(path: Path, kind: str) -> None:
    """Raise :class:`ForeignOutputError` when the existing ``path`` is not an output of ours of ``kind``: ``"geff"``
    (a GEFF folder we wrote), ``"trackmate-xml"`` (a TrackMate XML file), ``"ctc"`` (a CTC folder), ``"file"`` (any
    file: a folder there is foreign). Nothing there passes."""
    why = _foreign_reason(path, kind)
    if why is not None:
        raise ForeignOutputError(f"{path} is {why}: it was not written by trackmate-cellpose and is never replaced, "
                                 "overwrite=True or not; move it away or choose another output", paths=[path])


def _kind_of_name(name: str, stem: str) -> str:
    return {f"{stem}.geff": "geff", f"{stem}_ctc": "ctc"}.get(name, "file")


def find_foreign(out: Path, stem: str, formats: tuple[str, ...]) -> list[tuple[Path, str]]:
    """Existing things at the names a run with ``formats`` writes that are not outputs of ours, with why."""
    found = []
    if not out.is_dir():
        return found
    for name in owned_names(stem, formats):
        why = _foreign_reason(out / name, _kind_of_name(name, stem))
        if why is not None:
            found.append((out / name, why))
    return found


def refuse_existing(out: Path, stem: str, formats: tuple[str, ...], source_name: str, *,
                    overwrite: bool = False) -> None:
    """Raise :class:`ForeignOutputError` naming what at an output's name is not ours (always), then, unless
    ``overwrite``, :class:`OutputExistsError` naming what an earlier run left that this one would replace."""
    foreign = find_foreign(out, stem, formats)
    if foreign:
        path, why = foreign[0]
        more = f" (and {len(foreign) - 1} more: {', '.join(p.name for p, _ in foreign[1:4])})" if len(foreign) > 1 else ""
        raise ForeignOutputError(
            f"OUTDIR {out} holds {path.name}{'/' if path.is_dir() else ''}, {why}{more}: it was not written by "
            f"trackmate-cellpose and is never replaced, overwrite=True or not; move it away or choose another "
            "output folder", paths=[p for p, _ in foreign])
    if overwrite:
        return
    existing = find_existing(out, stem, formats)
    if existing:
        shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in existing[:12])
        more = f" and {len(existing) - 12} more" if len(existing) > 12 else ""
        raise OutputExistsError(
            f"OUTDIR {out} already holds results for {source_name}: {shown}{more}; pass overwrite=True to replace them "
            "(only files this program writes are touched) or choose another output folder", paths=existing)


def check_outdir(out: Path) -> None:
    """Check that ``out`` is, or can be created as, a writable folder, without creating anything."""
    if out.exists():
        if not out.is_dir():
            raise NotAFolderError(f"OUTDIR exists and is not a folder: {out}", path=out)
        if not os.access(out, os.W_OK | os.X_OK):
            raise NotWritableError(f"OUTDIR is not writable: {out}", path=out)
        return
    parent = out.parent
    while not parent.exists():
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise NotAFolderError(f"cannot create OUTDIR {out}: a parent is not a folder ({parent})", path=parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise NotWritableError(f"cannot create OUTDIR {out}: {parent} is not writable", path=parent)


class OutDir:
    """OUTDIR of one run: created if needed; :meth:`discard_if_empty` removes the folders this run created."""

    def __init__(self, out: Path):
        self.created: list[Path] = []
        check_outdir(out)
        missing = []
        p = out
        while not p.exists():
            missing.append(p)
            p = p.parent
        try:
            out.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as e:
            raise NotAFolderError(f"cannot create OUTDIR {out}: a parent is not a folder", path=out) from e
        except PermissionError as e:
            raise NotWritableError(f"cannot create OUTDIR {out}: permission denied", path=out) from e
        self.created = missing  # deepest first
        self.path = out.resolve()
        try:  # the only reliable check (ACLs, read-only mounts): actually write
            with tempfile.TemporaryFile(dir=self.path):
                pass
        except OSError as e:
            self.discard_if_empty()
            raise NotWritableError(f"OUTDIR is not writable: {out} ({e.strerror})", path=out) from e

    def discard_if_empty(self) -> None:
        for p in self.created:
            try:
                p.rmdir()  # only when empty
            except OSError:
                return


@contextmanager
def deferred_sigint() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block is done, then deliver it (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt


def commit_outputs(stage: Path, out: Path, written: list[Path], *, stem: str, formats: tuple[str, ...],
                   overwrite: bool, source_name: str) -> list[Path]:
    """Move the staged outputs into ``out`` as one step; return their final paths (files, and folders that are one
    output, such as a GEFF store).

    Older outputs of the same names (and stale ones of the same formats) are set aside in the stage first and
    deleted only once every new file is in place; any error restores them and removes what was moved in.
    """
    refuse_existing(out, stem, formats, source_name, overwrite=overwrite)
    backup = stage / ".replaced"
    moved_in: list[Path] = []
    set_aside: list[tuple[Path, Path]] = []
    with deferred_sigint():
        try:
            for p in find_existing(out, stem, formats):  # empty unless overwrite
                if p.name in _ctc_dir_names(stem) and p.is_dir() and not p.is_symlink():
                    # <stem>_ctc/: only our files move; the folder and the user's files in it stay
                    for q in sorted(p.iterdir()):
                        if _CTC_FILE.match(q.name) and q.is_file():
                            dst = backup / p.name / q.name
                            dst.parent.mkdir(parents=True, exist_ok=True)
                            os.replace(q, dst)
                            set_aside.append((q, dst))
                else:
                    dst = backup / p.name
                    backup.mkdir(exist_ok=True)
                    os.replace(p, dst)
                    set_aside.append((p, dst))
            top = sorted({p.relative_to(stage).parts[0] for p in written},
                         key=lambda n: (n == f"{stem}.xml", n))  # the XML last: it is what "looks complete"
            for name in top:
                src, dst = stage / name, out / name
                if name in _ctc_dir_names(stem) and src.is_dir() and dst.is_dir():  # the user keeps files there
                    for q in sorted(src.iterdir()):
                        os.replace(q, dst / q.name)
                        moved_in.append(dst / q.name)
                else:
                    os.replace(src, dst)
                    moved_in.append(dst)
        except BaseException:
            for p in reversed(moved_in):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
            for orig, saved in reversed(set_aside):
                orig.parent.mkdir(parents=True, exist_ok=True)
                os.replace(saved, orig)
            raise
    final = [out / p.relative_to(stage) for p in written]
    # a folder whose files are listed (CTC) is left out; a folder that is one output (a GEFF zarr store) stays
    return [p for p in final if not p.is_dir() or not any(q.parent == p for q in final)]


# ---- staging folders ---------------------------------------------------------------------------------------------
#: File inside a staging folder naming the process that writes it (so that a later run can tell a stale one).
_STAGE_OWNER = ".trackmate-cellpose-stage"
_STAGE_NAME = re.compile(r"^\..+\.partial-[A-Za-z0-9_]+$")


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, from /proc), None where it cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def make_stage(folder: Path, name: str) -> Path:
    """A hidden staging folder ``.<name>.partial-XXXX`` in ``folder``, marked with this process (pid, host, start)."""
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=folder))
    pid = os.getpid()
    (stage / _STAGE_OWNER).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                  "start": _process_start(pid)}))
    return stage


def _stage_is_stale(stage: Path) -> bool | None:
    """True when the process that made ``stage`` is gone (this host), False when it runs, None when unknown."""
    try:
        owner = json.loads((stage / _STAGE_OWNER).read_text())
        pid, host, start = int(owner["pid"]), str(owner["host"]), owner.get("start")
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not marked (an older version's, or not ours): cannot tell
    if host != socket.gethostname():
        return None  # another machine's run (a shared file system): cannot tell
    now = _process_start(pid)
    if now is None:  # no such process (or no /proc): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False  # alive, start time unknown: take it for the writer
    return start is not None and now != start  # the pid was reused by another process


def remove_stale_stages(folder: Path) -> list[str]:
    """Remove the staging folders in ``folder`` whose run was killed outright (SIGKILL, a power cut); return a notice
    for each one that may still be in use or whose owner cannot be told (left in place)."""
    notes: list[str] = []
    try:
        entries = list(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return notes
    for p in entries:
        if not (_STAGE_NAME.match(p.name) and p.is_dir() and not p.is_symlink()):
            continue
        stale = _stage_is_stale(p)
        if stale:
            shutil.rmtree(p, ignore_errors=True)
        elif stale is None:
            notes.append(f"{folder}: the hidden folder {p.name} is left from an interrupted run (of another machine, "
                         "or of an older version); remove it if no run is writing into this folder")
    return notes


# ---- a full disk -----------------------------------------------------------------------------------------------
_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
#: Free bytes below which an OSError while writing is taken for a full device (numpy and tifffile report a short
#: write as "16384 requested and 3904 written", without an errno).
_NEARLY_FULL = 1 << 20


def _is_disk_full(e: BaseException, folder: Path) -> bool:
    seen = e
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _FULL:
            return True
        if "no space left on device" in str(seen).lower():  # Java's IOException (TrackMate's writer) says it so
            return True
        seen = seen.__cause__ or seen.__context__
    if not isinstance(e, (OSError, ValueError)) and not type(e).__name__.endswith("IOException"):
        return False
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL
    except OSError:
        return False


def _newest_file(stage: Path) -> Path | None:
    files = [q for q in stage.rglob("*") if q.is_file() and q.name != _STAGE_OWNER]
    return max(files, key=lambda q: q.stat().st_mtime_ns) if files else None


@contextmanager
def disk_full_as_error(target: Path, folder: Path, *, stage: Path | None = None) -> Iterator[None]:
    """Turn running out of space while writing ``target`` into :class:`DiskFullError` naming the file and
    ``folder`` (the output folder); any other error passes unchanged. With ``stage`` (a staging folder in
    ``folder``), the file named is the output whose staged file was written last (the one the device filled up on)."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as e:
        if not _is_disk_full(e, folder):
            raise
        last = _newest_file(stage) if stage is not None else None
        if last is not None:
            target = folder / last.relative_to(stage)
        try:
            free = f"{shutil.disk_usage(folder).free} bytes free"
        except OSError:
            free = "free space unknown"
        shown = target.relative_to(folder) if target.is_relative_to(folder) else target.name
        raise DiskFullError(f"no space left on device writing {shown} into {folder} ({free}): nothing was "
                            "written, earlier results are untouched; free some space or choose another output folder",
                            path=target, folder=folder, errno=getattr(e, "errno", None) or errno.ENOSPC) from e


# ---- one output written elsewhere first (convert, fiji -o) -----------------------------------------------------
def write_replacing(dst: Path, kind: str, write, *, overwrite: bool, sidecars: tuple[str, ...] = ()) -> Path:
    """Write the output ``dst`` (and its ``sidecars``, suffixes such as ``".meshes"``) through a staging folder beside
    it, then move it into place as one step; return ``dst``.

    ``write(path)`` writes the output at ``path`` (inside the staging folder). An existing ``dst`` is replaced only
    when ``overwrite`` and it is ours of ``kind`` (:func:`check_replaceable`); a stale sidecar of the old output goes
    with it. A failure (a full disk: :class:`DiskFullError`) or Ctrl-C leaves the old output as it was and no
    partial file. Stale staging folders in ``dst``'s folder are removed first (:func:`remove_stale_stages`).
    """
    folder = dst.parent
    check_output(dst, kind, overwrite=overwrite)
    remove_stale_stages(folder)
    with disk_full_as_error(dst, folder):
        stage = make_stage(folder, dst.name)
    try:
        with disk_full_as_error(dst, folder, stage=stage):
            write(stage / dst.name)
        names = [dst.name] + [dst.name + suffix for suffix in sidecars]
        _move_into_place(stage, folder, names)
    finally:
        with deferred_sigint():
            shutil.rmtree(stage, ignore_errors=True)
    return dst


def check_output(dst: Path, kind: str, *, overwrite: bool) -> None:
    """Before any work: :class:`ForeignOutputError` when ``dst`` is not ours of ``kind`` (:func:`check_replaceable`),
    :class:`OutputExistsError` when it exists and ``overwrite`` is False."""
    check_replaceable(dst, kind)
    if (dst.exists() or dst.is_symlink()) and not overwrite:
        raise OutputExistsError(f"output already exists: {dst} (pass overwrite=True to replace it)", paths=[dst])


def _move_into_place(stage: Path, folder: Path, names: list[str]) -> None:
    """Replace ``folder/name`` by ``stage/name`` for each name (an old one without a new one is removed); set the
    old ones aside first and restore them on any error; SIGINT waits until it is done."""
    backup = stage / ".replaced"
    moved_in: list[Path] = []
    set_aside: list[tuple[Path, Path]] = []
    with deferred_sigint():
        try:
            for name in names:
                old = folder / name
                if old.exists() or old.is_symlink():
                    backup.mkdir(exist_ok=True)
                    os.replace(old, backup / name)
                    set_aside.append((old, backup / name))
            for name in names:
                if (stage / name).exists():
                    os.replace(stage / name, folder / name)
                    moved_in.append(folder / name)
        except BaseException:
            for q in reversed(moved_in):
                shutil.rmtree(q, ignore_errors=True) if q.is_dir() and not q.is_symlink() else q.unlink(missing_ok=True)
            for orig, saved in reversed(set_aside):
                os.replace(saved, orig)
            raise
