"""One contract for every ObjectStore: the S3 store on real SeaweedFS, on moto's server and on the
in-test AWS-shaped endpoint, and the in-memory fake.

The second half holds S3-only behaviour (credentials, unreachable endpoint, multipart failures).
"""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from app.errors import (
    AccessDenied,
    AlreadyExists,
    BucketNotFound,
    IntegrityError,
    InvalidInput,
    ObjectNotFound,
    StorageUnavailable,
)
from app.storage import s3_multipart
from app.storage.base import ObjectStore
from app.storage.memory import MemoryObjectStore
from app.storage.s3 import MiB, S3ObjectStore
from app.storage.seaweed import free_ports
from tests.conftest import S3Endpoint, unique_bucket_name

Store = tuple[ObjectStore, str]


def _file(tmp_path: Path, name: str, size: int, seed: int = 0) -> Path:
    """A file of `size` pseudo-random bytes (incompressible, distinct per seed)."""
    path = tmp_path / name
    block = hashlib.sha256(str(seed).encode()).digest() * 4096  # 128 KiB pattern
    with path.open("wb") as out:
        remaining = size
        while remaining:
            piece = block[: min(len(block), remaining)]
            out.write(piece)
            remaining -= len(piece)
    return path


@pytest.fixture
def small_parts(any_store: Store) -> Iterator[Store]:
    """The same store and bucket, but S3 switches to multipart above 5 MiB (5 MiB parts)."""
    store, bucket = any_store
    if not isinstance(store, S3ObjectStore):
        yield store, bucket
        return
    o = store.options
    small = S3ObjectStore(
        o.endpoint_url,
        o.region,
        o.access_key_id,
        o.secret_access_key,
        multipart_threshold_bytes=5 * MiB,
        multipart_chunk_bytes=5 * MiB,
    )
    yield small, bucket
    small.close()


# -- round trips -------------------------------------------------------------------------------


def test_bytes_round_trip_gives_md5_etag(any_store: Store) -> None:
    store, bucket = any_store
    etag = store.put_bytes(bucket, "a/b.txt", b"hello glider")
    assert etag == hashlib.md5(b"hello glider").hexdigest()
    assert store.get_bytes(bucket, "a/b.txt") == b"hello glider"
    head = store.head(bucket, "a/b.txt")
    assert (head.key, head.size, head.etag) == ("a/b.txt", 12, etag)
    assert head.last_modified.tzinfo is not None


def test_file_round_trip_and_metadata(any_store: Store, tmp_path: Path) -> None:
    store, bucket = any_store
    src = _file(tmp_path, "src.bin", 300_000)
    metadata = {"dg-file-sha256": "ab" * 32, "Dg-Tool": "glider/0.1.0", "dg_legacy_key": "x y"}
    etag = store.put_file(bucket, "rel/1.0/app.zip", src, metadata, content_type="application/zip")

    dest = tmp_path / "dest.bin"
    head = store.get_to_file(bucket, "rel/1.0/app.zip", dest)
    assert head is not None
    assert dest.read_bytes() == src.read_bytes()
    assert (head.size, head.etag, head.content_type) == (300_000, etag, "application/zip")
    expected = {"dg-file-sha256": "ab" * 32, "dg-tool": "glider/0.1.0", "dg_legacy_key": "x y"}
    assert dict(head.metadata) == expected
    assert dict(store.head(bucket, "rel/1.0/app.zip").metadata) == expected


def test_empty_object(any_store: Store, tmp_path: Path) -> None:
    store, bucket = any_store
    store.put_file(bucket, "empty", _file(tmp_path, "e", 0), {})
    dest = tmp_path / "out"
    head = store.get_to_file(bucket, "empty", dest)
    assert head is not None
    assert head.size == 0
    assert dest.read_bytes() == b""


def test_multipart_round_trip(small_parts: Store, tmp_path: Path) -> None:
    store, bucket = small_parts
    src = _file(tmp_path, "big.bin", 12 * MiB + 123)
    etag = store.put_file(bucket, "big/artifact.tar", src, {"dg-file-size": str(12 * MiB + 123)})
    if isinstance(store, S3ObjectStore):
        assert etag.endswith("-3"), etag  # three parts: really went multipart
    dest = tmp_path / "back.bin"
    head = store.get_to_file(bucket, "big/artifact.tar", dest)
    assert head is not None
    assert head.etag == etag
    assert head.metadata["dg-file-size"] == str(12 * MiB + 123)
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()


