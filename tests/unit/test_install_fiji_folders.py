"""install-fiji / uninstall-fiji / doctor --fiji / the glue start_fiji picks, on fake Fiji folders (no JVM, no JDK).

The "prebuilt" jars here are small stand-ins with the manifest the real build writes (marker, version, line and the
hash of the real sources); the real jars are built and checked in tests/integration/test_bridge_glue.py and loaded by
real TrackMate in tests/fiji/test_install_fiji.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trackmate_cellpose import __version__
from trackmate_cellpose.bridge import _glue, _install, _jvm, find_fiji
from trackmate_cellpose.bridge._prebuilt import SOURCE_SETS, prebuilt_jar_name
from trackmate_cellpose.cli import main
from trackmate_cellpose.errors import BackendUnavailableError

from support.fake_fiji import fake_trackmate_jar


def _jar(path: Path, manifest: dict[str, str], extra: dict[str, bytes] | None = None) -> Path:
    text = "Manifest-Version: 1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in manifest.items()) + "\r\n"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", text)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def _glue_manifest(line: str, version: str = __version__, source_hash: str | None = None) -> dict[str, str]:
    return {"TrackMate-Cellpose-Glue": "true", "TrackMate-Cellpose-Version": version, "TrackMate-Line": line,
            "Glue-Source-Hash": source_hash or _glue.current_source_hash(line)}


@pytest.fixture
def prebuilt(tmp_path, monkeypatch) -> Path:
    """A package data folder with one current stand-in jar per line (each with distinct content)."""
    d = tmp_path / "pkg-glue"
    d.mkdir()
    for line in SOURCE_SETS:
        _jar(d / prebuilt_jar_name(line), _glue_manifest(line), {f"trackmatecellpose/glue/{line}.class": line.encode()})
    monkeypatch.setattr(_glue, "prebuilt_dir", lambda: d)
    return d


def _trackmate_jar(path: Path, line: str, *, global_detectors: bool = True) -> Path:
    return fake_trackmate_jar(path, line, global_detectors=global_detectors)


def _fake_fiji(root: Path, line: str = "tm8", version: str = "8.1.6", **kw) -> Path:
    (root / "jars").mkdir(parents=True)
    (root / "plugins").mkdir()
    _trackmate_jar(root / "jars" / f"TrackMate-{version}.jar", line, **kw)
    (root / "jars" / "imglib2-7.1.2.jar").write_bytes(b"not ours")
    (root / "plugins" / "Other_Plugin.jar").write_bytes(b"not ours either")
    return root


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under root with its bytes (None for folders)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _cli(capsys, *argv) -> tuple[int, list[str], list[str]]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out.strip().splitlines(), out.err.strip().splitlines()


@pytest.mark.parametrize("line,version", [("tm7", "7.13.2"), ("tm8", "8.1.6"), ("tm9", "9.0.0-SNAPSHOT")])
def test_install_copies_the_jar_of_the_fijis_line_records_python_and_touches_nothing_else(
        tmp_path, capsys, prebuilt, line, version):
    fiji = _fake_fiji(tmp_path / "Fiji.app", line, version)
    before = _tree(fiji)
    rc, out, err = _cli(capsys, "install-fiji", "--fiji", str(fiji))
    assert rc == 0, err
    after = _tree(fiji)
    added = sorted(set(after) - set(before))
    jar = f"jars/trackmate-cellpose-glue-{__version__}.jar"
    assert added == ["config", "config/trackmate-cellpose.json", jar]
    assert all(after[k] == v for k, v in before.items()), "existing files are unchanged"
    assert after[jar] == (prebuilt / prebuilt_jar_name(line)).read_bytes()
    config = json.loads(after["config/trackmate-cellpose.json"])
    assert config["python"] == sys.executable and config["line"] == line and config["version"] == __version__
    assert any(str(fiji / jar) in ln and line in ln for ln in out) and any(sys.executable in ln for ln in out)
    assert (fiji / jar).stat().st_mode & 0o044 == 0o044 or os.name == "nt", "readable by Fiji's other users"


def test_install_is_idempotent(tmp_path, capsys, prebuilt):
    fiji = _fake_fiji(tmp_path / "Fiji.app")
    assert _cli(capsys, "install-fiji", "--fiji", str(fiji))[0] == 0
    first = _tree(fiji)
    mtimes = {p: p.stat().st_mtime_ns for p in fiji.rglob("*") if p.is_file()}
    rc, out, _ = _cli(capsys, "install-fiji", "--fiji", str(fiji))
    assert rc == 0 and _tree(fiji) == first
    assert {p: p.stat().st_mtime_ns for p in fiji.rglob("*") if p.is_file()} == mtimes  # files not rewritten
    assert any("already installed" in ln for ln in out)


def test_install_replaces_an_older_copy_of_ours_only(tmp_path, capsys, prebuilt):
    fiji = _fake_fiji(tmp_path / "Fiji.app")
    old = _jar(fiji / "jars" / "trackmate-cellpose-glue-0.0.9.jar", _glue_manifest("tm8", "0.0.9", "0" * 32))
    lookalike = fiji / "jars" / "trackmate-cellpose-glue-extras.jar"  # same name pattern, not our manifest
    _jar(lookalike, {"Created-By": "someone else"})
    rc, out, _ = _cli(capsys, "install-fiji", "--fiji", str(fiji))
    assert rc == 0
    assert not old.exists() and lookalike.exists()
    assert any(f"removed {old}" in ln for ln in out)
    assert [g.jar.name for g in _install.installed_glue(fiji)] == [f"trackmate-cellpose-glue-{__version__}.jar"]


@pytest.mark.parametrize("config_existed", [False, True])
def test_uninstall_removes_exactly_what_install_added(tmp_path, capsys, prebuilt, config_existed):
    fiji = _fake_fiji(tmp_path / "Fiji.app")
    if config_existed:
        (fiji / "config").mkdir()
        (fiji / "config" / "jaunch.toml").write_text("# Fiji's own\n")
    before = _tree(fiji)
    assert _cli(capsys, "install-fiji", "--fiji", str(fiji))[0] == 0
    rc, out, _ = _cli(capsys, "uninstall-fiji", "--fiji", str(fiji))
    assert rc == 0 and _tree(fiji) == before
    assert any("removed" in ln and ".jar" in ln for ln in out)
    rc, out, _ = _cli(capsys, "uninstall-fiji", "--fiji", str(fiji))
    assert rc == 0 and out == [f"nothing of trackmate-cellpose to remove in {fiji}"]


def test_install_into_a_hard_linked_copy_leaves_the_original_intact(tmp_path, capsys, prebuilt):
    """Files are written new (temporary file + rename), never rewritten in place: a `cp -al` copy of a Fiji (what the
    real-Fiji tests install into) shares inodes with its original."""
    orig = _fake_fiji(tmp_path / "orig")
    _jar(orig / "jars" / "trackmate-cellpose-glue-0.0.9.jar", _glue_manifest("tm8", "0.0.9", "0" * 32))
    (orig / "config").mkdir()
    _install._write_new(orig / "config" / "trackmate-cellpose.json", b'{"python": "/old/python"}')
    before = _tree(orig)
    copy = tmp_path / "copy"
    shutil.copytree(orig, copy, copy_function=os.link)
    assert _cli(capsys, "install-fiji", "--fiji", str(copy))[0] == 0
    assert _cli(capsys, "uninstall-fiji", "--fiji", str(copy))[0] == 0
    assert _tree(orig) == before


def _not_writable(folder: Path):
    """Make ``folder`` refuse new files, also for root (immutable flag); None when this system cannot."""
    if os.name != "posix":
        return None
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)
    return None


@pytest.mark.parametrize("case", ["missing", "not_fiji", "no_trackmate", "unsupported", "not_writable"])
def test_install_errors_exit_2_with_one_line_naming_the_folder(tmp_path, capsys, prebuilt, case):
    fiji = tmp_path / "Fiji.app"
    expect = {"missing": "not a folder", "not_fiji": "with a jars/ subfolder", "no_trackmate": "no TrackMate jar",
              "unsupported": "expected TrackMate 7.x, 8.x or v9", "not_writable": "not writable"}[case]
    undo = None
    if case == "not_fiji":
        fiji.mkdir()
        (fiji / "some.jar").write_bytes(b"")
    elif case == "no_trackmate":
        (fiji / "jars").mkdir(parents=True)
        (fiji / "jars" / "ij-1.54f.jar").write_bytes(b"")
    elif case == "unsupported":
        _fake_fiji(fiji, "tm7", "6.0.3", global_detectors=False)
    elif case == "not_writable":
        _fake_fiji(fiji)
        undo = _not_writable(fiji / "jars")
        if undo is None:
            pytest.skip("cannot make a folder read-only here")
    try:
        rc, out, err = _cli(capsys, "install-fiji", "--fiji", str(fiji))
    finally:
        if undo:
            undo()
    assert rc == 2 and len(err) == 1 and out == []
    assert str(fiji) in err[0] and expect in err[0], err[0]


def test_install_without_a_current_prebuilt_jar_fails_with_the_fix(tmp_path, capsys, prebuilt):
    (prebuilt / prebuilt_jar_name("tm8")).unlink()
    fiji = _fake_fiji(tmp_path / "Fiji.app")
    rc, out, err = _cli(capsys, "install-fiji", "--fiji", str(fiji))
    assert rc == 1 and len(err) == 1 and "no current prebuilt glue jar" in err[0] and "tm8" in err[0]
    assert not list((fiji / "jars").glob("trackmate-cellpose-glue-*"))


def test_install_without_fiji_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("FIJI_DIR", raising=False)
    rc, _, err = _cli(capsys, "install-fiji")
    assert rc == 2 and "--fiji" in err[0]


def test_shipped_jar_is_used_only_when_current_with_the_sources(prebuilt):
    assert _glue.shipped_jar("tm9") == prebuilt / prebuilt_jar_name("tm9")
    _jar(prebuilt / prebuilt_jar_name("tm9"), _glue_manifest("tm9", source_hash="f" * 32))
    said = []
    assert _glue.shipped_jar("tm9", log=said.append) is None
    assert "stale" in said[0]


def test_start_fiji_picks_installed_then_prebuilt_then_compiled(tmp_path, prebuilt, monkeypatch):
    fiji_dir = _fake_fiji(tmp_path / "Fiji.app", "tm7", "7.13.2")
    compiled = tmp_path / "compiled.jar"
    monkeypatch.setattr(_jvm, "build_glue", lambda fiji, **kw: compiled)
    fiji = find_fiji(fiji_dir)
    assert _jvm.select_glue(fiji) == (prebuilt / prebuilt_jar_name("tm7"), "prebuilt")
    _install.install_fiji(fiji_dir)
    assert _jvm.select_glue(fiji) == (fiji_dir.resolve() / "jars" / f"trackmate-cellpose-glue-{__version__}.jar",
                                      "installed")
    _install.uninstall_fiji(fiji_dir)
    (prebuilt / prebuilt_jar_name("tm7")).unlink()
    assert _jvm.select_glue(fiji) == (compiled, "compiled")


def test_start_fiji_refuses_a_stale_installed_jar_with_the_fix(tmp_path, prebuilt):
    fiji_dir = _fake_fiji(tmp_path / "Fiji.app")
    _jar(fiji_dir / "jars" / "trackmate-cellpose-glue-0.0.9.jar", _glue_manifest("tm8", "0.0.9", "0" * 32))
    with pytest.raises(BackendUnavailableError, match="outdated trackmate-cellpose glue.*install-fiji --fiji"):
        _jvm.select_glue(find_fiji(fiji_dir))


def test_a_jar_of_another_line_is_stale(tmp_path, prebuilt):
    """TrackMate updated from 7.x to 8.x after install-fiji: the tm7 jar no longer matches."""
    fiji_dir = _fake_fiji(tmp_path / "Fiji.app", "tm8")
    shutil.copy(prebuilt / prebuilt_jar_name("tm7"), fiji_dir / "jars" / "trackmate-cellpose-glue-0.1.0.jar")
    (g,) = _install.installed_glue(fiji_dir)
    assert g.line == "tm7" and not g.current


def _doctor(fiji_dir: Path) -> dict[str, tuple[str, str]]:
    from trackmate_cellpose.diagnosis import Report, _check_fiji

    r = Report()
    _check_fiji(r, fiji_dir, start_jvm=False)
    return {c.name: (c.level, c.detail) for c in r.checks}


def _doctor_fix(fiji_dir: Path, name: str) -> str:
    from trackmate_cellpose.diagnosis import Report, _check_fiji

    r = Report()
    _check_fiji(r, fiji_dir, start_jvm=False)
    return next(c.fix for c in r.checks if c.name == name) or ""


def test_doctor_reports_the_installed_glue_and_the_mode(tmp_path, prebuilt, monkeypatch):
    fiji_dir = _fake_fiji(tmp_path / "Fiji.app", "tm9", "9.0.0-SNAPSHOT")
    checks = _doctor(fiji_dir)
    assert checks["fiji glue"][0] == "info" and "not installed" in checks["fiji glue"][1]
    assert checks["fiji mode"][0] == "ok" and "prebuilt jar" in checks["fiji mode"][1]
    assert checks["fiji classic"][0] == "info" and "not listed" in checks["fiji classic"][1]
    assert checks["fiji python mode"][0] == "info" and "install-fiji" in _doctor_fix(fiji_dir, "fiji python mode")

    _install.install_fiji(fiji_dir)
    checks = _doctor(fiji_dir)
    assert checks["fiji glue"] == ("ok", f"jars/trackmate-cellpose-glue-{__version__}.jar: trackmate-cellpose "
                                         f"{__version__} for tm9, current")
    assert "installed jar" in checks["fiji mode"][1] and "trackmate-cellpose fiji" in checks["fiji mode"][1]
    assert checks["fiji python mode"][0] == "ok" and "found by the detector itself" in checks["fiji python mode"][1]
    assert checks["fiji python"] == ("ok", f"recorded for the Python worker: {sys.executable}")
    assert checks["fiji classic"][0] == "ok" and f"Python worker process, started on the first detection or " \
        f"Preview with {sys.executable}" in checks["fiji classic"][1]
    config = fiji_dir / "config" / "trackmate-cellpose.json"
    config.write_text(config.read_text().replace(json.dumps(sys.executable), json.dumps(str(tmp_path / "gone"))))
    checks = _doctor(fiji_dir)
    assert checks["fiji classic"][0] == "warn" and "gone is missing" in checks["fiji classic"][1]

    # a newer trackmate-cellpose ships other glue: the installed copy is stale, and `fiji` would refuse it
    monkeypatch.setattr(_install, "current_source_hash", lambda line: "e" * 32)
    checks = _doctor(fiji_dir)
    assert checks["fiji glue"][0] == "error" and "stale" in checks["fiji glue"][1]
    assert "fiji mode" not in checks
    assert checks["fiji classic"][0] == "error" and "stale" in checks["fiji classic"][1]


def test_doctor_names_a_built_environment_and_how_to_build_one(tmp_path, prebuilt, monkeypatch):
    from trackmate_cellpose.diagnosis import Report, _check_envs

    fiji_dir = _fake_fiji(tmp_path / "Fiji.app", "tm7", "7.13.2")
    _install.install_fiji(fiji_dir, python=str(tmp_path / "gone"))
    assert "setup-env --fiji" in _doctor_fix(fiji_dir, "fiji classic")  # no usable Python: build one
    env = tmp_path / "data" / "envs" / "0.1.0-cellpose3-cpu"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").symlink_to(sys.executable)
    _install.install_fiji(fiji_dir, python=str(env / "bin" / "python"), env=str(env))
    assert _doctor(fiji_dir)["fiji python"][1].endswith("(an environment setup-env built)")

    monkeypatch.setenv("TRACKMATE_CELLPOSE_DATA", str(tmp_path / "data"))
    r = Report()
    _check_envs(r)
    assert (r.checks[0].level, r.checks[0].detail) == ("warn", f"in {tmp_path / 'data'}: incomplete 0.1.0-cellpose3-cpu")
    (env / "trackmate-cellpose-env.json").write_text('{"complete": true}')
    r = Report()
    _check_envs(r)
    assert (r.checks[0].level, r.checks[0].detail) == ("ok", f"in {tmp_path / 'data'}: 0.1.0-cellpose3-cpu")
    monkeypatch.setenv("TRACKMATE_CELLPOSE_DATA", str(tmp_path / "empty"))
    r = Report()
    _check_envs(r)
    assert r.checks[0].level == "info" and "setup-env builds one" in r.checks[0].fix
