"""Listings on SeaweedFS, which lists keys in directory order rather than byte order."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.storage.s3 import S3ObjectStore
from tests.support.engine import make_engine, versions, write

pytestmark = pytest.mark.integration

# Byte order puts `lst/a-b/...` first ('-' < '/'); SeaweedFS lists the `a/` directory first.
KEYS = ["lst/a/one.txt", "lst/a-b/two.txt", "lst/a/b.zip", "lst/a.c/three.txt", "lst/a/c.zip"]


def test_the_store_lists_in_directory_order(s3_store: S3ObjectStore, bucket: str) -> None:
    """The premise of this module: if SeaweedFS ever lists in byte order, these tests prove less."""
    for key in KEYS:
        s3_store.put_bytes(bucket, key, b"x")
    listed = [o.key for o in s3_store.iter_objects(bucket, "lst/")]
    assert listed != sorted(listed)
    assert sorted(listed) == sorted(KEYS)


def test_every_page_size_lists_every_key(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> None:
    engine = make_engine(s3_store, tmp_path)
    blobs = versions(50_000, 2, seed=3)
    for i, key in enumerate(KEYS):
        data = blobs[i % 2] if key.endswith(".zip") else f"text {i}".encode()
        engine.put(bucket, key, write(tmp_path, f"f{i}", data))
    expected = sorted(KEYS)
    assert sorted(o.key for o in engine.list(bucket, "lst/").objects) == expected
    for max_keys in (1, 2, 3, 4):
        got: list[str] = []
        token = None
        for _ in range(20):
            page = engine.list(bucket, "lst/", continuation_token=token, max_keys=max_keys)
            got.extend(o.key for o in page.objects)
            token = page.next_token
            if token is None:
                break
        assert sorted(got) == expected, max_keys
        assert len(got) == len(expected)


def test_tokens_stay_within_the_api_limit_for_the_longest_keys(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """The token carries the store's token and the last key read: both can be ~1 KB of UTF-8."""
    engine = make_engine(s3_store, tmp_path)
    folder = "/".join(["日本語" * 28] * 4)  # 4 segments of 252 bytes
    keys = [f"{folder}/{'é' * 3}{i}.txt" for i in range(3)]
    for key in keys:
        assert len(key.encode()) <= 1024
        engine.put(bucket, key, write(tmp_path, "f", b"x"))
    got: list[str] = []
    token = None
    while True:
        page = engine.list(bucket, continuation_token=token, max_keys=1)
        got.extend(o.key for o in page.objects)
        token = page.next_token
        if token is None:
            break
        assert len(token) <= 4096, len(token)  # the HTTP API's limit on `continuation_token`
    assert sorted(got) == sorted(keys)
