"""VersionedCache: manifest resolution, pins and write-once publishing, on a fake source."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.assets.cache import AssetCache
from app.assets.manifest import Manifest, Override, Pinned
from app.assets.revalidation import Freshness, RevalidationPolicy
from app.assets.versioned import VersionedCache
from app.assets.versions import Bump, Version
from app.errors import AlreadyExists, Conflict, IntegrityError, InvalidInput, NotFound
from tests.support.assets import FakeSource

B = "versioned-assets"


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def vc(tmp_path: Path, source: FakeSource) -> VersionedCache:
    cache = AssetCache(tmp_path / "cache", source, RevalidationPolicy(Freshness.always()))
    return VersionedCache(cache, tmp_path / "repo" / "assets.json", B)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_add_uploads_and_pins(vc: VersionedCache, source: FakeSource, tmp_path: Path) -> None:
    published = vc.add("/data/table.csv", write(tmp_path, "t.csv", b"a,b\n1,2\n"))
    assert str(published.url) == f"s3://{B}/data/table.v1.0.0.csv"
    assert source.objects[(B, "data/table.v1.0.0.csv")].data == b"a,b\n1,2\n"
    pinned = json.loads(vc.manifest_path.read_text())["/data/table.csv"]
    assert pinned == {"version": "1.0.0", "sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest()}
    assert vc.path("data/table.csv").read_bytes() == b"a,b\n1,2\n"


def test_add_twice_is_a_conflict(vc: VersionedCache, tmp_path: Path) -> None:
    vc.add("/x.bin", write(tmp_path, "x", b"1"))
    with pytest.raises(Conflict, match="vc update"):
        vc.add("/x.bin", write(tmp_path, "x", b"2"))


def test_update_bumps_and_the_old_pin_keeps_working(
    vc: VersionedCache, tmp_path: Path, source: FakeSource
) -> None:
    vc.add("/x.bin", write(tmp_path, "x", b"one"), Version(1, 2, 5))
    old_manifest = vc.manifest_path.read_text()
    assert vc.update("/x.bin", write(tmp_path, "x", b"two"), Bump.PATCH).version == Version(1, 2, 6)
    assert vc.update("/x.bin", write(tmp_path, "x", b"three"), Bump.MINOR).version == Version(1, 3, 0)
    assert vc.update("/x.bin", write(tmp_path, "x", b"four"), Bump.MAJOR).version == Version(2, 0, 0)
    assert vc.path("/x.bin").read_bytes() == b"four"
    vc.manifest_path.write_text(old_manifest)  # an older checkout of the code
    assert vc.path("/x.bin").read_bytes() == b"one"
    assert len([k for (_, k) in source.objects]) == 4


def test_a_version_someone_else_published_is_not_overwritten(
    vc: VersionedCache, tmp_path: Path, source: FakeSource
) -> None:
    vc.add("/x.bin", write(tmp_path, "x", b"one"))
    source.put(B, "x.v1.0.1.bin", b"theirs")
    before = vc.manifest_path.read_text()
    with pytest.raises(AlreadyExists, match=r"1\.0\.1.*nothing was overwritten"):
        vc.update("/x.bin", write(tmp_path, "x", b"mine"), Bump.PATCH)
    assert source.objects[(B, "x.v1.0.1.bin")].data == b"theirs"
    assert vc.manifest_path.read_text() == before


def test_tampered_object_is_refused(vc: VersionedCache, tmp_path: Path, source: FakeSource) -> None:
    vc.add("/x.bin", write(tmp_path, "x", b"genuine"))
    source.put(B, "x.v1.0.0.bin", b"tampered")
    with pytest.raises(IntegrityError, match="pins"):
        vc.path("/x.bin")


def test_pinned_fetches_are_not_revalidated(vc: VersionedCache, tmp_path: Path, source: FakeSource) -> None:
    vc.add("/x.bin", write(tmp_path, "x", b"genuine"))
    for _ in range(3):
        vc.path("/x.bin")
    assert source.calls["fetch"] == 1
    assert source.calls["refresh"] == 0


def test_overrides_local_and_s3(vc: VersionedCache, tmp_path: Path, source: FakeSource) -> None:
    source.put("scratch", "me/wip.csv", b"wip")
    (tmp_path / "repo").mkdir()
    local = write(tmp_path / "repo", "local.csv", b"local")
    Manifest.empty().with_entry("/wip.csv", Override("s3://scratch/me/wip.csv")).with_entry(
        "/local.csv", Override("local.csv")
    ).with_entry("/gone.csv", Override("missing.csv")).save(vc.manifest_path)
    assert vc.path("/wip.csv").read_bytes() == b"wip"
    assert vc.path("/local.csv") == local.resolve()
    with pytest.raises(NotFound, match="missing file"):
        vc.path("/gone.csv")
    with pytest.raises(InvalidInput, match="override"):
        vc.update("/wip.csv", local, Bump.PATCH)
    vc.add("/wip.csv", local, Version(0, 3, 0))  # pinning replaces the override
    assert Manifest.load(vc.manifest_path).get("/wip.csv") == Pinned(
        Version(0, 3, 0), hashlib.sha256(b"local").hexdigest()
    )


def test_unknown_path_and_missing_manifest(vc: VersionedCache) -> None:
    with pytest.raises(NotFound, match="manifest"):
        vc.path("/x.bin")
    Manifest.empty().save(vc.manifest_path)
    with pytest.raises(NotFound, match=r"/x\.bin"):
        vc.path("/x.bin")


def test_manifest_edited_during_publish_is_a_conflict(
    vc: VersionedCache, tmp_path: Path, source: FakeSource
) -> None:
    vc.add("/x.bin", write(tmp_path, "x", b"one"))
    original_publish = source.publish

    def publish_then_someone_edits(bucket: str, key: str, path: Path, sha256: str) -> None:
        original_publish(bucket, key, path, sha256)
        Manifest.load(vc.manifest_path).with_entry("/x.bin", Override("elsewhere.bin")).save(vc.manifest_path)

    source.publish = publish_then_someone_edits  # type: ignore[method-assign]
    with pytest.raises(Conflict, match="changed while"):
        vc.update("/x.bin", write(tmp_path, "x", b"two"), Bump.PATCH)
    assert Manifest.load(vc.manifest_path).get("/x.bin") == Override("elsewhere.bin")
