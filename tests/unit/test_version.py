"""The version is written once (``_version.py``); the distribution metadata and ``__version__`` both come from it."""

import ast
import json
import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

import trackmate_cellpose
from trackmate_cellpose import _version

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_takes_the_version_from_the_module():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "trackmate_cellpose._version.__version__"}
    assert trackmate_cellpose.__version__ is _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", _version.__version__)


def test_no_other_module_writes_a_version():
    writers = []
    for p in (REPO / "python").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
                writers.append(str(p.relative_to(REPO)))
    assert writers == ["python/trackmate_cellpose/_version.py"]


def test_installed_metadata_matches_when_installed_from_this_tree():
    try:
        dist = distribution("trackmate-cellpose")
    except PackageNotFoundError:
        pytest.skip("trackmate-cellpose is not installed (source tree on sys.path)")
    url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    meta_dir = Path(str(dist.locate_file(""))).resolve()
    if url.removeprefix("file://").rstrip("/") != str(REPO) and REPO not in (meta_dir, *meta_dir.parents):
        pytest.skip(f"installed from {url or meta_dir}, not from {REPO}")
    assert dist.version == trackmate_cellpose.__version__
