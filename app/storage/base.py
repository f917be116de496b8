"""The ObjectStore interface: everything Glider needs from S3, and nothing botocore-shaped.

Implementations translate their library's failures into `app.errors` (for S3: one table in
`app.storage.s3_errors`): BucketNotFound / ObjectNotFound, AlreadyExists (lost If-None-Match),
PreconditionFailed, Conflict, AccessDenied, InvalidInput (what S3 cannot store), and
StorageUnavailable (unreachable, 5xx) with its kinds Throttled and StorageTimeout, the only
retryable ones. Every method is thread-safe.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from app.errors import GliderError, InvalidInput


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One LIST entry. `etag` is the opaque quoted-or-not string S3 returned, unquoted."""

    key: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class ObjectHead:
    key: str
    size: int
    etag: str
    last_modified: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class ListPage:
    objects: tuple[ObjectInfo, ...]
    common_prefixes: tuple[str, ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class HeadResult:
    """Outcome of one HEAD in a batch: exactly one of `head` and `error` is set."""

    key: str
    head: ObjectHead | None = None
    error: GliderError | None = None


class ObjectStore(abc.ABC):
    """Blocking object-store operations. Keys are bucket-relative; metadata keys lower-case."""

    @abc.abstractmethod
    def create_bucket(self, bucket: str) -> None:
        """Create `bucket`; succeed quietly when it already exists and is ours."""

    @abc.abstractmethod
    def head_bucket(self, bucket: str) -> None:
        """Raise BucketNotFound, AccessDenied or StorageUnavailable; return None when usable."""

    @abc.abstractmethod
    def head(self, bucket: str, key: str) -> ObjectHead:
        """Raise ObjectNotFound when absent; a missing bucket may also surface as ObjectNotFound
        (S3 answers both with a bare 404) -- use head_bucket to tell."""

    @abc.abstractmethod
    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        continuation_token: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        """One page of a ListObjectsV2 in key order. Raise BucketNotFound for a missing bucket."""

    def iter_objects(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under `prefix`, page by page as they arrive (constant memory)."""
        token: str | None = None
        while True:
            page = self.list_page(bucket, prefix, continuation_token=token)
            yield from page.objects
            if page.next_token is None:
                return
            token = page.next_token

    def list_pages(self, bucket: str) -> Iterator[tuple[ObjectInfo, ...]]:
        """The whole bucket, page by page, in an order that is the same on every call for the same
        contents (the stats fingerprint relies on it); stores may list parts of it in parallel."""
        token: str | None = None
        while True:
            page = self.list_page(bucket, continuation_token=token)
            yield page.objects
            if page.next_token is None:
                return
            token = page.next_token

    def head_many(self, bucket: str, keys: Iterable[str], concurrency: int = 32) -> Iterator[HeadResult]:
        """HEAD many keys on a bounded pool; results arrive in completion order.

        The default is sequential; implementations override it with a faster path.
        """
        del concurrency
        for key in keys:
            try:
                yield HeadResult(key, head=self.head(bucket, key))
            except GliderError as err:
                yield HeadResult(key, error=err)

    @abc.abstractmethod
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
        """Upload a local file (multipart when large); return the new ETag.

        With `if_none_match` the write succeeds only if `key` does not exist; otherwise
        AlreadyExists is raised and nothing is changed. A failed upload leaves no object.
        """

    @abc.abstractmethod
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
        """Upload a small in-memory body; same contract as put_file."""

    @abc.abstractmethod
    def get_to_file(
        self, bucket: str, key: str, dest: Path, *, if_none_match: str | None = None
    ) -> ObjectHead | None:
        """Stream an object into `dest` (created or truncated) in chunks.

        With `if_none_match=<etag>`, return None and leave `dest` untouched when the object's
        ETag still equals it (a 304). A body cut short raises IntegrityError.
        """

    @abc.abstractmethod
    def get_bytes(self, bucket: str, key: str) -> bytes:
        """Read a small object whole (stats documents, manifests)."""

    @abc.abstractmethod
    def delete(self, bucket: str, key: str) -> None:
        """Delete `key`; deleting a missing key is not an error (S3 semantics)."""

    def delete_many(self, bucket: str, keys: Iterable[str]) -> None:
        """Delete every key (batches of 1,000 where the store can); missing keys are fine."""
        for key in keys:
            self.delete(bucket, key)

    def get_range(self, bucket: str, key: str, start: int, end: int) -> bytes:
        """Bytes `start` (inclusive) to `end` (exclusive); fewer when the object ends first."""
        if not 0 <= start < end:
            raise InvalidInput(f"invalid byte range {start}-{end}")
        return self.get_bytes(bucket, key)[start:end]

    def copy(self, bucket: str, source: str, dest: str) -> None:
        """Server-side copy within `bucket`, metadata and content type included."""
        head = self.head(bucket, source)
        data = self.get_bytes(bucket, source)
        ctype = head.content_type or "application/octet-stream"
        self.put_bytes(bucket, dest, data, head.metadata, content_type=ctype)

    def abort_incomplete_uploads(
        self, bucket: str, older_than: timedelta, *, now: datetime | None = None
    ) -> int:
        """Abort multipart uploads started more than `older_than` ago; return how many.
        Stores without multipart uploads have none."""
        del bucket, older_than, now
        return 0
