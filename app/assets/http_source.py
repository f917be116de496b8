"""`AssetSource` through a Glider server over HTTP (`GET /buckets/{bucket}/objects/{key}`).

The server rebuilds and SHA-verifies before its first byte; this client streams the body to disk,
hashes it on the way, and checks it against the `X-Content-SHA256` header when the server sends
one and against `Content-Length`. The validator is the server's strong `ETag` (derived from the
content hash), kept verbatim.

Revalidation is one conditional GET (`If-None-Match: <etag>`): 304 means unchanged; a 200 already
carries the new bytes. A server that ignores the header and answers 200 with the same ETag is
treated as unchanged and the body is not read.

Publishing is refused: the server's upload has no write-once option, and versioned assets must
never be overwritten; `vc add`/`vc update` need direct S3 access.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

import httpx

from app.assets.source import AssetSource, RemoteVersion
from app.domain.urls import redact_url
from app.errors import (
    AccessDenied,
    BucketNotFound,
    Conflict,
    Forbidden,
    GliderError,
    IntegrityError,
    InvalidInput,
    ObjectNotFound,
    StorageUnavailable,
    Unauthorized,
)

CHUNK = 1024 * 1024
LOCATOR = "http"


def _problem_type(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("type", "")) if isinstance(body, dict) else ""


def _error_for(response: httpx.Response, what: str) -> GliderError:
    """The server's problem+json answer as our own error (the API's table, read backwards)."""
    response.read()
    status, kind = response.status_code, _problem_type(response)
    message = f"Glider server answered {status} for {what}"
    if status == 401:
        return Unauthorized(f"{message}: missing or wrong token")
    if status == 403:
        return Forbidden(f"{message}: the token lacks the read scope")
    if status == 404:
        return BucketNotFound(message) if kind.endswith("bucket-not-found") else ObjectNotFound(message)
    if status == 409:
        return Conflict(message)
    if status in (400, 422):
        return InvalidInput(message)
    if status == 502 and kind.endswith("integrity-error"):
        return IntegrityError(f"{message}: stored data failed verification")
    if status == 502 and kind.endswith("access-denied"):
        return AccessDenied(f"{message}: the server's object store refused access")
    return StorageUnavailable(message)


class GliderServerSource(AssetSource):
    """Thread-safe (one pooled `httpx.Client`). Call `close()` when done."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._server = redact_url(base_url)  # what messages show: never the URL's credentials
        self._client = client or httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    @staticmethod
    def _url(bucket: str, key: str) -> str:
        return f"/buckets/{quote(bucket, safe='')}/objects/{quote(key, safe='/')}"

    def fetch(self, bucket: str, key: str, dest: Path) -> RemoteVersion:
        version = self._get(bucket, key, dest, None)
        if version is None:  # impossible without If-None-Match; keep the contract explicit
            raise IntegrityError(f"Glider server answered 304 to an unconditional GET of {key}")
        return version

    def refresh(self, bucket: str, key: str, held: RemoteVersion, dest: Path) -> RemoteVersion | None:
        if held.locator != LOCATOR or not held.validator:
            return self.fetch(bucket, key, dest)
        return self._get(bucket, key, dest, held.validator)

    def _get(self, bucket: str, key: str, dest: Path, validator: str | None) -> RemoteVersion | None:
        what = f"s3://{bucket}/{key}"
        headers = {"If-None-Match": validator} if validator else {}
        try:
            with self._client.stream("GET", self._url(bucket, key), headers=headers) as response:
                if response.status_code == 304:
                    return None
                if response.status_code != 200:
                    raise _error_for(response, what)
                etag = response.headers.get("ETag", "")
                if validator is not None and etag == validator:
                    return None
                return self._save(response, dest, etag, what)
        except httpx.TransportError as err:
            raise StorageUnavailable(f"Glider server {self._server} unreachable for {what}: {err}") from err

    @staticmethod
    def _save(response: httpx.Response, dest: Path, etag: str, what: str) -> RemoteVersion:
        digest = hashlib.sha256()
        received = 0
        with dest.open("wb") as out:
            for chunk in response.iter_bytes(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
        sha = digest.hexdigest()
        declared_size = response.headers.get("Content-Length")
        if declared_size is not None and int(declared_size) != received:
            raise IntegrityError(f"truncated download of {what}: {received} of {declared_size} bytes")
        declared_sha = response.headers.get("X-Content-SHA256")
        if declared_sha is not None and declared_sha.lower() != sha:
            raise IntegrityError(f"{what} does not match the server's SHA-256 ({declared_sha} != {sha})")
        return RemoteVersion(etag, LOCATOR, sha, received)

    def publish(self, bucket: str, key: str, path: Path, sha256: str) -> None:
        raise InvalidInput(
            "publishing a versioned asset needs direct S3 access (the Glider server has no write-once "
            "upload); unset DG_ASSET_SERVER_URL for `vc add` / `vc update`"
        )
