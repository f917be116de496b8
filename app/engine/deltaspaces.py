"""Deltaspace housekeeping: is a reference still needed, and dropping it when it is not."""

from __future__ import annotations

import logging

from app.domain.keys import DELTA_SUFFIX, DeltaSpace
from app.engine.locate import head_or_none
from app.errors import ObjectNotFound, ReferenceInUse
from app.storage.base import ObjectStore

log = logging.getLogger(__name__)


def _space_prefix(space: DeltaSpace) -> str:
    return f"{space.prefix}/" if space.prefix else ""


def deltas_in(store: ObjectStore, space: DeltaSpace, *, limit: int = 1) -> list[str]:
    """Up to `limit` `.delta` keys stored directly in `space` (not in sub-prefixes)."""
    found: list[str] = []
    token: str | None = None
    while True:
        page = store.list_page(space.bucket, _space_prefix(space), delimiter="/", continuation_token=token)
        found.extend(obj.key for obj in page.objects if obj.key.endswith(DELTA_SUFFIX))
        if len(found) >= limit or page.next_token is None:
            return found[:limit]
        token = page.next_token


def drop_reference_if_unused(store: ObjectStore, space: DeltaSpace) -> tuple[str, ...]:
    """Delete `space`'s reference.bin when no delta needs it; return the keys deleted.

    Called after a delta is removed. A concurrent upload that writes a delta between the
    listing and the delete is repaired by the writer, which re-checks the reference after
    writing its delta and restores it from its local copy when it vanished.
    """
    if deltas_in(store, space):
        return ()
    if head_or_none(store, space.bucket, space.reference_key) is None:
        return ()
    store.delete(space.bucket, space.reference_key)
    log.info("deleted unused reference %s/%s", space.bucket, space.reference_key)
    return (space.reference_key,)


def delete_reference(store: ObjectStore, space: DeltaSpace) -> tuple[str, ...]:
    """Delete `space`'s reference.bin on purpose; refused while deltas still need it.

    Raises ReferenceInUse naming one dependent delta, ObjectNotFound when there is none.
    """
    needed = deltas_in(store, space, limit=1)
    if needed:
        raise ReferenceInUse(
            f"s3://{space.bucket}/{space.reference_key} is still needed by deltas (e.g. {needed[0]!r}); "
            "delete those objects first"
        )
    if head_or_none(store, space.bucket, space.reference_key) is None:
        raise ObjectNotFound(f"object not found: s3://{space.bucket}/{space.reference_key}")
    store.delete(space.bucket, space.reference_key)
    return (space.reference_key,)
