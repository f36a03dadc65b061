"""Real environment builds with uv, in test mode (``support/envs.py``: this machine's package sources, the local
interpreter, a CPU torch from pip's find-links), for the cellpose major version of the Python running the tests.

One full build per session (minutes; ``slow``): it is first interrupted half-way, as the Fiji glue cancels it (the
builder runs by path with ``--events`` and its stdin closes), then resumed to completion; a detection then runs in
the new environment and gives the spots ``detect()`` gives here. Cheap cases (an unreachable index, removal) build
only the first step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from trackmate_cellpose import __version__
from trackmate_cellpose.envs import (EnvRequest, IndexUnreachableError, PythonDownloadError, _builder, build_env,
                                     find_uv, list_envs, remove_env)

from support.envs import base_python, build_wheel, cellpose_major, closed_port, request_args

CELLPOSE_MAJOR = cellpose_major()

pytestmark = pytest.mark.skipif(CELLPOSE_MAJOR not in (3, 4), reason="needs cellpose 3 or 4 installed")


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory):
    """One uv cache for every build of the session (a later build links what an earlier one unpacked)."""
    cache = tmp_path_factory.mktemp("uv-cache")
    saved = os.environ.get("UV_CACHE_DIR")
    os.environ["UV_CACHE_DIR"] = str(cache)
    yield cache
    if saved is None:
        os.environ.pop("UV_CACHE_DIR", None)
    else:
        os.environ["UV_CACHE_DIR"] = saved


def _uv() -> Path:
    try:
        return find_uv()
    except _builder.EnvBuildError as e:
        pytest.skip(str(e))


def _own_processes(marker: str) -> list[int]:
    """Processes whose command line mentions ``marker`` (a test's data folder)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


def test_an_unreachable_index_gives_the_message(tmp_path, uv_cache):
    port = closed_port()
    req = EnvRequest(**request_args(CELLPOSE_MAJOR, index_url=f"http://127.0.0.1:{port}/simple",
                                    extra_index_urls=[], find_links=[]), data=str(tmp_path / "data"))
    t0 = time.monotonic()
    with pytest.raises(IndexUnreachableError) as e:
        build_env(req, uv=_uv())
    msg = str(e.value)
    assert msg.startswith("the package index cannot be reached (Installing torch==2.13.0")
    assert f"http://127.0.0.1:{port}/simple/torch/" in msg and "Connection refused" in msg
    assert "run the build again to resume it" in msg
    assert time.monotonic() - t0 < 120
    state = json.loads((tmp_path / "data" / "envs" / f"{__version__}-cellpose{CELLPOSE_MAJOR}-cpu" /
                        _builder.STATE_FILE).read_text())
    assert state["steps"] == ["python"] and not state["complete"]


@pytest.fixture(scope="session")
def built(tmp_path_factory, uv_cache) -> dict:
    """The session's environment: a build interrupted after its torch step, then resumed."""
    work = tmp_path_factory.mktemp("envbuild")
    uv = _uv()
    wheel = build_wheel(work / "wheel")
    data = work / "data"
    args = request_args(CELLPOSE_MAJOR, package=wheel)
    cmd = [base_python(), "-I", str(Path(_builder.__file__)), "build", "--events", "--version", __version__,
           "--data", str(data), "--uv", str(uv), "--cellpose", str(CELLPOSE_MAJOR), "--variant", "cpu",
           "--python", args["python"], "--torch-backend", "none", "--package", str(wheel)]
    for url in args["extra_index_urls"]:
        cmd += ["--extra-index-url", url]
    for link in args["find_links"]:
        cmd += ["--find-links", link]
    if args["index_url"]:
        cmd += ["--index-url", args["index_url"]]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    first = []
    for line in proc.stdout:
        first.append(json.loads(line))
        if first[-1].get("message", "").startswith("Installing cellpose"):
            proc.stdin.close()  # what the Fiji glue's Cancel does
            break
    first += [json.loads(line) for line in proc.stdout]
    rc = proc.wait(120)
    interrupted_s = time.monotonic() - t0
    left = _own_processes(str(data))
    env = data / "envs" / f"{__version__}-cellpose{CELLPOSE_MAJOR}-cpu"
    state = json.loads((env / _builder.STATE_FILE).read_text())
    logs, progress = [], []
    t1 = time.monotonic()
    second = build_env(EnvRequest(**args, data=str(data)), uv=uv, log=logs.append,
                       progress=lambda f, m: progress.append(m))
    return {"data": data, "env": env, "first": first, "rc": rc, "state": state, "left": left, "second": second,
            "logs": logs, "progress": progress, "interrupted_s": interrupted_s, "resume_s": time.monotonic() - t1}


@pytest.mark.slow
@pytest.mark.heavy
def test_a_build_interrupted_half_way_stops_and_resumes(built):
    assert built["rc"] == 130
    assert built["first"][-1]["event"] == "error" and built["first"][-1]["kind"] == "cancelled"
    assert built["state"]["steps"] == ["python", "torch"] and not built["state"]["complete"]
    assert built["left"] == [], "a cancelled build leaves no uv process behind"
    second = built["second"]
    assert second.resumed and f"Resuming the build of {built['env']} (done: python, torch)" in built["logs"]
    assert not any(m.startswith(("Creating the environment", "Installing torch")) for m in built["progress"])
    assert json.loads((built["env"] / _builder.STATE_FILE).read_text())["complete"]
    v = second.versions
    assert v["torch"].startswith("2.13.0") and v["cuda"] is None
    assert v["cellpose"].startswith(f"{CELLPOSE_MAJOR}.") and v["trackmate_cellpose"] == __version__
    assert [e["name"] for e in list_envs(built["data"])] == [built["env"].name]
    print(f"\nbuild: interrupted after {built['interrupted_s']:.0f} s, resumed to the end in {built['resume_s']:.0f} s")


@pytest.mark.slow
@pytest.mark.heavy
def test_a_complete_build_is_confirmed_not_redone(built):
    progress = []
    again = build_env(EnvRequest(**request_args(CELLPOSE_MAJOR), data=str(built["data"])), uv=_uv(),
                      progress=lambda f, m: progress.append(m))
    assert again.python == built["second"].python and progress == [f"The environment {built['env']} is already built"]


DETECT = """
import json, sys, numpy as np, tifffile
from trackmate_cellpose import DetectorSettings, detect
img = tifffile.imread(sys.argv[1])
s = DetectorSettings(model="CUSTOM", model_path=sys.argv[2], diameter=10.0, use_gpu=False)
r = detect(img[:2], s, axes="tyx")
print(json.dumps([[d.frame, round(d.x, 3), round(d.y, 3)] for d in r]))
"""


@pytest.mark.slow
@pytest.mark.heavy
def test_the_built_environment_runs_a_detection(built, test_model):
    from trackmate_cellpose import sample_path

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if CELLPOSE_MAJOR == 4:  # the tiny test Cellpose-SAM and the torchvision shim (tests/support/cp4)
        env["PYTHONPATH"] = os.environ["PYTHONPATH"].split(os.pathsep)[0]
    proc = subprocess.run([str(built["second"].python), "-c", DETECT, str(sample_path("2dt")), str(test_model)],
                          capture_output=True, text=True, timeout=900, env=env, cwd=built["data"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    import tifffile

    from trackmate_cellpose import DetectorSettings, detect

    s = DetectorSettings(model="CUSTOM", model_path=str(test_model), diameter=10.0, use_gpu=False)
    ours = [[d.frame, round(d.x, 3), round(d.y, 3)] for d in detect(tifffile.imread(sample_path("2dt"))[:2], s,
                                                                      axes="tyx")]
    assert len(theirs) > 0 and np.allclose(sorted(theirs), sorted(ours), atol=0.01)


def test_removal_removes_what_the_build_added(tmp_path, uv_cache):
    """A build stopped after its first step (the interpreter's environment; seed packages in a cache of its own),
    then removed: nothing of it is left, the data folder included."""
    data = tmp_path / "data"
    port = closed_port()
    saved = os.environ.pop("UV_CACHE_DIR")  # this build's cache goes into the data folder, as for a user
    try:
        with pytest.raises(IndexUnreachableError):
            build_env(EnvRequest(**request_args(CELLPOSE_MAJOR, index_url=f"http://127.0.0.1:{port}/simple",
                                                extra_index_urls=[], find_links=[]), data=str(data)), uv=_uv())
    finally:
        os.environ["UV_CACHE_DIR"] = saved
    assert (data / "uv-cache").is_dir() and len(list_envs(data)) == 1
    removed = remove_env(data=data)
    assert not data.exists()
    assert str(data / "uv-cache") in removed and str(data) in removed


def test_a_python_uv_must_fetch_lands_in_the_data_folder_or_the_message_says_what_to_install(tmp_path, uv_cache,
                                                                                               monkeypatch):
    """With no suitable interpreter (uv told to use only the Pythons it manages, none yet), uv fetches one into
    ``<data>/python`` (so removal takes it away too); where its downloads cannot be reached (GitHub: this machine),
    the build says so and what to do instead."""
    monkeypatch.setenv("UV_PYTHON_PREFERENCE", "only-managed")
    monkeypatch.delenv("UV_PYTHON_INSTALL_DIR", raising=False)
    data = tmp_path / "data"
    port = closed_port()
    req = EnvRequest(**request_args(CELLPOSE_MAJOR, python="3.12", index_url=f"http://127.0.0.1:{port}/simple",
                                    extra_index_urls=[], find_links=[]), data=str(data))
    try:
        build_env(req, uv=_uv())
    except PythonDownloadError as e:
        assert str(e).startswith("no Python matching 3.12 was found on this machine and uv could not download one: "
                                 "https://"), e
        assert "Install Python 3.10 to 3.13 (python.org), or give the interpreter to use" in str(e)
    except IndexUnreachableError:  # the interpreter came: the next step met the closed index
        assert list((data / "python").glob("cpython-3.12*")), "the fetched Python is in the data folder"
    else:
        pytest.fail("the build cannot succeed with a closed index")


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trackmate_cellpose", *args], capture_output=True, text=True,
                          timeout=600, env=env)


def _cli_request(req: dict) -> list[str]:
    args = ["--cellpose", str(req["cellpose"]), "--variant", req["variant"], "--python", req["python"],
            "--torch-backend", req["torch_backend"]]
    if req["index_url"]:
        args += ["--index-url", req["index_url"]]
    for url in req["extra_index_urls"]:
        args += ["--extra-index-url", url]
    for link in req["find_links"]:
        args += ["--find-links", link]
    return args + (["--package", req["package"]] if req["package"] else [])


def test_cli_an_unreachable_index_is_one_line_and_exit_1(tmp_path, uv_cache):
    port = closed_port()
    req = request_args(CELLPOSE_MAJOR, index_url=f"http://127.0.0.1:{port}/simple", extra_index_urls=[],
                       find_links=[])
    proc = _cli("setup-env", *_cli_request(req), "--data", str(tmp_path / "data"))
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("trackmate-cellpose: error: the package index cannot be reached (Installing torch")
    assert f"127.0.0.1:{port}" in last
    listing = _cli("setup-env", "--list", "--data", str(tmp_path / "data"))
    assert f"{__version__}-cellpose{CELLPOSE_MAJOR}-cpu" in listing.stdout and "incomplete (done: python;" in listing.stdout


def test_cli_refuses_impossible_requests_with_exit_2(tmp_path):
    proc = _cli("setup-env", "--variant", "mps" if sys.platform != "darwin" else "cuda", "--data", str(tmp_path))
    assert proc.returncode == 2 and "error: variant '" in proc.stderr
    proc = _cli("uninstall-env", "--data", str(tmp_path))
    assert proc.returncode == 2 and "give the environment to remove (NAME) or --all" in proc.stderr


def test_cli_uninstall_env_removes_it_and_the_fijis_record_of_it(tmp_path, uv_cache):
    from trackmate_cellpose.bridge._install import install_fiji

    from support.fake_fiji import fake_fiji

    data = tmp_path / "data"
    port = closed_port()
    with pytest.raises(IndexUnreachableError):
        build_env(EnvRequest(**request_args(CELLPOSE_MAJOR, index_url=f"http://127.0.0.1:{port}/simple",
                                            extra_index_urls=[], find_links=[]), data=str(data)), uv=_uv())
    (env,) = list_envs(data)
    fiji = fake_fiji(tmp_path / "Fiji.app")
    install_fiji(fiji, python=env["python"], env=env["env"])
    proc = _cli("uninstall-env", env["name"], "--data", str(data), "--fiji", str(fiji))
    assert proc.returncode == 0, proc.stderr
    assert f"removed {env['env']}" in proc.stdout and not data.exists()
    config = json.loads((fiji / "config" / "trackmate-cellpose.json").read_text())
    assert "python" not in config and "env" not in config and config["jar"].startswith("jars/")
    assert f"no longer records Python {env['python']}" in proc.stdout


@pytest.mark.slow
@pytest.mark.heavy
def test_cli_setup_env_confirms_the_built_env_and_installs_it_into_a_fiji(built, tmp_path):
    from support.fake_fiji import fake_fiji

    fiji = fake_fiji(tmp_path / "Fiji.app")
    proc = _cli("setup-env", *_cli_request(request_args(CELLPOSE_MAJOR)), "--data", str(built["data"]),
                "--fiji", str(fiji))
    assert proc.returncode == 0, proc.stderr
    python = built["env"] / "bin" / "python"
    assert proc.stdout.splitlines()[0] == str(python)
    assert f"[100%] The environment {built['env']} is already built" in proc.stderr
    config = json.loads((fiji / "config" / "trackmate-cellpose.json").read_text())
    assert config["python"] == str(python) and config["env"] == str(built["env"])
