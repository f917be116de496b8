"""ListObjectsV2 through obstore, shaped into `ListPage`s with our own opaque tokens.

obstore pages through S3 itself (passing S3's continuation tokens back verbatim) and matches
prefixes by whole path segments, so here:
- a prefix that ends mid-segment (`releases/app-1`) is listed from its directory with a
  start-after just before it, keeping only matching keys;
- a page's token is the last key or common prefix it returned (base64, opaque to callers), and
  the next page starts after it. No key is compared with another here except to group by
  delimiter: listings stay complete on servers whose order is not byte order (SeaweedFS lists
  `a/x` before `a-b/y`), since start-after is always interpreted by the server that listed.
- delimiter listings ('/' only) are read whole, merged in byte order and paged here.
obstore normalises keys into paths: a key with an empty segment or a trailing '/' (folder
markers) is listed without it. Glider never writes such keys (`app.domain.keys`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import TYPE_CHECKING

import obstore

from app.errors import InvalidInput
from app.storage.base import ListPage, ObjectHead, ObjectInfo

if TYPE_CHECKING:
    from obstore import Attributes, ObjectMeta
    from obstore.store import S3Store

PAGE = 1000


def encode_token(kind: str, name: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{name}".encode()).decode()


def decode_token(token: str, kind: str) -> str:
    """The key or prefix a page ended on; InvalidInput for anything we did not issue."""
    try:
        found, sep, name = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise InvalidInput("invalid continuation token") from err
    if found != kind or not sep:
        raise InvalidInput("invalid continuation token")
    return name


def split_prefix(prefix: str) -> tuple[str | None, str]:
    """(directory obstore lists, the partial segment after it): 'a/b/rel' -> ('a/b', 'rel')."""
    directory, _, rest = prefix.rpartition("/")
    return directory or None, rest


def to_info(meta: ObjectMeta) -> ObjectInfo:
    return ObjectInfo(
        key=meta["path"], size=meta["size"], etag=(meta["e_tag"] or "").strip('"'),
        last_modified=meta["last_modified"],
    )  # fmt: skip


def _first_offset(directory: str | None, rest: str) -> str | None:
    """A start-after that skips the directory's entries sorting before `rest` yet keeps all
    matching ones: `rest` minus its last character is a proper prefix of every match."""
    if len(rest) < 2:
        return directory
    return f"{directory}/{rest[:-1]}" if directory else rest[:-1]


def _past(key: str, skip: int, rest: str) -> bool:
    """Whether `key` lies beyond every match of `rest` (compared by its segment name only, so
    this holds in byte order and in directory order alike)."""
    name = key[skip:].partition("/")[0]
    return name > rest and not name.startswith(rest)


def iter_infos(store: S3Store, prefix: str, after: str | None = None) -> Iterator[ObjectInfo]:
    """Every object under `prefix` (any string), after `after` when given, in the server's order."""
    directory, rest = split_prefix(prefix)
    offset = after if after is not None else (_first_offset(directory, rest) if rest else None)
    skip = len(directory) + 1 if directory else 0
    stream = obstore.list(store, directory, offset=offset, chunk_size=PAGE)
    for chunk in stream:
        for meta in chunk:
            key = meta["path"]
            if key.startswith(prefix):
                yield to_info(meta)
            elif rest and _past(key, skip, rest):
                return


def flat_page(store: S3Store, prefix: str, token: str | None, max_keys: int) -> ListPage:
    after = decode_token(token, "k") if token is not None else None
    found: list[ObjectInfo] = []
    for info in iter_infos(store, prefix, after):
        found.append(info)
        if len(found) == max_keys:
            return ListPage(tuple(found), (), encode_token("k", info.key))
    return ListPage(tuple(found), (), None)


def delimited_page(store: S3Store, prefix: str, token: str | None, max_keys: int) -> ListPage:
    """One page of a '/'-delimited listing: objects and common prefixes merged in key order."""
    after = decode_token(token, "d") if token is not None else None
    directory, _ = split_prefix(prefix)
    listed = obstore.list_with_delimiter(store, directory)
    entries = sorted(
        [(meta["path"], to_info(meta)) for meta in listed["objects"] if meta["path"].startswith(prefix)]
        + [(p + "/", None) for p in listed["common_prefixes"] if (p + "/").startswith(prefix)],
        key=lambda entry: entry[0].encode(),
    )
    if after is not None:
        entries = [entry for entry in entries if entry[0].encode() > after.encode()]
    window = entries[:max_keys]
    token_out = encode_token("d", window[-1][0]) if len(entries) > max_keys else None
    objects = tuple(info for _, info in window if info is not None)
    prefixes = tuple(name for name, info in window if info is None)
    return ListPage(objects, prefixes, token_out)


# Attributes obstore reports beside user metadata (everything else is x-amz-meta-*).
_STANDARD = frozenset(
    {"content-type", "content-disposition", "content-encoding", "content-language", "cache-control",
     "storage-class"}
)  # fmt: skip


def to_head(key: str, meta: ObjectMeta, attributes: Attributes) -> ObjectHead:
    lowered = {name.lower(): value for name, value in attributes.items()}
    return ObjectHead(
        key=key,
        size=meta["size"],
        etag=(meta["e_tag"] or "").strip('"'),
        last_modified=meta["last_modified"],
        metadata={k: v for k, v in lowered.items() if k not in _STANDARD},
        content_type=lowered.get("content-type"),
    )
