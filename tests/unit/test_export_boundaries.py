"""The GEFF/CSV/convert modules keep the export package's boundary: no cellpose, torch, Java or bridge imports, and
geff/zarr only inside functions (importing them must not need the optional ``geff`` package)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EXPORT = Path(__file__).resolve().parents[2] / "python" / "trackmate_cellpose" / "export"
FORBIDDEN = ("cellpose", "torch", "jpype", "scyjava", "imagej")
OPTIONAL = ("geff", "geff_spec", "zarr")


@pytest.mark.parametrize("name", sorted(p.name for p in EXPORT.glob("*.py")))
def test_module_imports(name):
    tree = ast.parse((EXPORT / name).read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for m in mods:
                top = m.split(".")[0]
                assert top not in FORBIDDEN, (name, m)
                assert not (isinstance(node, ast.ImportFrom) and node.level and top in ("bridge", "segment")), m
    for node in tree.body:  # module level: no optional package
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not (isinstance(node, ast.ImportFrom) and node.level):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert not any(m.split(".")[0] in OPTIONAL for m in mods), (name, mods)
