"""Keys near S3's 1,024-byte limit on a real SeaweedFS: refused up front or stored whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.keys import validate_key
from app.engine.results import StoredAs
from app.errors import InvalidInput
from app.storage.s3 import S3ObjectStore
from tests.support.engine import make_engine, versions, write

pytestmark = pytest.mark.integration


def test_a_key_whose_delta_name_would_be_too_long_is_refused_before_any_write(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path)
    data = write(tmp_path, "a.zip", versions(40_000, 1, seed=2)[0])
    too_long = (
        "d/" + "k" * 250 + ".zip",  # the case on SeaweedFS: `.delta` makes a 260-byte name
        "é" * 124 + ".zip",  # 252 bytes; 258 with `.delta`
        "p/" * 508 + "a.zip",  # 1,021 bytes; 1,027 with `.delta`
        "/".join(["p" * 252] * 4) + "/a.zip",  # 1,017 bytes; 1,023 with `.delta`, but 1,025 as reference
    )
    for key in too_long:
        validate_key(key)  # a valid key; too long only once stored as a delta or reference
        with pytest.raises(InvalidInput, match="too long"):
            engine.put(bucket, key, data)
    for key in ("k" * 256 + ".txt", "d" * 256 + "/a.txt"):  # no delta form; still over a store's limit
        with pytest.raises(InvalidInput, match="255 per segment"):
            engine.put(bucket, key, data)
    assert list(s3_store.iter_objects(bucket)) == []  # in particular no orphan reference.bin


def test_the_longest_allowed_keys_round_trip(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> None:
    engine = make_engine(s3_store, tmp_path)
    blobs = versions(40_000, 2, seed=3)
    folder = "/".join(["d" * 255] * 3)  # 767 bytes
    longest = f"{folder}/{'k' * 245}.zip"  # 1,017 bytes; 255-byte name as `.delta` (1,023 bytes)
    assert engine.put(bucket, longest, write(tmp_path, "a", blobs[0])).stored_as is StoredAs.REFERENCE
    second = f"{folder}/{'k' * 244}2.zip"
    assert engine.put(bucket, second, write(tmp_path, "b", blobs[1])).stored_as is StoredAs.DELTA
    text = "/".join(["t" * 255] * 3) + "/" + "t" * 251 + ".txt"  # 1,023 bytes, no delta form
    assert engine.put(bucket, text, write(tmp_path, "c", b"notes")).stored_as is StoredAs.DIRECT
    for key, body in ((longest, blobs[0]), (second, blobs[1]), (text, b"notes")):
        engine.get(bucket, key, tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == body
    assert sorted(o.key for o in engine.list(bucket).objects) == sorted([longest, second, text])
