"""Settling a key to one stored form after an upload: `K` or `K.delta`, never both for long.

An upload writes one form; an earlier upload may have left the other, and concurrent writers of
the same key (some stored as deltas, some direct) each write their own. Until settled, reads pick
the newest of the two (`policy.choose_representation`), so a complete version always reads back.

S3 has no conditional DELETE, so a writer that decides to delete a form can remove a newer object
of that form written a moment later by someone else. The rules, for every writer after its PUT:
- while the other form exists, delete whichever of the two *currently stored* objects reads
  shadow (the older by `dg-created-at`, ties to the delta): never the one reads would serve;
- after each delete, HEAD the survivor; if a concurrent writer removed it too, store our file
  again (direct: the original is at hand) and settle again, at most `SETTLE_ROUNDS` times.

Invariant: once any upload of K has returned, K reads back a complete version from one of the
uploads. The last DELETE of either form is followed by its writer's HEAD of the survivor and, if
that is gone, a PUT; nothing deletes after it. And one form remains: the writer whose PUT of a
surviving object finished last HEADs both afterwards and deletes one of them. Only `SETTLE_ROUNDS`
lost races in a row can leave both forms; reads still pick the newest, stats count the key once
(`app/stats/census.py`), and the next upload of K settles it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.domain.keys import delta_key_for, deltaspace_of, is_delta
from app.engine.deltaspaces import drop_reference_if_unused
from app.engine.locate import head_or_none
from app.engine.policy import Found, Representation, choose_representation
from app.engine.results import PutResult
from app.storage.base import ObjectStore

log = logging.getLogger(__name__)

SETTLE_ROUNDS = 3  # lost races in a row before a key may keep both forms (still readable)


def settle(store: ObjectStore, result: PutResult, store_direct: Callable[[], PutResult]) -> PutResult:
    """Leave one stored form of `result.key`; return what this upload finally wrote.

    `store_direct` writes this upload's file again as a direct object (used only when concurrent
    writers removed both forms). Costs one HEAD when the other form does not exist.
    """
    bucket, key = result.bucket, result.key
    delta_key = delta_key_for(key)
    for _ in range(SETTLE_ROUNDS):
        other_key = key if is_delta(result.stored_key) else delta_key
        if head_or_none(store, bucket, other_key) is None:
            return result
        # Judge the objects stored *now*: either may have been rewritten since our PUT.
        delta = head_or_none(store, bucket, delta_key)
        direct = head_or_none(store, bucket, key)
        if delta is None or direct is None:
            return result  # a concurrent writer settled it: one complete form is left
        served = choose_representation(
            Found(delta.metadata, delta.last_modified), Found(direct.metadata, direct.last_modified)
        )
        victim, survivor = (key, delta_key) if served is Representation.DELTA else (delta_key, key)
        store.delete(bucket, victim)
        if victim == delta_key:
            drop_reference_if_unused(store, deltaspace_of(bucket, key))
        if head_or_none(store, bucket, survivor) is not None:
            return result
        log.warning("concurrent writers removed both forms of %s/%s; storing it again", bucket, key)
        result = store_direct()
    log.warning("%s/%s may keep both forms after %d settling rounds", bucket, key, SETTLE_ROUNDS)
    return result
