"""Bearer-token configuration (app.settings.parse_tokens via Settings.auth): tokens shorter than
16 characters are refused, and the message never holds a token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.settings import MIN_TOKEN_LENGTH, AuthSettings, Secret, SettingsError, parse_tokens

STRONG = "s" * MIN_TOKEN_LENGTH


def test_long_tokens_parse_into_scopes() -> None:
    assert parse_tokens(json.dumps({STRONG: ["read", "upload"]})) == {STRONG: frozenset({"read", "upload"})}


@pytest.mark.parametrize("weak", ["", "12345", "s" * (MIN_TOKEN_LENGTH - 1)])
def test_a_short_token_is_refused_without_echoing_it(weak: str) -> None:
    with pytest.raises(ValueError, match="shorter than 16 characters") as caught:
        parse_tokens(json.dumps({STRONG: ["read"], weak: ["admin"]}))
    message = str(caught.value)
    assert message.startswith("has 1 token(s) shorter than 16 characters")
    assert "\n" not in message
    assert STRONG not in message
    assert not weak or weak not in message


def test_the_environment_value_is_checked_when_settings_are_read() -> None:
    with pytest.raises(SettingsError, match="shorter than 16 characters"):
        AuthSettings(tokens=Secret(json.dumps({"short": ["read"]})))


def test_the_file_is_checked_and_named(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"short": ["read"]}))
    with pytest.raises(ValueError, match=r"^DG_API_TOKENS_FILE: .*tokens\.json has 1 token\(s\) shorter"):
        AuthSettings(tokens_file=path).token_scopes()
