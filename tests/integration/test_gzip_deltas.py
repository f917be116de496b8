"""Gzip-aware deltas on real SeaweedFS with real xdelta3, gzip and deltaglider 6.2.0.

Each recipe family round-trips byte-exact as a small delta; each fallback keeps today's forms
and reads back exact; bombs are refused; the strict switch writes only what deltaglider reads;
deltaglider fails (never exit 0 with wrong bytes) on the gzip-aware form; Glider reads
deltaglider's own gzip deltas exactly; stats count the bucket's real bytes.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.caches.encrypted import EncryptedReferenceCache
from app.caches.filesystem import FilesystemReferenceCache
from app.engine.engine import DeltaEngine
from app.engine.gzip_form import GzipSettings
from app.engine.gzip_stream import ExpandLimits
from app.engine.results import DirectReason, Form, PutResult, StoredAs
from app.errors import DecompressionBomb
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint
from tests.support.engine import deltaglider_uploads, make_engine, write
from tests.support.engine import run_deltaglider as run_deltaglider_cli
from tests.support.gzips import full_header, gnu_gzip, late_divergent_gzip, tar_versions, zlib_gzip
from tests.support.stats import assert_stats_count_the_bucket

pytestmark = pytest.mark.integration

GZIP_ON = GzipSettings(ExpandLimits(1 << 30, 250.0), 30.0)  # rare families sit deep in the search


def run_deltaglider(seaweed: S3Endpoint, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_deltaglider_cli(seaweed.env(), *args)


def gzip_engine(store: S3ObjectStore, tmp_path: Path, gzip: GzipSettings | None = GZIP_ON) -> DeltaEngine:
    return make_engine(store, tmp_path / "work", gzip=gzip)


def roundtrip(engine: DeltaEngine, bucket: str, key: str, tmp_path: Path, blob: bytes) -> None:
    out = tmp_path / "out"
    engine.get(bucket, key, out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(blob).hexdigest(), key


FAMILIES = {
    "python-level9": {"level": 9, "header": full_header(b"pkg.tar", 1_700_000_000)},
    "python-level6-extra-comment": {
        "level": 6,
        "header": full_header(b"pkg.tar", 1_700_000_001, extra=b"AB\x02\x00hi", comment=b"built"),
    },
    "npm-level9": {"level": 9},
    "level1": {"level": 1},
    "level4": {"level": 4},
    "small-window": {"level": 6, "wbits": 12},
    "memlevel9": {"level": 9, "mem_level": 9},
    "filtered": {"level": 6, "strategy": 1},
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_recipe_family_is_a_small_exact_gzip_delta(
    family: str, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = gzip_engine(s3_store, tmp_path)
    params = FAMILIES[family]
    blobs = [zlib_gzip(tar, **params) for tar in tar_versions(3)]  # type: ignore[arg-type]
    results = [
        engine.put(bucket, f"rel/pkg-{n}.tar.gz", write(tmp_path, "up.tar.gz", blob))
        for n, blob in enumerate(blobs)
    ]
    assert results[0].stored_as is StoredAs.REFERENCE
    assert results[0].reference_size == len(blobs[0])  # the compressed bytes, not the tar
    assert s3_store.head(bucket, "rel/reference.bin").size == len(blobs[0])
    for result, blob in zip(results[1:], blobs[1:], strict=True):
        assert (result.stored_as, result.form, result.reason) == (StoredAs.DELTA, Form.GZIP, None)
        assert result.stored_size <= 0.15 * len(blob), (family, result.stored_size, len(blob))
    fresh = gzip_engine(s3_store, tmp_path / "fresh")  # cold cache: expands the reference again
    for n, blob in enumerate(blobs):
        roundtrip(fresh, bucket, f"rel/pkg-{n}.tar.gz", tmp_path, blob)


def test_recipe_and_header_are_recorded_in_metadata(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = gzip_engine(s3_store, tmp_path)
    blobs = [zlib_gzip(tar, level=6, wbits=12) for tar in tar_versions(2)]
    for n, blob in enumerate(blobs):
        engine.put(bucket, f"r/p-{n}.tgz", write(tmp_path, "up.tgz", blob))
    meta = s3_store.head(bucket, "r/p-1.tgz.delta").metadata
    assert meta["dg-form"] == "gzip"
    assert meta["dg-gzip-recipe"] == "zlib;level=6;wbits=12;memlevel=8;strategy=0"
    assert meta["dg-file-sha256"] == hashlib.sha256(blobs[1]).hexdigest()
    assert int(meta["dg-gzip-raw-size"]) > len(blobs[1])


def test_tampered_recipe_is_an_integrity_error_and_nothing_is_served(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = gzip_engine(s3_store, tmp_path)
    for n, blob in enumerate(zlib_gzip(tar, level=9) for tar in tar_versions(2)):
        engine.put(bucket, f"r/p-{n}.tgz", write(tmp_path, "up.tgz", blob))
    head = s3_store.head(bucket, "r/p-1.tgz.delta")
    meta = dict(head.metadata) | {"dg-gzip-recipe": "zlib;level=8;wbits=15;memlevel=8;strategy=0"}
    s3_store.put_bytes(bucket, "r/p-1.tgz.delta", s3_store.get_bytes(bucket, "r/p-1.tgz.delta"), meta)
    dest = tmp_path / "never"
    with pytest.raises(Exception, match="not served") as caught:
        engine.get(bucket, "r/p-1.tgz", dest)
    assert type(caught.value).__name__ == "IntegrityError"
    assert not dest.exists()


def _flushed(data: bytes) -> bytes:
    """zlib with a full flush mid-stream: a stream no flush-free recipe can rebuild."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    half = len(data) // 2
    body = (
        comp.compress(data[:half]) + comp.flush(zlib.Z_FULL_FLUSH) + comp.compress(data[half:]) + comp.flush()
    )
    return (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03" + body + struct.pack("<II", zlib.crc32(data), len(data))
    )


