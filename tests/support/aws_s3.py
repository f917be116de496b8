"""A small threaded S3 endpoint on 127.0.0.1 that answers the way AWS does where moto and
SeaweedFS differ (rules in `tests.support.aws_s3_state`), with faults on demand:

- `throttle(n, retry_after)`: the next n requests get 503 SlowDown with that Retry-After
  (None: no Retry-After header, as AWS itself answers);
- `reset_after(key, nbytes)`: a GET of `key` sends nbytes of the body, then resets the connection;
- `fail_parts_from = n`: multipart parts numbered n or more answer 500 InternalError;
- `state.directory_order`: list in SeaweedFS's directory order instead of byte order.
Every request is logged in `requests` as (method, path, query, time) for assertions. Signatures
are not checked (an Authorization header is required).
"""

from __future__ import annotations

import http.server
import socket
import struct
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.aws_s3_state import S3Error, State, Upload, listing_xml, new_obj


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        del format, args

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        owner.requests.append((self.command, parts.path, parts.query, time.monotonic()))
        try:
            if "Authorization" not in self.headers and "X-Amz-Credential" not in parts.query:
                raise S3Error(403, "AccessDenied", "Anonymous access is forbidden")
            throttled, retry_after = owner.take_throttle()
            if throttled:
                headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
                slow = (
                    b"" if self.command == "HEAD" else _error("SlowDown", "Please reduce your request rate.")
                )
                self._reply(503, slow, headers)
                return
            self._route(bucket, key, query, body)
        except S3Error as err:
            self._reply(err.status, b"" if self.command == "HEAD" else _error(err.code, err.message))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _dispatch

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self, bucket: str, key: str, query: dict[str, str], body: bytes) -> None:
        state, method = self.server.owner.state, self.command
        if not key:
            if method == "PUT":
                with state.lock:
                    if bucket in state.buckets:
                        raise S3Error(409, "BucketAlreadyOwnedByYou")
                    state.buckets[bucket] = {}
                return self._reply(200)
            if method == "HEAD":
                with state.lock:
                    state.bucket(bucket)
                return self._reply(200)
            if method == "POST" and "delete" in query:
                return self._delete_many(bucket, body)
            if method == "GET" and "uploads" in query:
                return self._list_uploads(bucket)
            if method == "GET":
                return self._list(bucket, query)
            raise S3Error(405, "MethodNotAllowed")
        if method == "PUT" and "uploadId" in query:
            failing = self.server.owner.fail_parts_from
            if failing is not None and int(query["partNumber"]) >= failing:
                raise S3Error(500, "InternalError", "injected failure")
            with state.lock:
                state.uploads[query["uploadId"]].parts[int(query["partNumber"])] = body
            return self._reply(200, headers={"ETag": f'"{new_obj(body, {}, "").etag}"'})
        if method == "PUT":
            return self._put(bucket, key, body)
        if method in ("GET", "HEAD"):
            return self._get(bucket, key)
        if method == "DELETE":
            with state.lock:
                if "uploadId" in query:
                    state.uploads.pop(query["uploadId"], None)
                else:
                    state.bucket(bucket).pop(key, None)
            return self._reply(204)
        if method == "POST" and "uploads" in query:
            return self._create_upload(bucket, key)
        if method == "POST" and "uploadId" in query:
            return self._complete(bucket, key, query["uploadId"])
        raise S3Error(405, "MethodNotAllowed")

    def _meta(self) -> dict[str, str]:
        return {k.lower()[11:]: v for k, v in self.headers.items() if k.lower().startswith("x-amz-meta-")}

    def _put(self, bucket: str, key: str, body: bytes) -> None:
        state = self.server.owner.state
        source = self.headers.get("x-amz-copy-source")
        with state.lock:
            objects = state.bucket(bucket)
            if self.headers.get("If-None-Match") == "*" and key in objects:
                raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions did not hold")
            if source is not None:
                src = objects.get(unquote(source).lstrip("/").partition("/")[2])
                if src is None:
                    raise S3Error(404, "NoSuchKey")
                obj = new_obj(src.data, dict(src.metadata), src.content_type)
            else:
                ctype = self.headers.get("Content-Type", "binary/octet-stream")
                obj = new_obj(body, self._meta(), ctype)
            objects[key] = obj
        if source is not None:
            result = f"<CopyObjectResult><ETag>&quot;{obj.etag}&quot;</ETag></CopyObjectResult>"
            return self._reply(200, result.encode())
        return self._reply(200, headers={"ETag": f'"{obj.etag}"'})

    def _get(self, bucket: str, key: str) -> None:
        owner = self.server.owner
        with owner.state.lock:
            obj = owner.state.bucket(bucket).get(key)
        if obj is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        headers = {
            "ETag": f'"{obj.etag}"', "Content-Type": obj.content_type,
            "Last-Modified": format_datetime(obj.modified, usegmt=True),
            **{f"x-amz-meta-{k}": v for k, v in obj.metadata.items()},
        }  # fmt: skip
        if self.headers.get("If-None-Match", "").strip('"') == obj.etag:
            return self._reply(304, headers=headers)
        data, status = obj.data, 200
        wanted = self.headers.get("Range")
        if wanted:
            first, _, last = wanted.removeprefix("bytes=").partition("-")
            end = min(int(last) + 1 if last else len(data), len(data))
            headers["Content-Range"] = f"bytes {first}-{end - 1}/{len(data)}"
            data, status = data[int(first) : end], 206
        cut = owner.resets.get(key)
        if cut is not None and self.command == "GET":
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:cut])
            self.wfile.flush()
            # SO_LINGER 0: close() sends a TCP reset, as a dying load balancer does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return None
        headers["Content-Length"] = str(len(data))
        return self._reply(status, data, headers)

    def _list(self, bucket: str, query: dict[str, str]) -> None:
        state = self.server.owner.state
        url = query.get("encoding-type") == "url"
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        listing = state.list(
            bucket, prefix, delimiter, query.get("start-after", ""),
            query.get("continuation-token"), int(query.get("max-keys", "1000")),
        )  # fmt: skip
        self._reply(200, listing_xml(bucket, prefix, delimiter, listing, url),
                    {"Content-Type": "application/xml"})  # fmt: skip

    def _delete_many(self, bucket: str, body: bytes) -> None:
        ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
        root = ET.fromstring(body)
        keys = [el.text or "" for el in root.iter() if el.tag in ("Key", f"{ns}Key")]
        with self.server.owner.state.lock:
            objects = self.server.owner.state.bucket(bucket)
            for key in keys:
                objects.pop(key, None)
        deleted = "".join(f"<Deleted><Key>{k}</Key></Deleted>" for k in keys)
        self._reply(200, f"<DeleteResult>{deleted}</DeleteResult>".encode())

    def _create_upload(self, bucket: str, key: str) -> None:
        state = self.server.owner.state
        with state.lock:
            state.bucket(bucket)
            upload_id = state.upload_id()
            ctype = self.headers.get("Content-Type", "binary/octet-stream")
            state.uploads[upload_id] = Upload(bucket, key, self._meta(), ctype, datetime.now(UTC))
        xml = (
            f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}</Key>"
            f"<UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>"
        )
        self._reply(200, xml.encode())

    def _complete(self, bucket: str, key: str, upload_id: str) -> None:
        state = self.server.owner.state
        with state.lock:
            upload = state.uploads.get(upload_id)
            if upload is None:
                raise S3Error(404, "NoSuchUpload")
            objects = state.bucket(bucket)
            if self.headers.get("If-None-Match") == "*" and key in objects:
                raise S3Error(412, "PreconditionFailed")
            data = b"".join(upload.parts[n] for n in sorted(upload.parts))
            obj = objects[key] = new_obj(data, upload.metadata, upload.content_type)
            obj.etag = f"{obj.etag}-{len(upload.parts)}"
            del state.uploads[upload_id]
        xml = (
            f"<CompleteMultipartUploadResult><Key>{key}</Key>"
            f"<ETag>&quot;{obj.etag}&quot;</ETag></CompleteMultipartUploadResult>"
        )
        self._reply(200, xml.encode())

    def _list_uploads(self, bucket: str) -> None:
        with self.server.owner.state.lock:
            found = [(i, u) for i, u in self.server.owner.state.uploads.items() if u.bucket == bucket]
        items = "".join(
            f"<Upload><Key>{u.key}</Key><UploadId>{i}</UploadId>"
            f"<Initiated>{u.initiated.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</Initiated></Upload>"
            for i, u in found
        )
        body = (
            f"<ListMultipartUploadsResult><Bucket>{bucket}</Bucket><IsTruncated>false</IsTruncated>"
            f"{items}</ListMultipartUploadsResult>"
        )
        self._reply(200, body.encode())


def _error(code: str, message: str) -> bytes:
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    return f"{head}<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: AwsS3

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up (a test's reset, an aborted upload) is not worth a traceback."""


class AwsS3:
    """Start with `with AwsS3() as s3:`; `s3.endpoint_url` is http://127.0.0.1:<port>."""

    def __init__(self) -> None:
        self.state = State()
        self.requests: list[tuple[str, str, str, float]] = []
        self.resets: dict[str, int] = {}
        self.fail_parts_from: int | None = None  # UploadPart of this part number or later: 500
        self._throttles: list[int | None] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def throttle(self, count: int, retry_after: int | None = 1) -> None:
        with self._lock:
            self._throttles = [retry_after] * count

    def take_throttle(self) -> tuple[bool, int | None]:
        """(whether this request is throttled, the Retry-After to send with it)."""
        with self._lock:
            return (True, self._throttles.pop()) if self._throttles else (False, None)

    def reset_after(self, key: str, nbytes: int) -> None:
        self.resets[key] = nbytes

    def __enter__(self) -> AwsS3:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
