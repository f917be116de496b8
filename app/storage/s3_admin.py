"""The few S3 operations obstore does not offer, on botocore, built on first use.

Creating a bucket, listing and aborting incomplete multipart uploads, and a multipart upload whose
CompleteMultipartUpload carries If-None-Match (obstore writes conditionally only in one PUT).
Also the throttle probe: one HEAD that reads the Retry-After header obstore does not show.
Same endpoint, region, credentials, proxies and CA bundle as the obstore data path. Importing
this module is cheap; botocore loads when `BotoAdmin` first needs its client. Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.storage.s3_config import S3Options
from app.storage.s3_errors import translating_botocore
from app.storage.s3_retry import parse_retry_after

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_ALREADY_OURS = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """An incomplete multipart upload (its parts cost storage until completed or aborted)."""

    key: str
    upload_id: str
    initiated: datetime


class BotoAdmin:
    def __init__(self, options: S3Options) -> None:
        self.options = options
        self._client: S3Client | None = None
        self._prober: S3Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> S3Client:
        with self._lock:
            if self._client is None:
                self._client = self._build(self.options.max_attempts)
            return self._client

    def throttle_probe(self, bucket: str, key: str | None) -> tuple[bool, float | None]:
        """One bodiless request (HEAD of `key`, else of the bucket), never retried, for what
        obstore cannot show: (whether it was throttled, the server's Retry-After in seconds)."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        with self._lock:
            if self._prober is None:
                self._prober = self._build(1)
            prober = self._prober
        try:
            if key is None:
                prober.head_bucket(Bucket=bucket)
            else:
                prober.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            meta = err.response.get("ResponseMetadata", {})
            status = int(meta.get("HTTPStatusCode", 0))
            after = parse_retry_after(meta.get("HTTPHeaders", {}).get("retry-after"))
            return status in (429, 503), after
        except BotoCoreError:
            return False, None  # unreachable now: the caller's own backoff decides
        return False, None

    def _build(self, attempts: int) -> S3Client:
        import botocore.session  # noqa: PLC0415 - botocore only on the admin path
        from botocore.config import Config  # noqa: PLC0415

        o = self.options
        proxies = {k: v for k, v in (("https", o.https_proxy), ("http", o.http_proxy)) if v}
        config = Config(
            region_name=o.region,
            signature_version="s3v4",
            s3={"addressing_style": o.addressing_style},
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=o.connect_timeout,
            read_timeout=o.read_timeout,
            max_pool_connections=max(4, o.multipart_concurrency),
            proxies=proxies or None,
            # Modern botocore adds CRC checksums by default; S3-compatible stores may reject them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = botocore.session.get_session()
        if o.access_key_id or o.secret_access_key:
            session.set_credentials(o.access_key_id, o.secret_access_key)  # type: ignore[arg-type]
        verify = str(o.ca_bundle) if o.ca_bundle is not None else None
        client: S3Client = session.create_client(  # type: ignore[assignment]
            "s3", region_name=o.region, endpoint_url=o.endpoint, config=config, verify=verify
        )
        return client

    def create_bucket(self, bucket: str) -> bool:
        """Create `bucket`; False when it already existed (someone's: the caller checks it is usable)."""
        from botocore.exceptions import ClientError  # noqa: PLC0415

        with translating_botocore(self.options.endpoint, bucket):
            try:
                if self.options.region == "us-east-1":
                    self.client.create_bucket(Bucket=bucket)
                else:
                    self.client.create_bucket(
                        Bucket=bucket,
                        CreateBucketConfiguration={"LocationConstraint": self.options.region},  # type: ignore[typeddict-item]
                    )
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in _ALREADY_OURS:
                    raise
                return False
        return True

    def pending_uploads(self, bucket: str) -> list[PendingUpload]:
        """Every incomplete multipart upload in `bucket` (all pages)."""
        found: list[PendingUpload] = []
        with translating_botocore(self.options.endpoint, bucket):
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=bucket):
                found += [
                    PendingUpload(u["Key"], u["UploadId"], u["Initiated"]) for u in page.get("Uploads", ())
                ]
        return found

    def abort(self, bucket: str, upload: PendingUpload) -> None:
        with translating_botocore(self.options.endpoint, bucket, upload.key):
            self.client.abort_multipart_upload(Bucket=bucket, Key=upload.key, UploadId=upload.upload_id)

    def put_if_absent(
        self, bucket: str, key: str, path: Path, metadata: Mapping[str, str], content_type: str
    ) -> str:
        """Multipart upload of `path` that completes only if `key` does not exist (AlreadyExists
        otherwise); aborted on any failure. Returns the quoted ETag."""
        from app.storage.s3_multipart import MultipartUpload  # noqa: PLC0415

        upload = MultipartUpload(
            self.client,
            self.options.endpoint,
            bucket,
            key,
            chunk_bytes=self.options.multipart_chunk_bytes,
            concurrency=self.options.multipart_concurrency,
        )
        return upload.run(path, metadata, content_type, if_none_match=True)

    def close(self) -> None:
        with self._lock:
            clients, self._client, self._prober = (self._client, self._prober), None, None
        for client in clients:
            if client is not None:
                client.close()