def _fallback_blobs() -> dict[str, list[bytes]]:
    tars = tar_versions(2, seed=11)
    return {
        "flushed-mid-stream": [_flushed(t) for t in tars],
        "multi-member": [zlib_gzip(t[: len(t) // 2]) + zlib_gzip(t[len(t) // 2 :]) for t in tars],
        "trailing-data": [zlib_gzip(t) + b"\x00" * 512 for t in tars],
        "truncated": [zlib_gzip(t)[:-100] for t in tars],
        "not-gzip": [b"PK\x03\x04" + t for t in tars],
    }


@pytest.mark.parametrize("level", [9, 6])
def test_gnu_gzip_is_exact_either_way(
    level: int, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """GNU gzip has its own deflate: a zlib recipe rebuilds it only sometimes (then proven)."""
    engine = gzip_engine(s3_store, tmp_path, GzipSettings(ExpandLimits(1 << 30, 250.0), 1.0))
    blobs = [gnu_gzip(t, level) for t in tar_versions(2, seed=12, files=120)]
    for n, blob in enumerate(blobs):
        result = engine.put(bucket, f"gnu/pkg-{n}.tar.gz", write(tmp_path, "up.tar.gz", blob))
        if result.stored_as is StoredAs.DIRECT:
            assert result.reason is DirectReason.NO_EXACT_RECIPE
        elif result.stored_as is StoredAs.DELTA:
            assert result.form is Form.GZIP
    for n, blob in enumerate(blobs):
        roundtrip(engine, bucket, f"gnu/pkg-{n}.tar.gz", tmp_path, blob)


@pytest.mark.parametrize("case", sorted(_fallback_blobs()))
def test_each_fallback_keeps_todays_forms_and_reads_back_exact(
    case: str, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = gzip_engine(s3_store, tmp_path, GzipSettings(ExpandLimits(1 << 30, 250.0), 1.0))
    blobs = _fallback_blobs()[case]
    results = [
        engine.put(bucket, f"fb/pkg-{n}.tar.gz", write(tmp_path, "up.tar.gz", blob))
        for n, blob in enumerate(blobs)
    ]
    assert all(r.form is Form.PLAIN for r in results)
    if case == "not-gzip":  # bytes, not name, decide: this one is an ordinary candidate
        assert [r.stored_as for r in results] == [StoredAs.REFERENCE, StoredAs.DELTA]
    elif case == "flushed-mid-stream":  # a clean stream: still the reference, kept verbatim
        assert [(r.stored_as, r.reason) for r in results] == [
            (StoredAs.REFERENCE, None),
            (StoredAs.DIRECT, DirectReason.NO_EXACT_RECIPE),
        ]
    else:
        assert [(r.stored_as, r.reason) for r in results] == [
            (StoredAs.DIRECT, DirectReason.NO_EXACT_RECIPE)
        ] * 2
    for n, blob in enumerate(blobs):
        roundtrip(engine, bucket, f"fb/pkg-{n}.tar.gz", tmp_path, blob)


def test_a_proof_failing_at_the_end_leaves_no_gzip_delta(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """The likeliest recipe matches all but the last block. A first version still becomes the
    reference (verbatim: no recipe is needed to serve it); for a later version the encode that ran
    alongside the proof is thrown away and the file is stored direct, exact."""
    engine = gzip_engine(s3_store, tmp_path, GzipSettings(ExpandLimits(1 << 30, 250.0), 0.5))
    tars = tar_versions(3, seed=5, files=120, size=20_000)
    first = engine.put(
        bucket, "late/pkg-0.tar.gz", write(tmp_path, "up.tar.gz", late_divergent_gzip(tars[0]))
    )
    assert first.stored_as is StoredAs.REFERENCE
    good = engine.put(bucket, "late/pkg-1.tar.gz", write(tmp_path, "up.tar.gz", zlib_gzip(tars[1], level=6)))
    assert good.stored_as is StoredAs.DELTA  # against the unreproducible reference's content
    later = engine.put(
        bucket, "late/pkg-2.tar.gz", write(tmp_path, "up.tar.gz", late_divergent_gzip(tars[2]))
    )
    assert (later.stored_as, later.reason) == (StoredAs.DIRECT, DirectReason.NO_EXACT_RECIPE)
    assert [o.key for o in s3_store.iter_objects(bucket) if o.key.startswith("late/pkg-2")] == [
        "late/pkg-2.tar.gz"
    ]
    roundtrip(engine, bucket, "late/pkg-0.tar.gz", tmp_path, late_divergent_gzip(tars[0]))
    roundtrip(engine, bucket, "late/pkg-1.tar.gz", tmp_path, zlib_gzip(tars[1], level=6))
    roundtrip(engine, bucket, "late/pkg-2.tar.gz", tmp_path, late_divergent_gzip(tars[2]))


def test_decompression_bombs_are_refused_by_size_and_by_ratio(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    zeros = zlib_gzip(b"\x00" * (8 << 20), level=9)
    by_size = gzip_engine(s3_store, tmp_path, GzipSettings(ExpandLimits(4 << 20, 250.0), 3.0))
    with pytest.raises(DecompressionBomb, match="4,194,304-byte limit"):
        by_size.put(bucket, "bomb/a.tar.gz", write(tmp_path, "a.tar.gz", zeros))
    by_ratio = gzip_engine(
        s3_store, tmp_path, GzipSettings(ExpandLimits(1 << 30, 100.0, ratio_floor=1 << 20), 3.0)
    )
    with pytest.raises(DecompressionBomb, match="100 times"):
        by_ratio.put(bucket, "bomb/a.tar.gz", write(tmp_path, "a.tar.gz", zeros))
    assert [o.key for o in s3_store.iter_objects(bucket)] == []  # nothing half-written


def test_strict_switch_writes_only_what_deltaglider_reads(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = gzip_engine(s3_store, tmp_path, gzip=None)
    blobs = [zlib_gzip(tar, level=9) for tar in tar_versions(2, seed=3)]
    results = [engine.put(bucket, f"s/p-{n}.tgz", write(tmp_path, "up.tgz", b)) for n, b in enumerate(blobs)]
    assert [(r.stored_as, r.reason) for r in results] == [
        (StoredAs.DIRECT, DirectReason.COMPRESSED_STREAM)
    ] * 2
    assert all("dg-form" not in s3_store.head(bucket, f"s/p-{n}.tgz").metadata for n in range(2))
    for n, blob in enumerate(blobs):
        done = run_deltaglider(seaweed, "cp", f"s3://{bucket}/s/p-{n}.tgz", tmp_path / "dg")
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "dg").read_bytes() == blob


def test_deltaglider_reading_gzip_aware_objects_fails_never_wrong_bytes(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = gzip_engine(s3_store, tmp_path)
    blobs = [zlib_gzip(tar, level=9) for tar in tar_versions(2, seed=5)]
    for n, blob in enumerate(blobs):
        engine.put(bucket, f"g/p-{n}.tgz", write(tmp_path, "up.tgz", blob))
    for n, blob in enumerate(blobs):  # the reference's zero-diff and the gzip-aware delta
        dest = tmp_path / f"dg-{n}"
        done = run_deltaglider(seaweed, "cp", f"s3://{bucket}/g/p-{n}.tgz", dest)
        wrong = dest.exists() and dest.read_bytes() != blob
        assert done.returncode != 0, f"deltaglider exited 0 (wrong bytes: {wrong})"
        assert not (done.returncode == 0 and wrong)


def test_glider_reads_deltaglider_gzip_deltas_byte_exact(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """deltaglider wrote these with xdelta3's external recompression: it cannot read them back."""
    series = {
        "npm": [zlib_gzip(tar, level=9) for tar in tar_versions(3, seed=21)],
        "same-header": [
            zlib_gzip(tar, level=6, header=full_header(b"pkg.tar", 1_600_000_000))
            for tar in tar_versions(3, seed=22)
        ],
    }
    uploads = {f"{name}/pkg-{n}.tgz": b for name, blobs in series.items() for n, b in enumerate(blobs)}
    deltaglider_uploads(seaweed.env(), bucket, uploads, tmp_path)
    assert s3_store.head(bucket, "npm/pkg-1.tgz.delta").size < len(series["npm"][1]) // 2
    engine = gzip_engine(s3_store, tmp_path)
    for name, blobs in series.items():
        for n, blob in enumerate(blobs):
            roundtrip(engine, bucket, f"{name}/pkg-{n}.tgz", tmp_path, blob)


def test_stats_count_the_bucket_bytes_over_mixed_forms(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = gzip_engine(s3_store, tmp_path)
    tars = tar_versions(3, seed=9)
    uploads = {f"mix/p-{n}.tar.gz": zlib_gzip(t) for n, t in enumerate(tars)}
    uploads |= {"mix/gnu.tar.gz": gnu_gzip(tars[0]), "mix/notes.txt": b"notes\n" * 100}
    uploads |= {f"zips/a-{n}.zip": b"PK" + t for n, t in enumerate(tars[:2])}
    kinds = [engine.put(bucket, key, write(tmp_path, "up", blob)).stored_as for key, blob in uploads.items()]
    assert StoredAs.DIRECT in kinds
    assert StoredAs.REFERENCE in kinds
    assert_stats_count_the_bucket(s3_store, bucket, uploads, kinds)  # zero-diffs count as deltas


def test_the_decompressed_reference_lives_only_in_the_encrypted_local_cache(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    cache = EncryptedReferenceCache(FilesystemReferenceCache(root, 1 << 30), work_dir=tmp_path / "work")
    engine = make_engine(s3_store, tmp_path / "work", cache=cache, gzip=GZIP_ON)
    tars = tar_versions(2, seed=13)
    blobs = [zlib_gzip(t, level=6) for t in tars]
    for n, blob in enumerate(blobs):
        engine.put(bucket, f"c/p-{n}.tgz", write(tmp_path, "up.tgz", blob))
    in_bucket = {o.key: o.size for o in s3_store.iter_objects(bucket)}
    assert in_bucket["c/reference.bin"] == len(blobs[0])  # never the decompressed tar
    entries = [p for p in root.rglob("*") if p.is_file()]
    assert len(entries) >= 2  # the compressed reference and its content
    marker = tars[0][512:4096]  # plaintext tar bytes must appear in no cache file
    assert all(marker not in p.read_bytes() for p in entries)
    engine.get(bucket, "c/p-1.tgz", tmp_path / "out")  # served from the cached content
    assert (tmp_path / "out").read_bytes() == blobs[1]


def test_racing_first_versions_one_reference_the_others_proven_gzip_deltas(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """A first version skips the recipe proof (it is stored verbatim); a writer that then loses
    the race to create reference.bin searches for its recipe after all and stores a gzip delta."""
    engine = gzip_engine(s3_store, tmp_path)
    blobs = {f"race/pkg-{n}.tar.gz": zlib_gzip(tar, level=6) for n, tar in enumerate(tar_versions(4))}
    paths = {key: write(tmp_path, f"up-{n}.tar.gz", blob) for n, (key, blob) in enumerate(blobs.items())}
    start = threading.Barrier(len(paths))

    def upload(key: str) -> PutResult:
        start.wait(timeout=60)
        return engine.put(bucket, key, paths[key])

    with ThreadPoolExecutor(len(paths)) as pool:
        results = list(pool.map(upload, paths))
    assert sorted((r.stored_as, r.form) for r in results) == sorted(
        [(StoredAs.REFERENCE, Form.PLAIN)] + [(StoredAs.DELTA, Form.GZIP)] * 3
    )
    for key, blob in blobs.items():
        roundtrip(engine, bucket, key, tmp_path, blob)
