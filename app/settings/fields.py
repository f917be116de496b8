"""What the settings groups share: the base group, list and URL parsing, token JSON, cache root."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[tuple[str, ...], NoDecode]


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


class Group(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
