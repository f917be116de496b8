"""`AssetSource` straight on S3: bytes through the delta engine, revalidation on the stored object.

Fetch: `DeltaEngine.get` rebuilds (for a delta) and SHA-verifies the logical bytes, then one HEAD
on the stored object the engine used (`K` or `K.delta`) records its S3 ETag as the validator. The
HEAD's `dg-file-sha256` must match the bytes just fetched; if the object changed in between, the
validator is recorded as unknown and the next revalidation fetches again (never the reverse: a new
ETag is never paired with old bytes). Foreign objects (no Glider metadata) carry their S3 ETag in
the engine's `ObjectMeta.etag`, so they need no HEAD.

Revalidation costs exactly one request, chosen by what is stored:
- a direct or foreign object (`K`): a conditional GET (`If-None-Match: <etag>`). 304 means
  unchanged; a 200 already carries the new bytes, so a change costs no second request. A direct
  object's bytes are its logical bytes; they are checked against its `dg-file-sha256`.
- a delta (`K.delta`): a HEAD compared with the held ETag. A conditional GET would only return the
  delta, and the logical bytes must be rebuilt by the engine anyway, so on a change the engine
  fetches (delta and, if needed, reference). A changed ETag whose `dg-file-sha256` still equals
  the held hash (the same file uploaded again) only updates the validator: nothing is downloaded.
ETags are compared as opaque strings; the local file is never hashed to revalidate. When a
writer switches a key between delta and direct it deletes the other representation, so the
watched object disappears (ObjectNotFound) and the asset is fetched afresh through the engine.

Publishing is write-once: a conditional create (`If-None-Match: *`) of the object. The engine's
`put` has no write-once option, so versions are stored as direct objects through
`ObjectStore.put_file(..., if_none_match=True)` with the wire format's direct metadata (readable
by the engine and by DeltaGlider), after checking that no `K.delta` exists.
"""

from __future__ import annotations

from pathlib import Path

from app import TOOL_NAME
from app.assets.source import AssetSource, RemoteVersion
from app.domain.hashing import sha256_file
from app.domain.keys import basename, delta_key_for
from app.domain.metadata import direct_metadata, read_field
from app.engine.engine import DeltaEngine
from app.engine.results import ObjectMeta, StoredAs
from app.errors import AlreadyExists, IntegrityError, ObjectNotFound
from app.storage.base import ObjectStore

UNKNOWN = ""


class EngineSource(AssetSource):
    """Thread-safe when the engine and store are (both are, by their contracts)."""

    def __init__(self, engine: DeltaEngine, store: ObjectStore) -> None:
        self._engine = engine
        self._store = store

    def fetch(self, bucket: str, key: str, dest: Path) -> RemoteVersion:
        meta = self._engine.get(bucket, key, dest)
        return self._version_after_get(bucket, key, meta, dest)

    def _version_after_get(self, bucket: str, key: str, meta: ObjectMeta, dest: Path) -> RemoteVersion:
        if meta.stored_as is StoredAs.FOREIGN or meta.sha256 is None:
            # No recorded hash: hash the bytes just downloaded (never the cached copy).
            return RemoteVersion(meta.etag, key, sha256_file(dest), dest.stat().st_size)
        stored_key = delta_key_for(key) if meta.stored_as is StoredAs.DELTA else key
        try:
            head = self._store.head(bucket, stored_key)
        except ObjectNotFound:
            return RemoteVersion(UNKNOWN, stored_key, meta.sha256, dest.stat().st_size)
        same = (read_field(head.metadata, "file_sha256") or "").lower() == meta.sha256
        return RemoteVersion(head.etag if same else UNKNOWN, stored_key, meta.sha256, dest.stat().st_size)

    def refresh(self, bucket: str, key: str, held: RemoteVersion, dest: Path) -> RemoteVersion | None:
        if held.validator == UNKNOWN:
            return self.fetch(bucket, key, dest)
        if held.locator == key:
            return self._refresh_direct(bucket, key, held, dest)
        if held.locator == delta_key_for(key):
            return self._refresh_delta(bucket, key, held, dest)
        return self.fetch(bucket, key, dest)  # a version from another source: start over

    def _refresh_direct(self, bucket: str, key: str, held: RemoteVersion, dest: Path) -> RemoteVersion | None:
        try:
            head = self._store.get_to_file(bucket, key, dest, if_none_match=held.validator)
        except ObjectNotFound:
            return self.fetch(bucket, key, dest)  # replaced by a delta, or gone (fetch says which)
        if head is None:
            return None
        sha = sha256_file(dest)  # the new bytes, downloaded just now
        recorded = read_field(head.metadata, "file_sha256")
        if recorded is not None and recorded.lower() != sha:
            raise IntegrityError(
                f"object '{key}' in bucket '{bucket}' does not match its recorded SHA-256 "
                f"(recorded {recorded.lower()}, received {sha})"
            )
        return RemoteVersion(head.etag, key, sha, dest.stat().st_size)

    def _refresh_delta(self, bucket: str, key: str, held: RemoteVersion, dest: Path) -> RemoteVersion | None:
        try:
            head = self._store.head(bucket, held.locator)
        except ObjectNotFound:
            return self.fetch(bucket, key, dest)
        if head.etag == held.validator:
            return None
        if (read_field(head.metadata, "file_sha256") or "").lower() == held.sha256:
            return RemoteVersion(head.etag, held.locator, held.sha256, held.size)
        return self.fetch(bucket, key, dest)

    def publish(self, bucket: str, key: str, path: Path, sha256: str) -> None:
        try:
            self._store.head(bucket, delta_key_for(key))
        except ObjectNotFound:
            pass
        else:
            raise AlreadyExists(f"object '{key}' in bucket '{bucket}' already exists (as a delta)")
        size = path.stat().st_size
        metadata = direct_metadata(TOOL_NAME, basename(key), sha256, size)
        self._store.put_file(bucket, key, path, metadata, if_none_match=True)
