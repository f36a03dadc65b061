"""MkDocs hook: the parts of the docs that are generated from the code, so that they cannot drift from it.

A page asks for generated text with an HTML comment on a line of its own:

``<!-- tmcp:setting KEY -->``
    the facts of one detector setting (panel label, TrackMate key, CLI option, unit, range, default, which panels
    show it) from :func:`trackmate_cellpose.settings.settings_table`, the table the Fiji panel reads too;
``<!-- tmcp:settings-table 2d -->`` / ``<!-- tmcp:settings-table 3d -->``
    the fields of the 2D / 3D configuration panel as one table;
``<!-- tmcp:tracker-table -->``
    the overlap tracker's settings (:func:`trackmate_cellpose.tracking.tracker_settings_table`);
``<!-- tmcp:cli-reference -->``
    every command and option of ``trackmate-cellpose`` (:func:`trackmate_cellpose.cli.build_parser`).

An unknown directive or key fails the build. ``render(markdown)`` is what the hook does to a page; the tests call it
directly. Uses only the package's public surface.
"""

from __future__ import annotations

import argparse
import functools
import re

DIRECTIVE = re.compile(r"^<!-- tmcp:(?P<name>[\w-]+)(?: (?P<arg>[^>]*?))? -->$", re.M)


class DocsGenerationError(ValueError):
    """A page asks for something the generator does not know (the build fails with this message)."""


def _default_text(row: dict) -> str:
    if row["default_doc"]:
        return row["default_doc"]
    value = row["default"]
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return f'"{value}"' if value else "empty"
    return f"{value:g}"


@functools.lru_cache(maxsize=1)
def _cli_options() -> dict[str, list[str]]:
    """TrackMate key -> the ``run`` options that set it (their help starts with the key)."""
    from trackmate_cellpose.cli import build_parser

    run = _subcommands(build_parser())["run"]
    found: dict[str, list[str]] = {}
    for action in run._actions:
        m = re.match(r"([A-Z][A-Z0-9_]+)\b", action.help or "")
        if m and action.option_strings:
            found.setdefault(m.group(1), []).extend(action.option_strings)
    return found


def _settings_rows() -> dict[str, dict]:
    from trackmate_cellpose.settings import settings_table

    return {row["key"]: row for row in settings_table()}


def _panels(row: dict) -> str:
    return "3D panel only" if row["only_3d"] else "2D and 3D panels"


def setting_facts(key: str) -> str:
    rows = _settings_rows()
    if key not in rows:
        raise DocsGenerationError(f"tmcp:setting {key}: no such setting; expected one of {', '.join(rows)}")
    row = rows[key]
    options = _cli_options().get(key, [])
    unit = "" if row["unit"] == "-" else f" | **Unit** {row['unit']}"
    cli = " ".join(f"`{o}`" for o in options) or "(Fiji only)"
    return (f"| **Panel field** | **TrackMate key** | **Range** | **Default** |\n|---|---|---|---|\n"
            f"| {row['label']} ({_panels(row)}) | `{key}` | {row['range']} | {_default_text(row)} |\n\n"
            f"*{row['doc']}*  \nCLI: {cli}{unit.replace(' | ', '; ')}\n")


def settings_table_md(panel: str) -> str:
    if panel not in ("2d", "3d"):
        raise DocsGenerationError(f"tmcp:settings-table takes 2d or 3d, got {panel!r}")
    lines = ["| Panel field | Key | Unit | Range | Default |", "|---|---|---|---|---|"]
    for key, row in _settings_rows().items():
        if row["only_3d"] and panel == "2d":
            continue
        unit = "" if row["unit"] == "-" else row["unit"]
        lines.append(f"| [{row['label']}](#{anchor(row['label'])}) | `{key}` | {unit} | {row['range']} | "
                     f"{_default_text(row)} |")
    return "\n".join(lines) + "\n"


def anchor(title: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading ``title`` (its default slugify)."""
    from markdown.extensions.toc import slugify

    return slugify(title, "-")


def tracker_table_md() -> str:
    from trackmate_cellpose.tracking import tracker_settings_table

    lines = ["| Setting | TrackMate key | Range | Default | Meaning |", "|---|---|---|---|---|"]
    for row in tracker_settings_table():
        key = f"`{row['key']}`" if row["key"] else "(ours only)"
        lines.append(f"| `{row['field']}` | {key} | {row['range']} | `{row['default']}` | {row['doc']} |")
    return "\n".join(lines) + "\n"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _option_cell(action: argparse.Action) -> str:
    names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest}`"
    if action.choices and not action.option_strings:
        return names
    if action.nargs == 0:
        return names
    metavar = action.metavar or (("{" + ",".join(map(str, action.choices)) + "}") if action.choices else
                                 action.dest.upper())
    return f"{names} `{metavar}`"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def cli_reference_md() -> str:
    from trackmate_cellpose.cli import build_parser

    parser = build_parser()
    out = [f"{_escape(parser.description)}\n",
           "Global options (before the command): `--version`, `--debug`. `--debug` works after the command too.\n"]
    for name, sub in _subcommands(parser).items():
        out.append(f"## `trackmate-cellpose {name}`\n")
        if sub.description:
            out.append(_escape(" ".join(sub.description.replace("``", "`").split())) + "\n")
        out.append("```text\n" + sub.format_usage().strip() + "\n```\n")
        for group in sub._action_groups:
            actions = [a for a in group._group_actions  # not --help, nor the hidden (deprecated) spellings
                       if not isinstance(a, argparse._HelpAction) and a.help != argparse.SUPPRESS]
            if not actions:
                continue
            title = {"positional arguments": "Arguments", "options": "Options"}.get(group.title, group.title)
            out.append(f"**{_escape(title[0].upper() + title[1:])}**\n")
            out.append("| option | meaning |\n|---|---|")
            for a in actions:
                help_text = " ".join((a.help or "").split())
                out.append(f"| {_option_cell(a)} | {_escape(help_text)} |")
            out.append("")
    return "\n".join(out) + "\n"


def render(markdown: str) -> str:
    """Replace every ``<!-- tmcp:... -->`` directive of a page by its generated Markdown."""

    def one(m: re.Match) -> str:
        name, arg = m.group("name"), (m.group("arg") or "").strip()
        if name == "setting":
            return setting_facts(arg)
        if name == "settings-table":
            return settings_table_md(arg)
        if name == "tracker-table" and not arg:
            return tracker_table_md()
        if name == "cli-reference" and not arg:
            return cli_reference_md()
        raise DocsGenerationError(f"unknown docs directive <!-- tmcp:{name} {arg} -->")

    return DIRECTIVE.sub(one, markdown)


def on_page_markdown(markdown, page, config, files):  # MkDocs calls it with these names
    try:
        return render(markdown)
    except DocsGenerationError as e:
        raise DocsGenerationError(f"{page.file.src_path}: {e}") from e
