"""The S3 REST wire for the lean client: ListObjectsV2 pages, HEAD headers, error answers (pure).

LIST pages are parsed with one regex pass instead of a DOM: a value inside escaped XML cannot
hold a literal `<`, so every match is a real element. `Key` opens each `<Contents>` in AWS's and
SeaweedFS's answers alike; the other fields follow in server-specific order, and an entry that
lacks one of them makes the whole page an error (never a silently short count). Keys were asked
for with `encoding-type=url`, so they arrive percent-encoded inside XML.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import unescape
from urllib.parse import unquote_plus

from app.errors import (
    AccessDenied,
    AlreadyExists,
    BucketNotFound,
    GliderError,
    InvalidInput,
    ObjectNotFound,
    StorageUnavailable,
)
from app.storage.base import ListPage, ObjectHead, ObjectInfo

META_PREFIX = "x-amz-meta-"
_LIST_FIELD = re.compile(r"<(Key|ETag|Size|LastModified)>([^<]*)</")
_COMMON_PREFIX = re.compile(r"<CommonPrefixes>\s*<Prefix>([^<]*)</Prefix>")
_TAG = re.compile(r"<(IsTruncated|NextContinuationToken)>([^<]*)</")
_ERROR_CODE = re.compile(r"<Code>([^<]*)</Code>")


def unquote_key(text: str) -> str:
    """A key or prefix as listed with encoding-type=url ('+' is a space)."""
    if "&" in text:
        text = unescape(text)
    return unquote_plus(text) if ("%" in text or "+" in text) else text


# Many objects share a timestamp; parsing each distinct one once matters at a million keys.
@functools.lru_cache(maxsize=4096)
def _iso_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@functools.lru_cache(maxsize=4096)
def _http_time(text: str) -> datetime:
    return parsedate_to_datetime(text)


def parse_list_page(text: str, bucket: str, endpoint: str) -> ListPage:
    """One ListObjectsV2 answer. Raise StorageUnavailable when it is not a complete listing."""
    tags = dict(_TAG.findall(text))
    objects: list[ObjectInfo] = []
    key = etag = modified = ""
    size = -1

    def close_entry() -> None:
        if size < 0 or not modified:
            raise StorageUnavailable(f"S3 endpoint {endpoint} sent an incomplete listing of '{bucket}'")
        objects.append(ObjectInfo(key, size, etag, _iso_time(modified)))

    for name, value in _LIST_FIELD.findall(text):
        if name == "Key":
            if key:
                close_entry()
            key, etag, size, modified = unquote_key(value), "", -1, ""
        elif name == "ETag":
            etag = (unescape(value) if "&" in value else value).strip('"')
        elif name == "Size":
            size = int(value)
        else:
            modified = value
    if key:
        close_entry()
    if text.count("<Contents>") != len(objects):
        raise StorageUnavailable(f"S3 endpoint {endpoint} sent an unparsable listing of '{bucket}'")
    prefixes = tuple(unquote_key(p) for p in _COMMON_PREFIX.findall(text))
    token = tags.get("NextContinuationToken") if tags.get("IsTruncated") == "true" else None
    return ListPage(tuple(objects), prefixes, unquote_key(token) if token else None)


def object_head(key: str, headers: Mapping[str, str]) -> ObjectHead:
    """An ObjectHead from a HEAD answer's headers (names lower-case)."""
    metadata = {
        name[len(META_PREFIX) :]: value for name, value in headers.items() if name.startswith(META_PREFIX)
    }
    modified = headers.get("last-modified")
    return ObjectHead(
        key=key,
        size=int(headers.get("content-length") or 0),
        etag=(headers.get("etag") or "").strip('"'),
        last_modified=_http_time(modified) if modified else datetime.fromtimestamp(0, UTC),
        metadata=metadata,
        content_type=headers.get("content-type"),
    )


def translate(status: int, body: bytes, *, endpoint: str, bucket: str, key: str | None) -> GliderError:
    """The typed error for a non-2xx answer. A bare 404 means the key when `key` is given
    (HEAD answers carry no body, so a HEAD on a missing bucket reads as a missing key)."""
    match = _ERROR_CODE.search(body.decode("utf-8", "replace")) if body else None
    code = match.group(1) if match else ""
    where = f"object '{key}' in bucket '{bucket}'" if key is not None else f"bucket '{bucket}'"
    if code == "NoSuchBucket" or (status == 404 and key is None):
        return BucketNotFound(f"bucket '{bucket}' does not exist")
    if status == 404:
        return ObjectNotFound(f"{where} does not exist")
    if status == 403:
        return AccessDenied(f"S3 endpoint {endpoint} denied access to {where}: {code or status}")
    if status == 412:
        return AlreadyExists(f"{where} already exists")
    if code == "InvalidBucketName":
        return InvalidInput(f"invalid bucket name {bucket!r}")
    if 400 <= status < 500 and status not in (408, 429):
        return InvalidInput(f"S3 rejected the request on {where}: {code or status}")
    return StorageUnavailable(f"S3 endpoint {endpoint} failed on {where}: {code} (HTTP {status})")
