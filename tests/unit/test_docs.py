"""The README: short, its two set-up commands are the ones CI runs, and it points into the docs site."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_is_short():
    assert len(README.read_bytes()) <= 10_000  # everything else lives in docs/


def test_readme_first_two_commands_are_setup_plus_demo_and_tests():
    text = README.read_text()
    code = text.split("```bash", 1)[1].split("```", 1)[0]
    cmds = [line for line in code.splitlines() if line.strip() and not line.startswith("#")]
    assert cmds[0] == "bash scripts/setup.sh && .venv/bin/trackmate-cellpose demo"
    assert cmds[1].startswith("bash scripts/setup.sh && .venv/bin/python -m pytest")
    ci = (README.parent / ".ci" / "run").read_text()
    assert cmds[1].split("&& ", 1)[1] in ci  # CI runs the README's test command


def test_readme_names_the_three_ways_into_fiji_and_links_the_site():
    text = README.read_text()
    section = text.split("## Three ways into Fiji", 1)[1].split("\n## ", 1)[0]
    ways = [line for line in section.splitlines() if line.startswith("- **")]
    assert len(ways) == 3, ways
    for page in ("install", "trackmate-detector", "tutorial-3d", "cli", "formats", "performance", "troubleshooting"):
        assert f"(docs/{page}.md)" in text, page
