"""Bearer-token configuration: `{"token": ["scope", ...]}` JSON, and the rule that tokens are long.

A short token can be guessed (the service answers 401s as fast as it can); 16 characters of a
random alphabet is the floor, `secrets.token_urlsafe(32)` (43 characters) the recommendation.
Errors name the configuration source and never a token: parser messages that quote the input
are dropped.
"""

from __future__ import annotations

import json

from app.errors import InvalidInput

MIN_TOKEN_LENGTH = 16


def parse_token_scopes(raw: str, source: str) -> dict[str, frozenset[str]]:
    """Token -> scopes from `raw` (empty: none). InvalidInput naming `source` when the JSON is not
    an object of lists or a token is shorter than MIN_TOKEN_LENGTH characters."""
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(isinstance(v, list) for v in parsed.values()):
        raise InvalidInput(
            f'{source} must be a JSON object of token -> list of scopes: {{"token": ["read"]}}'
        )
    weak = sum(len(token) < MIN_TOKEN_LENGTH for token in parsed)
    if weak:
        raise InvalidInput(
            f"{source}: {weak} token(s) shorter than {MIN_TOKEN_LENGTH} characters; use long random "
            "tokens, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return {str(token): frozenset(str(s) for s in scopes) for token, scopes in parsed.items()}
