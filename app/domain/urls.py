"""URLs safe to show: what error messages and logs may say about a server's address."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["redact_url"]


def redact_url(url: str) -> str:
    """`url` as scheme://host[:port]/path: user-info (credentials), query and fragment dropped.

    Never raises: an unparsable URL comes back as a placeholder rather than verbatim, since it
    might still carry a secret."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:  # IPv6 literal: brackets again
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    if not parts.scheme and not netloc:
        return parts.path
    return f"{parts.scheme}://{netloc}{parts.path}"
