"""The logical listing: hides reference.bin and `.deltaglider/`, strips `.delta`, pages by logical keys.

A page holds up to `max_keys` logical objects however many hidden objects the store returns
around them. Nothing here assumes the store's key order: S3 lists in byte order, but SeaweedFS
lists in directory order (`a/x` before `a-b/y`), and a merge that skipped keys `<=` the last one
seen dropped whole directories there. Instead each LIST asks for no more entries than the page
still has room for (one stored entry yields at most one logical entry), so every store page is
consumed whole, and the continuation token is simply the store's own token (plus the last stored
key read, used only to recognise a `.delta` twin below). No entry is skipped by comparison, so
a listing is complete in any order; the price is an extra LIST when hidden objects or twins
leave room on a page.

Order is the store's order of the stored names. `size` is the original size when the entry
itself tells it (a direct object's bytes are the original) and None for a delta until the
caller fills it (`detailed`: one HEAD per listed object; the service also reads the stats
index). A key caught mid-switch between delta and direct (`k` and `k.delta` both stored) is
listed once: within a page the newer wins; when `k.delta` arrives on a later page than `k`, the
store listed everything in between under names starting with `k` (true of byte order and of
SeaweedFS's directory order alike: both put `k` first and only `k`-prefixed names between), so
when the previous page ended on a name starting with `k`, one HEAD of `k` detects the twin and
skips it. A store with some other order may list such a twin twice, never drop a key.
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
_TOKEN_VERSION = 2  # v1 tokens resumed by key comparison (byte order only): refused


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing resumes: the store's token for the next unread page, and the last
    stored key already read (only to recognise a `.delta` twin of a key listed before)."""

    store_token: str | None
    after: str | None


def encode_token(cursor: Cursor) -> str:
    raw = json.dumps(
        {"v": _TOKEN_VERSION, "t": cursor.store_token, "a": cursor.after},
        separators=(",", ":"),
        ensure_ascii=False,
    )  # raw UTF-8: a 1,024-byte key costs ~1,400 token characters, not up to 2,700
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
    if not isinstance(data, dict) or data.get("v") != _TOKEN_VERSION:
        raise InvalidInput("invalid continuation token")
    store_token, after = data.get("t"), data.get("a")
    if not isinstance(store_token, str) or not (after is None or isinstance(after, str)):
        raise InvalidInput("invalid continuation token")
    return Cursor(store_token, after)


def _entry(bucket: str, info: ObjectInfo, key: str) -> ObjectMeta:
    is_delta = info.key.endswith(DELTA_SUFFIX)
    return ObjectMeta(
        bucket=bucket,
        key=key,
        size=None if is_delta else info.size,  # a delta's original is in its metadata, not the LIST
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

    `store_page` caps the size of the underlying LIST pages (tests shrink it to hit boundaries).
    """
    validate_bucket(bucket)
    if not 1 <= max_keys <= MAX_KEYS:
        raise InvalidInput(f"max_keys must be between 1 and {MAX_KEYS}, got {max_keys}")
    cursor = decode_token(continuation_token)
    collected: dict[str, tuple[ObjectInfo, ObjectMeta]] = {}
    store_token, last = cursor.store_token, cursor.after
    start = cursor.after  # the last stored name the previous page read
    while True:
        room = min(store_page, max_keys - len(collected))
        page = store.list_page(bucket, prefix, continuation_token=store_token, max_keys=room)
        for info in page.objects:
            last = info.key
            key = logical_key(info.key)
            if key is None or not key.startswith(prefix):
                continue
            if key in collected:  # `k` and `k.delta` both present: keep the newer
                if info.last_modified > collected[key][0].last_modified:
                    collected[key] = (info, _entry(bucket, info, key))
                continue
            if _listed_before(store, bucket, info.key, key, start):
                continue
            collected[key] = (info, _entry(bucket, info, key))
        if page.next_token is None:
            return _finish(store, bucket, collected, None, detailed)
        store_token = page.next_token
        if len(collected) >= max_keys:
            return _finish(store, bucket, collected, Cursor(store_token, last), detailed)


def _listed_before(store: ObjectStore, bucket: str, stored: str, key: str, start: str | None) -> bool:
    """True for a `.delta` whose direct twin `key` an earlier page already listed.

    Only asked when the previous page ended on a name starting with `key` (see the module
    docstring): rare, so the HEAD costs nothing in the common case.
    """
    if not stored.endswith(DELTA_SUFFIX) or start is None or not start.startswith(key):
        return False
    return _direct_exists(store, bucket, key)


def _direct_exists(store: ObjectStore, bucket: str, key: str) -> bool:
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
