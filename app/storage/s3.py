"""`ObjectStore` on obstore (Rust `object_store`): every data operation of the CLI and the service.

One obstore `S3Store` per bucket (each with its own connection pool), built on first use and
shared by every thread. Failures go through `s3_errors` (one table); retries, and the server's
Retry-After, as `s3_buckets` and `s3_retry` say. The few admin
operations obstore lacks go through `s3_admin` (botocore, loaded only then). ETags come back
unquoted, metadata keys lower-case, credentials never appear in a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import obstore
from obstore.exceptions import NotModifiedError

from app.domain.keys import validate_bucket
from app.domain.sizes import MiB
from app.errors import GliderError, InvalidInput, ObjectNotFound
from app.storage.base import HeadResult, ListPage, ObjectHead, ObjectInfo, ObjectStore
from app.storage.s3_admin import BotoAdmin
from app.storage.s3_buckets import BucketClients
from app.storage.s3_config import S3Options
from app.storage.s3_errors import check_metadata, truncated
from app.storage.s3_listing import PAGE, delimited_page, flat_page, iter_infos, to_head
from app.storage.s3_parallel import bucket_pages

if TYPE_CHECKING:
    from obstore import Attributes

__all__ = ["MiB", "S3ObjectStore", "S3Options"]

_CHUNK = 1 * MiB


class S3ObjectStore(ObjectStore):
    """Blocking S3 operations. `counts` tallies requests by operation (head, list, get, put,
    delete, copy), as `MemoryObjectStore.counts` does, so tests can assert request budgets."""

    def __init__(
        self,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        **tuning: Any,
    ) -> None:
        known = {f.name for f in fields(S3Options)}
        unknown = set(tuning) - known
        if unknown:
            raise TypeError(f"unknown S3 options: {sorted(unknown)}")
        self.options = S3Options(endpoint_url, region, access_key_id, secret_access_key, **tuning)
        self.endpoint = self.options.endpoint
        self.admin = BotoAdmin(self.options)
        self._buckets = BucketClients(self.options, probe=self.admin.throttle_probe)
        self._call = self._buckets.call
        self._store = self._buckets.store
        self.counts = self._buckets.counts

    @classmethod
    def from_options(cls, options: S3Options) -> S3ObjectStore:
        values = {f.name: getattr(options, f.name) for f in fields(S3Options)}
        return cls(**values)

    def close(self) -> None:
        """Drop pooled connections; the store must not be used afterwards."""
        self._buckets.close()
        self.admin.close()

    # -- buckets ---------------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        validate_bucket(bucket)
        if not self.admin.create_bucket(bucket):
            self.head_bucket(bucket)  # someone's: fine when we can use it (AccessDenied otherwise)

    def head_bucket(self, bucket: str) -> None:
        # obstore has no HeadBucket: a one-key LIST answers NoSuchBucket / 403 the same way.
        self._call("list", bucket, None, lambda s: next(iter(obstore.list(s, chunk_size=1)), None))

    # -- reads -----------------------------------------------------------------------------

    def head(self, bucket: str, key: str) -> ObjectHead:
        result = self._call("head", bucket, key, lambda s: obstore.get(s, key, options={"head": True}))
        return to_head(key, result.meta, result.attributes)

    def head_many(self, bucket: str, keys: Iterable[str], concurrency: int = 32) -> Iterator[HeadResult]:
        """HEAD on a bounded pool (at most 2 x workers queued), yielding in completion order."""
        workers = max(1, min(concurrency, self.options.max_pool_connections))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glider-head")
        pending: set[Future[HeadResult]] = set()
        try:
            for key in keys:
                if len(pending) >= 2 * workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (future.result() for future in done)
                pending.add(pool.submit(self._head_result, bucket, key))
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _head_result(self, bucket: str, key: str) -> HeadResult:
        try:
            return HeadResult(key, head=self.head(bucket, key))
        except GliderError as err:
            return HeadResult(key, error=err)

    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        continuation_token: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        if not 1 <= max_keys <= PAGE:
            raise InvalidInput(f"max_keys must be between 1 and {PAGE}, not {max_keys}")
        if delimiter not in (None, "", "/"):
            raise InvalidInput(f"only '/' is supported as a listing delimiter, not {delimiter!r}")
        page = delimited_page if delimiter else flat_page
        return self._call("list", bucket, None, lambda s: page(s, prefix, continuation_token, max_keys))

    def iter_objects(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """One listing stream (obstore follows S3's continuation tokens itself)."""
        store = self._store(bucket)
        self._buckets.count("list")
        try:
            yield from iter_infos(store, prefix)
        except GliderError:
            raise
        except Exception as err:  # as in _call
            raise self._buckets.stream_failure(err, bucket) from err

    def list_pages(self, bucket: str) -> Iterator[tuple[ObjectInfo, ...]]:
        """See `s3_parallel.bucket_pages` (`list_concurrency` streams over a big bucket)."""

        def translate(err: Exception) -> Exception:
            if isinstance(err, GliderError):
                return err
            return self._buckets.stream_failure(err, bucket)

        count = self._buckets.count
        yield from bucket_pages(
            self._store(bucket), self.options.list_concurrency, translate, lambda: count("list")
        )

    def get_to_file(
        self, bucket: str, key: str, dest: Path, *, if_none_match: str | None = None
    ) -> ObjectHead | None:
        options = {"if_none_match": f'"{if_none_match.strip(chr(34))}"'} if if_none_match else None
        try:
            result = self._call(
                "get",
                bucket,
                key,
                lambda s: obstore.get(s, key, options=options),  # type: ignore[arg-type]
                transfer=True,
            )
        except GliderError as err:
            if isinstance(err.__cause__, NotModifiedError):
                return None
            raise
        head = to_head(key, result.meta, result.attributes)
        received = 0
        try:
            with dest.open("wb") as out:
                for chunk in result.stream(min_chunk_size=_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
        except OSError:
            raise  # our own disk
        except Exception as err:  # the body stopped coming: reset, timeout, cut short
            raise truncated(bucket, key, received, head.size) from err
        if received != head.size:
            raise truncated(bucket, key, received, head.size)
        return head

    def get_bytes(self, bucket: str, key: str) -> bytes:
        result = self._call("get", bucket, key, lambda s: obstore.get(s, key))
        size = result.meta["size"]
        try:
            data = bytes(result.bytes())
        except Exception as err:  # the body stopped coming: reset, timeout, cut short
            raise truncated(bucket, key, 0, size) from err
        if len(data) != size:
            raise truncated(bucket, key, len(data), size)
        return data

    def get_range(self, bucket: str, key: str, start: int, end: int) -> bytes:
        if not 0 <= start < end:
            raise InvalidInput(f"invalid byte range {start}-{end}")
        return self._call(
            "get", bucket, key, lambda s: bytes(obstore.get_range(s, key, start=start, end=end))
        )

    # -- writes ----------------------------------------------------------------------------

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
        return self._put_single(bucket, key, bytes(data), metadata or {}, if_none_match, content_type)

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
        check_metadata(metadata, content_type)
        if path.stat().st_size < self.options.multipart_threshold_bytes:
            return self._put_single(bucket, key, path, metadata, if_none_match, content_type)
        if if_none_match:
            self._store(bucket)  # validates the bucket name before botocore sees it
            self._buckets.count("put")
            return self.admin.put_if_absent(bucket, key, path, metadata, content_type).strip('"')
        o = self.options
        result = self._call(
            "put", bucket, key,
            lambda s: obstore.put(
                s, key, path, attributes={**metadata, "Content-Type": content_type}, use_multipart=True,
                chunk_size=o.multipart_chunk_bytes, max_concurrency=o.multipart_concurrency,
            ),
            transfer=True,
        )  # fmt: skip
        return (result["e_tag"] or "").strip('"')

    def _put_single(  # noqa: PLR0917 - private, the two puts' shared body
        self,
        bucket: str,
        key: str,
        body: bytes | Path,
        metadata: Mapping[str, str],
        if_none_match: bool,
        content_type: str,
    ) -> str:
        check_metadata(metadata, content_type)
        attributes: Attributes = {**metadata, "Content-Type": content_type}
        mode: Literal["create", "overwrite"] = "create" if if_none_match else "overwrite"
        result = self._call(
            "put", bucket, key,
            lambda s: obstore.put(s, key, body, attributes=attributes, mode=mode, use_multipart=False),
            creating=if_none_match,
        )  # fmt: skip
        return (result["e_tag"] or "").strip('"')

    def copy(self, bucket: str, source: str, dest: str) -> None:
        self._call("copy", bucket, source, lambda s: obstore.copy(s, source, dest))

    def delete(self, bucket: str, key: str) -> None:
        self._call("delete", bucket, key, lambda s: obstore.delete(s, key))

    def delete_many(self, bucket: str, keys: Iterable[str]) -> None:
        batch = list(keys)
        for start in range(0, len(batch), PAGE):  # DeleteObjects takes 1,000 keys at most
            chunk = batch[start : start + PAGE]
            self._call("delete", bucket, None, lambda s, chunk=chunk: obstore.delete(s, chunk))  # type: ignore[misc]

    def abort_incomplete_uploads(
        self, bucket: str, older_than: timedelta, *, now: datetime | None = None
    ) -> int:
        moment = now or datetime.now(UTC)
        stale = [u for u in self.admin.pending_uploads(bucket) if moment - u.initiated >= older_than]
        for upload in stale:
            try:
                self.admin.abort(bucket, upload)
            except ObjectNotFound:
                continue  # completed or aborted meanwhile
        return len(stale)
