"""How an `Entry` is laid out in a shared store: the payload as raw bytes, the fence as a decimal
integer (Lua compares it), and the times as a compact versioned JSON object.

Schema 1: `{"v":1,"c":computed_at,"f":fresh_until,"s":stale_until}` (Unix seconds, floats).
An unknown schema version reads as "no entry" so a rolling upgrade recomputes, never misreads.
"""

from __future__ import annotations

import json

from app.coordination.base import Entry

SCHEMA_VERSION = 1


def encode_times(entry: Entry) -> bytes:
    doc = {"v": SCHEMA_VERSION, "c": entry.computed_at, "f": entry.fresh_until, "s": entry.stale_until}
    return json.dumps(doc, separators=(",", ":")).encode("ascii")


def decode_entry(payload: bytes | None, fence: bytes | None, times: bytes | None) -> Entry | None:
    """The entry, or None when any part is missing, malformed, or of another schema version."""
    if payload is None or fence is None or times is None:
        return None
    try:
        doc = json.loads(times)
        if not isinstance(doc, dict) or doc.get("v") != SCHEMA_VERSION:
            return None
        return Entry(
            payload=payload,
            fence=int(fence),
            computed_at=float(doc["c"]),
            fresh_until=float(doc["f"]),
            stale_until=float(doc["s"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
