"""The documentation site: it builds strictly with no network, every setting, CLI option and doctor check has its
entry, links and anchors resolve, pictures exist, and every code block runs or is checked (see docs/developer/docs.md).
"""

from __future__ import annotations

import argparse
import ast
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.docs_pages import DOCS, README, REPO, strip_code, anchors, blocks, cli_commands, hook, links, pages

PY_BLOCKS = [b for p in pages() for b in blocks(p) if b.lang == "python"]


def _ids(items):
    return [str(p.relative_to(DOCS)) for p in items]


# ---- the build ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """``mkdocs build --strict`` into a temporary folder: any broken link, anchor, snippet, omitted page or unknown
    directive fails it. The build runs with every proxy variable pointing at a closed port, so a download attempt
    fails it too."""
    out = tmp_path_factory.mktemp("docs") / "site"
    closed = "http://127.0.0.1:9"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HTTP_PROXY": closed, "HTTPS_PROXY": closed,
           "http_proxy": closed, "https_proxy": closed, "PYTHONPATH": str(REPO / "python")}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"),
                           "-d", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return out


def _text(html_file: Path) -> str:
    """A built page's text: tags dropped, entities decoded, white space collapsed."""
    text = re.sub(r"<[^>]+>", " ", html_file.read_text())
    return " ".join(html.unescape(text).split())


def test_site_builds_strict_without_network(site):
    """The theme loads no web font (``font: false``) and no plugin downloads anything; every page is built."""
    assert re.search(r"^\s+font: false", (REPO / "mkdocs.yml").read_text(), re.M)
    for page in pages():
        assert (site / page.relative_to(DOCS).with_suffix(".html")).is_file(), page
    assert "<!-- tmcp:" not in (site / "trackmate-detector.html").read_text()  # the hook ran
    api = (site / "api.html").read_text()
    assert "run_pipeline" in api and "DetectorSettings" in api  # mkdocstrings rendered the API
    assert "fonts.googleapis" not in (site / "index.html").read_text()


def test_built_parameter_guide_matches_the_settings_table(site):
    """The parameter guide a reader gets holds every setting's current facts: its label, key, range, default, unit,
    description and CLI options, in its own section and in the panel tables. Fails when a setting is added, renamed
    or changed and the page (or the build hook) does not follow."""
    from trackmate_cellpose.settings import settings_table

    h = hook()
    text = _text(site / "trackmate-detector.html")
    options = h._cli_options()
    for row in settings_table():
        facts = f"{row['label']} ({h._panels(row)}) {row['key']} {row['range']} {h._default_text(row)}"
        assert " ".join(html.unescape(facts).split()) in text, f"the built guide lacks the facts of {row['key']}"
        assert " ".join(row["doc"].split()) in text, row["key"]
        for option in options.get(row["key"], []):
            assert option in text, (row["key"], option)
        if row["unit"] != "-":
            assert f"Unit {row['unit']}" in text, row["key"]
    n_3d = sum(1 for r in settings_table())
    n_2d = sum(1 for r in settings_table() if not r["only_3d"])
    tables = re.findall(r"<table>(.*?)</table>", (site / "trackmate-detector.html").read_text(), re.S)
    rows_per_table = [t.count("<tr>") - 1 for t in tables]  # minus the header row
    assert n_2d in rows_per_table and n_3d in rows_per_table, (n_2d, n_3d, rows_per_table)


def test_built_cli_reference_matches_the_parser(site):
    """The CLI reference a reader gets lists every command, and every option with its current help, of the real
    parser (hidden deprecated spellings excepted)."""
    from trackmate_cellpose.cli import build_parser

    text = _text(site / "cli.html")
    for name, sub in hook()._subcommands(build_parser()).items():
        assert f"trackmate-cellpose {name}" in text, name
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            help_text = " ".join((action.help or "").split())
            assert help_text in text, (name, action.option_strings or action.dest, help_text[:60])
            for option in action.option_strings:
                assert option in text, (name, option)


#: options of other programs that the pages name in passing (mkdocs, pytest, sbatch, scripts/tools/local_slurm.py)
OTHER_PROGRAMS_OPTIONS = {"--strict", "--strict-markers", "--gres", "--mem", "--dir"}


def test_options_named_in_prose_exist():
    """An option a page names in running text (```--cellprob``` outside a code block) is an option of
    ``trackmate-cellpose`` or ``python -m benchmarks``: renaming one fails here until the prose follows."""
    import benchmarks
    from trackmate_cellpose.cli import build_parser

    known = set(OTHER_PROGRAMS_OPTIONS)
    for parser in (build_parser(), benchmarks.build_parser()):
        known.update(o for a in parser._actions for o in a.option_strings)
        for sub in hook()._subcommands(parser).values():
            known.update(o for a in sub._actions for o in a.option_strings)
    for page in [README, *pages()]:
        prose = strip_code(page.read_text())
        for option, glob in re.findall(r"`(--[a-z][a-z0-9-]*)(\*?)", prose):
            if glob:  # `--slurm-*`: a family of options
                assert any(k.startswith(option) for k in known), f"{page.name}: no option matches `{option}*`"
                continue
            assert option in known, f"{page.name}: `{option}` is no option of trackmate-cellpose or the benchmarks"


