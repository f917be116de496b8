"""Settings described as an operator sees them: every environment variable a field reads.

For each field of `app.settings.Settings`: the variables it reads (`app.settings.field_specs`: its
group's `env_prefix` + the field name, or the names its `setting` lists, first listed first), its type and
constraints in words, its default and its description. Secrets (`Secret` fields) get no default
shown. Both `glider config table` (the README's reference) and `glider config show` build on this.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from app.settings import FieldSpec, Group, Secret, Settings, field_specs


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
        item = args[0] if args else str
        if isinstance(item, type) and issubclass(item, enum.Enum):
            return "comma-separated list of " + ", ".join(f"`{member.value}`" for member in item), False
        return "comma-separated list", False
    names: dict[object, str] = {
        bool: "bool",
        int: "integer",
        float: "number",
        str: "string",
        Path: "path",
        Secret: "secret",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation))), False


def _constraints(field: FieldSpec) -> str:
    spec = field.spec
    bounds = (("≥", spec.ge), (">", spec.gt), ("≤", spec.le), ("<", spec.lt))
    return ", ".join(f"{sign} {bound}" for sign, bound in bounds if bound is not None)


def _type_text(field: FieldSpec) -> str:
    name, _ = _base_type(field.annotation)
    limits = _constraints(field)
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


def _default_text(field: FieldSpec) -> str:
    default = field.default
    if default is None or default == ():
        return "unset"
    if field.secret:
        return "*(hidden)*"
    return f"`{format_value(default)}`"


def _groups(settings_cls: type[Settings]) -> list[tuple[str, type[Group]]]:
    groups: list[tuple[str, type[Group]]] = []
    for field in field_specs(settings_cls):
        group = field.annotation
        if not (isinstance(group, type) and issubclass(group, Group)):
            raise TypeError(f"Settings.{field.name} is not a settings group")
        groups.append((field.name, group))
    return groups


def config_vars(settings_cls: type[Settings] = Settings) -> tuple[ConfigVar, ...]:
    """Every settings field in declaration order (groups as Settings lists them)."""
    rows: list[ConfigVar] = []
    for group_name, group in _groups(settings_cls):
        for field in field_specs(group):
            rows.append(
                ConfigVar(
                    group=group_name,
                    field=field.name,
                    names=field.names,
                    type=_type_text(field),
                    default=_default_text(field),
                    description=field.spec.description.strip(),
                    secret=field.secret,
                )
            )
    return tuple(rows)
