"""Settings for one CLI command, and settings errors as one line each.

A bad value in any variable stops the command with `glider: <VARIABLE> ... ; e.g. <VARIABLE>=<a
valid value>` and exit status 2 (InvalidInput): the variable named as the operator set it, what
is wrong in our words, a value that would work. The bad value itself is never echoed.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import InvalidInput

if TYPE_CHECKING:
    from app.settings import FieldSpec, Settings, SettingsError

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


def _example(field: FieldSpec, name: str) -> str:
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


def describe(err: SettingsError) -> str:
    """One line per bad variable of `err`, each naming the variable the operator set."""
    # The value is never echoed: a secret pasted into the wrong variable must not be printed.
    lines = [
        f"{p.variable} {p.message}; e.g. {p.variable}={_example(p.field, p.variable)}" for p in err.problems
    ]
    return "\nglider: ".join(lines)


def load_settings() -> Settings:
    """`Settings()` from the environment; InvalidInput with one line per bad variable.

    Imported lazily: reading Settings costs start-up that `--help` should not pay."""
    from app.settings import Settings, SettingsError  # noqa: PLC0415

    try:
        return Settings()
    except SettingsError as err:
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
        s3 = dataclasses.replace(settings.s3, endpoint_url=endpoint_url)
        settings = dataclasses.replace(settings, s3=s3)
    return settings
