"""The stats cache document `.deltaglider/stats_{mode}.json` (pydantic model, wire format 1.0).

Shape of the seed (version, mode, computed_at, validation.object_count, validation.compressed_size,
stats with the eight BucketStats fields, nothing else inside `stats` so DeltaGlider's reader would
accept it) plus Glider's fields: `validation.fingerprint`, `exact`, `tool`.

`validation` describes the listing the stats were computed from: every object outside
`.deltaglider/` (references included), their stored bytes, and the fingerprint (see fingerprint.py).
A document without a fingerprint (e.g. written by another tool) can never validate: that is a miss.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.domain.keys import INTERNAL_PREFIX
from app.errors import BucketNotFound, GliderError, ObjectNotFound
from app.stats.model import BucketStats, StatsMode
from app.storage.base import ObjectStore

DOCUMENT_VERSION = "1.0"

_log = logging.getLogger(__name__)


def document_key(mode: StatsMode) -> str:
    return f"{INTERNAL_PREFIX}stats_{mode.value}.json"


class Validation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    object_count: int = Field(ge=0)
    compressed_size: int = Field(ge=0)
    fingerprint: str | None = None


class StatsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: str
    object_count: int = Field(ge=0)
    total_size: int = Field(ge=0)
    compressed_size: int = Field(ge=0)
    space_saved: int = Field(ge=0)
    average_compression_ratio: float = Field(ge=0.0, le=1.0)
    delta_objects: int = Field(ge=0)
    direct_objects: int = Field(ge=0)

    def to_stats(self) -> BucketStats:
        return BucketStats(**self.model_dump())


class StatsDocument(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str
    mode: StatsMode
    computed_at: datetime
    validation: Validation
    stats: StatsBody
    exact: bool = False
    tool: str | None = None

    @classmethod
    def build(
        cls,
        *,
        mode: StatsMode,
        stats: BucketStats,
        computed_at: datetime,
        object_count: int,
        compressed_size: int,
        fingerprint: str,
        exact: bool,
        tool: str,
    ) -> StatsDocument:
        return cls(
            version=DOCUMENT_VERSION,
            mode=mode,
            computed_at=computed_at,
            validation=Validation(
                object_count=object_count, compressed_size=compressed_size, fingerprint=fingerprint
            ),
            stats=StatsBody.model_validate(stats.to_dict()),
            exact=exact,
            tool=tool,
        )

    def encode(self) -> bytes:
        payload = self.model_dump(mode="json")
        payload["computed_at"] = self.computed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        # Indented: the document is tiny and people read it in S3 consoles.
        return json.dumps(payload, indent=2).encode("utf-8")

    def matches(self, fingerprint: str, object_count: int, compressed_size: int) -> bool:
        """True when this document describes exactly the listing with these figures."""
        v = self.validation
        return (
            v.fingerprint is not None
            and v.fingerprint == fingerprint
            and v.object_count == object_count
            and v.compressed_size == compressed_size
        )


class InvalidDocument(ValueError):
    """The bytes are not a usable stats document for this mode (why is in the message)."""


def decode_document(data: bytes, mode: StatsMode) -> StatsDocument:
    """Parse and check version and mode; raise InvalidDocument for anything unusable."""
    try:
        doc = StatsDocument.model_validate_json(data)
    except ValidationError as err:
        raise InvalidDocument(f"unparsable stats document: {err.error_count()} problem(s)") from None
    if doc.version != DOCUMENT_VERSION:
        raise InvalidDocument(f"stats document version {doc.version!r}, expected {DOCUMENT_VERSION!r}")
    if doc.mode != mode:
        raise InvalidDocument(f"stats document for mode {doc.mode.value!r}, expected {mode.value!r}")
    if doc.computed_at.tzinfo is None:
        doc = doc.model_copy(update={"computed_at": doc.computed_at.replace(tzinfo=UTC)})
    return doc


class DocumentStore:
    """Reads and writes the documents of any bucket, best effort (thread-safe, stateless).

    Absent: None. Unreadable (`on_error("read")`) or unusable (`on_error("parse")`): None too,
    a counted miss. A failed write logs a warning, calls `on_error("write")` and returns False.
    """

    def __init__(self, store: ObjectStore, on_error: Callable[[str], None]) -> None:
        self._store = store
        self._on_error = on_error

    def read(self, bucket: str, mode: StatsMode) -> StatsDocument | None:
        key = document_key(mode)
        try:
            data = self._store.get_bytes(bucket, key)
        except (ObjectNotFound, BucketNotFound):
            return None  # a plain miss (a missing bucket is reported by the LIST)
        except GliderError as err:
            _log.warning("reading stats cache %s of bucket %s failed: %s", key, bucket, err)
            self._on_error("read")
            return None
        try:
            return decode_document(data, mode)
        except InvalidDocument as err:
            _log.warning("ignoring stats cache %s of bucket %s: %s", key, bucket, err)
            self._on_error("parse")
            return None

    def write(self, bucket: str, mode: StatsMode, doc: StatsDocument) -> bool:
        key = document_key(mode)
        try:
            self._store.put_bytes(bucket, key, doc.encode(), content_type="application/json")
        except GliderError as err:
            _log.warning("writing stats cache %s of bucket %s failed: %s", key, bucket, err)
            self._on_error("write")
            return False
        return True