# -- conditional writes ------------------------------------------------------------------------


def test_if_none_match_small(any_store: Store, tmp_path: Path) -> None:
    store, bucket = any_store
    store.put_bytes(bucket, "once", b"first", if_none_match=True)
    with pytest.raises(AlreadyExists, match="'once'"):
        store.put_bytes(bucket, "once", b"second", if_none_match=True)
    with pytest.raises(AlreadyExists):
        store.put_file(bucket, "once", _file(tmp_path, "f", 10), {}, if_none_match=True)
    assert store.get_bytes(bucket, "once") == b"first"
    store.put_bytes(bucket, "once", b"third")  # unconditional overwrite still works
    assert store.get_bytes(bucket, "once") == b"third"


def test_if_none_match_multipart(small_parts: Store, tmp_path: Path) -> None:
    store, bucket = small_parts
    store.put_bytes(bucket, "ref/reference.bin", b"original")
    with pytest.raises(AlreadyExists):
        store.put_file(bucket, "ref/reference.bin", _file(tmp_path, "big", 11 * MiB), {}, if_none_match=True)
    assert store.get_bytes(bucket, "ref/reference.bin") == b"original"
    etag = store.put_file(bucket, "ref/new.bin", _file(tmp_path, "big2", 11 * MiB, 1), {}, if_none_match=True)
    assert store.head(bucket, "ref/new.bin").etag == etag


# -- listing -----------------------------------------------------------------------------------


def test_list_pagination_with_tokens(any_store: Store) -> None:
    store, bucket = any_store
    keys = sorted(f"p/{i:03d}.bin" for i in range(20))
    for key in reversed(keys):
        store.put_bytes(bucket, key, key.encode())
    store.put_bytes(bucket, "q/outside", b"x")

    seen: list[str] = []
    sizes: list[int] = []
    token: str | None = None
    pages = 0
    while True:
        page = store.list_page(bucket, "p/", continuation_token=token, max_keys=7)
        pages += 1
        assert len(page.objects) <= 7
        seen += [o.key for o in page.objects]
        sizes += [o.size for o in page.objects]
        token = page.next_token
        if token is None:
            break
    assert pages == 3
    assert seen == keys
    assert sizes == [len(k) for k in keys]
    assert [o.key for o in store.iter_objects(bucket, "p/")] == keys
    assert len(list(store.iter_objects(bucket))) == 21


def test_list_delimiter_groups_common_prefixes(any_store: Store) -> None:
    store, bucket = any_store
    for key in ["a/1", "a/2", "a/b/3", "b/1", "c", "d.txt"]:
        store.put_bytes(bucket, key, b"x")
    page = store.list_page(bucket, delimiter="/")
    assert [o.key for o in page.objects] == ["c", "d.txt"]
    assert page.common_prefixes == ("a/", "b/")
    assert page.next_token is None

    inner = store.list_page(bucket, "a/", delimiter="/")
    assert [o.key for o in inner.objects] == ["a/1", "a/2"]
    assert inner.common_prefixes == ("a/b/",)

    # Paging one entry at a time walks prefixes and objects in order, each exactly once.
    entries: list[str] = []
    token: str | None = None
    while True:
        page = store.list_page(bucket, delimiter="/", continuation_token=token, max_keys=1)
        entries += list(page.common_prefixes) + [o.key for o in page.objects]
        token = page.next_token
        if token is None:
            break
    assert entries == ["a/", "b/", "c", "d.txt"]


def test_list_rejects_bad_page_size(any_store: Store) -> None:
    store, bucket = any_store
    for bad in (0, 1001):
        with pytest.raises(InvalidInput, match="max_keys"):
            store.list_page(bucket, max_keys=bad)


def test_list_etag_matches_head(any_store: Store) -> None:
    store, bucket = any_store
    etag = store.put_bytes(bucket, "k", b"content")
    [info] = store.list_page(bucket).objects
    assert (info.key, info.size, info.etag) == ("k", 7, etag)


# -- missing things ----------------------------------------------------------------------------


def test_missing_bucket(any_store: Store, tmp_path: Path) -> None:
    store, _ = any_store
    missing = unique_bucket_name("gone")
    with pytest.raises(BucketNotFound, match=f"bucket '{missing}' does not exist"):
        store.list_page(missing)
    # A HEAD's bare 404 cannot say which is missing: either NotFound is within the contract
    # (S3 says ObjectNotFound, the fake BucketNotFound), and head_bucket tells them apart.
    with pytest.raises((ObjectNotFound, BucketNotFound)):
        store.head(missing, "k")
    with pytest.raises(BucketNotFound):
        store.head_bucket(missing)
    with pytest.raises(BucketNotFound):
        store.put_bytes(missing, "k", b"x")
    with pytest.raises(BucketNotFound):
        store.get_to_file(missing, "k", tmp_path / "x")