# ---- entries that must exist ----------------------------------------------------------------------------------------
def test_every_setting_has_its_section_headed_by_its_panel_label():
    from trackmate_cellpose.settings import settings_table

    text = (DOCS / "trackmate-detector.md").read_text()
    for row in settings_table():
        directive = f"<!-- tmcp:setting {row['key']} -->"
        assert text.count(directive) == 1, f"{row['key']} has no section (add '### {row['label']}' + {directive})"
        heading = text[:text.index(directive)].rstrip().splitlines()[-1]
        assert heading == f"### {row['label']}", (row["key"], heading)
    for panel in ("2d", "3d"):
        assert f"<!-- tmcp:settings-table {panel} -->" in text


def test_generated_setting_facts_come_from_the_table():
    from trackmate_cellpose.settings import settings_table

    h = hook()
    for row in settings_table():
        facts = h.setting_facts(row["key"])
        assert f"`{row['key']}`" in facts and row["range"] in facts and row["doc"] in facts and row["label"] in facts
    assert "--cellprob" in h.setting_facts("CELL_PROB_THRESHOLD")
    table_2d, table_3d = h.settings_table_md("2d"), h.settings_table_md("3d")
    only_3d = [r["key"] for r in settings_table() if r["only_3d"]]
    assert only_3d and all(k not in table_2d and k in table_3d for k in only_3d)
    with pytest.raises(h.DocsGenerationError, match="NO_SUCH_KEY"):
        h.render("<!-- tmcp:setting NO_SUCH_KEY -->")
    with pytest.raises(h.DocsGenerationError, match="unknown docs directive"):
        h.render("<!-- tmcp:nonsense -->")


def test_cli_reference_lists_every_command_and_option():
    from trackmate_cellpose.cli import build_parser

    assert "<!-- tmcp:cli-reference -->" in (DOCS / "cli.md").read_text()
    h = hook()
    reference = h.cli_reference_md()
    for name, sub in h._subcommands(build_parser()).items():
        assert f"## `trackmate-cellpose {name}`" in reference
        for action in sub._actions:
            if action.help == argparse.SUPPRESS:  # a deprecated spelling, hidden from --help too
                assert all(f"`{o}`" not in reference for o in action.option_strings), action.option_strings
                continue
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in reference, (name, option)


def _doctor_findings() -> dict[str, set[str]]:
    """Check name -> levels, from every ``r.add(NAME, LEVEL, ...)`` in diagnosis.py (a name built in an f-string counts
    by its constant tail: ``f"{'default ' if d else ''}model"`` is ``model``)."""
    tree = ast.parse((REPO / "python" / "trackmate_cellpose" / "diagnosis.py").read_text())
    found: dict[str, set[str]] = {}

    def strings(node) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return strings(node.body) | strings(node.orelse)
        if isinstance(node, ast.JoinedStr):
            tail = [v.value for v in node.values if isinstance(v, ast.Constant)]
            return {tail[-1].strip()} if tail else set()
        if isinstance(node, ast.Name):  # a variable: its assignment is found below
            return {f"${node.id}"}
        return set()

    # a variable is resolved within its function (two checks may each have their own ``level``)
    for scope in [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        assigned: dict[str, set[str]] = {}
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                assigned.setdefault(node.targets[0].id, set()).update(strings(node.value))
        for node in ast.walk(scope):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add"
                    and len(node.args) >= 2):
                names = {n for s in strings(node.args[0])
                         for n in (assigned.get(s[1:], set()) if s[0] == "$" else {s})}
                levels = {v for s in strings(node.args[1])
                          for v in (assigned.get(s[1:], set()) if s[0] == "$" else {s})}
                for name in names:
                    found.setdefault(name, set()).update(levels)
    return found


def test_every_doctor_check_has_its_troubleshooting_entry():
    findings = _doctor_findings()
    assert {"torch", "cellpose", "device", "model", "fiji glue", "fiji classic"} <= set(findings), findings
    text = (DOCS / "troubleshooting.md").read_text()
    sections = dict(re.findall(r"^### `([^`]+)`\n(.*?)(?=^##|\Z)", text, re.M | re.S))
    for name, levels in findings.items():
        assert name in sections, f"doctor check {name!r} has no '### `{name}`' section in troubleshooting.md"
        for level, tag in (("warn", "[warn]"), ("error", "[FAIL]")):
            if level in levels:
                assert tag in sections[name], f"troubleshooting.md: {name!r} can report {tag}; say what to do"
    assert set(sections) <= set(findings), f"sections for checks doctor does not make: {set(sections) - set(findings)}"


