"""The one way to build an S3 object store from plain connection values (no Settings here).

Light on purpose: importing this module loads neither boto3 nor botocore, so a CLI command that
only lists or HEADs starts fast; the botocore store is imported when it is first built.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from app.storage.lean import LeanS3, resolve_credentials
from app.storage.lean_store import LeanObjectStore
from app.storage.sigv4 import Credentials

if TYPE_CHECKING:
    from app.storage.s3 import S3ObjectStore

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class S3Options:
    """Plain connection values (the container maps `Settings.s3` onto these). Sizes in bytes.

    Left as None, endpoint and credentials come from botocore's standard chain."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    max_pool_connections: int = 64
    multipart_threshold_bytes: int = 64 * MiB
    multipart_chunk_bytes: int = 16 * MiB
    multipart_concurrency: int = 4
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_attempts: int = 3


def boto_store(options: S3Options) -> S3ObjectStore:
    """The botocore-backed store (imports botocore on first call)."""
    from app.storage.s3 import S3ObjectStore  # noqa: PLC0415 - botocore only when a store is built

    o = options
    return S3ObjectStore(
        o.endpoint_url,
        o.region,
        o.access_key_id,
        o.secret_access_key,
        addressing_style=o.addressing_style,
        max_pool_connections=o.max_pool_connections,
        multipart_threshold_bytes=o.multipart_threshold_bytes,
        multipart_chunk_bytes=o.multipart_chunk_bytes,
        multipart_concurrency=o.multipart_concurrency,
        connect_timeout=o.connect_timeout,
        read_timeout=o.read_timeout,
        max_attempts=o.max_attempts,
    )


def lean_client(
    options: S3Options, endpoint_url: str, credentials: Credentials, *, max_connections: int | None = None
) -> LeanS3:
    """A `LeanS3` with the same addressing, timeouts and retries as the botocore store."""
    return LeanS3(
        endpoint_url,
        options.region,
        credentials,
        addressing_style=options.addressing_style,
        max_connections=max(options.max_pool_connections, max_connections or 0),
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        max_attempts=options.max_attempts,
    )


def open_store(
    options: S3Options, *, lean: bool = False, max_connections: int | None = None
) -> S3ObjectStore | LeanObjectStore:
    """The botocore store; with `lean`, a `LeanObjectStore` whose LIST/HEAD/small reads skip
    botocore, fronting a botocore store built (from the same options) only for file transfers.

    Lean uses the AWS regional endpoint when none is set and a snapshot of the credentials
    (explicit keys, else the standard chain, read once): for short-lived processes only.
    `max_connections` raises the lean client's pool (HEAD batches). Callers close the store.
    """
    if not lean:
        return boto_store(options)
    endpoint = options.endpoint_url or f"https://s3.{options.region}.amazonaws.com"
    credentials = resolve_credentials(options.access_key_id, options.secret_access_key)
    client = lean_client(options, endpoint, credentials, max_connections=max_connections)
    full = replace(options, endpoint_url=endpoint)
    return LeanObjectStore(client, fallback=lambda: boto_store(full))
