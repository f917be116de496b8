"""redact_url: what messages may show of a server's URL (never its credentials)."""

from __future__ import annotations

import pytest

from app.domain.urls import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:s3cret@127.0.0.1:8000/base", "http://127.0.0.1:8000/base"),
        ("https://tok@glider.internal", "https://glider.internal"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://u:p@[::1]:9000/x?token=abc#f", "http://[::1]:9000/x"),
        ("http://u:p@host:notaport/", "<unparsable URL>"),
    ],
)
def test_credentials_query_and_fragment_are_dropped(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redaction_is_idempotent() -> None:
    once = redact_url("http://user:s3cret@127.0.0.1:8000/base")
    assert redact_url(once) == once
