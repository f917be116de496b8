"""The README's configuration reference: one Markdown table per settings group.

Generated from `config_vars`, never written by hand: `make docs` (`glider config table --write
README.md`) pastes it between the markers below, and `tests/unit/test_readme_config_table.py`
fails when the README's copy differs.
"""

from __future__ import annotations

from app.cli.config_vars import ConfigVar, config_vars
from app.errors import InvalidInput

START_MARKER = "<!-- config-table:start -->"
END_MARKER = "<!-- config-table:end -->"

GROUP_TITLES = {
    "s3": "S3 connection",
    "engine": "Delta engine",
    "cache": "Reference cache",
    "stats": "Bucket statistics",
    "scheduler": "Scheduled jobs",
    "redis": "Coordination across replicas (Redis)",
    "auth": "Authentication",
    "server": "HTTP server",
    "log": "Logging",
    "assets": "Asset cache (`glider fetch`, `vc`, `prefill`)",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(rows: tuple[ConfigVar, ...] | None = None) -> str:
    """The Markdown configuration reference: one table per settings group."""
    rows = config_vars() if rows is None else rows
    parts: list[str] = []
    for group in dict.fromkeys(row.group for row in rows):
        parts += [
            f"**{GROUP_TITLES.get(group, group)}**",
            "",
            "| Variable | Type | Default | Description |",
            "|---|---|---|---|",
        ]
        for row in (r for r in rows if r.group == group):
            names = "<br>".join(f"`{name}`" for name in row.names)
            parts.append(f"| {names} | {_cell(row.type)} | {_cell(row.default)} | {_cell(row.description)} |")
        parts.append("")
    return "\n".join(parts).rstrip("\n") + "\n"


def _marker_span(document: str) -> tuple[int, int]:
    start = document.find(START_MARKER)
    end = document.find(END_MARKER)
    if start < 0 or end < start:
        raise InvalidInput(f"the document has no {START_MARKER} ... {END_MARKER} section")
    return start + len(START_MARKER), end


def extract_section(document: str) -> str:
    """The text between the markers, without the newline after the start marker."""
    begin, end = _marker_span(document)
    return document[begin:end].removeprefix("\n")


def replace_section(document: str, table: str) -> str:
    """`document` with the text between the markers replaced by `table`."""
    begin, end = _marker_span(document)
    return document[:begin] + "\n" + table + document[end:]