def test_every_dated_measurement_has_its_history_page():
    """Each dated record in ``benchmarks/results/`` is shown on the site: a page in ``docs/performance/history/``
    that includes it, and a row of that folder's index that links the page."""
    history = DOCS / "performance" / "history"
    index = (history / "index.md").read_text()
    records = sorted(p.name for p in (REPO / "benchmarks" / "results").glob("????-??-??-*.md"))
    assert records
    for name in records:
        page = history / name
        assert page.is_file(), f"benchmarks/results/{name} has no page docs/performance/history/{name}"
        assert f'--8<-- "benchmarks/results/{name}"' in page.read_text(), page
        assert f"]({name})" in index, f"docs/performance/history/index.md has no row for {name}"


# ---- links, anchors, pictures ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", [README, *pages()], ids=["README.md", *_ids(pages())])
def test_relative_links_and_anchors_resolve(page):
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: link to {target}: {dest} does not exist"
        if anchor and dest.suffix == ".md":
            assert anchor in anchors(dest), f"{page.name}: link to {target}: no such anchor in {dest.name}"


def test_pictures_exist_and_stay_small():
    shown = set()
    for page in [README, *pages()]:
        for target in links(page):
            if target.endswith((".png", ".gif", ".svg")) and not re.match(r"^[a-z]+:", target):
                shown.add((page.parent / target).resolve())
    assert shown, "no pictures found"
    for p in shown:
        assert p.is_file(), p
    images = DOCS / "images"
    total = sum(p.stat().st_size for p in images.glob("*.png"))
    assert total < 800_000, f"docs/images holds {total / 1e3:.0f} kB of PNG: shrink them"
    unused = {p.resolve() for p in images.glob("*.png")} - shown
    assert not unused, f"pictures no page shows: {sorted(p.name for p in unused)}"


# ---- code blocks ----------------------------------------------------------------------------------------------------
def test_every_code_block_has_a_known_language():
    for page in [README, *pages()]:
        for b in blocks(page):
            assert b.lang in ("python", "bash", "json", "groovy", "text"), f"{b.where}: ```{b.lang}"


@pytest.mark.parametrize("block", [b for p in [README, *pages()] for b in blocks(p) if b.lang == "bash"],
                         ids=lambda b: b.where)
def test_shell_blocks_parse_and_their_commands_exist(block):
    from trackmate_cellpose.cli import build_parser

    proc = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
    assert proc.returncode == 0, f"{block.where}: {proc.stderr}"
    import benchmarks

    for program, argv in cli_commands(block.code):
        parser = build_parser() if program == "trackmate-cellpose" else benchmarks.build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:
            pytest.fail(f"{block.where}: {program} {' '.join(argv)} is not a valid command (exit {e.code})")
        assert getattr(args, "func", None) or getattr(args, "suite", None), f"{block.where}: {argv} names no command"


def test_json_and_groovy_blocks_are_valid():
    from trackmate_cellpose.settings import TRACKMATE_KEYS

    for page in [README, *pages()]:
        for b in blocks(page):
            if b.lang == "json":
                data = json.loads(b.code)
                assert set(data) <= set(TRACKMATE_KEYS), b.where
            elif b.lang == "groovy":
                keys = set(re.findall(r'ds\.put\("([A-Z0-9_]+)"', b.code))  # detector settings it sets, if any
                assert keys <= set(TRACKMATE_KEYS), (b.where, keys - set(TRACKMATE_KEYS))


@pytest.mark.parametrize("block", [b for b in PY_BLOCKS if b.mode == "syntax"], ids=lambda b: b.where)
def test_python_blocks_marked_syntax_compile(block):
    compile(block.code, block.where, "exec")


def _run_page(page: Path, modes: set[str], tmp_path, monkeypatch):
    todo = [b for b in blocks(page) if b.lang == "python" and b.mode in modes]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["docs-block"])
    namespace = {"__name__": "__main__"}
    for b in todo:
        exec(compile(b.code, b.where, "exec"), namespace)  # running the docs' code is the point


def _pages_with(modes: set[str]) -> list[Path]:
    return [p for p in pages() if any(b.lang == "python" and b.mode in modes for b in blocks(p))]


@pytest.mark.parametrize("page", _pages_with({"run"}), ids=_ids(_pages_with({"run"})))
def test_fast_python_blocks_run(page, tmp_path, monkeypatch):
    _run_page(page, {"run"}, tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("page", _pages_with({"slow"}), ids=_ids(_pages_with({"slow"})))
def test_all_python_blocks_run(page, tmp_path, monkeypatch):
    """The slow blocks too (cellpose inference), in page order with the fast ones."""
    from support.envs import CELLPOSE_MAJOR

    if CELLPOSE_MAJOR != 3:  # the pages run the bundled model, a cellpose-3 network (CI runs this under cellpose 3)
        pytest.skip("the docs' examples run the bundled cellpose-3 model: needs cellpose 3")
    _run_page(page, {"run", "slow"}, tmp_path, monkeypatch)
