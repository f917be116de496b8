"""Three uvicorn replicas sharing one redis-server and one SeaweedFS: an upload through one replica
is in the next stats answer of every other (shared invalidation), and `warm_stats` runs on one
replica per interval (a job lease), not on each.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint
from tests.support.redis_server import RedisServer
from tests.support.replicas import AUTH, ReplicaSet, replica_env
from tests.support.service import wait_until
from tests.support.stats import WireBucket

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def stats(url: str, bucket: str, mode: str = "quick") -> httpx.Response:
    response = httpx.get(f"{url}/buckets/{bucket}/stats", params={"mode": mode}, headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    return response


def test_upload_through_a_is_in_stats_through_b(
    seaweed: S3Endpoint, redis: RedisServer, s3_store: S3ObjectStore, bucket: str
) -> None:
    wire = WireBucket(s3_store, bucket)
    wire.direct("docs/a.txt", 1000)
    wire.direct("docs/b.txt", 2000)
    # A fresh window far longer than the test: only the shared invalidation can make B recompute.
    env = replica_env(seaweed, redis.url, DG_STATS_FRESH_SECONDS="600")
    with ReplicaSet(3, env) as replicas:
        a, b, c = replicas.urls
        first = stats(b, bucket).json()
        assert first["object_count"] == 2
        assert first["cache"]["result"] == "miss"
        assert stats(c, bucket).json()["cache"]["result"] == "hit"  # B's value, shared

        body = b"new build output " * 100
        created = httpx.post(f"{a}/upload", params={"bucket": bucket, "key": "docs/c.txt"}, content=body,
                             headers=AUTH, timeout=60)  # fmt: skip
        assert created.status_code == 201, created.text

        after_b = stats(b, bucket).json()
        assert after_b["object_count"] == 3
        assert after_b["total_size"] == first["total_size"] + len(body)
        assert after_b["cache"]["result"] != "hit"
        after_c = stats(c, bucket).json()
        assert after_c["object_count"] == 3
        assert after_c["cache"]["result"] == "hit"  # recomputed once, by B, for everyone

        deleted = httpx.delete(f"{c}/buckets/{bucket}/objects/docs/a.txt", headers=AUTH, timeout=60)
        assert deleted.status_code == 200, deleted.text
        assert stats(a, bucket).json()["object_count"] == 2
        assert replicas.computations() == 3  # first, after the upload, after the delete


def test_warm_stats_runs_on_one_replica_per_interval(
    seaweed: S3Endpoint, redis: RedisServer, s3_store: S3ObjectStore, bucket: str
) -> None:
    WireBucket(s3_store, bucket).direct("a.txt", 100)
    interval = 2.0
    env = replica_env(
        seaweed, redis.url, DG_WARM_INTERVAL=str(interval), DG_WARM_BUCKETS=bucket, DG_WARM_MODES="quick"
    )
    started = time.monotonic()
    with ReplicaSet(3, env) as replicas:

        def runs(status: str) -> float:
            return replicas.total("dg_job_runs_total", {"task": "warm_stats", "status": status})

        wait_until(lambda: runs("success") >= 4, timeout=60, interval=0.25, what="four warm_stats runs")
        # One scrape per replica, then the clock: a run finishing between reads cannot skew the bound.
        per_replica = replicas.metric("dg_job_runs_total", {"task": "warm_stats", "status": "success"})
        skipped = runs("skipped")
        elapsed = time.monotonic() - started
        success = sum(per_replica)
        # Each timer fires every interval on all three replicas; a run needs the job lease, which
        # lasts 90% of the interval: at most one run per 1.8 s in total (three times that without).
        assert success <= elapsed / (0.9 * interval) + 1, (success, elapsed)
        assert skipped >= success, (success, skipped)
        assert runs("failure") == 0
    assert sum(1 for r in replicas.replicas if "job warm_stats succeeded" in r.log_text()) > 0
