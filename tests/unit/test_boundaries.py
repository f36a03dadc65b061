"""The package's layer boundaries, checked statically over the source (every import, lazy ones included).

Contracts (the house style, stated in the developer guide, docs/developer/index.md: "What is public" and "House
style"; issue 12 item 6): only ``segment/`` imports torch/cellpose; only ``bridge/`` imports the Java bridge (jpype,
scyjava, imagej, jgo, imglyb); ``errors`` imports nothing from the package and ``settings``/``calibration`` only
``errors``; ``geometry/`` never imports ``segment``, ``bridge``, torch or cellpose; nothing outside ``cli/`` but
``__main__`` imports ``cli`` (its subcommands take ``UsageError`` from ``errors``, so there is no cycle).

The privacy rule (issue #23; the developer guide states it): the public surface is the package root and the modules
and subpackages whose names have no leading underscore, each through its ``__all__``; every ``_module`` is private,
defines no ``__all__``, and is re-exported by its package where its names are public. Inside a subpackage every module
is private except the entry points other programs run by name (``bridge.worker``).

A module docstring that states its imports does so in one checked form, e.g.
``Imports: numpy, shapely (lazily); package: errors, objects.``: third-party import names (the standard library is
never listed), then the package modules relative to ``trackmate_cellpose`` (a subpackage name covers its modules).
``(lazily)`` means inside functions only; ``none`` an empty list. The list must be exactly what the module imports;
in a subpackage's ``__init__`` it describes the whole subpackage (imports between its own modules excluded).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG_DIR = REPO / "python" / "trackmate_cellpose"
PKG = "trackmate_cellpose"

ML = {"torch", "torchvision", "cellpose"}
JAVA = {"jpype", "scyjava", "imagej", "jgo", "imglyb"}
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Import:
    target: str  # absolute dotted name ("numpy", "trackmate_cellpose.errors")
    line: int
    lazy: bool  # inside a function (or under ``if TYPE_CHECKING``), not executed when the module is imported

    @property
    def top(self) -> str:
        return self.target.split(".")[0]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> list[Import]:
    """Every import of one module: statements at any depth, ``importlib.import_module``/``__import__`` with a literal
    name, and ``sys.modules[...]`` / ``sys.modules.get(...)`` lookups with a literal name."""
    mod = _module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: list[Import] = []

    def resolve(level: int, name: str | None) -> str:
        if not level:
            return name or ""
        base = package.split(".")
        base = base[:len(base) - (level - 1)]
        return ".".join(base + ([name] if name else []))

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_lazy = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) \
                or _is_type_checking(child)
            if isinstance(child, ast.Import):
                out.extend(Import(a.name, child.lineno, lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = resolve(child.level, child.module)
                for a in child.names:  # "from . import x" imports the submodule x when there is one
                    sub = f"{base}.{a.name}"
                    where = PKG_DIR.parent / sub.replace(".", "/")
                    is_sub = sub.startswith(PKG + ".") and (where.with_suffix(".py").is_file() or where.is_dir())
                    out.append(Import(sub if is_sub else base, child.lineno, lazy))
            elif isinstance(child, ast.Call) and child.args and isinstance(child.args[0], ast.Constant) \
                    and isinstance(child.args[0].value, str):
                fn = ast.unparse(child.func)
                if fn in ("importlib.import_module", "import_module", "__import__", "sys.modules.get"):
                    name = child.args[0].value
                    if name.startswith("."):
                        level = len(name) - len(name.lstrip("."))
                        name = resolve(level, name.lstrip(".") or None)
                    out.append(Import(name, child.lineno, lazy))
            elif isinstance(child, ast.Subscript) and ast.unparse(child.value) == "sys.modules" \
                    and isinstance(child.slice, ast.Constant) and isinstance(child.slice.value, str):
                out.append(Import(child.slice.value, child.lineno, lazy))
            visit(child, child_lazy)

    visit(ast.parse(path.read_text(), str(path)), False)
    return out


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PKG_DIR.rglob("*.py"))}
IMPORTS: dict[str, list[Import]] = {m: _imports(p) for m, p in MODULES.items()}


def _in(mod: str, *parents: str) -> bool:
    return any(mod == f"{PKG}.{p}" or mod.startswith(f"{PKG}.{p}.") for p in parents)


def _violations(mods, bad) -> list[str]:
    return [f"{MODULES[m].relative_to(REPO)}:{i.line} imports {i.target}"
            for m in mods for i in IMPORTS[m] if bad(i)]


def test_scanner_sees_lazy_relative_and_dynamic_imports():
    # the contracts below are only as good as this scanner: it must see imports inside functions and relative ones
    models = IMPORTS[f"{PKG}.segment._models"]
    assert any(i.top == "torch" and i.lazy for i in models)
    assert any(i.target == f"{PKG}.errors" and not i.lazy for i in models)
    assert any(i.target == "torch" for i in IMPORTS[f"{PKG}.segment._torch_state"])  # sys.modules.get("torch")
    assert any(i.target == PKG for i in IMPORTS[f"{PKG}.cli._main"])  # from .. import __version__


def test_only_segment_imports_torch_or_cellpose():
    assert _violations([m for m in MODULES if not _in(m, "segment")], lambda i: i.top in ML) == []


def test_only_bridge_imports_the_java_bridge():
    assert _violations([m for m in MODULES if not _in(m, "bridge")], lambda i: i.top in JAVA) == []


@pytest.mark.parametrize("leaf, allowed", [("errors", set()), ("settings", {"errors"}), ("calibration", {"errors"}),
                                           ("axes", {"errors", "calibration", "_deprecated"})])
def test_leaf_modules_import_only_errors(leaf, allowed):
    ok = {f"{PKG}.{a}" for a in allowed}
    assert _violations([f"{PKG}.{leaf}"], lambda i: i.top == PKG and i.target not in ok) == []


def test_geometry_never_imports_segment_bridge_or_backends():
    mods = [m for m in MODULES if _in(m, "geometry")]
    assert len(mods) > 3
    assert _violations(mods, lambda i: i.top in ML | JAVA or _in(i.target, "segment", "bridge")) == []


def test_no_module_outside_the_cli_but_main_imports_it():
    # cli/_main.py loads the subcommands of cli/; a library module importing the command line would be a cycle
    mods = [m for m in MODULES if m != f"{PKG}.__main__" and not _in(m, "cli")]
    assert _violations(mods, lambda i: _in(i.target, "cli")) == []


# ---- module docstrings that state their imports ----------------------------------------------------------------
_CLAIM = re.compile(r"Imports: (?P<ext>[^;]+); package: (?P<pkg>.+?)\.(?=\s|$)", re.S)
_FREE_TEXT_CLAIM = re.compile(r"(?<![\w`])[Ii]mports?(?!:)\b[^.:;]*\bonly\b")


def _names(text: str) -> dict[str, bool]:
    """``"numpy, shapely (lazily) and scipy"`` -> {name: lazily}; ``none`` -> {}."""
    if text == "none":
        return {}
    out = {}
    for item in re.split(r",\s*|\s+and\s+", text):
        name, lazily = re.fullmatch(r"([\w.]+)( \(lazily\))?", item.strip()).groups()
        out[name] = bool(lazily)
    return out


def _claims() -> dict[str, re.Match]:
    out = {}
    for m, p in MODULES.items():
        doc = " ".join((ast.get_docstring(ast.parse(p.read_text())) or "").split())
        hit = _CLAIM.search(doc)
        if hit:
            out[m] = hit
    return out


CLAIMS = _claims()


def test_import_claims_use_the_checked_form():
    loose = []
    for m, p in MODULES.items():
        doc = " ".join((ast.get_docstring(ast.parse(p.read_text())) or "").split())
        doc = _CLAIM.sub("", doc)
        loose += [f"{p.relative_to(REPO)}: {hit.group(0)!r}" for hit in _FREE_TEXT_CLAIM.finditer(doc)]
    assert loose == [], "state imports as 'Imports: ...; package: ...' so that this test checks them"
    # the headers issue 12 found wrong are among the checked ones
    named = {"results", "tracking._overlap", "errors", "settings", "calibration", "axes"}
    assert {f"{PKG}.{m}" for m in named} <= set(CLAIMS)


def test_modules_called_leaves_import_only_errors():
    leaves = [m for m, p in MODULES.items() if "leaf module" in (ast.get_docstring(ast.parse(p.read_text())) or "")]
    assert {f"{PKG}.errors", f"{PKG}.settings", f"{PKG}.calibration"} <= set(leaves)
    assert _violations(leaves, lambda i: i.top == PKG and i.target != f"{PKG}.errors") == []


@pytest.mark.parametrize("mod", sorted(CLAIMS), ids=lambda m: m.removeprefix(f"{PKG}."))
def test_import_claims_are_true(mod):
    claim = CLAIMS[mod]
    ext_claim, pkg_claim = _names(claim.group("ext")), _names(claim.group("pkg"))
    if MODULES[mod].name == "__init__.py" and mod != PKG:  # a subpackage's header describes the subpackage
        scope = [m for m in MODULES if m == mod or m.startswith(mod + ".")]
    else:
        scope = [mod]
    imports = [i for m in scope for i in IMPORTS[m]
               if i.top not in STDLIB and not (i.target == mod or i.target.startswith(mod + ".") and len(scope) > 1)]
    ext = [i for i in imports if i.top != PKG]
    own = [i for i in imports if i.top == PKG]

    assert {i.top for i in ext} == set(ext_claim), f"{mod}: third-party imports differ from its docstring"
    eager = sorted({i.top for i in ext if not i.lazy and ext_claim.get(i.top)})
    assert eager == [], f"{mod}: docstring says lazily, imported at module level"

    def covered(target: str, name: str) -> bool:
        full = f"{PKG}.{name}"
        return target == full or target.startswith(full + ".")

    rel = sorted({i.target for i in own})
    assert [t for t in rel if not any(covered(t, n) for n in pkg_claim)] == [], f"{mod}: unlisted package imports"
    assert [n for n in pkg_claim if not any(covered(t, n) for t in rel)] == [], f"{mod}: listed but not imported"
    eager = sorted({n for n, lazily in pkg_claim.items() if lazily
                    and any(covered(i.target, n) and not i.lazy for i in own)})
    assert eager == [], f"{mod}: docstring says lazily, imported at module level"


def test_moved_errors_keep_their_old_import_paths():
    from trackmate_cellpose import bridge, cli, errors

    with pytest.warns(DeprecationWarning, match="trackmate_cellpose.cli.UsageError is deprecated"):
        assert cli.UsageError is errors.UsageError
    assert bridge.TrackMateError is errors.TrackMateError
    assert issubclass(errors.TrackMateError, RuntimeError) and errors.TrackMateError("x", log="L").log == "L"


def test_every_module_is_reached_from_the_packages_entry_points():
    # test-only code lives in tests/support (issue 12 item 8): every module of the package is imported, directly or
    # through others (lazy imports included), by the package itself or by the console script
    from trackmate_cellpose._deprecated import RENAMED_MODULES
    from trackmate_cellpose.cli import SUBCOMMANDS  # cli/_main.py imports these by name, which the scanner cannot see

    scripts = re.findall(r'^\S+ = "([\w.]+):\w+"$', (REPO / "pyproject.toml").read_text().split("[project.scripts]")[1]
                         .split("\n[")[0], re.M)
    assert scripts == [f"{PKG}.cli"]
    # modules the Java glue runs with `python -m` (the classic launch's worker)
    java = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "java-glue" / "src").rglob("*.java"))
    run_by_java = re.findall(r'"-m", "([\w.]+)"', java)
    assert run_by_java == [f"{PKG}.bridge.worker"]
    todo = [PKG, f"{PKG}.__main__", *scripts, *run_by_java] + [f"{PKG}.cli._{name}" for name in SUBCOMMANDS]
    seen: set[str] = set()
    while todo:
        mod = todo.pop()
        parts = mod.split(".")
        for k in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
            name = ".".join(parts[:k])
            if name in MODULES and name not in seen:
                seen.add(name)
                todo.extend(i.target for i in IMPORTS[name] if i.top == PKG)
                todo.extend(v for k, v in RENAMED_MODULES.items() if k.startswith(PKG))  # reached by old names
    assert sorted(set(MODULES) - seen) == []


# ---- the privacy rule ------------------------------------------------------------------------------------------
ENTRY_POINTS = {f"{PKG}.bridge.worker", f"{PKG}.__main__"}  # modules other programs run by name


def _is_private(mod: str) -> bool:
    return any(part.startswith("_") and part not in ("__init__", "__main__") for part in mod.split(".")[1:])


def _all_of(mod: str) -> list[str] | None:
    for node in ast.parse(MODULES[mod].read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


def test_modules_inside_subpackages_are_private_unless_run_by_name():
    public_in_sub = [m for m in MODULES if m.count(".") >= 2 and not _is_private(m) and m not in ENTRY_POINTS
                     and MODULES[m].name != "__init__.py"]
    assert public_in_sub == [], "a subpackage re-exports its names: name its modules _like_this"


def test_public_modules_declare_all_and_private_ones_do_not():
    public = [m for m in MODULES if not _is_private(m) and m != f"{PKG}.__main__"]
    assert [m for m in public if _all_of(m) is None] == []
    assert [m for m in MODULES if _is_private(m) and _all_of(m) is not None] == []


def test_every_public_name_exists():
    import importlib

    missing = [f"{m}.{n}" for m in MODULES if not _is_private(m) and m != f"{PKG}.__main__"
               for n in (_all_of(m) or []) if not hasattr(importlib.import_module(m), n)]
    assert missing == []


def test_scripts_benchmarks_and_docs_use_only_the_public_surface():
    private = re.compile(r"\b(trackmate_cellpose(?:\.[a-z]\w*)*\._[a-z]\w*)")
    # ``from trackmate_cellpose.segment import _adapter`` and ``from trackmate_cellpose.pipeline import _detect``
    private_from = re.compile(r"\bfrom (trackmate_cellpose(?:\.[a-z]\w*)*) import \(?([^)\n]*?\b_[a-z]\w*)")
    where = [p for d in ("scripts", "benchmarks", "docs") for p in (REPO / d).rglob("*")
             if p.suffix in (".py", ".md", ".groovy", ".bsh") and p.is_file()]
    hits = [f"{p.relative_to(REPO)}: {m}" for p in where for m in private.findall(p.read_text(encoding="utf-8"))]
    hits += [f"{p.relative_to(REPO)}: from {m[0]} import {m[1]}" for p in where
             for m in private_from.findall(p.read_text(encoding="utf-8"))]
    assert hits == []
