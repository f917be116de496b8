"""Interop with the real `deltaglider` 6.2.0 CLI on real SeaweedFS, in both directions."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine.results import StoredAs
from app.errors import IntegrityError
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint
from tests.support.engine import deltaglider_env, gzip9_tarball, make_engine, source_tree, versions, write

pytestmark = pytest.mark.integration

DELTAGLIDER = Path(sys.executable).parent / "deltaglider"


def deltaglider(seaweed: S3Endpoint, *args: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(DELTAGLIDER), *map(str, args)],
        env=deltaglider_env(seaweed.env()),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"deltaglider {args} failed: {done.stdout}\n{done.stderr}"
    return done


def named(folder: Path, name: str, data: bytes) -> Path:
    """deltaglider cp stores `<url's prefix>/<local file name>`: give each version its own folder."""
    folder.mkdir(parents=True, exist_ok=True)
    return write(folder, name, data)


def test_deltaglider_uploads_read_back_exactly_through_glider(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    data = versions(500_000, 3, seed=31)
    for i, blob in enumerate(data):
        deltaglider(
            seaweed, "cp", named(tmp_path / f"v{i}", f"app-{i}.zip", blob), f"s3://{bucket}/rel/app-{i}.zip"
        )
    deltaglider(
        seaweed, "cp", named(tmp_path / "t", "notes.txt", b"plain text\n"), f"s3://{bucket}/rel/notes.txt"
    )
    stored = {o.key for o in s3_store.iter_objects(bucket)}
    assert {"rel/reference.bin", "rel/app-1.zip.delta", "rel/notes.txt"} <= stored

    engine = make_engine(s3_store, tmp_path / "work")
    for i, blob in enumerate(data):
        meta = engine.get(bucket, f"rel/app-{i}.zip", tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == blob
        assert meta.stored_as is StoredAs.DELTA
    assert engine.get(bucket, "rel/notes.txt", tmp_path / "out").stored_as is StoredAs.DIRECT
    assert (tmp_path / "out").read_bytes() == b"plain text\n"
    assert [o.key for o in engine.list(bucket).objects] == [
        "rel/app-0.zip", "rel/app-1.zip", "rel/app-2.zip", "rel/notes.txt",
    ]  # fmt: skip
    # Glider adds a version to DeltaGlider's deltaspace; DeltaGlider reads it.
    extra = versions(500_000, 4, seed=31)[3]
    assert engine.put(bucket, "rel/app-3.zip", write(tmp_path, "a3.zip", extra)).stored_as is StoredAs.DELTA
    deltaglider(seaweed, "cp", f"s3://{bucket}/rel/app-3.zip", tmp_path / "dg-out")
    assert (tmp_path / "dg-out").read_bytes() == extra


def test_glider_uploads_read_back_exactly_through_deltaglider(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path / "work")
    v0, v1 = versions(700_000, 2, seed=32)
    only = versions(200_000, 1, seed=33)[0]
    text = b"direct object\n" * 100
    uploads = {
        "solo/only.zip": (only, StoredAs.REFERENCE),  # a reference-only deltaspace
        "rel/app-0.zip": (v0, StoredAs.REFERENCE),
        "rel/app-1.zip": (v1, StoredAs.DELTA),
        "rel/readme.txt": (text, StoredAs.DIRECT),
    }
    for key, (blob, kind) in uploads.items():
        assert engine.put(bucket, key, write(tmp_path, "up", blob)).stored_as is kind
    for key, (blob, _) in uploads.items():
        dest = tmp_path / "dg" / key.replace("/", "_")
        deltaglider(seaweed, "cp", f"s3://{bucket}/{key}", dest)
        assert dest.read_bytes() == blob, key


def test_gzip9_tarballs_glider_stores_are_exact_for_both_tools(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path / "work")
    rng = random.Random(34)
    tree = source_tree(rng, files=60)
    blobs = []
    for version in range(3):
        tree[f"pkg/mod{version * 7}.py"] = f"release {version}\n".encode() * 400
        blobs.append(gzip9_tarball(tree))
    for version, blob in enumerate(blobs):
        engine.put(bucket, f"sdist/pkg-{version}.tar.gz", write(tmp_path, "up.tar.gz", blob))
    for version, blob in enumerate(blobs):
        engine.get(bucket, f"sdist/pkg-{version}.tar.gz", tmp_path / "g")
        assert (tmp_path / "g").read_bytes() == blob
        deltaglider(seaweed, "cp", f"s3://{bucket}/sdist/pkg-{version}.tar.gz", tmp_path / "d")
        assert (tmp_path / "d").read_bytes() == blob


def test_deltaglider_gzip9_tarballs_are_exact_or_refused_never_wrong(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """DeltaGlider diffs gzip files decompressed and recompresses on read: Glider never serves wrong bytes."""
    rng = random.Random(35)
    tree = source_tree(rng, files=60)
    blobs = []
    for version in range(3):
        tree[f"pkg/mod{version}.py"] = f"changed in {version}\n".encode() * 300
        blobs.append(gzip9_tarball(tree))
        deltaglider(
            seaweed,
            "cp",
            named(tmp_path / f"v{version}", f"pkg-{version}.tar.gz", blobs[-1]),
            f"s3://{bucket}/sd/pkg-{version}.tar.gz",
        )
    engine = make_engine(s3_store, tmp_path / "work")
    outcomes = []
    for version, blob in enumerate(blobs):
        try:
            engine.get(bucket, f"sd/pkg-{version}.tar.gz", tmp_path / "out")
        except IntegrityError as err:
            outcomes.append(str(err))
        else:
            assert (tmp_path / "out").read_bytes() == blob
            outcomes.append("exact")
    assert len(outcomes) == 3
    assert all(o == "exact" or "not served" in o for o in outcomes), outcomes


def test_proxy_ref_path_and_legacy_metadata_spellings_are_read(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path / "work")
    v0, v1 = versions(200_000, 2, seed=36)
    engine.put(bucket, "p/a.zip", write(tmp_path, "a.zip", v0))
    engine.put(bucket, "p/b.zip", write(tmp_path, "b.zip", v1))
    head = s3_store.head(bucket, "p/b.zip.delta")
    meta = {k: v for k, v in head.metadata.items() if k != "dg-ref-key"} | {"dg-ref-path": "reference.bin"}
    s3_store.put_bytes(bucket, "p/b.zip.delta", s3_store.get_bytes(bucket, "p/b.zip.delta"), meta)
    engine.get(bucket, "p/b.zip", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == v1
    legacy = {k.removeprefix("dg-").replace("-", "_"): v for k, v in head.metadata.items()}
    s3_store.put_bytes(bucket, "p/b.zip.delta", s3_store.get_bytes(bucket, "p/b.zip.delta"), legacy)
    fresh = make_engine(s3_store, tmp_path / "fresh")
    fresh.get(bucket, "p/b.zip", tmp_path / "out2")
    assert (tmp_path / "out2").read_bytes() == v1


def test_foreign_objects_are_served_as_is(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> None:
    s3_store.put_bytes(bucket, "raw/thing.zip", b"uploaded by something else")
    engine = make_engine(s3_store, tmp_path)
    meta = engine.get(bucket, "raw/thing.zip", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"uploaded by something else"
    assert (meta.stored_as, meta.sha256) == (StoredAs.FOREIGN, None)
