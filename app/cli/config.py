"""`glider config table` and `glider config show`: the configuration as documentation and in effect.

The table comes from `app.cli.config_table` (generated from Settings); `show` prints the value
each variable has in this environment and which variable set it. Secrets are never printed: the
table gives no default for them and `show` masks any value that is set.
"""

from __future__ import annotations

import enum
import json
import os
import typing
from dataclasses import dataclass
from pathlib import Path

import click

from app.cli.config_table import END_MARKER, START_MARKER, render_table, replace_section
from app.cli.config_vars import config_vars, format_value
from app.settings import Group, Secret, Settings

MASK = "********"


class Source(enum.StrEnum):
    DEFAULT = "default"
    ENVIRONMENT = "environment"


@dataclass(frozen=True, slots=True)
class EffectiveValue:
    name: str
    value: str
    source: str


def _value_text(value: object) -> str:
    if isinstance(value, Secret):
        return MASK
    return "" if value is None else format_value(value)


def _set_by(names: tuple[str, ...], environ: typing.Mapping[str, str]) -> str:
    """Which of `names` the environment sets (matched case-insensitively, as `Group` reads them)."""
    present = {key.upper() for key in environ}
    return next((name for name in names if name in present), Source.DEFAULT.value)


def effective_values(
    settings: Settings, environ: typing.Mapping[str, str] | None = None
) -> tuple[EffectiveValue, ...]:
    """Every variable's value in `settings`, secrets masked, with the variable that set it (else
    the default: keyword values given to a group in code are not the environment's)."""
    environ = os.environ if environ is None else environ
    values: list[EffectiveValue] = []
    for row in config_vars(type(settings)):
        group = getattr(settings, row.group)
        assert isinstance(group, Group)
        value = _value_text(getattr(group, row.field))
        values.append(EffectiveValue(row.names[0], value, _set_by(row.names, environ)))
    return tuple(values)


def load_settings() -> Settings:
    """Settings from the environment; a bad value is InvalidInput naming it (never echoing secrets)."""
    from app.cli.settings import load_settings as load  # noqa: PLC0415 - one rule for every command

    return load()


@click.group("config")
def config_group() -> None:
    """Configuration: the reference table and the values in effect."""


@click.command("table")
@click.option(
    "--write",
    "target",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=f"Rewrite the section between {START_MARKER} and {END_MARKER} of this file instead of printing.",
)
def table_command(target: Path | None) -> None:
    """Print the Markdown table of every environment variable Glider reads."""
    table = render_table()
    if target is None:
        click.echo(table, nl=False)
        return
    document = target.read_text(encoding="utf-8")
    updated = replace_section(document, table)
    if updated != document:
        target.write_text(updated, encoding="utf-8")
    click.echo(f"{target}: configuration table {'updated' if updated != document else 'unchanged'}")


@click.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object of variable -> value.")
def show_command(as_json: bool) -> None:
    """Print the configuration in effect (secrets masked) and where each value came from."""
    values = effective_values(load_settings())
    if as_json:
        click.echo(json.dumps({v.name: {"value": v.value, "source": v.source} for v in values}, indent=2))
        return
    width = max(len(v.name) for v in values)
    for v in values:
        origin = "" if v.source == Source.DEFAULT else f"  (from {v.source})"
        click.echo(f"{v.name:<{width}}  {v.value or '(unset)'}{origin}")


config_group.add_command(table_command)
config_group.add_command(show_command)


def register(group: click.Group) -> None:
    """Attach this module's commands to the top-level group."""
    group.add_command(config_group)
