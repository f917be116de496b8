"""`MemoryObjectStore`: a faithful in-memory S3 for pure-logic tests.

Same contract as the S3 store (run by the same contract suite): buckets must exist, ETag is the
MD5 hex of the content (what S3 gives a single PUT), listings are in key order with opaque
continuation tokens and delimiter grouping, If-None-Match on writes and downloads. Every call is
counted per operation in `counts` (names: create_bucket, head_bucket, head, list_page, put_file,
put_bytes, get_to_file, get_bytes, delete) so tests can assert how many requests logic makes.
Thread-safe: one lock guards buckets and counts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.domain.keys import validate_bucket
from app.errors import AlreadyExists, BucketNotFound, InvalidInput, ObjectNotFound
from app.storage.base import ListPage, ObjectHead, ObjectInfo, ObjectStore


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Stored:
    data: bytes
    head: ObjectHead


def _encode_token(kind: str, name: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{name}".encode()).decode()


def _decode_token(token: str) -> tuple[str, str]:
    try:
        kind, _, name = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise InvalidInput("invalid continuation token") from err
    if kind not in {"k", "p"}:
        raise InvalidInput("invalid continuation token")
    return kind, name


class MemoryObjectStore(ObjectStore):
    """Objects in a dict per bucket. `now` stamps LastModified (inject a clock where time matters)."""

    def __init__(self, *, now: Callable[[], datetime] = _utcnow) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._buckets: dict[str, dict[str, _Stored]] = {}
        self.counts: Counter[str] = Counter()

    def _objects(self, bucket: str, operation: str) -> dict[str, _Stored]:
        """Count `operation` and return the bucket's objects; call with the lock held."""
        self.counts[operation] += 1
        objects = self._buckets.get(bucket)
        if objects is None:
            raise BucketNotFound(f"bucket '{bucket}' does not exist")
        return objects

    def _get(self, bucket: str, key: str, operation: str) -> _Stored:
        with self._lock:
            stored = self._objects(bucket, operation).get(key)
        if stored is None:
            raise ObjectNotFound(f"object '{key}' in bucket '{bucket}' does not exist")
        return stored

    def create_bucket(self, bucket: str) -> None:
        validate_bucket(bucket)
        with self._lock:
            self.counts["create_bucket"] += 1
            self._buckets.setdefault(bucket, {})

    def head_bucket(self, bucket: str) -> None:
        with self._lock:
            self._objects(bucket, "head_bucket")

    def head(self, bucket: str, key: str) -> ObjectHead:
        return self._get(bucket, key, "head").head

    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        continuation_token: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        if not 1 <= max_keys <= 1000:
            raise InvalidInput(f"max_keys must be between 1 and 1000, not {max_keys}")
        kind, marker = _decode_token(continuation_token) if continuation_token else ("k", "")
        with self._lock:
            objects = self._objects(bucket, "list_page")
            keys = sorted(k for k in objects if k.startswith(prefix))
            infos = {k: objects[k].head for k in keys}
        found: list[ObjectInfo] = []
        prefixes: list[str] = []
        last: tuple[str, str] | None = None
        for key in keys:
            if key <= marker or (kind == "p" and key.startswith(marker)):
                continue  # before the token, or inside the common prefix the last page ended on
            group = None
            if delimiter and (cut := key.find(delimiter, len(prefix))) >= 0:
                group = key[: cut + len(delimiter)]
                if prefixes and prefixes[-1] == group:
                    continue  # keys are sorted, so one group's keys are contiguous
            if len(found) + len(prefixes) == max_keys:
                return ListPage(tuple(found), tuple(prefixes), _encode_token(*last) if last else None)
            if group is None:
                head = infos[key]
                found.append(ObjectInfo(key, head.size, head.etag, head.last_modified))
                last = ("k", key)
            else:
                prefixes.append(group)
                last = ("p", group)
        return ListPage(tuple(found), tuple(prefixes), None)

    def get_to_file(
        self, bucket: str, key: str, dest: Path, *, if_none_match: str | None = None
    ) -> ObjectHead | None:
        stored = self._get(bucket, key, "get_to_file")
        if if_none_match is not None and if_none_match.strip('"') == stored.head.etag:
            return None
        dest.write_bytes(stored.data)
        return stored.head

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self._get(bucket, key, "get_bytes").data

    def put_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        metadata: Mapping[str, str],
        *,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> str:
        data = path.read_bytes()  # a test fake: files are small
        return self._put("put_file", bucket, key, data, metadata, if_none_match, content_type)

    def put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        *,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> str:
        return self._put("put_bytes", bucket, key, bytes(data), metadata or {}, if_none_match, content_type)

    def _put(  # noqa: PLR0917 - private, called from two places with every value it stores
        self,
        operation: str,
        bucket: str,
        key: str,
        data: bytes,
        metadata: Mapping[str, str],
        if_none_match: bool,
        content_type: str,
    ) -> str:
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        head = ObjectHead(
            key=key,
            size=len(data),
            etag=etag,
            last_modified=self._now(),
            metadata={k.lower(): v for k, v in metadata.items()},
            content_type=content_type,
        )
        with self._lock:
            objects = self._objects(bucket, operation)
            if if_none_match and key in objects:
                raise AlreadyExists(f"object '{key}' in bucket '{bucket}' already exists")
            objects[key] = _Stored(data, head)
        return etag

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self._objects(bucket, "delete").pop(key, None)
