"""An ObjectStore whose reads and small writes go through `LeanS3`, the rest through a fallback.

For processes that mostly list, HEAD and read small documents (the `glider stats` command): they
skip importing and building boto3 (~0.3 s of start-up) unless they upload or download a file,
which is delegated to a full ObjectStore (normally `S3ObjectStore`) built on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from app.storage.base import HeadResult, ListPage, ObjectHead, ObjectInfo, ObjectStore
from app.storage.lean import LeanS3

if TYPE_CHECKING:
    from app.storage.s3 import S3ObjectStore


class LeanObjectStore(ObjectStore):
    """Thread-safe. `fallback` builds the store used for file transfers and bucket creation."""

    def __init__(self, lean: LeanS3, fallback: Callable[[], S3ObjectStore]) -> None:
        self.lean = lean
        self._make_fallback = fallback
        self._fallback: S3ObjectStore | None = None
        self._lock = threading.Lock()

    def _full(self) -> S3ObjectStore:
        with self._lock:
            if self._fallback is None:
                self._fallback = self._make_fallback()
            return self._fallback

    def create_bucket(self, bucket: str) -> None:
        self._full().create_bucket(bucket)

    def head_bucket(self, bucket: str) -> None:
        self.lean.head_bucket(bucket)

    def head(self, bucket: str, key: str) -> ObjectHead:
        return self.lean.head(bucket, key)  # a bare 404 is ObjectNotFound (see ObjectStore.head)

    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        continuation_token: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        return self.lean.list_page(
            bucket, prefix, delimiter=delimiter, continuation_token=continuation_token, max_keys=max_keys
        )

    def iter_objects(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.lean.iter_objects(bucket, prefix)

    def head_many(self, bucket: str, keys: Iterable[str], concurrency: int = 32) -> Iterator[HeadResult]:
        return self.lean.head_many(bucket, keys, concurrency)

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
        return self._full().put_file(
            bucket, key, path, metadata, if_none_match=if_none_match, content_type=content_type
        )

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
        return self.lean.put_bytes(
            bucket, key, data, metadata, if_none_match=if_none_match, content_type=content_type
        )

    def get_to_file(
        self, bucket: str, key: str, dest: Path, *, if_none_match: str | None = None
    ) -> ObjectHead | None:
        return self._full().get_to_file(bucket, key, dest, if_none_match=if_none_match)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self.lean.get_bytes(bucket, key)

    def delete(self, bucket: str, key: str) -> None:
        self.lean.delete(bucket, key)

    def close(self) -> None:
        self.lean.close()
        with self._lock:
            fallback, self._fallback = self._fallback, None
        if fallback is not None:
            fallback.close()
