"""The README documents what the code does."""

from pathlib import Path

from trackmate_cellpose.settings import settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_matches_code():
    text = README.read_text()
    block = text.split("<!-- settings-table:start")[1].split("<!-- settings-table:end")[0]
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    assert len(rows) == len(settings_table())
    for line, r in zip(rows, settings_table()):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == f"`{r['key']}`"
        assert cells[1] == r["type"]
        default = f'"{r["default"]}"' if isinstance(r["default"], str) else (
            str(r["default"]).lower() if isinstance(r["default"], bool) else str(r["default"]))
        # a default that depends on the installed cellpose is documented for every version
        assert cells[2] == (f"`{r['default_doc']}`" if r["default_doc"] else f"`{default}`")
        assert cells[3] == r["unit"] and cells[4] == r["range"]
        assert cells[5] == r["doc"]


def test_readme_first_two_commands_are_setup_plus_demo_and_tests():
    text = README.read_text()
    code = text.split("```bash", 1)[1].split("```", 1)[0]
    cmds = [line for line in code.splitlines() if line.strip() and not line.startswith("#")]
    assert cmds[0] == "bash scripts/setup.sh && .venv/bin/trackmate-cellpose demo"
    assert cmds[1].startswith("bash scripts/setup.sh && .venv/bin/python -m pytest")
    ci = (README.parent / ".ci" / "run").read_text()
    assert cmds[1].split("&& ", 1)[1] in ci  # CI runs the README's test command
