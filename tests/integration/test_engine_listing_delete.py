"""Logical listing and deletion on real SeaweedFS."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from app.engine.results import StoredAs
from app.errors import ObjectNotFound, ReferenceInUse, ReservedKey
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint, unique_bucket_name
from tests.support.engine import make_engine, versions, write

pytestmark = pytest.mark.integration


@pytest.fixture
def filled(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> list[bytes]:
    engine = make_engine(s3_store, tmp_path)
    data = versions(100_000, 3, seed=5)
    for i, blob in enumerate(data):
        engine.put(bucket, f"rel/app-{i}.zip", write(tmp_path, f"{i}.zip", blob))
    engine.put(bucket, "rel/notes.txt", write(tmp_path, "n.txt", b"notes"))
    engine.put(bucket, "top.zip", write(tmp_path, "top.zip", data[0]))
    s3_store.put_bytes(bucket, ".deltaglider/stats_quick.json", b"{}")
    return data


def test_listing_hides_bookkeeping_and_strips_delta(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path, filled: list[bytes]
) -> None:
    engine = make_engine(s3_store, tmp_path)
    page = engine.list(bucket)
    assert [o.key for o in page.objects] == [
        "rel/app-0.zip", "rel/app-1.zip", "rel/app-2.zip", "rel/notes.txt", "top.zip",
    ]  # fmt: skip
    assert page.next_token is None
    kinds = {o.key: o.stored_as for o in page.objects}
    assert kinds["rel/notes.txt"] is StoredAs.DIRECT
    assert kinds["rel/app-1.zip"] is StoredAs.DELTA
    assert [o.key for o in engine.list(bucket, "rel/app-").objects] == [f"rel/app-{i}.zip" for i in range(3)]


def test_listing_paginates_with_hidden_objects_on_the_boundaries(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path, filled: list[bytes]
) -> None:
    engine = make_engine(s3_store, tmp_path)
    expected = [o.key for o in engine.list(bucket).objects]
    for max_keys in (1, 2, 3):
        got: list[str] = []
        token = None
        while True:
            page = engine.list(bucket, continuation_token=token, max_keys=max_keys)
            got.extend(o.key for o in page.objects)
            token = page.next_token
            if token is None:
                break
        assert got == expected


def test_detailed_listing_has_original_sizes(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path, filled: list[bytes]
) -> None:
    engine = make_engine(s3_store, tmp_path)
    sizes = {
        o.key: (o.size, o.sha256 is not None) for o in engine.list(bucket, "rel/", detailed=True).objects
    }
    assert sizes["rel/app-1.zip"] == (100_000, True)
    assert sizes["rel/notes.txt"] == (5, True)


def test_last_delta_takes_the_reference_with_it(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path, filled: list[bytes]
) -> None:
    engine = make_engine(s3_store, tmp_path)
    assert engine.delete(bucket, "rel/app-0.zip").deleted_keys == ("rel/app-0.zip.delta",)
    engine.get(bucket, "rel/app-2.zip", tmp_path / "out")  # the others still decode
    assert (tmp_path / "out").read_bytes() == filled[2]
    assert engine.delete(bucket, "rel/notes.txt").deleted_keys == ("rel/notes.txt",)
    assert engine.delete(bucket, "rel/app-1.zip").deleted_keys == ("rel/app-1.zip.delta",)
    last = engine.delete(bucket, "rel/app-2.zip")
    assert last.deleted_keys == ("rel/app-2.zip.delta", "rel/reference.bin")
    remaining = {o.key for o in s3_store.iter_objects(bucket)}
    assert remaining == {"top.zip.delta", "reference.bin", ".deltaglider/stats_quick.json"}


def test_a_reference_still_needed_cannot_be_deleted(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path, filled: list[bytes]
) -> None:
    engine = make_engine(s3_store, tmp_path)
    with pytest.raises(ReservedKey):
        engine.delete(bucket, "rel/reference.bin")
    with pytest.raises(ReferenceInUse, match="still needed"):
        engine.delete_reference(bucket, "rel")
    # Orphaned by someone else's raw deletes: then it may go.
    for i in range(3):
        s3_store.delete(bucket, f"rel/app-{i}.zip.delta")
    assert engine.delete_reference(bucket, "rel").deleted_keys == ("rel/reference.bin",)
    with pytest.raises(ObjectNotFound):
        engine.delete_reference(bucket, "rel")


def test_deleting_a_missing_object_is_not_found(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> None:
    engine = make_engine(s3_store, tmp_path)
    with pytest.raises(ObjectNotFound, match=r"nothing\.zip"):
        engine.delete(bucket, "nothing.zip")


class DeletesReferenceAfterDelta(S3ObjectStore):
    """Real S3; plays a concurrent `delete` of the deltaspace's last file right after a delta lands."""

    armed = False

    def put_file(self, bucket: str, key: str, path: Path, metadata: Mapping[str, str], **kw: Any) -> str:
        etag = super().put_file(bucket, key, path, metadata, **kw)
        if self.armed and key.endswith(".delta"):
            self.armed = False
            self.delete(bucket, key.rpartition("/")[0] + "/reference.bin")
        return etag


def test_a_reference_deleted_under_an_upload_is_restored(seaweed: S3Endpoint, tmp_path: Path) -> None:
    store = DeletesReferenceAfterDelta(
        seaweed.endpoint_url, seaweed.region, seaweed.access_key, seaweed.secret_key
    )
    bucket = unique_bucket_name()
    store.create_bucket(bucket)
    engine = make_engine(store, tmp_path)
    v0, v1 = versions(200_000, 2, seed=3)
    engine.put(bucket, "race/a.zip", write(tmp_path, "a.zip", v0))
    store.armed = True
    assert engine.put(bucket, "race/b.zip", write(tmp_path, "b.zip", v1)).stored_as is StoredAs.DELTA
    assert not store.armed
    fresh = make_engine(store, tmp_path / "fresh")  # cold cache: must fetch the restored reference
    for key, expected in (("race/a.zip", v0), ("race/b.zip", v1)):
        fresh.get(bucket, key, tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == expected
    store.close()
