"""A small typed HTTP client of a running Glider service: what `glider --server URL` talks to.

It answers with the engine's own result types (`PutResult`, `LogicalPage`, `DeleteResult`,
`ClearResult`) so the CLI prints the same lines in both modes, plus `RemoteObject` (a GET/HEAD's
headers: the service does not send the stored size there) and `ServerStats`.

Errors: every non-2xx answer becomes the `app.errors` class the service raised
(`app.cli.problems`), so the CLI exits with the same status as in direct mode. A server that cannot
be reached (refused, timed out, dropped) is `StorageUnavailable` naming the URL. Bucket and key
are validated here first, as the engine does, so a bad key fails the same way and a `..` segment
never reaches URL normalisation.

Downloads stream into a temporary file beside the destination, checked against `Content-Length`
and `X-Content-SHA256` before an atomic rename: the destination is never a partial file. Uploads
stream the file (constant memory) with `X-Content-SHA256`, which the service verifies before it
stores anything. Progress bars go to stderr. The bearer token is sent, never printed or logged.

Blocking calls over one pooled `httpx.Client` per instance; close it (or use it as a context manager).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import httpx

from app import errors
from app.caches.base import ClearResult
from app.cli.problems import error_for
from app.cli.remote_progress import Bar, read_blocks
from app.cli.remote_results import RemoteObject, ServerStats, http_date, server_stats
from app.domain.files import commit, temp_beside
from app.domain.keys import delta_key_for, validate_bucket, validate_key
from app.domain.urls import redact_url
from app.engine.results import DeleteResult, DirectReason, Form, LogicalPage, ObjectMeta, PutResult, StoredAs
from app.stats.model import StatsMode

__all__ = ["GliderClient", "RemoteObject", "ServerStats"]

CHUNK = 1024 * 1024
CONNECT_TIMEOUT = 10.0
# Reads wait for the service's own work (rebuilding a big file, a detailed stats run, committing
# an upload after its last byte), so they get much longer than connects.
READ_TIMEOUT = 900.0


class GliderClient:
    """Calls on one Glider service at `server` (`http[s]://host:port`), as `token`'s holder."""

    def __init__(
        self, server: str, token: str | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise errors.InvalidInput(f"--server must be an http:// or https:// URL, not {server!r}")
        # `server` is what messages and output show: without any credentials in the URL.
        self.server = redact_url(server.rstrip("/"))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        self._http = httpx.Client(
            base_url=server.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GliderClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _unreachable(self, err: httpx.TransportError) -> errors.StorageUnavailable:
        what = "timed out" if isinstance(err, httpx.TimeoutException) else "cannot be reached"
        return errors.StorageUnavailable(f"Glider server {self.server} {what}: {err or type(err).__name__}")

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        content: Iterator[bytes] | None = None,
    ) -> httpx.Response:
        """One request, its body read; a non-2xx answer raised as its error."""
        try:
            response = self._http.request(method, url, params=params, headers=headers, content=content)
        except httpx.TransportError as err:
            raise self._unreachable(err) from err
        if response.is_error:
            raise error_for(response, self.server)
        return response

    @staticmethod
    def _object_url(bucket: str, key: str) -> str:
        validate_bucket(bucket)
        validate_key(key)
        return f"/buckets/{bucket}/objects/{quote(key, safe='/')}"

    def _remote(self, bucket: str, key: str, headers: httpx.Headers) -> RemoteObject:
        return RemoteObject(
            bucket=bucket,
            key=key,
            size=int(headers.get("Content-Length", "0")),
            sha256=headers.get("X-Content-SHA256"),
            stored_as=StoredAs(headers.get("X-Glider-Stored-As", StoredAs.FOREIGN.value)),
            etag=headers.get("ETag", "").strip('"'),
            last_modified=http_date(headers.get("Last-Modified")),
        )

    # -- operations ----------------------------------------------------------------------------

    def upload(
        self, path: Path, bucket: str, key: str, *, sha256: str, progress_min: int | None = None
    ) -> PutResult:
        """POST /upload the file at `path` (streamed; `sha256` is its hex digest, checked by the
        service before anything is stored). A byte bar goes to stderr when the file has at least
        `progress_min` bytes (None: never). Raises InvalidInput/ReservedKey for a bad key,
        ChecksumMismatch when the file changed after hashing, and the service's errors."""
        validate_bucket(bucket)
        validate_key(key)
        size = path.stat().st_size
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),  # not chunked: the service can refuse an oversized file early
            "X-Content-SHA256": sha256,
        }
        with path.open("rb") as fh, Bar(progress_min, size, f"uploading {key}") as bar:
            response = self._request(
                "POST",
                "/upload",
                params={"bucket": bucket, "key": key},
                headers=headers,
                content=read_blocks(fh, bar),
            )
        body = response.json()
        stored_as = StoredAs(body["stored_as"])
        stored_key = key if stored_as is StoredAs.DIRECT else delta_key_for(key)
        return PutResult(
            bucket=body["bucket"],
            key=body["key"],
            stored_as=stored_as,
            original_size=int(body["original_size"]),
            stored_size=int(body["stored_size"]),
            sha256=body["sha256"],
            stored_key=stored_key,
            reference_size=int(body.get("reference_size", 0)),
            reason=_reason(body.get("reason")),
            form=Form(body.get("form") or "plain"),
        )

    def download(self, bucket: str, key: str, dest: Path, *, progress_min: int | None = None) -> RemoteObject:
        """GET the object into `dest` atomically (a bar as for `upload`). The service verified the
        bytes before sending; they are checked again here against Content-Length and
        X-Content-SHA256 (IntegrityError on a mismatch, and `dest` is left as it was)."""
        url = self._object_url(bucket, key)
        what = f"s3://{bucket}/{key}"
        try:
            with self._http.stream("GET", url) as response:
                if response.is_error:
                    raise error_for(response, self.server)
                remote = self._remote(bucket, key, response.headers)
                with temp_beside(dest) as tmp:
                    digest, received = hashlib.sha256(), 0
                    with tmp.open("wb") as out, Bar(progress_min, remote.size, f"downloading {key}") as bar:
                        for chunk in response.iter_bytes(CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
                    declared = response.headers.get("Content-Length")
                    if declared is not None and received != int(declared):
                        raise errors.IntegrityError(
                            f"truncated download of {what}: {received} of {declared} bytes"
                        )
                    if remote.sha256 is not None and remote.sha256.lower() != digest.hexdigest():
                        raise errors.IntegrityError(f"{what} does not match the SHA-256 the server announced")
                    commit(tmp, dest)
        except httpx.TransportError as err:
            raise self._unreachable(err) from err
        return dataclasses.replace(remote, size=received)

    def head(self, bucket: str, key: str) -> RemoteObject:
        """HEAD the object: its original size, SHA-256 and how it is stored."""
        response = self._request("HEAD", self._object_url(bucket, key))
        return self._remote(bucket, key, response.headers)

    def list(
        self, bucket: str, prefix: str = "", continuation_token: str | None = None, max_keys: int = 1000
    ) -> LogicalPage:
        """One page of the logical listing (sizes as the engine's listing gives them)."""
        validate_bucket(bucket)
        params: dict[str, str | int] = {"prefix": prefix, "max_keys": max_keys}
        if continuation_token is not None:
            params["continuation_token"] = continuation_token
        body = self._request("GET", f"/buckets/{bucket}/objects", params=params).json()
        objects = tuple(
            ObjectMeta(
                bucket=bucket,
                key=item["key"],
                size=None if item.get("size") is None else int(item["size"]),
                stored_size=int(item["stored_size"]),
                sha256=item.get("sha256"),
                stored_as=StoredAs(item["stored_as"]),
                last_modified=datetime.fromisoformat(item["last_modified"]),
                etag=item["etag"],
            )
            for item in body["objects"]
        )
        return LogicalPage(objects, body.get("next_continuation_token"))

    def delete(self, bucket: str, key: str) -> DeleteResult:
        """DELETE the object (needs the admin scope); the stored keys removed."""
        body = self._request("DELETE", self._object_url(bucket, key)).json()
        return DeleteResult(body["bucket"], body["key"], tuple(body["deleted_keys"]))

    def stats(
        self, bucket: str, mode: StatsMode, *, refresh: bool = False, use_cache: bool = True
    ) -> ServerStats:
        """GET /buckets/{bucket}/stats in `mode`."""
        validate_bucket(bucket)
        params = {"mode": mode.value, "refresh": str(refresh).lower(), "use_cache": str(use_cache).lower()}
        document = self._request("GET", f"/buckets/{bucket}/stats", params=params).json()
        return server_stats(document)

    def clear_cache(self) -> ClearResult:
        """POST /admin/clear-cache (admin scope): what the replica that answered dropped."""
        body = self._request("POST", "/admin/clear-cache").json()
        return ClearResult(bytes_freed=int(body["bytes_freed"]), entries_freed=int(body["entries_freed"]))


def _reason(text: object) -> DirectReason | None:
    """The service's `reason`; a value this client does not know reads as None, not an error."""
    try:
        return DirectReason(text) if isinstance(text, str) else None
    except ValueError:
        return None
