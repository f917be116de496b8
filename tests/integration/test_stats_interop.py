"""Stats of buckets written by Glider's engine and by `deltaglider cp` 6.2.0, checked against totals
computed independently (local file sizes, a boto3 listing), plus the `glider stats` command itself."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from app.caches.memory import MemoryReferenceCache
from app.engine.codec import XDelta3Codec
from app.engine.engine import DeltaEngine
from app.engine.references import ReferenceProvider
from app.services.stats import CacheOutcome, StatsService
from app.stats.model import StatsMode
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint

pytestmark = pytest.mark.integration

DELTAGLIDER = Path(sys.executable).parent / "deltaglider"
GLIDER = Path(sys.executable).parent / "glider"


def _versions(root: Path, count: int, suffix: str, size: int = 96 * 1024) -> list[Path]:
    """Successive versions of one artifact: mostly shared bytes, a small random edit each."""
    rng = random.Random(count * 7 + size)
    base = bytearray(rng.randbytes(size))
    files = []
    for n in range(count):
        at = rng.randrange(size - 512)
        base[at : at + 256] = rng.randbytes(256)
        path = root / f"app-1.{n}{suffix}"
        path.write_bytes(bytes(base) + rng.randbytes(n * 100))
        files.append(path)
    return files


def _listing(seaweed: S3Endpoint, bucket: str) -> dict[str, int]:
    """Key -> stored size, from boto3 (independent of Glider's client), cache files excluded."""
    client = boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint_url,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
        region_name=seaweed.region,
    )
    try:
        found: dict[str, int] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                if not obj["Key"].startswith(".deltaglider/"):
                    found[obj["Key"]] = obj["Size"]
        return found
    finally:
        client.close()


@pytest.fixture
def service(s3_store: S3ObjectStore) -> StatsService:
    return StatsService(s3_store)


def test_bucket_written_by_deltaglider(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path, service: StatsService
) -> None:
    env = seaweed.env() | {"DG_SUPPRESS_DEPRECATION": "1"}
    zips = _versions(tmp_path, 4, ".zip")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(os.urandom(3000))
    for path in [*zips, notes]:
        subprocess.run(
            [str(DELTAGLIDER), "cp", str(path), f"s3://{bucket}/releases/{path.name}"],
            env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    listed = _listing(seaweed, bucket)
    assert "releases/reference.bin" in listed  # really the wire format
    assert sum(k.endswith(".delta") for k in listed) == 4

    # DeltaGlider's own detailed figures, taken before Glider writes anything under .deltaglider/
    dg = subprocess.run(
        [str(DELTAGLIDER), "stats", bucket, "--detailed", "--no-cache", "--json"],
        env=env, check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    theirs = json.loads(dg.stdout)

    result = service.get(bucket, StatsMode.DETAILED)
    s = result.stats
    assert result.exact
    assert s.total_size == sum(p.stat().st_size for p in [*zips, notes])
    assert s.compressed_size == sum(listed.values())
    assert (s.delta_objects, s.direct_objects, s.object_count) == (4, 1, 5)
    assert s.space_saved == s.total_size - s.compressed_size
    for name in (
        "object_count",
        "total_size",
        "compressed_size",
        "space_saved",
        "delta_objects",
        "direct_objects",
    ):
        assert getattr(s, name) == theirs[name], name

    # Quick mode on a bucket Glider has never seen estimates deltas from the reference size.
    quick = service.get(bucket, StatsMode.QUICK, use_cache=False)
    assert not quick.exact
    assert quick.stats.compressed_size == s.compressed_size


def test_bucket_written_by_the_glider_engine(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path, service: StatsService
) -> None:
    references = ReferenceProvider(s3_store, MemoryReferenceCache(64 << 20), work_dir=tmp_path)
    engine = DeltaEngine(s3_store, XDelta3Codec(), references, work_dir=tmp_path)
    uploads = {f"builds/a/{p.name}": p for p in _versions(tmp_path, 5, ".tar")}
    uploads |= {f"builds/b/{p.name}": p for p in _versions(tmp_path / "..", 3, ".zip", size=64 * 1024)}
    text = tmp_path / "build.log"
    text.write_bytes(os.urandom(1234))
    uploads["builds/build.log"] = text
    for key, path in uploads.items():
        engine.put(bucket, key, path)

    listed = _listing(seaweed, bucket)
    deltas = sum(k.endswith(".delta") for k in listed)
    refs = sum(k.endswith("reference.bin") for k in listed)
    assert refs == 2
    result = service.get(bucket, StatsMode.DETAILED)
    s = result.stats
    assert result.exact
    assert s.total_size == sum(p.stat().st_size for p in uploads.values())
    assert s.compressed_size == sum(listed.values())
    assert s.object_count == len(uploads)
    assert (s.delta_objects, s.direct_objects) == (deltas, len(uploads) - deltas)
    assert service.get(bucket, StatsMode.DETAILED).cache is CacheOutcome.HIT


def test_glider_stats_command(seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str) -> None:
    s3_store.put_bytes(bucket, "a/file.txt", b"x" * 2048)
    env = seaweed.env()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GLIDER), "stats", *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    first = run(bucket, "--detailed", "--json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert (doc["object_count"], doc["total_size"], doc["cache"], doc["exact"]) == (1, 2048, "miss", True)
    again = run(f"s3://{bucket}/", "--detailed", "--json")
    assert json.loads(again.stdout)["cache"] == "hit"
    text = run(bucket)
    assert text.returncode == 0, text.stderr
    assert "Original Size:        2.00 KiB (2,048 bytes)" in text.stdout
    assert "Savings:              0.0% of the original size" in text.stdout

    clash = run(bucket, "--sampled", "--detailed")
    assert clash.returncode == 2
    assert "mutually exclusive" in clash.stderr
    clash = run(bucket, "--refresh", "--no-cache")
    assert clash.returncode == 2
    assert "mutually exclusive" in clash.stderr
    missing = run("no-such-bucket-x")
    assert missing.returncode == 3
    assert "does not exist" in missing.stderr
