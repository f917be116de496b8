"""Per-object facts kept in the bucket, sharded: `.deltaglider/index/`.

- `shard-XX.json` (XX = two hex digits): `{"version": 1, "shard": n, "facts": {key: [etag,
  stored_size, original_size]}}` for every delta of that shard whose original size is known.
  A fact is valid only while the listed ETag *and* size still match, so it can never go stale:
  an overwritten object simply stops matching.
- `manifest.json`: per shard, the digest of the listing it was last computed from and that
  shard's totals (`ShardSummary`). An unchanged shard is then taken whole from the manifest,
  without reading its facts; a changed one rewrites its own shard document only.

Everything here is best effort: a missing, unreadable or unparsable document is treated as
empty (reported through `on_error`, which the service counts), a failed write returns False.
Only a missing bucket propagates, because then the stats themselves cannot be computed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.domain.keys import INTERNAL_PREFIX
from app.errors import BucketNotFound, GliderError, ObjectNotFound
from app.stats.fingerprint import deltaspace_of, shard_of
from app.stats.model import StatsMode
from app.storage.base import ObjectStore

INDEX_VERSION = 1
INDEX_PREFIX = f"{INTERNAL_PREFIX}index/"
MANIFEST_KEY = f"{INDEX_PREFIX}manifest.json"

Fact = tuple[str, int, int]
"""(etag, stored size, original size) of one delta."""

_log = logging.getLogger(__name__)


def shard_key(shard: int) -> str:
    return f"{INDEX_PREFIX}shard-{shard:02x}.json"


class ShardSummary(BaseModel):
    """A shard's totals for the listing whose digest is `digest` (bytes are original bytes)."""

    model_config = ConfigDict(frozen=True)

    digest: str
    deltas: int = Field(ge=0)
    known: int = Field(ge=0)
    known_original: int = Field(ge=0)
    estimated_original: int = Field(ge=0)
    unsampled_spaces: int = Field(ge=0)

    def satisfies(self, mode: StatsMode) -> bool:
        """Whether these totals are as good as `mode` would compute them."""
        if mode is StatsMode.DETAILED:
            return self.known == self.deltas
        if mode is StatsMode.SAMPLED:
            return self.unsampled_spaces == 0
        return True


class Manifest(BaseModel):
    version: int = INDEX_VERSION
    shards: int
    entries: dict[int, ShardSummary]


class ShardDocument(BaseModel):
    version: int = INDEX_VERSION
    shard: int
    facts: dict[str, Fact]


class FactIndex:
    """Reads and writes one bucket's index through an ObjectStore. Thread-safe (stateless)."""

    def __init__(self, store: ObjectStore, bucket: str, on_error: Callable[[str], None]) -> None:
        self._store = store
        self._bucket = bucket
        self._on_error = on_error

    def _read(self, key: str) -> bytes | None:
        try:
            return self._store.get_bytes(self._bucket, key)
        except ObjectNotFound:
            return None
        except BucketNotFound:
            raise
        except GliderError as err:
            _log.warning("stats index read of %s failed: %s", key, err)
            self._on_error("index_read")
            return None

    def _write(self, key: str, data: bytes) -> bool:
        try:
            self._store.put_bytes(self._bucket, key, data, content_type="application/json")
        except GliderError as err:
            _log.warning("stats index write of %s failed: %s", key, err)
            self._on_error("index_write")
            return False
        return True

    def load_manifest(self, shards: int) -> Manifest | None:
        data = self._read(MANIFEST_KEY)
        if data is None:
            return None
        try:
            manifest = Manifest.model_validate_json(data)
        except ValidationError:
            manifest = None
        if manifest is None or manifest.version != INDEX_VERSION:
            self._on_error("index_parse")
            return None
        return manifest if manifest.shards == shards else None

    def load_shard(self, shard: int) -> dict[str, Fact]:
        data = self._read(shard_key(shard))
        if data is None:
            return {}
        try:
            doc = ShardDocument.model_validate_json(data)
        except ValidationError:
            doc = None
        if doc is None or doc.version != INDEX_VERSION or doc.shard != shard:
            self._on_error("index_parse")
            return {}
        return doc.facts

    def save_shard(self, shard: int, facts: Mapping[str, Fact]) -> bool:
        payload = {"version": INDEX_VERSION, "shard": shard, "facts": facts}
        return self._write(shard_key(shard), json.dumps(payload, separators=(",", ":")).encode("utf-8"))

    def save_manifest(self, manifest: Manifest) -> bool:
        return self._write(MANIFEST_KEY, manifest.model_dump_json().encode("utf-8"))


def known_originals(index: FactIndex, deltas: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """Original sizes the index records for `(stored key, ETag, stored size)` of listed deltas.

    A fact counts only while ETag and stored size still match (see the module docstring), so an
    answer is never stale. Reads one shard document per shard the deltas fall in; a missing or
    unreadable one simply knows nothing. Returns {stored key: original size}.
    """
    by_shard: dict[int, list[tuple[str, str, int]]] = {}
    for item in deltas:
        by_shard.setdefault(shard_of(deltaspace_of(item[0])), []).append(item)
    known: dict[str, int] = {}
    for shard, items in by_shard.items():
        facts = index.load_shard(shard)
        for key, etag, size in items:
            fact = facts.get(key)
            if fact is not None and fact[0] == etag and fact[1] == size:
                known[key] = fact[2]
    return known
