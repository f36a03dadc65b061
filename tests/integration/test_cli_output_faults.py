"""Outputs under faults (#25 items 2 and 4): --overwrite replaces only what is provably ours, a full disk is named,
and the staging folder of a run killed outright is cleaned up by the next run.

The real command line, reader, tracker, exporters and commit; detection is a fixed result (the point is the files).
Disk full is a real tmpfs (mounted here as root; skipped where mounting is not permitted); the killed run is a real
subprocess stopped by a real SIGKILL while it exports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from trackmate_cellpose import pipeline
from trackmate_cellpose.cli import main
from support.export_fixtures import discs_result

REPO = Path(__file__).resolve().parents[2]
_DISCS = [[(15 + t, 15, 6), (45, 45 - t, 8)] for t in range(4)]


def _movie(path, t=4, size=64):
    data = np.random.default_rng(0).integers(0, 500, (t, size, size)).astype(np.uint16)
    tifffile.imwrite(path, data, imagej=True, resolution=(2.0, 2.0), metadata={"axes": "TYX", "unit": "micron"})
    return path


@pytest.fixture
def fixed_detection(monkeypatch):
    def fake(image, settings, runtime, on_progress, say):
        on_progress(1.0, "")
        return discs_result(_DISCS)

    monkeypatch.setattr(pipeline, "_detect", fake)


def _err_lines(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def tmpfs(tmp_path):
    """A real tmpfs of the given size (bytes); skipped where this process may not mount one."""
    mounted = []

    def mount(size: int) -> Path:
        d = tmp_path / f"disk{len(mounted)}"
        d.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
        mounted.append(d)
        return d

    yield mount
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` until about ``leave`` bytes are free."""
    free = shutil.disk_usage(disk).free
    with open(disk / "filler.bin", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


# ---- 2. --overwrite replaces only what is ours ----------------------------------------------------------------------

def test_overwrite_never_deletes_a_users_folder_named_like_the_geff(tmp_path, capsys, fixed_detection):
    inp = _movie(tmp_path / "movie.tif")
    out = tmp_path / "out"
    user = out / "movie.geff"
    user.mkdir(parents=True)
    (user / "user.txt").write_text("mine")
    rc = main(["run", str(inp), "-o", str(out), "-q", "--formats", "xml,geff", "--overwrite"])
    (line,) = _err_lines(capsys)
    assert rc == 2, line
    assert "movie.geff" in line and "not written by trackmate-cellpose" in line, line
    assert (user / "user.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["movie.geff"]  # nothing written, nothing left


def test_overwrite_replaces_our_own_geff_and_refuses_a_folder_at_a_files_name(tmp_path, capsys, fixed_detection):
    inp = _movie(tmp_path / "movie.tif")
    out = tmp_path / "out"
    assert main(["run", str(inp), "-o", str(out), "-q", "--formats", "xml,geff"]) == 0
    assert main(["run", str(inp), "-o", str(out), "-q", "--formats", "xml,geff", "--overwrite"]) == 0
    (out / "movie.xml").unlink()
    (out / "movie.xml").mkdir()  # a folder where a file output goes
    (out / "movie.xml" / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["run", str(inp), "-o", str(out), "-q", "--formats", "xml,geff", "--overwrite"]) == 2
    (line,) = _err_lines(capsys)
    assert "movie.xml/" in line and "a folder" in line, line
    assert (out / "movie.xml" / "notes.txt").read_text() == "mine"


def test_demo_follows_the_same_rule(tmp_path, capsys):
    out = tmp_path / "demo"
    (out / "sample_2dt_ctc").mkdir(parents=True)
    (out / "sample_2dt_ctc" / "mask000.tif").mkdir()  # a folder where a CTC mask goes
    rc = main(["demo", "-o", str(out), "--samples", "2dt", "--overwrite", "-q", "--cpu"])
    (line,) = _err_lines(capsys)
    assert rc == 2 and "sample_2dt_ctc" in line and "mask000.tif" in line, line
    assert "not written by trackmate-cellpose" in line, line  # refused before any detection, not failed at the end
    assert (out / "sample_2dt_ctc" / "mask000.tif").is_dir()


@pytest.fixture
def xml_and_geff(tmp_path, fixed_detection):
    inp = _movie(tmp_path / "movie.tif")
    out = tmp_path / "run"
    assert main(["run", str(inp), "-o", str(out), "-q", "--formats", "xml,geff"]) == 0
    return out / "movie.xml", out / "movie.geff"


def test_convert_overwrite_never_deletes_a_users_folder(tmp_path, capsys, xml_and_geff):
    xml, _ = xml_and_geff
    userdir = tmp_path / "userdir.geff"
    userdir.mkdir()
    (userdir / "thesis.docx").write_bytes(b"years of work")
    capsys.readouterr()
    assert main(["convert", str(xml), str(userdir), "--overwrite"]) == 2
    (line,) = _err_lines(capsys)
    assert "userdir.geff" in line and "not written by trackmate-cellpose" in line, line
    assert (userdir / "thesis.docx").read_bytes() == b"years of work"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_convert_overwrite_replaces_our_geff_but_not_another_programs(tmp_path, capsys, xml_and_geff):
    xml, _ = xml_and_geff
    ours = tmp_path / "ours.geff"
    assert main(["convert", str(xml), str(ours)]) == 0
    assert main(["convert", str(xml), str(ours), "--overwrite"]) == 0
    theirs = tmp_path / "theirs.geff"
    shutil.copytree(ours, theirs)
    attrs = theirs / ".zattrs"
    meta = json.loads(attrs.read_text())
    meta["geff"]["extra"] = {}  # a GEFF as another program writes it: no block of ours
    attrs.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["convert", str(xml), str(theirs), "--overwrite"]) == 2
    (line,) = _err_lines(capsys)
    assert "a GEFF written by another program" in line, line
    assert json.loads(attrs.read_text())["geff"]["extra"] == {}


def test_convert_to_xml_overwrites_only_a_trackmate_xml(tmp_path, capsys, xml_and_geff):
    _, geff = xml_and_geff
    notes = tmp_path / "notes.xml"
    notes.write_text("<?xml version='1.0'?><notes>mine</notes>")
    capsys.readouterr()
    assert main(["convert", str(geff), str(notes), "--overwrite"]) == 2
    (line,) = _err_lines(capsys)
    assert "notes.xml" in line and "not a TrackMate XML" in line, line
    assert "mine" in notes.read_text()
    back = tmp_path / "back.xml"
    assert main(["convert", str(geff), str(back)]) == 0
    assert main(["convert", str(geff), str(back), "--overwrite"]) == 0


# ---- 4. disk full -------------------------------------------------------------------------------------------------

def test_a_full_disk_is_named_and_the_earlier_results_stay(tmp_path, capsys, fixed_detection, tmpfs):
    disk = tmpfs(1 << 20)
    inp = _movie(tmp_path / "movie.tif")
    out = disk / "out"
    assert main(["run", str(inp), "-o", str(out), "-q"]) == 0
    before = _tree(out)
    _fill(disk, leave=20_000)  # less than one run's outputs
    capsys.readouterr()
    rc = main(["run", str(inp), "-o", str(out), "-q", "--overwrite"])
    (line,) = _err_lines(capsys)
    assert rc == 1, line
    assert "no space left on device writing movie" in line and f"into {out}" in line, line
    assert "Errno" not in line and "requested and" not in line
    assert _tree(out) == before  # rolled back: the earlier results, whole, and no hidden staging folder


def test_a_full_disk_during_convert_leaves_no_partial_output(tmp_path, capsys, xml_and_geff, tmpfs):
    xml, _ = xml_and_geff
    disk = tmpfs(256 << 10)
    _fill(disk, leave=8_000)
    capsys.readouterr()
    assert main(["convert", str(xml), str(disk / "out.geff")]) == 1
    (line,) = _err_lines(capsys)
    assert "no space left on device writing out.geff" in line and str(disk) in line, line
    assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]


