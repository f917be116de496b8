"""DG_CACHE_ENCRYPTION_KEY parsing: the documented recipes all work, anything else is refused."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from app.caches.keys import generate_key, parse_encryption_key
from app.errors import InvalidInput

RAW = bytes(range(32))


def test_generated_key_round_trips_and_is_fresh() -> None:
    text = generate_key()
    assert len(text) == 44
    assert len(parse_encryption_key(text)) == 32
    assert generate_key() != text


def test_readme_one_liner_output_parses() -> None:
    command = "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"
    out = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, check=True).stdout
    assert len(parse_encryption_key(out)) == 32  # trailing newline tolerated


@pytest.mark.parametrize(
    "text",
    [
        base64.urlsafe_b64encode(RAW).decode(),
        base64.urlsafe_b64encode(RAW).decode().rstrip("="),
        base64.b64encode(RAW).decode(),  # openssl rand -base64 32
        RAW.hex(),  # openssl rand -hex 32
        RAW.hex().upper(),
        base64.b64encode(base64.urlsafe_b64encode(RAW)).decode(),  # DeltaGlider's documented recipe
        f"  {base64.urlsafe_b64encode(RAW).decode()}\n",
    ],
)
def test_accepted_formats(text: str) -> None:
    assert parse_encryption_key(text) == RAW


def test_fernet_generate_key_is_accepted() -> None:
    assert len(parse_encryption_key(Fernet.generate_key().decode())) == 32


@pytest.mark.parametrize(
    "text",
    ["", "short", base64.b64encode(os.urandom(16)).decode(), "z" * 64, "!" * 44, RAW.hex()[:-2]],
)
def test_rejected_without_echoing_the_key(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_encryption_key(text)
    assert "urlsafe_b64encode" in str(info.value)  # tells how to make a good one
    if len(text) > 8:
        assert text not in str(info.value)
