"""The Java side of the environment builder, run for real in a JVM (JDK only, no Fiji): the data folder it computes is
the Python side's, uv's wheel is chosen, checked and unpacked from a package index (a local ``file:`` index with
wheels made here), an unreachable index gives the message, and the built Python is recorded where the worker reads
it (``WorkerPython``), keeping what install-fiji recorded beside it."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trackmate_cellpose.bridge._install import install_fiji
from trackmate_cellpose.envs import data_dir

from support.envs import closed_port
from support.fake_fiji import fake_fiji
from support.java_probe import compile_probe

pytestmark = pytest.mark.jvm

PROBE = """
package trackmatecellpose.glue;

import java.io.File;

public class EnvBuilderProbe {
    public static void main(String[] args) throws Exception {
        EnvBuilder.Listener listener = new EnvBuilder.Listener() {
            public void progress(double f, String m) { System.out.println("progress=" + m); }
            public void log(String l) { System.out.println("log=" + l); }
        };
        if (args[0].equals("datadir"))
            System.out.println("datadir=" + EnvBuilder.dataDir());
        else if (args[0].equals("fetch")) {
            try {
                System.out.println("uv=" + UvBootstrap.fetch(new File(args[1]), args[2], listener));
            } catch (java.io.IOException e) {
                System.out.println("error=" + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
        else if (args[0].equals("record")) {
            System.out.println("record=" + EnvBuilder.record(args[1], args[2]));
            System.out.println("python=" + WorkerPython.executable(new java.util.HashMap<String, Object>()));
        }
        else if (args[0].equals("command")) {
            EnvBuilder.Options o = new EnvBuilder.Options();
            o.packageSpec = args[1];
            System.out.println("command=" + String.join(" ", new EnvBuilder().command(new File("uv"),
                new File("b.py"), new File("data"), o)));
        }
        else if (args[0].equals("build")) {
            EnvBuilder.Options o = new EnvBuilder.Options();
            o.indexUrl = args[1];
            EnvBuilder.Result r = new EnvBuilder().build(o, listener);
            System.out.println("status=" + r.status);
            System.out.println("message=" + r.message);
        }
    }
}
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    return compile_probe(tmp_path_factory.mktemp("envprobe"), "EnvBuilderProbe", PROBE)


def _run(probe: dict, *args: str, env: dict | None = None, props: dict | None = None, jar: Path | None = None) -> dict:
    cmd = [probe["java"], *(f"-D{k}={v}" for k, v in (props or {}).items()),
           "-cp", os.pathsep.join([str(jar or probe["jar"]), str(probe["classes"])]),
           "trackmatecellpose.glue.EnvBuilderProbe", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True, env=env).stdout
    facts: dict = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        facts.setdefault(k, []).append(v)
    return {k: v[-1] for k, v in facts.items()} | {"logs": facts.get("log", [])}


@pytest.mark.parametrize("case", ["override", "xdg", "home"])
def test_java_and_python_agree_on_the_data_folder(probe, tmp_path, monkeypatch, case):
    env = {k: v for k, v in os.environ.items() if k not in ("TRACKMATE_CELLPOSE_DATA", "XDG_DATA_HOME")}
    env["HOME"] = str(tmp_path / "home")
    if case == "override":
        env["TRACKMATE_CELLPOSE_DATA"] = str(tmp_path / "data")
    elif case == "xdg":
        env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    for k in ("TRACKMATE_CELLPOSE_DATA", "XDG_DATA_HOME", "HOME"):
        if k in env:
            monkeypatch.setenv(k, env[k])
        else:
            monkeypatch.delenv(k, raising=False)
    java = _run(probe, "datadir", env=env, props={"user.home": env["HOME"]})["datadir"]
    assert java == str(data_dir())


def _platform_tag() -> str:
    machine = platform.machine().lower()
    if not sys.platform.startswith("linux") or machine not in ("x86_64", "aarch64"):
        pytest.skip("the fake index carries Linux wheels only")
    return f"manylinux_2_17_{machine}.manylinux2014_{machine}"


def _wheel(folder: Path, version: str, tag: str) -> tuple[str, str]:
    """A wheel laid out as uv's (``uv-<v>.data/scripts/uv``), whose "uv" prints its version."""
    name = f"uv-{version}-py3-none-{tag}.whl"
    with zipfile.ZipFile(folder / name, "w") as z:
        z.writestr(f"uv-{version}.data/scripts/uv", f"#!/bin/sh\necho uv {version}\n")
        z.writestr(f"uv-{version}.dist-info/METADATA", f"Name: uv\nVersion: {version}\n")
    return name, hashlib.sha256((folder / name).read_bytes()).hexdigest()


def _index(root: Path, entries: list[tuple[str, str, str]]) -> str:
    """A simple index (PEP 503) at ``root`` with ``uv/index.html`` linking to ``entries`` (name, sha256, extra
    attributes); returns its ``file:`` URL."""
    page = root / "simple" / "uv"
    page.mkdir(parents=True, exist_ok=True)
    links = "".join(f'<a href="../../files/{n}#sha256={h}" {a}>{n}</a>\n' for n, h, a in entries)
    (page / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    return (root / "simple").as_uri()


def test_uvs_wheel_is_chosen_checked_and_unpacked(probe, tmp_path):
    tag = _platform_tag()
    files = tmp_path / "index" / "files"
    files.mkdir(parents=True)
    good = _wheel(files, "0.9.1", tag)
    entries = [good, (*_wheel(files, "0.9.3", tag), 'data-yanked=""'),  # yanked: never chosen
               _wheel(files, "0.9.5", "macosx_11_0_arm64"), _wheel(files, "0.9.6", "win_amd64"),  # other platforms
               _wheel(files, "1.2.0", tag), _wheel(files, "0.7.9", tag)]  # out of range
    index = _index(tmp_path / "index", [(n, h, a[0] if a else "") for n, h, *a in entries])
    data = tmp_path / "data"
    out = _run(probe, "fetch", str(data), index)
    exe = data / "uv" / "0.9.1" / "uv"
    assert out.get("uv") == str(exe), out
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout == "uv 0.9.1\n"
    assert sorted(p.name for p in exe.parent.iterdir()) == ["uv"]  # the downloaded wheel is gone


def test_a_wheel_whose_hash_differs_is_refused(probe, tmp_path):
    files = tmp_path / "index" / "files"
    files.mkdir(parents=True)
    name, _ = _wheel(files, "0.9.1", _platform_tag())
    index = _index(tmp_path / "index", [(name, "0" * 64, "")])
    out = _run(probe, "fetch", str(tmp_path / "data"), index)
    assert "error" in out and "has sha256" in out["error"] and "the index says " + "0" * 64 in out["error"]
    assert not (tmp_path / "data" / "uv" / "0.9.1" / "uv").exists()


def test_an_index_without_uv_for_this_platform_says_so(probe, tmp_path):
    files = tmp_path / "index" / "files"
    files.mkdir(parents=True)
    index = _index(tmp_path / "index", [_wheel(files, "0.9.6", "win_amd64") + ("",)])
    out = _run(probe, "fetch", str(tmp_path / "data"), index)
    assert "has no uv wheel >= 0.8.0, < 1.0.0 for this platform" in out["error"]
    assert "set TRACKMATE_CELLPOSE_UV to a uv executable instead" in out["error"]


def test_an_unreachable_index_gives_the_message(probe, tmp_path):
    port = closed_port()
    env = {**os.environ, "TRACKMATE_CELLPOSE_DATA": str(tmp_path / "data")}
    env.pop("TRACKMATE_CELLPOSE_UV", None)
    out = _run(probe, "build", f"http://127.0.0.1:{port}/simple", env=env)
    assert out["status"] == "index"
    assert out["message"].startswith(f"The package index cannot be reached: http://127.0.0.1:{port}/simple/uv/ ("
                                     "java.net.ConnectException")
    assert "give a reachable index URL" in out["message"]


def test_the_built_python_is_recorded_where_the_worker_reads_it(probe, tmp_path):
    fiji = fake_fiji(tmp_path / "Fiji.app")
    install_fiji(fiji, python=sys.executable)
    before = json.loads((fiji / "config" / "trackmate-cellpose.json").read_text())
    py = str(tmp_path / "env é" / "bin" / "python")
    out = _run(probe, "record", py, str(tmp_path / "env é"), props={"imagej.dir": fiji})
    assert out["python"] == py  # WorkerPython reads it
    after = json.loads((fiji / "config" / "trackmate-cellpose.json").read_text())
    assert after == {**before, "python": py, "env": str(tmp_path / "env é")}
    assert out["record"].startswith(f"Recorded the Python {py} in {fiji / 'config' / 'trackmate-cellpose.json'}")


def test_recording_into_a_fiji_without_config_creates_it(probe, tmp_path):
    fiji = fake_fiji(tmp_path / "Fiji.app")
    _run(probe, "record", "/envs/x/bin/python", "/envs/x", props={"imagej.dir": fiji})
    assert json.loads((fiji / "config" / "trackmate-cellpose.json").read_text()) == {
        "created_config_dir": True, "python": "/envs/x/bin/python", "env": "/envs/x"}


def test_with_the_update_sites_python_code_the_builder_is_given_it(probe, tmp_path):
    """A Fiji that got our glue and Python code from the update site (both in lib/trackmate-cellpose, where GlueLoader
    loads the glue from): the builder installs only the dependencies and checks the import from that code
    (trackmate_cellpose.envs, tests/unit/test_envs_builder.py); an explicit package wins. A glue elsewhere
    (install-fiji's, in jars/) does not run that code, so its environment gets the package."""
    import shutil

    from trackmate_cellpose import __version__

    fiji = fake_fiji(tmp_path / "Fiji.app")
    site = fiji / "lib" / "trackmate-cellpose"
    site.mkdir(parents=True)
    site_jar = Path(shutil.copy(probe["jar"], site / "trackmate-cellpose-glue-tm7.jar"))
    out = _run(probe, "command", "", props={"imagej.dir": fiji}, jar=site_jar)["command"]
    assert out.startswith("uv run --no-project --python >=3.10,<3.14 b.py build --events --cellpose 3 --variant auto")
    assert f"--version {__version__} --data data --uv uv" in out and "--code" not in out
    code = site / "trackmate-cellpose-python.zip"
    code.write_bytes(b"PK\5\6" + bytes(18))
    assert _run(probe, "command", "", props={"imagej.dir": fiji}, jar=site_jar)["command"].endswith(f"--code {code}")
    assert _run(probe, "command", "x.whl", props={"imagej.dir": fiji}, jar=site_jar)["command"].endswith(
        "--package x.whl")
    install_fiji(fiji, python=sys.executable)
    installed = next((fiji / "jars").glob("trackmate-cellpose-glue-*.jar"))
    assert "--code" not in _run(probe, "command", "", props={"imagej.dir": fiji}, jar=installed)["command"]


def test_no_python_for_the_builder_and_none_downloadable_says_what_to_install(probe, tmp_path):
    """uv told to use only the Pythons it manages (none yet): it must fetch one to run the builder, into the data
    folder; where its downloads cannot be reached (GitHub: this machine) the result says what to install instead."""
    import shutil

    from trackmate_cellpose.envs import find_uv

    data = tmp_path / "data"
    env = {**os.environ, "TRACKMATE_CELLPOSE_DATA": str(data), "TRACKMATE_CELLPOSE_UV": str(find_uv()),
           "UV_PYTHON_PREFERENCE": "only-managed"}
    for k in ("UV_PYTHON_INSTALL_DIR", "UV_CACHE_DIR"):
        env.pop(k, None)
    out = _run(probe, "build", f"http://127.0.0.1:{closed_port()}/simple", env=env)
    if out["status"] == "python":
        assert out["message"].startswith("No Python matching >=3.10,<3.14 was found on this machine and uv could not "
                                         "download one: https://"), out
        assert "Install Python 3.10 to 3.13 (python.org), or give the interpreter to use" in out["message"]
    else:  # a Python came (into the data folder); the builder then met the closed index
        assert out["status"] == "index" and list((data / "python").glob("cpython-*")), out
    shutil.rmtree(data, ignore_errors=True)