def test_missing_key(any_store: Store, tmp_path: Path) -> None:
    store, bucket = any_store
    with pytest.raises(ObjectNotFound, match="'nope'"):
        store.head(bucket, "nope")
    with pytest.raises(ObjectNotFound):
        store.get_bytes(bucket, "nope")
    with pytest.raises(ObjectNotFound):
        store.get_to_file(bucket, "nope", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_delete_is_idempotent(any_store: Store) -> None:
    store, bucket = any_store
    store.put_bytes(bucket, "d", b"x")
    store.delete(bucket, "d")
    store.delete(bucket, "d")
    with pytest.raises(ObjectNotFound):
        store.head(bucket, "d")


def test_create_bucket_is_idempotent_and_validated(any_store: Store) -> None:
    store, bucket = any_store
    store.put_bytes(bucket, "keep", b"x")
    store.create_bucket(bucket)
    assert store.get_bytes(bucket, "keep") == b"x"
    with pytest.raises(InvalidInput):
        store.create_bucket("Bad_Bucket!")


# -- conditional download, batches, threads ----------------------------------------------------


def test_get_to_file_if_none_match(any_store: Store, tmp_path: Path) -> None:
    store, bucket = any_store
    etag = store.put_bytes(bucket, "cached", b"v1")
    dest = tmp_path / "dest"
    dest.write_bytes(b"local copy")
    assert store.get_to_file(bucket, "cached", dest, if_none_match=etag) is None
    assert dest.read_bytes() == b"local copy"

    store.put_bytes(bucket, "cached", b"v2")
    head = store.get_to_file(bucket, "cached", dest, if_none_match=etag)
    assert head is not None
    assert head.etag != etag
    assert dest.read_bytes() == b"v2"


def test_head_many_mixed(any_store: Store) -> None:
    store, bucket = any_store
    present = [f"h/{i}" for i in range(10)]
    for key in present:
        store.put_bytes(bucket, key, key.encode())
    wanted = [*present, "h/missing-1", "h/missing-2"]
    results = {r.key: r for r in store.head_many(bucket, iter(wanted), concurrency=4)}
    assert set(results) == set(wanted)
    for key in present:
        head = results[key].head
        assert head is not None
        assert head.size == len(key)
        assert results[key].error is None
    for key in ("h/missing-1", "h/missing-2"):
        assert results[key].head is None
        assert isinstance(results[key].error, ObjectNotFound)


def test_concurrent_use_from_threads(any_store: Store, tmp_path: Path) -> None:
    store, bucket = any_store
    barrier = threading.Barrier(8, timeout=30)

    def work(n: int) -> int:
        barrier.wait()  # start together to really overlap
        done = 0
        for i in range(10):
            key = f"t{n}/{i}"
            body = f"{n}-{i}".encode() * (i + 1)
            etag = store.put_bytes(bucket, key, body)
            assert store.head(bucket, key).etag == etag
            assert store.get_bytes(bucket, key) == body
            dest = tmp_path / f"{n}-{i}"
            assert store.get_to_file(bucket, key, dest) is not None
            assert dest.read_bytes() == body
            done += 1
        return done

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(work, range(8))) == 80
    assert len(list(store.iter_objects(bucket))) == 80


# -- memory only -------------------------------------------------------------------------------


