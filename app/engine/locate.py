"""Finding what is stored for a logical key: `<key>.delta`, `<key>`, or nothing.

Reads HEAD both names (two requests; no single request can tell them apart) and let
`policy.choose_representation` pick the newest when both exist, so a key caught mid-switch
between delta and direct (or left so by a writer that died) reads back deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from app.domain.keys import delta_key_for
from app.domain.metadata import StoredKind, classify
from app.engine.policy import Found, Representation, choose_representation
from app.errors import ObjectNotFound
from app.storage.base import ObjectHead, ObjectStore


@dataclass(frozen=True, slots=True)
class Located:
    """The representation a read serves, plus the other one if it also exists (to clean up)."""

    stored_key: str
    head: ObjectHead
    kind: StoredKind
    other: ObjectHead | None


def head_or_none(store: ObjectStore, bucket: str, key: str) -> ObjectHead | None:
    """HEAD `key`, None when the object is absent (a missing bucket still raises)."""
    try:
        return store.head(bucket, key)
    except ObjectNotFound:
        return None


def raise_missing(store: ObjectStore, bucket: str, key: str) -> NoReturn:
    """Raise the precise NotFound: BucketNotFound when the bucket is gone, else ObjectNotFound.

    S3 answers a HEAD in a missing bucket with a bare 404, so the bucket is checked separately.
    """
    store.head_bucket(bucket)  # raises BucketNotFound
    raise ObjectNotFound(f"object not found: s3://{bucket}/{key}")


def _found(head: ObjectHead | None) -> Found | None:
    return None if head is None else Found(head.metadata, head.last_modified)


def locate(store: ObjectStore, bucket: str, key: str) -> Located:
    """Resolve logical `key`; raise BucketNotFound/ObjectNotFound when nothing is stored."""
    delta_key = delta_key_for(key)
    delta = head_or_none(store, bucket, delta_key)
    direct = head_or_none(store, bucket, key)
    choice = choose_representation(_found(delta), _found(direct))
    if choice is Representation.DELTA and delta is not None:
        return Located(delta_key, delta, classify(delta_key, delta.metadata), direct)
    if choice is Representation.DIRECT and direct is not None:
        return Located(key, direct, classify(key, direct.metadata), delta)
    raise_missing(store, bucket, key)
