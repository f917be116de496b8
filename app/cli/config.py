"""`glider config table` and `glider config show`: the configuration as documentation and in effect.

The table is generated from `app.settings.Settings`, never written by hand: every environment
variable a settings field reads (its group's `env_prefix` + the field name, or the field's
validation aliases, first listed first), its type and constraints, its default and its
description. `make docs` pastes it into the README between the markers below, and
`tests/unit/test_readme_config_table.py` fails when the two differ. Secrets (`SecretStr` fields)
are never printed: the table gives no default for them and `show` masks any value that is set.
"""

from __future__ import annotations

import enum
import json
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import annotated_types
import click
from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from app.errors import InvalidInput
from app.settings import Settings

START_MARKER = "<!-- config-table:start -->"
END_MARKER = "<!-- config-table:end -->"
MASK = "********"

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


class Source(enum.StrEnum):
    DEFAULT = "default"
    ENVIRONMENT = "environment"


@dataclass(frozen=True, slots=True)
class ConfigVar:
    """One settings field as an operator sees it. `names[0]` is the canonical variable."""

    group: str
    field: str
    names: tuple[str, ...]
    type: str
    default: str
    description: str
    secret: bool


def env_names(field_name: str, info: FieldInfo, env_prefix: str) -> tuple[str, ...]:
    """The variables pydantic-settings reads for a field: its aliases if any, else prefix + name."""
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice).upper() for choice in alias.choices if isinstance(choice, str))
    if isinstance(alias, str):
        return (alias.upper(),)
    return ((env_prefix + field_name).upper(),)


def _is_secret(annotation: object) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _base_type(annotation: object) -> tuple[str, bool]:
    """A short type name for `annotation`, and whether None (unset) is allowed."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        inner = [arg for arg in args if arg is not type(None)]
        name, _ = _base_type(inner[0]) if len(inner) == 1 else (" or ".join(map(str, inner)), False)
        return name, len(inner) < len(args)
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(f"`{arg}`" for arg in args), False
    if typing.get_origin(annotation) is tuple:
        return "comma-separated list", False
    names: dict[object, str] = {
        bool: "bool",
        int: "integer",
        float: "number",
        str: "string",
        Path: "path",
        SecretStr: "secret",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation))), False


def _constraints(info: FieldInfo) -> str:
    parts: list[str] = []
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            parts.append(f"≥ {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Le):
            parts.append(f"≤ {item.le}")
        elif isinstance(item, annotated_types.Lt):
            parts.append(f"< {item.lt}")
    return ", ".join(parts)


def _type_text(info: FieldInfo) -> str:
    name, _ = _base_type(info.annotation)
    limits = _constraints(info)
    return f"{name}, {limits}" if limits else name


def format_value(value: object) -> str:
    """A value written the way the environment variable would be set."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _default_text(info: FieldInfo, secret: bool) -> str:
    default = info.get_default(call_default_factory=True)
    if default is None or default == ():
        return "unset"
    if secret:
        return "*(hidden)*"
    return f"`{format_value(default)}`"


def _groups(settings_cls: type[Settings]) -> list[tuple[str, type[BaseSettings]]]:
    groups: list[tuple[str, type[BaseSettings]]] = []
    for name, info in settings_cls.model_fields.items():
        group = info.annotation
        if not (isinstance(group, type) and issubclass(group, BaseSettings)):
            raise TypeError(f"Settings.{name} is not a settings group")
        groups.append((name, group))
    return groups


def config_vars(settings_cls: type[Settings] = Settings) -> tuple[ConfigVar, ...]:
    """Every settings field in declaration order (groups as Settings lists them)."""
    rows: list[ConfigVar] = []
    for group_name, group in _groups(settings_cls):
        prefix = str(group.model_config.get("env_prefix", ""))
        for field_name, info in group.model_fields.items():
            secret = _is_secret(info.annotation)
            rows.append(
                ConfigVar(
                    group=group_name,
                    field=field_name,
                    names=env_names(field_name, info, prefix),
                    type=_type_text(info),
                    default=_default_text(info, secret),
                    description=(info.description or "").strip(),
                    secret=secret,
                )
            )
    return tuple(rows)


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


@dataclass(frozen=True, slots=True)
class EffectiveValue:
    name: str
    value: str
    source: str


def _value_text(value: object) -> str:
    if isinstance(value, SecretStr):
        return MASK
    return "" if value is None else format_value(value)


def _set_by(names: tuple[str, ...], environ: typing.Mapping[str, str]) -> str:
    """Which of `names` the environment sets (matched case-insensitively, like pydantic-settings)."""
    present = {key.upper() for key in environ}
    return next((name for name in names if name in present), Source.ENVIRONMENT.value)


def effective_values(
    settings: Settings, environ: typing.Mapping[str, str] | None = None
) -> tuple[EffectiveValue, ...]:
    """Every variable's value in `settings`, secrets masked, with where it came from."""
    environ = os.environ if environ is None else environ
    rows = {(row.group, row.field): row for row in config_vars(type(settings))}
    values: list[EffectiveValue] = []
    for group_name in type(settings).model_fields:
        group = getattr(settings, group_name)
        assert isinstance(group, BaseModel)
        for field_name in type(group).model_fields:
            row = rows[(group_name, field_name)]
            explicit = field_name in group.model_fields_set
            source = _set_by(row.names, environ) if explicit else Source.DEFAULT.value
            values.append(EffectiveValue(row.names[0], _value_text(getattr(group, field_name)), source))
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