def test_memory_counts_requests_per_operation(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    store.create_bucket("counted")
    store.put_bytes("counted", "a", b"1")
    store.put_file("counted", "b", _file(tmp_path, "b", 10), {})
    store.head("counted", "a")
    list(store.head_many("counted", ["a", "b", "c"]))
    store.list_page("counted", max_keys=1)
    with pytest.raises(ObjectNotFound):
        store.get_bytes("counted", "zzz")
    assert store.counts == {
        "create_bucket": 1, "put_bytes": 1, "put_file": 1, "head": 4, "list_page": 1, "get_bytes": 1,
    }  # fmt: skip
    with pytest.raises(InvalidInput, match="continuation token"):
        store.list_page("counted", continuation_token="not-a-token")


# -- S3 only -----------------------------------------------------------------------------------


def _pending_uploads(seaweed: S3Endpoint, bucket: str) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint_url,
        region_name=seaweed.region,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
    )
    try:
        return [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    finally:
        client.close()


@pytest.fixture
def multipart_s3(seaweed: S3Endpoint, bucket: str) -> Iterator[S3ObjectStore]:
    store = S3ObjectStore(
        seaweed.endpoint_url,
        seaweed.region,
        seaweed.access_key,
        seaweed.secret_key,
        multipart_threshold_bytes=5 * MiB,
        multipart_chunk_bytes=5 * MiB,
        multipart_concurrency=1,  # parts in order: the failure below hits after part 1 succeeded
    )
    yield store
    store.close()


def test_s3_wrong_credentials_is_access_denied(seaweed: S3Endpoint, bucket: str) -> None:
    store = S3ObjectStore(
        seaweed.endpoint_url, seaweed.region, seaweed.access_key, "not-the-secret", max_attempts=1
    )
    try:
        with pytest.raises(AccessDenied) as caught:
            store.list_page(bucket)
        assert "not-the-secret" not in str(caught.value)
        with pytest.raises(AccessDenied):
            store.put_bytes(bucket, "k", b"x")
        with pytest.raises(AccessDenied):
            store.head(bucket, "k")
    finally:
        store.close()


def test_s3_credentials_from_the_botocore_chain(
    seaweed: S3Endpoint, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No keys given: botocore's chain finds them (here in a shared credentials file)."""
    shared = tmp_path / "credentials"
    shared.write_text(
        f"[default]\naws_access_key_id = {seaweed.access_key}\naws_secret_access_key = {seaweed.secret_key}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    store = S3ObjectStore(seaweed.endpoint_url, seaweed.region, None, None)
    try:
        store.put_bytes(bucket, "via-chain", b"ok")
        assert store.get_bytes(bucket, "via-chain") == b"ok"
    finally:
        store.close()


def test_s3_no_credentials_anywhere_is_access_denied(
    seaweed: S3Endpoint, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3ObjectStore(seaweed.endpoint_url, seaweed.region, None, None, max_attempts=1)
    try:
        with pytest.raises(AccessDenied):
            store.head(bucket, "k")
    finally:
        store.close()


def test_s3_nothing_listening_is_unavailable_quickly() -> None:
    [port] = free_ports(1)
    endpoint = f"http://127.0.0.1:{port}"
    store = S3ObjectStore(
        endpoint, "us-east-1", "id", "secret-value", connect_timeout=1, read_timeout=1, max_attempts=1
    )
    started = time.monotonic()
    try:
        with pytest.raises(StorageUnavailable, match=f"S3 endpoint {endpoint} unreachable") as caught:
            store.head_bucket("anything")
        assert "secret-value" not in str(caught.value)
    finally:
        store.close()
    assert time.monotonic() - started < 5


def test_s3_multipart_failing_read_leaves_nothing(
    multipart_s3: S3ObjectStore,
    seaweed: S3Endpoint,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The conditional multipart path (botocore): a failing disk aborts the upload."""
    real_read = s3_multipart.read_part
    reads: list[int] = []

    def failing_read(fd: int, offset: int, length: int) -> bytes:
        reads.append(offset)
        if offset > 0:  # the disk fails after part 1 was read and uploaded
            raise OSError(5, "Input/output error")
        return real_read(fd, offset, length)

    monkeypatch.setattr(s3_multipart, "read_part", failing_read)
    with pytest.raises(OSError, match="Input/output error"):
        multipart_s3.put_file(bucket, "half.bin", _file(tmp_path, "src", 12 * MiB), {}, if_none_match=True)
    assert reads[:2] == [0, 5 * MiB]
    with pytest.raises(ObjectNotFound):
        multipart_s3.head(bucket, "half.bin")
    assert _pending_uploads(seaweed, bucket) == []


def test_s3_multipart_shrinking_file_is_aborted(
    multipart_s3: S3ObjectStore,
    seaweed: S3Endpoint,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = _file(tmp_path, "src", 12 * MiB)
    real_read = s3_multipart.read_part

    def read_then_truncate(fd: int, offset: int, length: int) -> bytes:
        data = real_read(fd, offset, length)
        if offset == 0:
            os.truncate(src, 7 * MiB)  # another process rewrites the file under us
        return data

    monkeypatch.setattr(s3_multipart, "read_part", read_then_truncate)
    with pytest.raises(IntegrityError, match=r"shrank|changed size"):
        multipart_s3.put_file(bucket, "moving.bin", src, {}, if_none_match=True)
    with pytest.raises(ObjectNotFound):
        multipart_s3.head(bucket, "moving.bin")
    assert _pending_uploads(seaweed, bucket) == []


def test_s3_multipart_loses_race_at_complete(
    multipart_s3: S3ObjectStore, s3_store: S3ObjectStore, seaweed: S3Endpoint, bucket: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Another writer creates the key while our parts upload: the conditional complete loses."""
    real_read = s3_multipart.read_part

    def read_while_rival_writes(fd: int, offset: int, length: int) -> bytes:
        if offset == 5 * MiB:
            s3_store.put_bytes(bucket, "race.bin", b"rival", if_none_match=True)
        return real_read(fd, offset, length)

    monkeypatch.setattr(s3_multipart, "read_part", read_while_rival_writes)
    with pytest.raises(AlreadyExists):
        multipart_s3.put_file(bucket, "race.bin", _file(tmp_path, "src", 12 * MiB), {}, if_none_match=True)
    assert s3_store.get_bytes(bucket, "race.bin") == b"rival"
    assert _pending_uploads(seaweed, bucket) == []


def test_s3_abort_incomplete_uploads_older_than(
    s3_store: S3ObjectStore, seaweed: S3Endpoint, bucket: str
) -> None:
    """Uploads left behind (a crashed process) are aborted once older than the limit, not before."""
    client = boto3.client(
        "s3", endpoint_url=seaweed.endpoint_url, region_name=seaweed.region,
        aws_access_key_id=seaweed.access_key, aws_secret_access_key=seaweed.secret_key,
    )  # fmt: skip
    try:
        client.create_multipart_upload(Bucket=bucket, Key="left/behind.bin")
        client.create_multipart_upload(Bucket=bucket, Key="left/also.bin")
    finally:
        client.close()
    assert sorted(_pending_uploads(seaweed, bucket)) == ["left/also.bin", "left/behind.bin"]
    assert s3_store.abort_incomplete_uploads(bucket, timedelta(hours=24)) == 0
    assert len(_pending_uploads(seaweed, bucket)) == 2
    later = datetime.now(UTC) + timedelta(hours=25)
    assert s3_store.abort_incomplete_uploads(bucket, timedelta(hours=24), now=later) == 2
    assert _pending_uploads(seaweed, bucket) == []


class _ShortBodyHandler(http.server.BaseHTTPRequestHandler):
    """Promises 100 bytes, sends 40, hangs up: a connection cut mid-download."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.send_header("ETag", '"0123456789abcdef"')
        self.send_header("Last-Modified", "Sun, 01 Nov 2026 10:00:00 GMT")
        self.end_headers()
        self.wfile.write(b"x" * 40)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def short_body_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShortBodyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_s3_body_cut_short_is_integrity_error(short_body_endpoint: str, tmp_path: Path) -> None:
    store = S3ObjectStore(short_body_endpoint, "us-east-1", "id", "secret", max_attempts=1, read_timeout=5)
    try:
        with pytest.raises(IntegrityError, match="truncated download of object 'k'"):
            store.get_to_file("bkt", "k", tmp_path / "dest")
        with pytest.raises(IntegrityError, match="truncated"):
            store.get_bytes("bkt", "k")
    finally:
        store.close()


def test_list_pages_whole_bucket_same_order_each_time(any_store: Store) -> None:
    store, bucket = any_store
    keys = [f"r/app-{s}/v{i}.zip.delta" for s in range(3) for i in range(4)] + [
        "r/app-0/reference.bin",
        "top",
    ]
    for key in keys:
        store.put_bytes(bucket, key, b"x")
    first = [o.key for page in store.list_pages(bucket) for o in page]
    assert sorted(first) == sorted(keys)
    assert [o.key for page in store.list_pages(bucket) for o in page] == first


@pytest.mark.parametrize("value", ["line\nbreak", "caf\u00e9", "nul\x00"])
def test_s3_metadata_s3_cannot_carry_is_refused_cleanly(
    s3_store: S3ObjectStore, bucket: str, value: str
) -> None:
    """Refused before sending (the client would panic on a control character), nothing written."""
    with pytest.raises(InvalidInput, match="'dg-note'"):
        s3_store.put_bytes(bucket, "meta", b"x", {"dg-note": value})
    with pytest.raises(ObjectNotFound):
        s3_store.head(bucket, "meta")
