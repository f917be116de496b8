"""`ObjectStore` on botocore: one client per store, shared by every thread (clients are thread-safe).

Every botocore failure is translated by `s3_errors.translate_error` into `app.errors`, so nothing above
`app.storage` sees botocore. Credentials never appear in a message. ETags come back unquoted and
metadata keys lower-case. Left as None, endpoint and credentials come from boto3's standard chain
(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, profiles, instance roles...).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ClientError, IncompleteReadError, ResponseStreamingError

from app.errors import AlreadyExists, GliderError, IntegrityError, InvalidInput, ObjectNotFound
from app.storage.base import HeadResult, ListPage, ObjectHead, ObjectInfo, ObjectStore
from app.storage.factory import MiB, S3Options, lean_client
from app.storage.lean import LeanS3
from app.storage.s3_errors import error_code, http_status, translating
from app.storage.s3_multipart import MultipartUpload
from app.storage.sigv4 import Credentials

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CreateBucketRequestTypeDef,
        GetObjectOutputTypeDef,
        GetObjectRequestTypeDef,
        HeadObjectOutputTypeDef,
        ListObjectsV2RequestTypeDef,
        PutObjectRequestTypeDef,
    )

_DOWNLOAD_CHUNK = 1 * MiB
_CUT_SHORT = (ResponseStreamingError, IncompleteReadError)
_ALREADY_OURS = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


def _unquote(etag: str) -> str:
    return etag.strip('"')


def _truncated(bucket: str, key: str, received: int | None, size: int) -> IntegrityError:
    got = f"{received} of {size}" if received is not None else f"fewer than {size}"
    return IntegrityError(f"truncated download of object '{key}' in bucket '{bucket}': {got} bytes")


def _head(key: str, response: HeadObjectOutputTypeDef | GetObjectOutputTypeDef) -> ObjectHead:
    return ObjectHead(
        key=key,
        size=response["ContentLength"],
        etag=_unquote(response["ETag"]),
        last_modified=response["LastModified"],
        metadata={k.lower(): v for k, v in response.get("Metadata", {}).items()},
        content_type=response.get("ContentType"),
    )


class S3ObjectStore(ObjectStore):
    """Blocking S3 operations over a single pooled, thread-safe boto3 client."""

    def __init__(
        self,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        *,
        addressing_style: Literal["path", "virtual", "auto"] = "path",
        max_pool_connections: int = 64,
        multipart_threshold_bytes: int = 64 * MiB,
        multipart_chunk_bytes: int = 16 * MiB,
        multipart_concurrency: int = 4,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self.options = S3Options(
            endpoint_url, region, access_key_id, secret_access_key, addressing_style,
            max_pool_connections, multipart_threshold_bytes, multipart_chunk_bytes,
            multipart_concurrency, connect_timeout, read_timeout, max_attempts,
        )  # fmt: skip
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            max_pool_connections=max_pool_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            tcp_keepalive=True,
            # Modern boto3 adds CRC checksums by default; S3-compatible stores may reject them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A botocore session, not boto3's: the client is the same, without importing boto3 and
        # s3transfer (tens of ms of every CLI process's start-up) for helpers this store never uses.
        session = botocore.session.get_session()
        if access_key_id or secret_access_key:
            # As boto3.Session does: a half-given pair is passed on too (and fails when signing).
            session.set_credentials(access_key_id, secret_access_key)  # type: ignore[arg-type]
        session.set_config_variable("region", region)
        self._client: S3Client = session.create_client(  # type: ignore[assignment]
            "s3", region_name=region, endpoint_url=endpoint_url, config=config
        )
        self.endpoint: str = self._client.meta.endpoint_url
        self._session = session
        self._lean: LeanS3 | None = None
        self._lean_ready = False
        self._lean_lock = threading.Lock()

    @property
    def client(self) -> S3Client:
        """The shared boto3 client, for storage-layer siblings (never above `app.storage`)."""
        return self._client

    def close(self) -> None:
        """Release pooled connections; the store must not be used afterwards."""
        self._client.close()
        if self._lean is not None:
            self._lean.close()

    def _fast(self) -> LeanS3 | None:
        """The lean client for LIST and HEAD batches (~5x less client CPU than boto3, see
        `app.storage.lean`), built on first use from the same endpoint and static credentials.
        None when the credentials refresh themselves (roles, SSO): boto3 handles those."""
        with self._lean_lock:
            if not self._lean_ready:
                self._lean_ready = True
                found = self._session.get_credentials()
                if found is not None and not isinstance(found, RefreshableCredentials):
                    frozen = found.get_frozen_credentials()
                    if frozen.access_key and frozen.secret_key:
                        credentials = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
                        self._lean = lean_client(self.options, self.endpoint, credentials)
            return self._lean

    def _translated(self, bucket: str, key: str | None = None) -> contextlib.AbstractContextManager[None]:
        return translating(self.endpoint, bucket, key)

    # -- buckets ---------------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        request: CreateBucketRequestTypeDef = {"Bucket": bucket}
        if self.options.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": self.options.region}  # type: ignore[typeddict-item]
        with self._translated(bucket):
            try:
                self._client.create_bucket(**request)
            except ClientError as err:
                if error_code(err) not in _ALREADY_OURS:
                    raise
            else:
                return
        # Someone has it: fine when we can use it (AccessDenied otherwise).
        self.head_bucket(bucket)

    def head_bucket(self, bucket: str) -> None:
        with self._translated(bucket):
            self._client.head_bucket(Bucket=bucket)

    # -- reads -----------------------------------------------------------------------------

    def head(self, bucket: str, key: str) -> ObjectHead:
        # A bare 404 is ObjectNotFound even when the bucket is what is missing: reads expect
        # 404s (two HEADs per lookup), so a second request to tell them apart is left to the
        # callers that report it (`head_bucket`, as `app.engine.locate.raise_missing` does).
        with self._translated(bucket, key):
            return _head(key, self._client.head_object(Bucket=bucket, Key=key))

    def head_many(self, bucket: str, keys: Iterable[str], concurrency: int = 32) -> Iterator[HeadResult]:
        """HEAD on a bounded pool (at most 2 x workers queued), yielding in completion order."""
        workers = max(1, min(concurrency, self.options.max_pool_connections))
        fast = self._fast()
        if fast is not None:
            yield from fast.head_many(bucket, keys, workers)
            return
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
        if not 1 <= max_keys <= 1000:
            raise InvalidInput(f"max_keys must be between 1 and 1000, not {max_keys}")
        fast = self._fast()
        if fast is not None:
            return fast.list_page(
                bucket, prefix, delimiter=delimiter, continuation_token=continuation_token, max_keys=max_keys
            )
        request: ListObjectsV2RequestTypeDef = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if delimiter:
            request["Delimiter"] = delimiter
        if continuation_token:
            request["ContinuationToken"] = continuation_token
        with self._translated(bucket):
            response = self._client.list_objects_v2(**request)
        objects = tuple(
            ObjectInfo(item["Key"], item["Size"], _unquote(item["ETag"]), item["LastModified"])
            for item in response.get("Contents", ())
        )
        prefixes = tuple(entry["Prefix"] for entry in response.get("CommonPrefixes", ()))
        token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        return ListPage(objects, prefixes, token or None)

    def get_to_file(
        self, bucket: str, key: str, dest: Path, *, if_none_match: str | None = None
    ) -> ObjectHead | None:
        request: GetObjectRequestTypeDef = {"Bucket": bucket, "Key": key}
        if if_none_match is not None:
            request["IfNoneMatch"] = f'"{_unquote(if_none_match)}"'
        received = 0
        with self._translated(bucket, key):
            try:
                response = self._client.get_object(**request)
            except ClientError as err:
                if http_status(err) == 304:  # botocore raises on Not Modified
                    return None
                raise
            head = _head(key, response)
            body = response["Body"]
            try:
                with dest.open("wb") as out:
                    for chunk in body.iter_chunks(_DOWNLOAD_CHUNK):
                        out.write(chunk)
                        received += len(chunk)
            except _CUT_SHORT as err:  # the connection ended before Content-Length bytes
                raise _truncated(bucket, key, received, head.size) from err
            finally:
                body.close()
        if received != head.size:
            raise _truncated(bucket, key, received, head.size)
        return head

    def get_bytes(self, bucket: str, key: str) -> bytes:
        with self._translated(bucket, key):
            response = self._client.get_object(Bucket=bucket, Key=key)
            with contextlib.closing(response["Body"]) as body:
                try:
                    data = body.read()
                except _CUT_SHORT as err:
                    raise _truncated(bucket, key, None, response["ContentLength"]) from err
        if len(data) != response["ContentLength"]:
            raise _truncated(bucket, key, len(data), response["ContentLength"])
        return data

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
        return self._put_object(
            bucket, key, data, metadata or {}, if_none_match=if_none_match, content_type=content_type
        )

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
        size = path.stat().st_size
        if size < self.options.multipart_threshold_bytes:
            with path.open("rb") as body:  # botocore streams an open file; never read whole
                return self._put_object(
                    bucket, key, body, metadata, if_none_match=if_none_match, content_type=content_type
                )
        return self._put_multipart(
            bucket, key, path, metadata, if_none_match=if_none_match, content_type=content_type
        )

    def _put_object(
        self,
        bucket: str,
        key: str,
        body: bytes | IO[bytes],
        metadata: Mapping[str, str],
        *,
        if_none_match: bool,
        content_type: str,
    ) -> str:
        request: PutObjectRequestTypeDef = {
            "Bucket": bucket,
            "Key": key,
            "Body": body,
            "Metadata": dict(metadata),
            "ContentType": content_type,
        }
        if if_none_match:
            request["IfNoneMatch"] = "*"
        with self._translated(bucket, key):
            return _unquote(self._client.put_object(**request)["ETag"])

    def _put_multipart(
        self,
        bucket: str,
        key: str,
        path: Path,
        metadata: Mapping[str, str],
        *,
        if_none_match: bool,
        content_type: str,
    ) -> str:
        if if_none_match:
            self._fail_if_exists(bucket, key)  # cheap early exit; the conditional complete decides
        upload = MultipartUpload(
            self._client,
            self.endpoint,
            bucket,
            key,
            chunk_bytes=self.options.multipart_chunk_bytes,
            concurrency=self.options.multipart_concurrency,
        )
        return _unquote(upload.run(path, metadata, content_type, if_none_match))

    def _fail_if_exists(self, bucket: str, key: str) -> None:
        with contextlib.suppress(ObjectNotFound):
            self.head(bucket, key)
            raise AlreadyExists(f"object '{key}' in bucket '{bucket}' already exists")

    def delete(self, bucket: str, key: str) -> None:
        with self._translated(bucket, key):
            self._client.delete_object(Bucket=bucket, Key=key)
