"""`Settings.s3` onto the object-store factory: the one mapping, shared by the container and the CLI.

Light (no boto3/botocore, no engine, no services) so CLI commands keep their fast start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.settings import S3Settings
from app.storage.factory import MiB, S3Options, open_store

if TYPE_CHECKING:
    from app.storage.lean_store import LeanObjectStore
    from app.storage.s3 import S3ObjectStore


@dataclass(frozen=True, slots=True)
class S3Target:
    """Where S3 is, when it is not (only) what Settings say: an embedded SeaweedFS, say."""

    endpoint_url: str | None
    access_key_id: str | None
    secret_access_key: str | None
    embedded: bool


def settings_target(s3: S3Settings) -> S3Target:
    """The endpoint and credentials exactly as configured (None: the standard AWS chain)."""
    secret = s3.secret_access_key.get_secret_value() if s3.secret_access_key else None
    return S3Target(s3.endpoint_url, s3.access_key_id, secret, embedded=False)


def s3_options(s3: S3Settings, target: S3Target | None = None) -> S3Options:
    """Every connection setting of `s3`, at `target` (default: as configured)."""
    where = target if target is not None else settings_target(s3)
    return S3Options(
        endpoint_url=where.endpoint_url,
        region=s3.region,
        access_key_id=where.access_key_id,
        secret_access_key=where.secret_access_key,
        addressing_style=s3.addressing_style,
        max_pool_connections=s3.max_pool_connections,
        multipart_threshold_bytes=s3.multipart_threshold_mb * MiB,
        multipart_chunk_bytes=s3.multipart_chunk_mb * MiB,
        connect_timeout=s3.connect_timeout_seconds,
        read_timeout=s3.read_timeout_seconds,
        max_attempts=s3.max_attempts,
    )


def build_store(
    s3: S3Settings, target: S3Target | None = None, *, lean: bool = False, max_connections: int | None = None
) -> S3ObjectStore | LeanObjectStore:
    """The object store for `s3` (see `app.storage.factory.open_store` for `lean`)."""
    return open_store(s3_options(s3, target), lean=lean, max_connections=max_connections)
