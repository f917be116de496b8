"""Stats on a real SeaweedFS: exact figures, the cache cycle, incremental HEAD counts, failures.

Requests are counted by the S3 store's own counters (`S3ObjectStore.counts`, one per request
made), so "k changed of N costs k HEADs" is measured on the store, not inferred.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from prometheus_client import CollectorRegistry

from app.errors import AccessDenied, BucketNotFound
from app.observability.metrics import Metrics
from app.services.stats import CacheOutcome, StatsService
from app.stats.compute import StatsProgress
from app.stats.document import decode_document, document_key
from app.stats.model import StatsMode
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint
from tests.support.stats import WireBucket, figures

pytestmark = pytest.mark.integration


@pytest.fixture
def lean(seaweed: S3Endpoint) -> Iterator[S3ObjectStore]:
    """A store of its own, so its counts are this test's requests only."""
    store = S3ObjectStore(seaweed.endpoint_url, seaweed.region, seaweed.access_key, seaweed.secret_key)
    yield store
    store.close()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


@pytest.fixture
def service(lean: S3ObjectStore, s3_store: S3ObjectStore, metrics: Metrics) -> StatsService:
    return StatsService(lean, metrics=metrics, head_concurrency=16)


@pytest.fixture
def wire(s3_store: S3ObjectStore, bucket: str) -> WireBucket:
    """A bucket in the wire format: 6 deltaspaces x 10 deltas, references, direct files."""
    wire = WireBucket(s3_store, bucket)
    for space in range(6):
        prefix = f"releases/app-{space}"
        wire.reference(prefix, 2000 + space)
        for n in range(10):
            wire.delta(f"{prefix}/app-1.{n}.zip", stored=30 + n, original=2000 + 7 * n)
        wire.direct(f"{prefix}/CHANGELOG.md", 100 + space)
    wire.direct("README.txt", 55)
    return wire


def _errors(metrics: Metrics, operation: str) -> float:
    return metrics.registry.get_sample_value("dg_stats_cache_errors_total", {"operation": operation}) or 0.0


def test_detailed_figures_are_exact_and_cost_one_head_per_delta(
    wire: WireBucket, service: StatsService, lean: S3ObjectStore
) -> None:
    result = service.get(wire.bucket, StatsMode.DETAILED)
    assert result.cache is CacheOutcome.MISS
    assert result.exact
    assert figures(result.stats) == wire.expected()
    assert lean.counts["head"] == 60
    assert result.stats.average_compression_ratio == pytest.approx(
        wire.expected()["space_saved"] / wire.expected()["total_size"], abs=1e-6
    )


def test_cache_written_read_back_and_validated_against_every_change(
    wire: WireBucket, service: StatsService, lean: S3ObjectStore, s3_store: S3ObjectStore
) -> None:
    first = service.get(wire.bucket, StatsMode.DETAILED)
    doc = decode_document(
        s3_store.get_bytes(wire.bucket, document_key(StatsMode.DETAILED)), StatsMode.DETAILED
    )
    assert doc.stats.to_stats() == first.stats
    assert doc.validation.object_count == len(wire.objects)

    heads, lists = lean.counts["head"], lean.counts["list"]
    hit = service.get(wire.bucket, StatsMode.DETAILED)
    assert hit.cache is CacheOutcome.HIT
    assert hit.stats == first.stats
    assert lean.counts["head"] == heads  # a hit is one LIST (1 page here) and one GET
    assert lean.counts["list"] == lists + 1

    changes = [
        ("add", lambda: wire.delta("releases/app-2/app-2.0.zip", stored=44, original=4321), 1),
        ("delete", lambda: wire.delete("releases/app-3/app-1.4.zip.delta"), 0),
        (
            "same-size overwrite",
            lambda: wire.delta("releases/app-0/app-1.1.zip", stored=31, original=9999),
            1,
        ),
    ]
    for name, change, expected_heads in changes:
        change()
        before = lean.counts["head"]
        stale = service.get(wire.bucket, StatsMode.DETAILED)
        assert stale.cache is CacheOutcome.STALE, name
        assert lean.counts["head"] - before == expected_heads, name
        assert stale.exact, name
        assert figures(stale.stats) == wire.expected(), name
        assert service.get(wire.bucket, StatsMode.DETAILED).cache is CacheOutcome.HIT, name


