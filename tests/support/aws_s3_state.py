"""State and listing rules of the in-test AWS-shaped S3 endpoint (`tests.support.aws_s3`).

Where AWS differs from moto and SeaweedFS, this follows AWS: continuation tokens are opaque
base64 holding `+`, `/` and `=` and must come back byte for byte (anything else is 400
InvalidArgument); `encoding-type=url` percent-encodes keys and prefixes, never the token. With
`directory_order` it lists the way SeaweedFS does (`a/x` before `a-b/y`), start-after included.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote


@dataclass
class Obj:
    data: bytes
    metadata: dict[str, str]
    content_type: str
    etag: str
    modified: datetime


@dataclass
class Upload:
    bucket: str
    key: str
    metadata: dict[str, str]
    content_type: str
    initiated: datetime
    parts: dict[int, bytes] = field(default_factory=dict)


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message or code


def new_obj(data: bytes, metadata: dict[str, str], content_type: str) -> Obj:
    etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return Obj(data, metadata, content_type, etag, datetime.now(UTC).replace(microsecond=0))


def aws_token() -> str:
    """44 opaque characters holding '+', '/' and '=' (as real AWS tokens often do)."""
    return base64.b64encode(b"\xfb\xff\xbe" + os.urandom(28)).decode()


@dataclass
class Listing:
    keys: list[tuple[str, Obj | None]]  # (key or common prefix, object; None for a prefix)
    truncated: bool
    next_token: str | None


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, dict[str, Obj]] = {}
        self.uploads: dict[str, Upload] = {}
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (bucket, last entry returned)
        self.directory_order = False
        self._ids = itertools.count(1)

    def bucket(self, name: str) -> dict[str, Obj]:
        found = self.buckets.get(name)
        if found is None:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
        return found

    def order(self, key: str) -> tuple[bytes, ...] | bytes:
        return tuple(p.encode() for p in key.split("/")) if self.directory_order else key.encode()

    def upload_id(self) -> str:
        return f"upload-{next(self._ids)}"

    def list(
        self, bucket: str, prefix: str, delimiter: str, start_after: str, token: str | None, max_keys: int
    ) -> Listing:
        with self.lock:
            objects = dict(self.bucket(bucket))
            if token is not None:
                held = self.tokens.get(token)
                if held is None or held[0] != bucket:
                    raise S3Error(400, "InvalidArgument", "The continuation token provided is incorrect")
                start_after = held[1]
        keys = sorted((k for k in objects if k.startswith(prefix)), key=self.order)
        entries: list[tuple[str, Obj | None]] = []
        for key in keys:
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                group = key[: cut + len(delimiter)]
                if not entries or entries[-1][0] != group:
                    entries.append((group, None))
            else:
                entries.append((key, objects[key]))
        if start_after:
            mark = self.order(start_after)
            entries = [e for e in entries if self.order(e[0]) > mark]  # type: ignore[operator]
        page, rest = entries[:max_keys], entries[max_keys:]
        next_token = None
        if rest:
            next_token = aws_token()
            with self.lock:
                self.tokens[next_token] = (bucket, page[-1][0])
        return Listing(page, bool(rest), next_token)


def listing_xml(bucket: str, prefix: str, delimiter: str, listing: Listing, url_encode: bool) -> bytes:
    def enc(text: str) -> str:
        text = quote(text, safe="/") if url_encode else text
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
        f"<Name>{bucket}</Name><Prefix>{enc(prefix)}</Prefix><KeyCount>{len(listing.keys)}</KeyCount>",
        f"<MaxKeys>1000</MaxKeys><IsTruncated>{str(listing.truncated).lower()}</IsTruncated>",
    ]
    if delimiter:
        parts.append(f"<Delimiter>{enc(delimiter)}</Delimiter>")
    if url_encode:
        parts.append("<EncodingType>url</EncodingType>")
    for key, obj in listing.keys:
        if obj is None:
            parts.append(f"<CommonPrefixes><Prefix>{enc(key)}</Prefix></CommonPrefixes>")
        else:
            stamp = obj.modified.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            parts.append(
                f"<Contents><Key>{enc(key)}</Key><LastModified>{stamp}</LastModified>"
                f"<ETag>&quot;{obj.etag}&quot;</ETag><Size>{len(obj.data)}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
    if listing.next_token:
        parts.append(f"<NextContinuationToken>{listing.next_token}</NextContinuationToken>")
    parts.append("</ListBucketResult>")
    return "".join(parts).encode()
