"""Writer faults on fake stores: racing deletes while settling a key, failed delta writes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from app.engine.results import StoredAs
from app.errors import StorageUnavailable
from app.storage.memory import MemoryObjectStore
from tests.support.engine import make_engine, versions, write

BUCKET = "settle"
NEWER_DIRECT = {
    "dg-file-sha256": "ab" * 32,
    "dg-compression": "none",
    "dg-created-at": "2999-01-01T00:00:00Z",  # stamped after our delta's, whatever the clock
}
KEY = "rel/app.zip"


class RacingStore(MemoryObjectStore):
    """When `trigger` is deleted, a concurrent writer deletes `also` right after (once)."""

    def __init__(self) -> None:
        super().__init__()
        self.trigger: str | None = None
        self.also: str | None = None

    def delete(self, bucket: str, key: str) -> None:
        super().delete(bucket, key)
        if key == self.trigger and self.also is not None:
            also, self.trigger = self.also, None
            super().delete(bucket, also)


def test_both_forms_deleted_by_racing_writers_is_repaired(tmp_path: Path) -> None:
    store = RacingStore()
    store.create_bucket(BUCKET)
    engine = make_engine(store, tmp_path)
    first = versions(50_000, 1, seed=3)[0]
    assert engine.put(BUCKET, KEY, write(tmp_path, "v1", first)).stored_as is StoredAs.REFERENCE
    unrelated = random.Random(4).randbytes(50_000)
    # Our settle deletes the older `.delta`; a concurrent writer's settle deletes our direct `K`.
    store.trigger, store.also = KEY + ".delta", KEY
    result = engine.put(BUCKET, KEY, write(tmp_path, "v2", unrelated))
    assert result.stored_as is StoredAs.DIRECT
    assert store.trigger is None  # the race happened
    engine.get(BUCKET, KEY, tmp_path / "got")
    assert (tmp_path / "got").read_bytes() == unrelated
    assert _exists(store, KEY)
    assert not _exists(store, KEY + ".delta")


def test_a_newer_twin_is_kept_and_ours_is_the_one_removed(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    store.create_bucket(BUCKET)
    engine = make_engine(store, tmp_path)
    data = versions(50_000, 2, seed=5)
    engine.put(BUCKET, "rel/seed.zip", write(tmp_path, "seed", data[0]))
    # A direct `K` written *after* our delta's metadata was stamped: reads serve it; settle keeps it.
    original_put = store.put_file

    def put_then_race(bucket: str, key: str, path: Path, metadata, **kw):  # type: ignore[no-untyped-def]
        etag = original_put(bucket, key, path, metadata, **kw)
        if key == KEY + ".delta":
            store.put_bytes(BUCKET, KEY, b"newer direct", NEWER_DIRECT)
        return etag

    store.put_file = put_then_race  # type: ignore[method-assign]
    engine.put(BUCKET, KEY, write(tmp_path, "v", data[1]))
    assert _exists(store, KEY)
    assert not _exists(store, KEY + ".delta")


def _exists(store: MemoryObjectStore, key: str) -> bool:
    return any(o.key == key for o in store.iter_objects(BUCKET, key))


class FailingDeltaStore(MemoryObjectStore):
    """S3 refusing every `.delta` write (too long a name, a full disk, a 5xx...)."""

    def put_file(self, bucket: str, key: str, path: Path, metadata, **kw):  # type: ignore[no-untyped-def]
        if key.endswith(".delta"):
            raise StorageUnavailable("S3 refused the delta")
        return super().put_file(bucket, key, path, metadata, **kw)


def test_a_failed_first_delta_takes_its_fresh_reference_with_it(tmp_path: Path) -> None:
    store = FailingDeltaStore()
    store.create_bucket(BUCKET)
    engine = make_engine(store, tmp_path)
    with pytest.raises(StorageUnavailable):
        engine.put(BUCKET, KEY, write(tmp_path, "v1", versions(50_000, 1, seed=3)[0]))
    assert list(store.iter_objects(BUCKET)) == []


def test_a_reference_other_deltas_need_stays(tmp_path: Path) -> None:
    store = FailingDeltaStore()
    store.create_bucket(BUCKET)
    store.put_bytes(BUCKET, "rel/other.zip.delta", b"d")  # someone's delta already needs it
    engine = make_engine(store, tmp_path)
    with pytest.raises(StorageUnavailable):
        engine.put(BUCKET, KEY, write(tmp_path, "v1", versions(50_000, 1, seed=3)[0]))
    assert sorted(o.key for o in store.iter_objects(BUCKET)) == ["rel/other.zip.delta", "rel/reference.bin"]
