"""The engine on real SeaweedFS and real xdelta3: how files are stored and that they come back exact."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from app import TOOL_NAME
from app.domain.metadata import ZERO_DIFF_NOTE
from app.engine.results import StoredAs
from app.engine.zstd import ZstdPatchCodec
from app.observability.metrics import Metrics
from app.storage.s3 import S3ObjectStore
from tests.support.engine import gzip9_tarball, make_engine, source_tree, versions, write

pytestmark = pytest.mark.integration


def keys_of(store: S3ObjectStore, bucket: str) -> set[str]:
    return {o.key for o in store.iter_objects(bucket)}


@pytest.mark.smoke
def test_first_file_is_reference_then_deltas_all_read_back(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    metrics = Metrics(CollectorRegistry())
    engine = make_engine(s3_store, tmp_path / "work", metrics=metrics)
    data = versions(600_000, 4, seed=11)
    results = [
        engine.put(bucket, f"rel/app-{i}.zip", write(tmp_path, f"v{i}.zip", d)) for i, d in enumerate(data)
    ]

    first = results[0]
    assert (first.stored_as, first.reference_size, first.stored_key) == (
        StoredAs.REFERENCE,
        600_000,
        "rel/app-0.zip.delta",
    )
    assert first.stored_size < 100
    for later in results[1:]:
        assert later.stored_as is StoredAs.DELTA
        assert later.stored_size < 30_000
    assert keys_of(s3_store, bucket) == {"rel/reference.bin"} | {f"rel/app-{i}.zip.delta" for i in range(4)}

    ref_meta = s3_store.head(bucket, "rel/reference.bin").metadata
    assert ref_meta["dg-note"] == "reference"
    assert ref_meta["dg-source-name"] == "app-0.zip"
    assert ref_meta["dg-tool"] == TOOL_NAME
    zero = s3_store.head(bucket, "rel/app-0.zip.delta").metadata
    assert zero["dg-note"] == ZERO_DIFF_NOTE
    assert zero["dg-ref-key"] == "rel/reference.bin"
    assert zero["dg-ref-sha256"] == first.sha256
    delta = s3_store.head(bucket, "rel/app-2.zip.delta").metadata
    assert delta["dg-file-size"] == "600000"
    assert delta["dg-delta-size"] == str(results[2].stored_size)
    assert "dg-note" not in delta
    assert "dg-codec" not in delta

    for i, expected in enumerate(data):
        dest = tmp_path / f"out{i}"
        meta = engine.get(bucket, f"rel/app-{i}.zip", dest)
        assert dest.read_bytes() == expected
        assert (meta.size, meta.sha256, meta.stored_as) == (600_000, results[i].sha256, StoredAs.DELTA)
    assert (
        metrics.registry.get_sample_value("dg_uploads_total", {"stored_as": "delta", "reason": "none"}) == 3
    )
    assert metrics.registry.get_sample_value("dg_downloads_total", {"stored_as": "delta"}) == 4


def test_non_candidates_are_stored_direct(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> None:
    engine = make_engine(s3_store, tmp_path)
    result = engine.put(bucket, "docs/readme.txt", write(tmp_path, "r.txt", b"hello glider\n"))
    assert (result.stored_as, result.stored_key, result.stored_size) == (
        StoredAs.DIRECT,
        "docs/readme.txt",
        13,
    )
    meta = s3_store.head(bucket, "docs/readme.txt").metadata
    assert meta["dg-compression"] == "none"
    assert meta["dg-file-size"] == "13"
    engine.get(bucket, "docs/readme.txt", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"hello glider\n"
    head = engine.head(bucket, "docs/readme.txt")
    assert (head.stored_as, head.size, head.etag) == (StoredAs.DIRECT, 13, f"sha256:{result.sha256}")


def test_delta_over_max_ratio_is_dropped_and_stored_direct(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path, max_ratio=0.5)
    rng = random.Random(2)
    engine.put(bucket, "r/a.zip", write(tmp_path, "a.zip", rng.randbytes(300_000)))
    unrelated = rng.randbytes(300_000)
    result = engine.put(bucket, "r/b.zip", write(tmp_path, "b.zip", unrelated))
    assert result.stored_as is StoredAs.DIRECT
    assert keys_of(s3_store, bucket) == {"r/reference.bin", "r/a.zip.delta", "r/b.zip"}
    engine.get(bucket, "r/b.zip", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == unrelated


def test_gzip9_tarball_is_stored_and_returned_exactly(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """A gzip stream never becomes a reference (DeltaGlider would decompress it), so it is direct."""
    engine = make_engine(s3_store, tmp_path)
    rng = random.Random(8)
    tree = source_tree(rng)
    blobs = []
    for version in range(3):
        tree[f"pkg/mod{version}.py"] = f"version {version}\n".encode() * 300
        blobs.append(gzip9_tarball(tree))
    for version, blob in enumerate(blobs):
        result = engine.put(bucket, f"sdist/pkg-{version}.tar.gz", write(tmp_path, f"{version}.tar.gz", blob))
        assert result.stored_as is StoredAs.DIRECT
    for version, blob in enumerate(blobs):
        engine.get(bucket, f"sdist/pkg-{version}.tar.gz", tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == blob
    assert "sdist/reference.bin" not in keys_of(s3_store, bucket)


def test_same_bytes_as_reference_give_a_zero_diff_delta(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path)
    (data,) = versions(200_000, 1, seed=4)
    path = write(tmp_path, "a.zip", data)
    engine.put(bucket, "x/a.zip", path)
    again = engine.put(bucket, "x/a-copy.zip", path)
    assert again.stored_as is StoredAs.DELTA
    assert again.stored_size < 100
    assert s3_store.head(bucket, "x/a-copy.zip.delta").metadata["dg-note"] == ZERO_DIFF_NOTE
    engine.get(bucket, "x/a-copy.zip", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data


def test_switching_between_delta_and_direct_leaves_one_representation(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path)
    v0, v1 = versions(300_000, 2, seed=6)
    engine.put(bucket, "s/base.zip", write(tmp_path, "base.zip", v0))
    assert engine.put(bucket, "s/app.zip", write(tmp_path, "v1.zip", v1)).stored_as is StoredAs.DELTA
    noise = random.Random(1).randbytes(300_000)
    assert engine.put(bucket, "s/app.zip", write(tmp_path, "noise.zip", noise)).stored_as is StoredAs.DIRECT
    assert keys_of(s3_store, bucket) == {"s/reference.bin", "s/base.zip.delta", "s/app.zip"}
    engine.get(bucket, "s/app.zip", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == noise
    assert engine.put(bucket, "s/app.zip", write(tmp_path, "v1b.zip", v1)).stored_as is StoredAs.DELTA
    assert keys_of(s3_store, bucket) == {"s/reference.bin", "s/base.zip.delta", "s/app.zip.delta"}
    engine.get(bucket, "s/app.zip", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == v1


def test_a_stale_representation_left_by_a_dead_writer_loses_to_the_newer(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path)
    v0, v1 = versions(300_000, 2, seed=9)
    engine.put(bucket, "d/app.zip", write(tmp_path, "v0.zip", v0))
    # A writer that stored a direct copy and died before removing the old delta:
    s3_store.put_file(
        bucket,
        "d/app.zip",
        write(tmp_path, "v1.zip", v1),
        {"dg-file-sha256": __import__("hashlib").sha256(v1).hexdigest(), "dg-compression": "none",
         "dg-created-at": "2999-01-01T00:00:00Z"},
    )  # fmt: skip
    engine.get(bucket, "d/app.zip", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == v1
    assert [o.key for o in engine.list(bucket).objects] == ["d/app.zip"]


def test_concurrent_first_uploads_into_a_new_deltaspace_all_read_back(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    data = versions(400_000, 6, seed=21)
    paths = [write(tmp_path, f"c{i}.zip", d) for i, d in enumerate(data)]
    engines = [
        make_engine(s3_store, tmp_path / f"w{i}") for i in range(len(data))
    ]  # separate processes' worth
    barrier = threading.Barrier(len(data))

    def upload(i: int) -> StoredAs:
        barrier.wait(timeout=30)
        return engines[i].put(bucket, f"race/app-{i}.zip", paths[i]).stored_as

    with ThreadPoolExecutor(len(data)) as pool:
        kinds = list(pool.map(upload, range(len(data))))
    assert kinds.count(StoredAs.REFERENCE) == 1
    assert set(kinds) <= {StoredAs.REFERENCE, StoredAs.DELTA}
    reader = make_engine(s3_store, tmp_path / "reader")
    for i, expected in enumerate(data):
        reader.get(bucket, f"race/app-{i}.zip", tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == expected


def test_caller_supplied_sha_is_recorded(s3_store: S3ObjectStore, bucket: str, tmp_path: Path) -> None:
    engine = make_engine(s3_store, tmp_path)
    path = write(tmp_path, "a.txt", b"abc")
    digest = __import__("hashlib").sha256(b"abc").hexdigest()
    result = engine.put(bucket, "a.txt", path, sha256=digest.upper())
    assert result.sha256 == digest
    assert s3_store.head(bucket, "a.txt").metadata["dg-file-sha256"] == digest


def test_opt_in_zstd_codec_is_marked_and_read_back(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path, codec=ZstdPatchCodec())
    v0, v1 = versions(300_000, 2, seed=13)
    engine.put(bucket, "z/a.zip", write(tmp_path, "a.zip", v0))
    assert engine.put(bucket, "z/b.zip", write(tmp_path, "b.zip", v1)).stored_as is StoredAs.DELTA
    assert s3_store.head(bucket, "z/b.zip.delta").metadata["dg-codec"] == "zstd-patch"
    reader = make_engine(s3_store, tmp_path / "reader")  # default xdelta3 engine still reads it
    for key, expected in (("z/a.zip", v0), ("z/b.zip", v1)):
        reader.get(bucket, key, tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == expected
