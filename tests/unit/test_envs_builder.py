"""The environment builder's decisions that need no download: where environments live, which variant ``auto``
means, what a request accepts, what removal removes, that the builder runs by path with the standard library alone,
and that the facts the Java glue repeats (Python versions, choices) and the dependency list match their source."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trackmate_cellpose.envs import (CELLPOSE_SPECS, PYTHON_REQUEST, VARIANTS, EnvBuildError, EnvRequest, data_dir,
                                     env_name, list_envs, remove_env, resolve_variant)
from trackmate_cellpose.envs import _builder

REPO = Path(__file__).resolve().parents[2]
JAVA = REPO / "java-glue" / "src" / "common" / "trackmatecellpose" / "glue"


def test_data_dir_follows_the_override_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKMATE_CELLPOSE_DATA", str(tmp_path / "d"))
    assert data_dir() == tmp_path / "d"
    monkeypatch.delenv("TRACKMATE_CELLPOSE_DATA")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        assert data_dir() == tmp_path / "xdg" / "trackmate-cellpose"
        monkeypatch.delenv("XDG_DATA_HOME")
        assert data_dir() == Path.home() / ".local" / "share" / "trackmate-cellpose"


def test_env_names_carry_version_cellpose_and_variant():
    assert env_name("0.1.0", 4, "cuda") == "0.1.0-cellpose4-cuda"


def test_auto_variant_is_the_machines(monkeypatch):
    monkeypatch.setattr(_builder, "_has_nvidia_gpu", lambda: True)
    monkeypatch.setattr(sys, "platform", "linux")
    assert resolve_variant("auto") == "cuda"
    monkeypatch.setattr(_builder, "_has_nvidia_gpu", lambda: False)
    assert resolve_variant("auto") == "cpu"
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(_builder.platform, "machine", lambda: "arm64")
    assert resolve_variant("auto") == "mps"
    assert resolve_variant("cpu") == "cpu"


def test_impossible_variants_are_refused_with_what_is_possible(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(EnvBuildError, match="variant 'mps' needs macOS on Apple silicon"):
        resolve_variant("mps")
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(EnvBuildError, match="variant 'cuda' is not available on macOS"):
        resolve_variant("cuda")
    with pytest.raises(EnvBuildError, match=r"variant must be one of auto, cpu, cuda, mps, got 'gpu'"):
        resolve_variant("gpu")


def test_request_checks_its_values(tmp_path):
    with pytest.raises(EnvBuildError, match=r"cellpose must be one of 3, 4, got 5"):
        EnvRequest(cellpose=5)
    with pytest.raises(EnvBuildError, match="variant must be one of"):
        EnvRequest(variant="rocm")
    wheel = tmp_path / "x.whl"
    wheel.write_bytes(b"")
    r = EnvRequest(cellpose="4", package=str(wheel), find_links=["https://example.org/w", str(tmp_path)])
    assert r.cellpose == 4 and Path(r.package).is_absolute()
    assert r.find_links == ["https://example.org/w", str(tmp_path)]


def _fake_data(root: Path) -> Path:
    for env in ("0.1.0-cellpose3-cpu", "0.1.0-cellpose4-cpu"):
        (root / "envs" / env / "bin").mkdir(parents=True)
        (root / "envs" / env / "bin" / "python").write_text("")
    for extra in ("uv-cache/archive", "python/cpython-3.12", "uv/0.13.10", "builder"):
        (root / extra).mkdir(parents=True)
        (root / extra / "f").write_text("x")
    (root / "uv-cache" / "archive" / "f").chmod(0o444)  # uv's cache holds read-only files
    return root


def test_remove_one_env_keeps_the_rest(tmp_path):
    root = _fake_data(tmp_path / "data")
    assert remove_env("0.1.0-cellpose4-cpu", data=root) == [str(root / "envs" / "0.1.0-cellpose4-cpu")]
    assert [e["name"] for e in list_envs(root)] == ["0.1.0-cellpose3-cpu"]
    assert (root / "uv-cache").is_dir() and (root / "uv").is_dir()


def test_removing_the_last_env_removes_what_the_builds_added(tmp_path):
    root = _fake_data(tmp_path / "data")
    done = remove_env(data=root)
    assert not root.exists()
    assert set(done) >= {str(root / "envs" / "0.1.0-cellpose3-cpu"), str(root / "uv-cache"), str(root / "python"),
                         str(root / "uv"), str(root)}


def test_removal_keeps_files_it_did_not_add(tmp_path):
    root = _fake_data(tmp_path / "data")
    (root / "notes.txt").write_text("mine")
    remove_env(data=root)
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]


def test_removing_an_unknown_env_names_the_known_ones(tmp_path):
    root = _fake_data(tmp_path / "data")
    with pytest.raises(EnvBuildError, match=r"no environment 'nope' .* expected one of: 0.1.0-cellpose3-cpu"):
        remove_env("nope", data=root)


def test_the_builder_runs_by_path_on_the_standard_library_alone(tmp_path):
    """How the Fiji glue runs it: a bare interpreter (-I: no site-packages, no PYTHONPATH), the file by path."""
    script = Path(_builder.__file__)
    proc = subprocess.run([sys.executable, "-I", str(script), "build", "--events", "--cellpose", "5",
                           "--version", "0.0.0", "--data", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == (
        '{"event": "error", "kind": "failed", "message": "cellpose must be one of 3, 4, got 5"}')
    proc = subprocess.run([sys.executable, "-I", str(script), "build", "--cellpose", "3", "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert "version is required when the builder runs outside the package" in proc.stdout


def _java_constant(name: str, cls: str = "EnvBuilder") -> str:
    m = re.search(rf'static final String {name} = "([^"]*)";', (JAVA / f"{cls}.java").read_text())
    assert m, f"{cls}.{name} not found"
    return m.group(1)


def test_java_repeats_the_builders_facts():
    assert _java_constant("PYTHON_REQUEST") == PYTHON_REQUEST
    assert [_java_constant(f"CELLPOSE_{k}") for k in CELLPOSE_SPECS] == [str(k) for k in CELLPOSE_SPECS]
    assert [_java_constant(v.upper()) for v in VARIANTS] == list(VARIANTS)


def test_worker_requirements_are_the_distributions_dependencies():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    others = [d for d in deps if re.split(r"[<>=!~ \[]", d)[0] not in ("torch", "cellpose")]
    assert list(_builder.WORKER_REQUIREMENTS) == others


def test_uvs_cache_and_fetched_pythons_go_into_the_data_folder_unless_the_user_chose(monkeypatch, tmp_path):
    monkeypatch.delenv("UV_CACHE_DIR", raising=False)
    monkeypatch.delenv("UV_PYTHON_INSTALL_DIR", raising=False)
    monkeypatch.setenv("VIRTUAL_ENV", "/some/venv")  # an activated venv must not become the build's interpreter
    env = _builder._child_env(tmp_path)
    assert env["UV_CACHE_DIR"] == str(tmp_path / "uv-cache") and env["UV_PYTHON_INSTALL_DIR"] == str(tmp_path / "python")
    assert "VIRTUAL_ENV" not in env
    monkeypatch.setenv("UV_CACHE_DIR", "/mine")
    assert _builder._child_env(tmp_path)["UV_CACHE_DIR"] == "/mine"


def test_with_the_update_sites_code_the_env_gets_the_dependencies_and_the_check_imports_that_code(tmp_path,
                                                                                               monkeypatch):
    """The steps' commands (uv itself is not run here; tests/integration/test_envs_build.py runs real builds): with
    ``code`` (the update site's copy of the package) no trackmate-cellpose distribution is installed, its
    dependencies are, and the check imports the package from ``code`` as the worker does."""
    calls = []

    def fake_run(cmd, *, what, env, cwd, log, cancel, python_request):
        calls.append((cmd, env))
        if cmd[1:2] == ["venv"]:
            (Path(cmd[-1]) / "bin").mkdir(parents=True)
            (Path(cmd[-1]) / "bin" / "python").write_text("")
        return ('{"python_version": "3.11", "torch": "2.13.0", "cuda": null, "cellpose": "3.1.1", '
                '"trackmate_cellpose": "0.1.0"}')

    monkeypatch.setattr(_builder, "_run", fake_run)
    code = tmp_path / "trackmate-cellpose-python.zip"
    code.write_bytes(b"")
    _builder.build_env(EnvRequest(cellpose=3, variant="cpu", version="0.1.0", code=str(code), data=str(tmp_path)),
                       uv="uv")
    (_, _), (torch, _), (cellpose, _), (check, check_env) = calls
    assert torch[3:] == ["--python", str(tmp_path / "envs" / "0.1.0-cellpose3-cpu" / "bin" / "python"),
                         "torch==2.13.0", "--torch-backend", "cpu"]
    assert cellpose[5:] == ["cellpose>=3.1,<4", *_builder.WORKER_REQUIREMENTS, "torch==2.13.0",
                            "--torch-backend", "cpu"]
    assert check_env["PYTHONPATH"].split(os.pathsep)[0] == str(code)
    calls.clear()  # without code: the distribution of this version; cellpose 4 brings torchvision from the backend
    with pytest.raises(EnvBuildError, match=r"the environment has cellpose 3.1.1, expected cellpose 4.x"):
        _builder.build_env(EnvRequest(cellpose=4, variant="cpu", version="0.1.0", data=str(tmp_path / "b")),
                           uv="uv")  # (the fake check reports cellpose 3: refused)
    assert calls[1][0][5:] == ["torch==2.13.0", "torchvision==0.28.*", "--torch-backend", "cpu"]
    assert calls[2][0][5:7] == ["cellpose>=4.2,<5", "trackmate-cellpose==0.1.0"]
