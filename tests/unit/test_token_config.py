"""Bearer-token configuration (app.domain.tokens via Settings.auth): weak or malformed values are
refused with one line naming the variable, never the token."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from app.domain.tokens import MIN_TOKEN_LENGTH, parse_token_scopes
from app.errors import InvalidInput
from app.settings import AuthSettings

STRONG = "s" * MIN_TOKEN_LENGTH


def test_long_tokens_parse_into_scopes() -> None:
    assert parse_token_scopes('{"%s": ["read", "upload"]}' % STRONG, "DG_API_TOKENS") == {  # noqa: UP031
        STRONG: frozenset({"read", "upload"})
    }
    assert parse_token_scopes("  ", "DG_API_TOKENS") == {}


@pytest.mark.parametrize("weak", ["", "12345", "s" * (MIN_TOKEN_LENGTH - 1)])
def test_a_short_token_is_refused_without_echoing_it(weak: str) -> None:
    raw = '{"%s": ["read"], "%s": ["admin"]}' % (STRONG, weak)  # noqa: UP031
    with pytest.raises(InvalidInput) as caught:
        parse_token_scopes(raw, "DG_API_TOKENS")
    message = str(caught.value)
    assert message.startswith("DG_API_TOKENS: 1 token(s) shorter than 16 characters")
    assert "\n" not in message
    assert STRONG not in message
    assert not weak or weak not in message


@pytest.mark.parametrize("raw", ['{"%s": ' % STRONG, '["%s"]' % STRONG, '{"%s": "read"}' % STRONG])  # noqa: UP031
def test_malformed_json_is_refused_without_quoting_it(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_token_scopes(raw, "DG_API_TOKENS")
    assert STRONG not in str(caught.value)
    assert "JSON object of token -> list of scopes" in str(caught.value)


def test_the_file_variable_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"short": ["read"]}')
    with pytest.raises(InvalidInput, match=r"^DG_API_TOKENS_FILE \(.*tokens\.json\): 1 token"):
        AuthSettings(tokens_file=path).token_scopes()
    with pytest.raises(InvalidInput, match="cannot be read"):
        AuthSettings(tokens_file=tmp_path / "missing.json").token_scopes()
    assert AuthSettings(tokens=SecretStr('{"%s": ["read"]}' % STRONG), tokens_file=path).token_scopes()  # noqa: UP031
