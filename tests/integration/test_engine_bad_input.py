"""Bad input and broken storage: each gives a typed error with a precise message; nothing wrong is served."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from app.engine.results import StoredAs
from app.errors import (
    BucketNotFound,
    EmptyFile,
    IntegrityError,
    InvalidInput,
    ObjectNotFound,
    ReservedKey,
    StorageUnavailable,
)
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import free_ports
from tests.conftest import unique_bucket_name
from tests.support.aws_s3 import AwsS3
from tests.support.engine import make_engine, versions, write

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "name", ["ab", "Upper", "under_score", "-lead", "trail-", "a..b", "192.168.1.1", "x" * 64]
)
def test_invalid_bucket_names(s3_store: S3ObjectStore, tmp_path: Path, name: str) -> None:
    engine = make_engine(s3_store, tmp_path)
    path = write(tmp_path, "a.zip", b"data")
    for call in (
        lambda: engine.put(name, "a.zip", path),
        lambda: engine.get(name, "a.zip", tmp_path / "out"),
        lambda: engine.list(name),
        lambda: engine.delete(name, "a.zip"),
    ):
        with pytest.raises(InvalidInput, match="invalid bucket name"):
            call()


@pytest.mark.parametrize(
    ("key", "error", "message"),
    [
        ("", InvalidInput, "empty"),
        ("k" * 1025, InvalidInput, "longer than 1024 bytes"),
        ("é" * 513, InvalidInput, "longer than 1024 bytes"),
        ("a\x00b.zip", InvalidInput, "NUL"),
        ("rel/../etc.zip", InvalidInput, r"'\.\.' path segment"),
        ("./a.zip", InvalidInput, "path segment"),
        ("/abs.zip", InvalidInput, "start or end"),
        ("bad\udcff.zip", InvalidInput, "not valid UTF-8"),
        ("tab/a\tb.zip", InvalidInput, "control character U\\+0009"),
        ("del\x7f.txt", InvalidInput, "control character U\\+007F"),
        ("win\\path.zip", InvalidInput, "backslash"),  # SeaweedFS would store it as win/path.zip
        ("rel/reference.bin", ReservedKey, "reference.bin"),
        ("rel/reference.bin/x.txt", ReservedKey, "reference.bin"),  # would block rel/'s reference
        ("reference.bin/x.zip", ReservedKey, "reference.bin"),
        ("a.zip.delta", ReservedKey, r"\.delta"),
        (".deltaglider/stats_quick.json", ReservedKey, r"'\.deltaglider'"),
        ("rel/.deltaglider/x.zip", ReservedKey, r"'\.deltaglider'"),
        ("rel/.deltaglider", ReservedKey, r"'\.deltaglider'"),
    ],
)
def test_bad_keys(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path, key: str, error: type[Exception], message: str
) -> None:
    engine = make_engine(s3_store, tmp_path)
    path = write(tmp_path, "a.zip", b"data")
    with pytest.raises(error, match=message):
        engine.put(bucket, key, path)
    with pytest.raises(error, match=message):
        engine.get(bucket, key, tmp_path / "out")
    with pytest.raises(error, match=message):
        engine.delete(bucket, key)
    assert list(s3_store.iter_objects(bucket)) == []


def test_missing_bucket_and_object(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> None:
    engine = make_engine(s3_store, tmp_path)
    missing = unique_bucket_name("gone")
    for key in ("a.zip", "a.txt"):
        with pytest.raises(BucketNotFound):
            engine.put(missing, key, write(tmp_path, "f", b"data"))
    with pytest.raises(BucketNotFound):
        engine.get(missing, "a.zip", tmp_path / "out")
    with pytest.raises(BucketNotFound):
        engine.list(missing)
    with pytest.raises(ObjectNotFound, match=rf"s3://{bucket}/nope\.zip"):
        engine.get(bucket, "nope.zip", tmp_path / "out")
    with pytest.raises(ObjectNotFound):
        engine.head(bucket, "nope.zip")
    assert not (tmp_path / "out").exists()


def test_empty_file_is_refused(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> None:
    engine = make_engine(s3_store, tmp_path)
    for key in ("empty.zip", "empty.txt"):
        with pytest.raises(EmptyFile, match="empty file"):
            engine.put(bucket, key, write(tmp_path, "e", b""))
    assert list(s3_store.iter_objects(bucket)) == []


def test_missing_local_file_is_invalid_input(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        make_engine(s3_store, tmp_path).put(bucket, "a.zip", tmp_path / "absent.zip")


@pytest.fixture
def stored_delta(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> tuple[bytes, bytes]:
    engine = make_engine(s3_store, tmp_path)
    v0, v1 = versions(300_000, 2, seed=17)
    engine.put(bucket, "c/a.zip", write(tmp_path, "a.zip", v0))
    assert engine.put(bucket, "c/b.zip", write(tmp_path, "b.zip", v1)).stored_as is StoredAs.DELTA
    return v0, v1


def _replace_body(store: S3ObjectStore, bucket: str, key: str, body: bytes) -> None:
    head = store.head(bucket, key)
    store.put_bytes(bucket, key, body, dict(head.metadata))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bitflip"])
def test_a_damaged_delta_is_an_integrity_error_and_dest_is_untouched(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path, stored_delta: tuple[bytes, bytes], damage: str
) -> None:
    body = s3_store.get_bytes(bucket, "c/b.zip.delta")
    if damage == "garbage":
        body = b"\x00garbage" * 100
    elif damage == "truncated":
        body = body[: len(body) // 2]
    else:
        body = body[:-50] + bytes(b ^ 0x5A for b in body[-50:])
    _replace_body(s3_store, bucket, "c/b.zip.delta", body)
    out_dir = tmp_path / "dl"
    out_dir.mkdir()
    dest = write(out_dir, "b.zip", b"previous download")
    with pytest.raises(IntegrityError, match=r"s3://.*c/b\.zip|corrupt or truncated"):
        make_engine(s3_store, tmp_path / "w").get(bucket, "c/b.zip", dest)
    assert dest.read_bytes() == b"previous download"
    assert [p.name for p in out_dir.iterdir()] == ["b.zip"]  # no partial file left beside it


def test_a_replaced_reference_is_detected(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path, stored_delta: tuple[bytes, bytes]
) -> None:
    _replace_body(s3_store, bucket, "c/reference.bin", versions(300_000, 1, seed=99)[0])
    with pytest.raises(IntegrityError, match="reference replaced"):
        make_engine(s3_store, tmp_path / "cold").get(bucket, "c/b.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_metadata_lying_about_the_hash_is_not_served(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path)
    engine.put(bucket, "d/x.txt", write(tmp_path, "x.txt", b"original"))
    meta = dict(s3_store.head(bucket, "d/x.txt").metadata)
    s3_store.put_bytes(bucket, "d/x.txt", b"tampered", meta)
    with pytest.raises(IntegrityError, match="SHA-256"):
        engine.get(bucket, "d/x.txt", tmp_path / "out")


def _closed_port() -> int:
    return free_ports(1)[0]


def test_s3_unreachable_is_storage_unavailable(tmp_path: Path) -> None:
    store = S3ObjectStore(
        f"http://127.0.0.1:{_closed_port()}", "us-east-1", "k", "s", connect_timeout=0.5, max_attempts=1
    )
    engine = make_engine(store, tmp_path)
    path = write(tmp_path, "a.zip", b"data")
    for call in (
        lambda: engine.put("some-bucket", "a.zip", path),
        lambda: engine.get("some-bucket", "a.zip", tmp_path / "out"),
        lambda: engine.list("some-bucket"),
    ):
        with pytest.raises(StorageUnavailable):
            call()
    store.close()


def test_failure_mid_upload_leaves_nothing_that_reads_wrong(tmp_path: Path) -> None:
    """Multipart upload parts start failing half way (500s from the AWS-shaped endpoint)."""
    with AwsS3() as server:
        store = S3ObjectStore(
            server.endpoint_url, "us-east-1", "key", "secret",
            multipart_threshold_bytes=5 << 20, multipart_chunk_bytes=5 << 20, max_attempts=1,
        )  # fmt: skip
        bucket = unique_bucket_name()
        store.create_bucket(bucket)
        engine = make_engine(store, tmp_path)
        old = write(tmp_path, "old.bin", b"old version\n" * 1000)
        engine.put(bucket, "big/blob.bin", old)
        server.fail_parts_from = 2
        new = write(tmp_path, "new.bin", versions(16 << 20, 1, seed=1)[0])
        with pytest.raises(StorageUnavailable):
            engine.put(bucket, "big/blob.bin", new)
        # Parts go up concurrently: whichever part >= 2 is sent first fails the upload.
        failed_parts = [
            int(part)
            for method, _, query, _ in server.requests
            if method == "PUT"
            for part in re.findall(r"partNumber=(\d+)", query)
            if int(part) >= 2
        ]
        assert failed_parts, "the upload never reached a failing part"
        engine.get(bucket, "big/blob.bin", tmp_path / "out")  # the previous version, intact
        assert (
            hashlib.sha256((tmp_path / "out").read_bytes()).digest()
            == hashlib.sha256(old.read_bytes()).digest()
        )
        assert {o.key for o in store.iter_objects(bucket)} == {"big/blob.bin"}
        assert server.state.uploads == {}  # obstore aborted the failed multipart upload
        store.close()
