"""What the settings groups share: the `setting` field declaration, the `Secret` type, list and URL
parsing, token JSON, cache root."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

# Comma-separated in the environment (`split_commas` splits it): never JSON.
CommaList = tuple[str, ...]

SPEC = "glider.setting"  # the dataclass field metadata key `setting` fills


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """How one field is read: the variables naming it (empty: the group's prefix + its name; else
    the first listed that is set wins), its bounds, its description, and a check run on the
    converted value that returns the value to keep or raises ValueError in the operator's words."""

    names: tuple[str, ...] = ()
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    description: str = ""
    check: Callable[[Any], Any] | None = None


def setting(
    *,
    default: T,
    description: str,
    names: tuple[str, ...] = (),
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    check: Callable[[Any], Any] | None = None,
) -> T:
    """A settings field: `port: int = setting(default=8080, ge=0, le=65535, description=...)`."""
    spec = Spec(names, ge, gt, le, lt, description, check)
    return dataclasses.field(default=default, metadata={SPEC: spec})


class Secret:
    """A string never shown by repr or str (a log line or traceback holding settings stays safe)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)


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
