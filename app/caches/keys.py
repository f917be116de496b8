"""The reference-cache encryption key: 32 random bytes, written as text in `DG_CACHE_ENCRYPTION_KEY`.

Canonical format: URL-safe base64 of 32 bytes (44 characters, `=`-padded), the same text as
`cryptography.fernet.Fernet.generate_key()`. Generate one with

    python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"

`parse_encryption_key` also accepts, for convenience and migration:
- standard base64 of 32 bytes (`openssl rand -base64 32`), padded or not;
- 64 hex digits (`openssl rand -hex 32`);
- base64 of a Fernet key (the recipe DeltaGlider documented, `base64.b64encode(Fernet.generate_key())`).
Surrounding whitespace is ignored. Errors never echo the key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from app.errors import InvalidInput

KEY_BYTES = 32
_HEX = re.compile(r"[0-9a-fA-F]{64}")


def generate_key() -> str:
    """A fresh key in the canonical format."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _b64(text: str) -> bytes | None:
    """Decode standard or URL-safe base64, padding optional; None when it is not base64."""
    normal = text.replace("-", "+").replace("_", "/")
    normal += "=" * (-len(normal) % 4)
    try:
        return base64.b64decode(normal, validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_encryption_key(text: str) -> bytes:
    """The 32 key bytes encoded in `text`; InvalidInput when it is not one of the accepted formats."""
    text = text.strip()
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    raw = _b64(text)
    if raw is not None and len(raw) == KEY_BYTES:
        return raw
    if raw is not None and len(raw) == 44:  # base64 wrapped around a Fernet key
        inner = _b64(raw.decode("ascii", errors="replace"))
        if inner is not None and len(inner) == KEY_BYTES:
            return inner
    raise InvalidInput(
        "DG_CACHE_ENCRYPTION_KEY must be 32 random bytes as URL-safe base64 (44 characters); "
        'generate one with: python -c "import base64, os; '
        'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
    )
