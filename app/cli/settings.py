"""Settings for one CLI command, and settings errors as one line each.

A bad value in any variable stops the command with `glider: <VARIABLE> ... ; e.g. <VARIABLE>=<a
valid value>` and exit status 2 (InvalidInput): the variable named as the operator set it, what
is wrong in our words, a value that would work. The bad value itself is never echoed.
"""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import InvalidInput

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

    from app.settings import Group, Settings

# A valid value for variables whose default is unset (others show their default).
_EXAMPLES = {
    "DG_S3_ENDPOINT_URL": "http://127.0.0.1:8333",
    "DG_S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "DG_API_TOKENS": """'{"<a long random token>": ["upload", "read", "admin"]}'""",
    "DG_API_TOKENS_FILE": "/etc/glider/tokens.json",
    "DG_CACHE_ENCRYPTION_KEY": '"$(openssl rand -hex 32)"',
    "DG_REDIS_URL": "redis://127.0.0.1:6379/0",
    "DG_S3_HTTPS_PROXY": "http://proxy.internal:3128",
    "HTTPS_PROXY": "http://proxy.internal:3128",
    "DG_S3_HTTP_PROXY": "http://proxy.internal:3128",
    "HTTP_PROXY": "http://proxy.internal:3128",
    "DG_S3_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
    "AWS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
    "DG_WARM_BUCKETS": "artifacts,releases",
    "DG_DELTA_EXTENSIONS": ".zip,.tar.gz,.jar",
    "DG_ASSET_SERVER_URL": "http://glider.internal:8080",
}


def _problem(error: ErrorDetails) -> str:
    """What is wrong, in our words, from one pydantic error."""
    kind, ctx = error["type"], error.get("ctx") or {}
    words = {
        "int_parsing": "is not a whole number",
        "int_from_float": "is not a whole number",
        "float_parsing": "is not a number",
        "bool_parsing": "is not a boolean (true or false)",
        "literal_error": f"must be one of {ctx.get('expected', '')}",
        "enum": f"must be one of {ctx.get('expected', '')}",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be more than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "json_invalid": "is not valid JSON",
    }
    if kind in words:
        return words[kind]
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


@dataclass(frozen=True, slots=True)
class _Field:
    """A settings field as the environment sees it: its variables, default, type, secrecy."""

    names: tuple[str, ...]
    default: object
    annotation: object
    secret: bool


def _fields(group_cls: type[Group]) -> dict[str, _Field]:
    """Every field of a settings group by field name, with the variables it reads."""
    from pydantic import SecretStr  # noqa: PLC0415 - the error path only

    from app.settings import env_names  # noqa: PLC0415

    fields = {}
    for name, info in group_cls.model_fields.items():
        names = env_names(name, info, group_cls.env_prefix)
        secret = info.annotation is SecretStr or SecretStr in typing.get_args(info.annotation)
        fields[name] = _Field(names, info.get_default(call_default_factory=True), info.annotation, secret)
    return fields


def _example(field: _Field, name: str) -> str:
    default = field.default
    if default not in (None, ()) and not field.secret:
        if isinstance(default, bool):
            return "true" if default else "false"
        if isinstance(default, float) and default.is_integer():
            return str(int(default))
        if isinstance(default, tuple):
            return ",".join(map(str, default))
        return str(default)
    if name in _EXAMPLES or field.names[0] in _EXAMPLES:
        return _EXAMPLES.get(name, _EXAMPLES.get(field.names[0], ""))
    return "/var/lib/glider" if Path in typing.get_args(field.annotation) else "..."


def describe(err: ValidationError) -> str:
    """One line per error of `err` (a Settings group's), each naming its variable."""
    from app.settings import Group, Settings  # noqa: PLC0415 - the error path only

    groups = {
        info.annotation.__name__: info.annotation
        for info in Settings.model_fields.values()
        if isinstance(info.annotation, type) and issubclass(info.annotation, Group)
    }
    group = groups.get(err.title)
    fields = _fields(group) if group is not None else {}
    lines = []
    present = {key.upper() for key in os.environ}
    for error in err.errors(include_url=False):
        where = str(error["loc"][0]) if error["loc"] else ""
        field = fields.get(where) or next((f for f in fields.values() if where.upper() in f.names), None)
        if field is None:
            lines.append(f"{where or err.title}: {_problem(error)}")
            continue
        # The variable the operator set (the first of a field's names that is set wins).
        name = next((n for n in field.names if n in present), field.names[0])
        # The value is never echoed: a secret pasted into the wrong variable must not be printed.
        lines.append(f"{name} {_problem(error)}; e.g. {name}={_example(field, name)}")
    return "\nglider: ".join(lines)


def load_settings() -> Settings:
    """`Settings()` from the environment; InvalidInput with one line per bad variable.

    Imported lazily: reading Settings costs start-up that `--help` should not pay."""
    from pydantic import ValidationError  # noqa: PLC0415

    from app.settings import Settings  # noqa: PLC0415

    try:
        return Settings()
    except ValidationError as err:
        raise InvalidInput(describe(err)) from None


def check_for_serving(settings: Settings) -> None:
    """What the service reads only when it starts serving, checked now: token scopes (and the
    tokens file), the cache encryption key. InvalidInput naming the variable."""
    from app.api.auth import TokenAuthority  # noqa: PLC0415
    from app.caches.keys import parse_encryption_key  # noqa: PLC0415

    key = settings.cache.encryption_key
    if settings.cache.encryption and key is not None:
        parse_encryption_key(key.get_secret_value())
    try:
        TokenAuthority.from_tokens(settings.auth.token_scopes())
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    except InvalidInput as err:
        raise InvalidInput(f"DG_API_TOKENS: {err}") from None


def command_settings(endpoint_url: str | None = None) -> Settings:
    """`load_settings()`; a given `endpoint_url` overrides DG_S3_ENDPOINT_URL."""
    settings = load_settings()
    if endpoint_url:
        s3 = settings.s3.model_copy(update={"endpoint_url": endpoint_url})
        settings = settings.model_copy(update={"s3": s3})
    return settings
