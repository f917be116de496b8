"""What the settings groups share: the base group (reading the environment), list and URL parsing,
token JSON, cache root."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict
from pydantic.fields import FieldInfo

# Comma-separated in the environment (`split_commas` runs before validation): never JSON.
CommaList = tuple[str, ...]


def split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


MIN_TOKEN_LENGTH = 16


def parse_tokens(raw: str) -> dict[str, frozenset[str]]:
    """`{"token": ["scope", ...]}` as a mapping; ValueError saying what is wrong (never the token)."""
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"is not valid JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(scopes, list) and all(isinstance(s, str) for s in scopes) for scopes in parsed.values()
    ):
        raise ValueError("must be a JSON object mapping each token to a list of scopes")
    weak = sum(len(token) < MIN_TOKEN_LENGTH for token in parsed)
    if weak:
        # A short token can be guessed (401s are answered as fast as the service can).
        raise ValueError(
            f"has {weak} token(s) shorter than {MIN_TOKEN_LENGTH} characters: use long random tokens "
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return {str(tok): frozenset(scopes) for tok, scopes in parsed.items()}


def http_url(value: str | None) -> str | None:
    """An http(s) URL with a host, or None for an unset or empty variable."""
    if value is None or not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.strip()


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def default_cache_root() -> Path:
    """Under the user's cache directory when it is writable, else the system temp directory."""
    home_cache = Path.home() / ".cache"
    try:
        home_cache.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=home_cache, delete=True)  # noqa: SIM115
        probe.close()
        return home_cache / "glider"
    except OSError:
        return Path(tempfile.gettempdir()) / "glider"


def env_names(field_name: str, info: FieldInfo, env_prefix: str) -> tuple[str, ...]:
    """The variables a field reads: its validation aliases if any (first listed wins), else the
    group's prefix + the field name. Upper-case; matched case-insensitively."""
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice).upper() for choice in alias.choices if isinstance(choice, str))
    if isinstance(alias, str):
        return (alias.upper(),)
    return ((env_prefix + field_name).upper(),)


def env_values(group: type[Group], environ: Mapping[str, str]) -> dict[str, str]:
    """The raw value of each of `group`'s fields the environment sets, by field name."""
    present = {key.upper(): value for key, value in environ.items()}
    values = {}
    for name, info in group.model_fields.items():
        var = next((n for n in env_names(name, info, group.env_prefix) if n in present), None)
        if var is not None:
            values[name] = present[var]
    return values


class Group(BaseModel):
    """A settings group: each field from the environment (see `env_names`), keyword arguments over it.

    Read by hand rather than with pydantic-settings: importing that costs every CLI process ~30 ms
    of CPU (about a tenth of a small `glider cp`), and these groups need only its environment
    source: plain strings validated by pydantic, never JSON-decoded, no dotenv or secrets files."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_default=True)
    env_prefix: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        super().__init__(**(env_values(type(self), os.environ) | values))