def test_k_changed_of_n_costs_about_k_heads(
    s3_store: S3ObjectStore, bucket: str, lean: S3ObjectStore
) -> None:
    wire = WireBucket(s3_store, bucket)
    for space in range(12):
        wire.reference(f"p/{space:02d}", 1000)
        for n in range(25):
            wire.delta(f"p/{space:02d}/b{n}.tar.gz", stored=20, original=1000 + n)
    service = StatsService(lean, head_concurrency=32)
    service.get(bucket, StatsMode.DETAILED)
    assert lean.counts["head"] == 300
    for space, n in [(0, 1), (3, 4), (3, 5), (7, 0), (11, 24)]:  # same-size overwrites
        wire.delta(f"p/{space:02d}/b{n}.tar.gz", stored=20, original=5000 + n)
    wire.delta("p/05/new.tar.gz", stored=20, original=1234)
    before = lean.counts["head"]
    result = service.get(bucket, StatsMode.DETAILED)
    assert result.cache is CacheOutcome.STALE
    assert lean.counts["head"] - before == 6
    assert figures(result.stats) == wire.expected()


def test_refresh_rewrites_and_no_cache_leaves_the_bucket_untouched(
    wire: WireBucket, service: StatsService, lean: S3ObjectStore, s3_store: S3ObjectStore
) -> None:
    first = service.get(wire.bucket, StatsMode.SAMPLED)
    refreshed = service.get(wire.bucket, StatsMode.SAMPLED, refresh=True)
    assert refreshed.cache is CacheOutcome.REFRESH
    doc = decode_document(s3_store.get_bytes(wire.bucket, document_key(StatsMode.SAMPLED)), StatsMode.SAMPLED)
    assert doc.computed_at == refreshed.computed_at > first.computed_at
    puts, gets, heads = lean.counts["put"], lean.counts["get"], lean.counts["head"]
    bypass = service.get(wire.bucket, StatsMode.DETAILED, use_cache=False)
    assert bypass.cache is CacheOutcome.BYPASS
    assert (lean.counts["put"], lean.counts["get"]) == (puts, gets)
    assert lean.counts["head"] - heads == 60
    assert figures(bypass.stats) == wire.expected()


def test_corrupted_document_is_a_counted_miss_and_overwritten(
    wire: WireBucket, service: StatsService, metrics: Metrics, s3_store: S3ObjectStore
) -> None:
    key = document_key(StatsMode.QUICK)
    s3_store.put_bytes(wire.bucket, key, b'{"version": "1.0", "mode": "quick", "stats": [')
    result = service.get(wire.bucket, StatsMode.QUICK)
    assert result.cache is CacheOutcome.MISS
    assert _errors(metrics, "parse") == 1
    assert (
        decode_document(s3_store.get_bytes(wire.bucket, key), StatsMode.QUICK).stats.to_stats()
        == result.stats
    )
    assert service.get(wire.bucket, StatsMode.QUICK).cache is CacheOutcome.HIT


def test_read_only_bucket_still_gets_stats(
    wire: WireBucket, service: StatsService, metrics: Metrics, seaweed: S3Endpoint
) -> None:
    # SeaweedFS enforces bucket policies, even an explicit Deny for the admin identity.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{wire.bucket}/*"],
            }
        ],
    }
    client = boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint_url,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
        region_name=seaweed.region,
    )
    client.put_bucket_policy(Bucket=wire.bucket, Policy=json.dumps(policy))
    try:
        with pytest.raises(AccessDenied):  # the policy really denies writes
            wire.store.put_bytes(wire.bucket, "probe.txt", b"x")
        for _ in range(2):
            result = service.get(wire.bucket, StatsMode.DETAILED)
            assert result.cache is CacheOutcome.MISS
            assert figures(result.stats) == wire.expected()
        assert _errors(metrics, "write") == 6
        assert _errors(metrics, "index_write") >= 2
    finally:
        client.delete_bucket_policy(Bucket=wire.bucket)
        client.close()


def test_missing_bucket_and_bad_credentials_are_typed_errors(
    seaweed: S3Endpoint, s3_store: S3ObjectStore
) -> None:
    for secret, error in ((seaweed.secret_key, BucketNotFound), ("wrong-secret", AccessDenied)):
        store = S3ObjectStore(seaweed.endpoint_url, seaweed.region, seaweed.access_key, secret)
        service = StatsService(store)
        try:
            with pytest.raises(error):
                service.get("no-such-bucket", StatsMode.QUICK)
        finally:
            store.close()


def test_progress_reports_listing_and_heads(wire: WireBucket, service: StatsService) -> None:
    seen: list[StatsProgress] = []
    service.get(wire.bucket, StatsMode.DETAILED, progress=seen.append)
    phases = [p.phase for p in seen]
    assert phases[0] == "listing"
    assert "heads" in phases
    assert phases[-1] == "done"
    assert seen[-1].objects_listed == len(wire.objects)
    assert seen[-1].heads_done == seen[-1].heads_planned == 60
