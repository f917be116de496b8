"""The logical listing: hides reference.bin and `.deltaglider/`, strips `.delta`, pages by logical keys.

A page holds up to `max_keys` logical objects however many hidden objects the store returns
around them. The continuation token is opaque to callers; inside it records the store's token
for the underlying page being read and the last stored key consumed from it, so resuming
re-reads that underlying page and skips what was already returned (store tokens are reusable
in S3's ListObjectsV2). Hidden objects on a page boundary therefore never shift or drop an entry.

Order is the store's key order of the stored names, so `a.zip` (stored `a.zip.delta`) comes
after `a.zip-2`. Without `detailed`, deltas report their stored size as `size` and no sha256 (no
HEAD per object); with it, one HEAD per listed object fills in the original size and hash.
A key caught mid-switch between delta and direct (`k` and `k.delta` both stored) is listed once:
within a page the newer wins; when `k.delta` falls on a later page than `k` (keys such as `k-1`
sort between them), one HEAD of `k` detects the twin and skips it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from app.domain.keys import DELTA_SUFFIX, logical_key, validate_bucket
from app.domain.metadata import classify
from app.engine.locate import head_or_none
from app.engine.reader import describe
from app.engine.results import LogicalPage, ObjectMeta, StoredAs
from app.errors import InvalidInput
from app.storage.base import ObjectInfo, ObjectStore

MAX_KEYS = 1000
_STORE_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing resumes: the store page token and the last stored key already consumed."""

    store_token: str | None
    after: str | None


def encode_token(cursor: Cursor) -> str:
    raw = json.dumps({"v": 1, "t": cursor.store_token, "a": cursor.after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str | None) -> Cursor:
    """Parse a token made by encode_token; InvalidInput for anything else."""
    if not token:
        return Cursor(None, None)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidInput("invalid continuation token") from None
    if not isinstance(data, dict) or data.get("v") != 1:
        raise InvalidInput("invalid continuation token")
    store_token, after = data.get("t"), data.get("a")
    if not (store_token is None or isinstance(store_token, str)) or not (
        after is None or isinstance(after, str)
    ):
        raise InvalidInput("invalid continuation token")
    return Cursor(store_token, after)


def _entry(bucket: str, info: ObjectInfo, key: str) -> ObjectMeta:
    is_delta = info.key.endswith(DELTA_SUFFIX)
    return ObjectMeta(
        bucket=bucket,
        key=key,
        size=info.size,
        stored_size=info.size,
        sha256=None,
        stored_as=StoredAs.DELTA if is_delta else StoredAs.DIRECT,
        last_modified=info.last_modified,
        etag=info.etag,
    )


def list_logical(
    store: ObjectStore,
    bucket: str,
    prefix: str = "",
    continuation_token: str | None = None,
    max_keys: int = MAX_KEYS,
    *,
    detailed: bool = False,
    store_page: int = _STORE_PAGE,
) -> LogicalPage:
    """One page of logical objects under `prefix` (see the module docstring for the rules).

    `store_page` is the size of the underlying LIST pages (tests shrink it to hit boundaries).
    """
    validate_bucket(bucket)
    if not 1 <= max_keys <= MAX_KEYS:
        raise InvalidInput(f"max_keys must be between 1 and {MAX_KEYS}, got {max_keys}")
    cursor = decode_token(continuation_token)
    collected: dict[str, tuple[ObjectInfo, ObjectMeta]] = {}
    store_token, after = cursor.store_token, cursor.after
    start = cursor.after  # every stored key <= start was handled by an earlier page
    while True:
        page = store.list_page(bucket, prefix, continuation_token=store_token, max_keys=store_page)
        for info in page.objects:
            if after is not None and info.key <= after:
                continue
            key = logical_key(info.key)
            if key is None or not key.startswith(prefix):
                after = info.key
                continue
            if (
                start is not None
                and key <= start
                and key not in collected
                and _direct_exists(store, bucket, key)
            ):
                after = info.key  # `k` was listed on an earlier page; this is its `.delta` twin
                continue
            if key in collected:  # `k` and `k.delta` both present: keep the newer
                if info.last_modified > collected[key][0].last_modified:
                    collected[key] = (info, _entry(bucket, info, key))
                after = info.key
                continue
            if len(collected) == max_keys:
                return _finish(store, bucket, collected, Cursor(store_token, after), detailed)
            collected[key] = (info, _entry(bucket, info, key))
            after = info.key
        if page.next_token is None:
            return _finish(store, bucket, collected, None, detailed)
        store_token = page.next_token  # keep `after`: later pages only hold greater keys


def _direct_exists(store: ObjectStore, bucket: str, key: str) -> bool:
    """Only asked for a `.delta` whose stripped name sorts before the page start (rare)."""
    return head_or_none(store, bucket, key) is not None


def _finish(
    store: ObjectStore,
    bucket: str,
    collected: dict[str, tuple[ObjectInfo, ObjectMeta]],
    cursor: Cursor | None,
    detailed: bool,
) -> LogicalPage:
    token = encode_token(cursor) if cursor is not None else None
    if not detailed:
        return LogicalPage(tuple(meta for _, meta in collected.values()), token)
    by_stored = {info.key: key for key, (info, _) in collected.items()}
    heads = {r.key: r.head for r in store.head_many(bucket, by_stored) if r.head is not None}
    objects = []
    for key, (info, meta) in collected.items():
        head = heads.get(info.key)
        objects.append(describe(bucket, key, head, classify(info.key, head.metadata)) if head else meta)
    return LogicalPage(tuple(objects), token)
