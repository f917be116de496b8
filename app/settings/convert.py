"""Environment strings (or keyword values) to typed settings values, and what is wrong with them.

Pure functions over a settings class's dataclass fields and type hints. The rules are those the
groups had under pydantic (lax mode, environment strings never JSON-decoded), so operators' values
keep their meaning: whole numbers may have `_` separators and a `.0` tail but no other fraction,
booleans are true/false/1/0/yes/no/on/off/t/f/y/n in any case, lists are comma-separated, a
`Literal` or enum takes its exact values, `X | None` is None only when unset.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path

from app.settings.fields import SPEC, Secret, Spec, split_commas

_WHOLE = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a settings class as the environment sees it. `names[0]` is the canonical
    variable; `factory` is set for a nested group (built, not read from a variable)."""

    name: str
    annotation: object
    names: tuple[str, ...]
    default: object
    spec: Spec
    factory: Callable[[], object] | None

    @property
    def secret(self) -> bool:
        return self.annotation is Secret or Secret in typing.get_args(self.annotation)


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """A bad value: the field, the variable the operator set (else the field's first), what is wrong."""

    field: FieldSpec
    variable: str
    message: str


class SettingsError(ValueError):
    """Every bad value of a settings object, one `Problem` per field, in declaration order."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        super().__init__("\n".join(f"{p.variable} {p.message}" for p in problems))
        self.problems = problems


_SPECS: dict[type, tuple[FieldSpec, ...]] = {}


def field_specs(cls: type) -> tuple[FieldSpec, ...]:
    """The fields of the dataclass `cls` in declaration order, type hints resolved (once per class)."""
    if cls in _SPECS:
        return _SPECS[cls]
    hints = typing.get_type_hints(cls)
    prefix = str(getattr(cls, "env_prefix", ""))
    specs = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(SPEC, Spec())
        names = tuple(n.upper() for n in spec.names) or ((prefix + f.name).upper(),)
        factory = None if f.default_factory is dataclasses.MISSING else f.default_factory
        default = None if f.default is dataclasses.MISSING else f.default
        specs.append(FieldSpec(f.name, hints[f.name], names, default, spec, factory))
    _SPECS[cls] = tuple(specs)
    return _SPECS[cls]


def read(cls: type, environ: Mapping[str, str], overrides: Mapping[str, object]) -> dict[str, object]:
    """Each field's value: the keyword override, else its first variable set (matched
    case-insensitively), else its default; nested groups built. SettingsError lists every bad one."""
    specs = field_specs(cls)
    unknown = set(overrides) - {f.name for f in specs}
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    present = {key.upper(): value for key, value in environ.items()}
    values: dict[str, object] = {}
    problems: list[Problem] = []
    for f in specs:
        if f.factory is not None:
            try:
                values[f.name] = overrides[f.name] if f.name in overrides else f.factory()
            except SettingsError as err:
                problems.extend(err.problems)
            continue
        given = f.name in overrides
        var = None if given else next((n for n in f.names if n in present), None)
        raw = overrides[f.name] if given else present[var] if var is not None else f.default
        try:
            values[f.name] = convert(f, raw)
        except ValueError as err:
            message = str(err)
            problems.append(Problem(f, var or f.names[0], message[:1].lower() + message[1:]))
    if problems:
        raise SettingsError(tuple(problems))
    return values


def convert(field: FieldSpec, raw: object) -> object:
    """`raw` as the field's type, within its bounds, through its check; ValueError in our words."""
    value = parse(field.annotation, raw)
    spec = field.spec
    if isinstance(value, int | float) and not isinstance(value, bool):
        # pydantic's order (a NaN fails the first bound checked) and its float bounds ("0.0").
        bound = float if isinstance(value, float) else int
        if spec.le is not None and not value <= spec.le:
            raise ValueError(f"must be at most {bound(spec.le)}")
        if spec.lt is not None and not value < spec.lt:
            raise ValueError(f"must be less than {bound(spec.lt)}")
        if spec.ge is not None and not value >= spec.ge:
            raise ValueError(f"must be at least {bound(spec.ge)}")
        if spec.gt is not None and not value > spec.gt:
            raise ValueError(f"must be more than {bound(spec.gt)}")
    return spec.check(value) if spec.check is not None else value


def one_of(choices: tuple[object, ...]) -> str:
    """`'a', 'b' or 'c'`, as the operator reads a list of allowed values."""
    shown = [repr(c) for c in choices]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def parse(annotation: object, raw: object) -> object:
    """`raw` (an environment string or a keyword value) as `annotation`; ValueError if it is not."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is types.UnionType or origin is typing.Union:
        if raw is None and type(None) in args:
            return None
        [annotation] = [arg for arg in args if arg is not type(None)]
        return parse(annotation, raw)
    if origin is typing.Literal:
        if raw in args:
            return raw
        raise ValueError(f"must be one of {one_of(args)}")
    if origin is tuple:
        items = split_commas(raw)
        if not isinstance(items, tuple | list):
            raise ValueError("is not a comma-separated list")
        return tuple(parse(args[0], item) for item in items)
    if annotation is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        raise ValueError("is not a boolean (true or false)")
    if annotation is int:
        return _whole(raw)
    if annotation is float:
        return _number(raw)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(raw)
        except ValueError:
            raise ValueError(f"must be one of {one_of(tuple(m.value for m in annotation))}") from None
    if annotation is Secret:
        return Secret(raw) if isinstance(raw, str) else _exactly(Secret, raw, "is not a string")
    if annotation is Path:
        return Path(raw) if isinstance(raw, str) else _exactly(Path, raw, "is not a path")
    if annotation is str:
        return _exactly(str, raw, "is not a string")
    raise TypeError(f"settings cannot read type {annotation!r}")


def _exactly(kind: type, raw: object, problem: str) -> object:
    if isinstance(raw, kind):
        return raw
    raise ValueError(problem)


def _whole(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()):
        try:
            return int(raw.strip().partition(".")[0])
        except ValueError:  # more digits than Python converts
            pass
    raise ValueError("is not a whole number")


def _number(raw: object) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str) and raw.isascii():
        try:
            return float(raw)
        except ValueError:
            pass
    raise ValueError("is not a number")
