"""The sidecar kept next to each cached asset: which remote version the local bytes are.

One small JSON document per asset, replaced atomically. A sidecar that is missing, unreadable or
of another shape counts as "no local copy" (the asset is fetched again), never as an error.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from app.assets.source import RemoteVersion
from app.domain import files

log = logging.getLogger(__name__)

FORMAT = 1


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """`fetched_at`: when these bytes arrived; `validated_at`: when the remote last confirmed them."""

    bucket: str
    key: str
    version: RemoteVersion
    fetched_at: datetime
    validated_at: datetime

    def confirmed(self, now: datetime, version: RemoteVersion | None = None) -> CacheRecord:
        """The same bytes, confirmed current at `now` (optionally under a new validator)."""
        return replace(self, validated_at=now, version=version or self.version)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "bucket": self.bucket,
                "key": self.key,
                "validator": self.version.validator,
                "locator": self.version.locator,
                "sha256": self.version.sha256,
                "size": self.version.size,
                "fetched_at": self.fetched_at.isoformat(),
                "validated_at": self.validated_at.isoformat(),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> CacheRecord:
        """Raise ValueError (or KeyError/TypeError) on anything but a well-formed record."""
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError("not a cache record of a known format")
        version = RemoteVersion(
            validator=_text(raw["validator"]),
            locator=_text(raw["locator"]),
            sha256=_text(raw["sha256"]),
            size=int(raw["size"]),
        )
        fetched_at = datetime.fromisoformat(_text(raw["fetched_at"]))
        validated_at = datetime.fromisoformat(_text(raw["validated_at"]))
        if fetched_at.tzinfo is None or validated_at.tzinfo is None:
            raise ValueError("cache record times must carry a time zone")
        return cls(_text(raw["bucket"]), _text(raw["key"]), version, fetched_at, validated_at)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def load(path: Path, bucket: str, key: str) -> CacheRecord | None:
    """The record at `path` if it exists, parses and describes `bucket/key`; else None."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        record = CacheRecord.from_json(text)
    except (ValueError, KeyError, TypeError) as err:
        log.warning("ignoring unreadable asset cache record %s: %s", path, err)
        return None
    if (record.bucket, record.key) != (bucket, key):
        log.warning("ignoring asset cache record %s: it describes another object", path)
        return None
    return record


def save(path: Path, record: CacheRecord) -> None:
    files.write_text(path, record.to_json())
