"""The update site's db.xml.gz and checksums (``bridge._updater_db``, ``bridge._update_site``). Fiji's own updater
consuming a site is tested in tests/fiji/test_update_site.py; here: the checksum rules, the test Fiji's own checksum
cache as an oracle (FIJI_DIR), and what a rebuild of a site keeps."""

from __future__ import annotations

import gzip
import json
import os
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from trackmate_cellpose.bridge._update_site import PYTHON_ZIP, SITE_DIR, build_update_site, python_code_zip
from trackmate_cellpose.bridge._updater_db import SiteEntry, read_site_db, strip_version, updater_checksum


def _jar(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def test_jar_checksums_ignore_the_manifest_properties_comments_and_entry_order(tmp_path):
    base = {"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nMain-Class: a.B\r\n\r\n", "a/B.class": b"\xca\xfe",
            "a/x.properties": b"#Tue Dec 07\nk=v\n"}
    ref = updater_checksum("jars/a-1.0.jar", _jar(tmp_path / "1.jar", base))
    same = {"a/x.properties": b"#Wed Dec 08\nk=v\n", "a/B.class": b"\xca\xfe",
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nImplementation-Build: abc\r\n\r\n"}
    assert updater_checksum("jars/a-1.0.jar", _jar(tmp_path / "2.jar", same)) == ref
    assert updater_checksum("jars/a-1.0.jar", _jar(tmp_path / "3.jar", {**base, "a/B.class": b"\xca\xfe\x00"})) != ref
    # any other file: its path counts too
    (tmp_path / "f.txt").write_bytes(b"x")
    assert updater_checksum("a/f.txt", tmp_path / "f.txt") != updater_checksum("b/f.txt", tmp_path / "f.txt")


def test_the_updaters_version_stripping():
    assert strip_version("jars/trackmate-cellpose-0.1.0.jar") == "jars/trackmate-cellpose.jar"
    assert strip_version("jars/TrackMate-7.13.2.jar") == "jars/TrackMate.jar"
    assert strip_version("lib/trackmate-cellpose/trackmate-cellpose-glue-tm9.jar") == \
        "lib/trackmate-cellpose/trackmate-cellpose-glue-tm9.jar"


@pytest.mark.fiji
def test_checksums_equal_the_test_fijis_own_updater_cache(fiji_dir):
    """Fiji's updater caches the checksum it computed for each file in ``.checksums``: ours must be the same."""
    cache = Path(fiji_dir) / ".checksums"
    if not cache.is_file():
        pytest.skip(f"{cache} missing")
    same = differ = 0
    for line in cache.read_text().splitlines():
        checksum, _ts, name = line.split(" ", 2)
        f = Path(fiji_dir) / name
        if f.is_file() and os.access(f, os.R_OK):
            if updater_checksum(name, f) == checksum:
                same += 1
            else:
                differ += 1
    assert same > 500 and differ <= same // 100  # a few text files of the test Fiji changed after it was cached


def test_a_site_is_a_parseable_db_with_one_loader_three_glues_and_the_python_code(tmp_path):
    done = build_update_site(tmp_path / "site", timestamp=20200101000000)
    assert any("db.xml.gz" in d for d in done)
    with gzip.open(tmp_path / "site" / "db.xml.gz") as f:
        root = ElementTree.fromstring(f.read())
    files = {p.get("filename"): p.find("version") for p in root.iter("plugin")}
    assert sorted(Path(f).name for f in files if f.startswith(f"{SITE_DIR}/")) == [
        "trackmate-cellpose-glue-tm7.jar", "trackmate-cellpose-glue-tm8.jar", "trackmate-cellpose-glue-tm9.jar",
        PYTHON_ZIP]
    assert len([f for f in files if f.startswith("jars/")]) == 1
    for name, v in files.items():
        stored = tmp_path / "site" / f"{name}-{v.get('timestamp')}"
        assert stored.is_file() and stored.stat().st_size == int(v.get("filesize"))
        assert updater_checksum(name, stored) == v.get("checksum")
    with zipfile.ZipFile(tmp_path / "site" / f"{SITE_DIR}/{PYTHON_ZIP}-20200101000000") as z:
        names = z.namelist()
    assert "trackmate_cellpose/bridge/worker.py" in names and not [n for n in names if not n.endswith(".py")]


def test_a_rebuild_keeps_unchanged_files_and_lists_replaced_ones_as_previous_versions(tmp_path):
    site = tmp_path / "site"
    build_update_site(site, timestamp=20200101000000)
    first = {e.filename: e for e in read_site_db(site / "db.xml.gz")}
    done = build_update_site(site, timestamp=20210101000000)
    assert any("5 file(s) unchanged" in d for d in done)
    assert {e.filename: e.timestamp for e in read_site_db(site / "db.xml.gz")} == \
        {k: e.timestamp for k, e in first.items()}
    # a new version of one file and a file dropped since: previous versions, as the updater's upload writes them
    from trackmate_cellpose.bridge._update_site import SiteFile, _merge

    code = python_code_zip(tmp_path / "other.zip", Path(__file__).resolve().parents[2] / "python" / "trackmate_cellpose")
    changed = SiteFile(f"{SITE_DIR}/{PYTHON_ZIP}", code, "code")
    old = [*read_site_db(site / "db.xml.gz"), SiteEntry("jars/gone-1.0.jar", "ab" * 20, 20190101000000, 3)]
    old_zip = next(e for e in old if e.filename == changed.path)
    entries, to_write = _merge(old, [(changed, "cd" * 20, 7)], 20220101000000)
    by = {e.filename: e for e in entries}
    assert by[changed.path].checksum == "cd" * 20 and by[changed.path].timestamp == 20220101000000
    assert by[changed.path].previous[-1] == (old_zip.timestamp, 20220101000000, old_zip.checksum, changed.path)
    assert by["jars/gone-1.0.jar"].checksum is None and by["jars/gone-1.0.jar"].previous
    assert [f.path for f, _ in to_write] == [changed.path]


def _site_fiji(tmp_path: Path) -> Path:
    """A (fake) TrackMate 8.1.6 Fiji with the site's files where the updater installs them."""
    from support.fake_fiji import fake_fiji

    fiji = fake_fiji(tmp_path / "Fiji.app", "8.1.6", "tm8")
    site = tmp_path / "site"
    build_update_site(site, timestamp=20200101000000)
    for entry in read_site_db(site / "db.xml.gz"):  # what the updater would install
        (fiji / entry.filename).parent.mkdir(parents=True, exist_ok=True)
        (fiji / entry.filename).write_bytes((site / f"{entry.filename}-{entry.timestamp}").read_bytes())
    return fiji


def test_setup_env_fiji_with_the_update_site_records_the_python_and_installs_no_jar(tmp_path):
    """``setup-env --fiji`` on a Fiji with the site's detector: the record only (install-fiji's jar would shadow the
    site's loader); on a Fiji without it, install-fiji as before."""
    from trackmate_cellpose.bridge import _install
    from trackmate_cellpose.cli._setup_env import use_in_fiji

    fiji = _site_fiji(tmp_path)
    (fiji / "config").mkdir()
    (fiji / "config" / "trackmate-cellpose.json").write_text(json.dumps({"other": 1}))
    jars = sorted(p.name for p in (fiji / "jars").iterdir())
    done = use_in_fiji(fiji, "/envs/e/bin/python", "/envs/e")
    assert sorted(p.name for p in (fiji / "jars").iterdir()) == jars and not _install.installed_glue(fiji)
    assert json.loads((fiji / "config" / "trackmate-cellpose.json").read_text()) == {
        "other": 1, "python": "/envs/e/bin/python", "env": "/envs/e"}
    assert done == [f"recorded Python /envs/e/bin/python in {fiji.resolve() / 'config' / 'trackmate-cellpose.json'} "
                    "(the update site's detector uses it; no jar installed)"]
    assert use_in_fiji(fiji, "/envs/e/bin/python", "/envs/e")[0].endswith("already records Python /envs/e/bin/python")
    for p in fiji.glob("jars/trackmate-cellpose-*.jar"):  # no site: install-fiji
        p.unlink()
    use_in_fiji(fiji, "/envs/e/bin/python", "/envs/e")
    assert _install.installed_glue(fiji)


def test_doctor_and_install_fiji_know_the_update_sites_files(tmp_path, capsys):
    """A (fake) Fiji that got the site: doctor --fiji reports it and the classic launch it allows; a missing line jar
    is an error with the fix; install-fiji on top says its jar is the one used; uninstall-fiji leaves the site's."""
    from trackmate_cellpose.bridge import _install
    from trackmate_cellpose.diagnosis import Report, _check_fiji

    fiji = _site_fiji(tmp_path)

    def doctor() -> dict[str, tuple[str, str, str]]:
        r = Report()
        _check_fiji(r, fiji, start_jvm=False)
        return {c.name: (c.level, c.detail, c.fix or "") for c in r.checks}

    checks = doctor()
    assert checks["fiji update site"][0] == "ok" and "the glue for tm8 and the Python code" in checks["fiji update site"][1]
    assert checks["fiji classic"][0] == "ok" and "update site" in checks["fiji classic"][1]
    assert "Set up a Python environment" in checks["fiji classic"][2]  # no Python recorded: how to get one
    env = tmp_path / "env"  # as the environment builder records its Python
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").touch()
    (fiji / "config").mkdir()
    (fiji / "config" / "trackmate-cellpose.json").write_text(
        json.dumps({"python": str(env / "bin" / "python"), "env": str(env)}))
    assert doctor()["fiji classic"][:2] == ("ok", "classic launch (Fiji started from its icon, no Python in it): "
                                                  "listed (update site); its worker runs the site's Python code with "
                                                  f"{env / 'bin' / 'python'} (an environment the detector's setup "
                                                  "built); the detector's PYTHON_EXECUTABLE overrides it")
    (env / "bin" / "python").unlink()
    assert doctor()["fiji classic"][0] == "warn" and "setup-env --fiji" in doctor()["fiji classic"][2]
    (fiji / SITE_DIR / "trackmate-cellpose-glue-tm8.jar").unlink()
    checks = doctor()
    assert checks["fiji update site"][0] == "error" and "Help > Update" in checks["fiji update site"][2]
    done = _install.install_fiji(fiji)
    assert any("also has the trackmate-cellpose update site" in d for d in done)
    assert doctor()["fiji update site"][0] == "error"  # still missing its line jar
    _install.uninstall_fiji(fiji)
    assert _install.site_loaders(fiji) and (fiji / SITE_DIR / PYTHON_ZIP).is_file()