# ---- 4. the staging folder of a run killed outright ----------------------------------------------------------------

_KILLED_RUN = r'''
import sys, time
sys.path.insert(0, sys.argv[1])
from support.export_fixtures import discs_result
from trackmate_cellpose import export, pipeline

pipeline._detect = lambda image, settings, runtime, on_progress, say: discs_result(
    [[(15 + t, 15, 6), (45, 45 - t, 8)] for t in range(4)])
orig = export.write_ctc
def write_ctc(*a, **k):
    paths = orig(*a, **k)
    print("AT export", flush=True)
    time.sleep(120)
    return paths
export.write_ctc = write_ctc
from trackmate_cellpose.cli import main
sys.exit(main(sys.argv[2:]))
'''


def test_a_staging_folder_left_by_sigkill_is_removed_by_the_next_run(tmp_path, capsys, fixed_detection):
    inp = _movie(tmp_path / "movie.tif")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "python"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(REPO / "tests"), "run", str(inp), "-o", str(out),
                             "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 300
    line = ""
    while time.monotonic() < deadline and not line.startswith("AT"):
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
    assert line.strip() == "AT export", proc.stderr.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    stale = [p for p in out.iterdir() if p.name.startswith(".movie.partial-")]
    assert len(stale) == 1 and any(stale[0].rglob("*.tif"))  # what the killed run left
    # a staging folder of a run on another machine (a shared file system) cannot be told stale: said, not removed
    other = out / ".other.partial-abc123"
    other.mkdir()
    (other / ".trackmate-cellpose-stage").write_text(json.dumps({"pid": 1, "host": socket.gethostname() + "-x",
                                                                  "start": "1"}))
    assert main(["run", str(inp), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert not stale[0].exists()
    assert other.exists() and ".other.partial-abc123" in err and "interrupted run" in err, err
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".other.partial-abc123"]
