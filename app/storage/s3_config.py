"""Connection values for the S3 store, and their translation into obstore's configuration.

Plain values in (`S3Options`: the container and CLI map `Settings.s3` onto it); no Settings and no
environment reads here. Credentials: static keys when given (no botocore import: the CLI's fast
path), else botocore's whole chain (environment, shared config and profiles, SSO, web identity,
container and instance metadata), refreshed by botocore before expiry and re-read by obstore every
few minutes through `BotocoreCredentials`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from app.domain.sizes import MiB
from app.errors import AccessDenied, InvalidInput

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Credential

# How long obstore may reuse one answer of the chain. botocore refreshes temporary credentials
# at least 10 minutes before they expire, so an answer is always good for longer than this.
CREDENTIAL_REUSE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class S3Options:
    """Plain connection values. Sizes in bytes, times in seconds. Left as None, the endpoint is
    AWS's regional one and credentials come from botocore's chain. Proxies and the CA bundle
    (PEM file) apply to every S3 request; `no_proxy` is a comma-separated host list."""

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
    max_retry_wait: float = 20.0
    retry_budget: float = 60.0
    list_concurrency: int = 8
    https_proxy: str | None = None
    http_proxy: str | None = None
    no_proxy: str | None = None
    ca_bundle: Path | None = None

    @property
    def endpoint(self) -> str:
        return (self.endpoint_url or f"https://s3.{self.region}.amazonaws.com").rstrip("/")


class BotocoreCredentials:
    """obstore credential provider over botocore's chain. Thread-safe; botocore is imported on
    first use. Raises AccessDenied when the chain finds nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: Any = None

    def __call__(self) -> S3Credential:
        with self._lock:
            if self._credentials is None:
                import botocore.session  # noqa: PLC0415 - only when no static keys are configured

                self._credentials = botocore.session.get_session().get_credentials()
            if self._credentials is None:
                raise AccessDenied("no S3 credentials found (environment, profile, SSO, role or metadata)")
            frozen = self._credentials.get_frozen_credentials()
        if not frozen.access_key or not frozen.secret_key:
            raise AccessDenied("incomplete S3 credentials (an access key without its secret)")
        refreshes = getattr(self._credentials, "refresh_needed", None) is not None
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            "expires_at": datetime.now(UTC) + CREDENTIAL_REUSE if refreshes else None,
        }


def client_config(options: S3Options) -> ClientConfig:
    """Timeouts, pool, proxy and trusted CAs for obstore's HTTP client."""
    parts = urlsplit(options.endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"invalid S3 endpoint URL {options.endpoint_url!r}")
    config: ClientConfig = {
        "allow_http": parts.scheme == "http",
        "connect_timeout": timedelta(seconds=options.connect_timeout),
        # A stalled read fails after read_timeout; a whole transfer may take longer.
        "read_timeout": timedelta(seconds=options.read_timeout),
        "timeout": timedelta(hours=6),
        "pool_max_idle_per_host": str(options.max_pool_connections),
        "default_content_type": "application/octet-stream",
    }
    proxy = options.https_proxy if parts.scheme == "https" else options.http_proxy
    if proxy:
        config["proxy_url"] = proxy
        if options.no_proxy:
            config["proxy_excludes"] = options.no_proxy
    if options.ca_bundle is not None:
        try:
            config["root_certificate"] = options.ca_bundle.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            raise InvalidInput(f"CA bundle {options.ca_bundle} is not a readable PEM file") from err
    return config


def retry_config(options: S3Options, *, transfer: bool) -> RetryConfig:
    """obstore's own retries, on only for transfers (multi-request streams: a GET body resumed
    where it broke, one multipart part re-sent, a listing's next page): there they save re-sending
    a whole object. Single requests get none here, `s3_retry` decides (obstore cannot honour
    Retry-After). Exponential backoff with jitter, bounded in count and time."""
    return {
        "max_retries": max(0, options.max_attempts - 1) if transfer else 0,
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=5),
            "base": 2,
        },
        "retry_timeout": timedelta(seconds=max(30.0, options.read_timeout * options.max_attempts)),
    }
