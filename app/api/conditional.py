"""HTTP validators: ETags and If-None-Match (weak comparison, RFC 9110 section 13.1.2)."""

from __future__ import annotations

import hashlib
import json


def weak_etag(payload: dict[str, object]) -> str:
    """A weak ETag over a JSON-able payload: equal figures, equal tag, whatever their age."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return f'W/"{digest[:32]}"'


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when the client's If-None-Match already names `etag` (so the answer is 304)."""
    if not if_none_match:
        return False
    wanted = _opaque(etag)
    for candidate in if_none_match.split(","):
        text = candidate.strip()
        if text == "*" or _opaque(text) == wanted:
            return True
    return False


def strong_etag(value: str) -> str:
    """Quote an engine ETag (`sha256:<hex>` or an S3 ETag) as an HTTP entity tag."""
    return '"' + value.strip('"') + '"'
