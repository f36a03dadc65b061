"""Reading the docs as the tests check them: the pages, their fenced code blocks (with their ``docs-test`` marker and
pymdown snippets resolved), their relative links, and the heading anchors MkDocs gives them."""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
README = REPO / "README.md"

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*$")
MARKER = re.compile(r"^\s*<!-- docs-test: (?P<mode>slow|syntax) -->\s*$")
SNIPPET = re.compile(r'^\s*--8<-- "(?P<path>[^"]+)"\s*$')
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\((?P<target>[^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    mode: str  # "run", "slow" or "syntax"
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)


def hook():
    """The MkDocs build hook (docs/_hooks/generated.py) as a module."""
    spec = importlib.util.spec_from_file_location("tmcp_docs_hook", DOCS / "_hooks" / "generated.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _resolve_snippets(code: str) -> str:
    out = []
    for line in code.splitlines():
        m = SNIPPET.match(line)
        out.append((REPO / m.group("path")).read_text().rstrip("\n") if m else line)
    return "\n".join(out) + "\n"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = m.group("indent"), m.group("lang"), i
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        body = "\n".join(ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i + 1:j])
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = MARKER.match(lines[k]) if k >= 0 else None
        found.append(Block(page, start + 1, lang, marker.group("mode") if marker else "run",
                           _resolve_snippets(body)))
        i = j + 1
    return found


def strip_code(text: str) -> str:
    """The page without its fenced blocks (links inside code are not links)."""
    out, inside = [], False
    for line in text.splitlines():
        if inside:
            inside = line.strip() != "```"
        elif FENCE.match(line):
            inside = True
        else:
            out.append(line)
    return "\n".join(out)


def links(page: Path) -> list[str]:
    text = strip_code(page.read_text())
    text = re.sub(r"`[^`\n]*`", "", text)
    return [m.group("target") for m in LINK.finditer(text)] + [m.group("target") for m in IMAGE.finditer(text)]


def anchors(page: Path) -> set[str]:
    """Heading ids as Python-Markdown's toc extension makes them (the page after the hook's generation), plus
    explicit ``{ #id }`` attributes."""
    from markdown.extensions.toc import slugify

    text = strip_code(hook().render(page.read_text()))
    found, seen = set(), {}
    for m in re.finditer(r"^#{1,6} (?P<title>.+?)\s*$", text, re.M):
        title = m.group("title")
        explicit = re.search(r"\{\s*#([\w-]+)\s*\}\s*$", title)
        if explicit:
            found.add(explicit.group(1))
            continue
        plain = re.sub(r"[`*]", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title))
        slug = slugify(plain, "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}_{n}")
    return found


def cli_commands(code: str) -> list[tuple[str, list[str]]]:
    """The commands of a shell block that a test can parse: ``("trackmate-cellpose", argv)`` for the CLI (also as
    ``python -m trackmate_cellpose``) and ``("benchmarks", argv)`` for ``python -m benchmarks``."""
    joined = re.sub(r"\\\n\s*", " ", code)
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        segment: list[str] = []
        for w in words + ["&&"]:
            if w in ("&&", "||", ";", "|"):
                while segment and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", segment[0]):
                    segment.pop(0)  # VAR=value before the command
                if segment and Path(segment[0]).name == "trackmate-cellpose":
                    commands.append(("trackmate-cellpose", segment[1:]))
                elif segment[1:3] == ["-m", "trackmate_cellpose"]:
                    commands.append(("trackmate-cellpose", segment[3:]))
                elif segment[1:3] == ["-m", "benchmarks"]:
                    commands.append(("benchmarks", segment[3:]))
                segment = []
            else:
                segment.append(w)
    return commands
