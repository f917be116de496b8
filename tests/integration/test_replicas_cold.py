"""Three uvicorn replicas, one redis-server, one SeaweedFS: a cold detailed stats storm computes
once, and faults during that computation (a lapsing lease, FLUSHALL, SIGKILL of the computing
replica, Redis stopped) each end in one consistent answer with no 500s.

The bucket holds 12,000 small deltas, so a cold detailed computation HEADs 12,000 objects and
takes seconds: long enough to inject each fault while it runs. Every test deletes the bucket's
`.deltaglider/` cache first and uses its own Redis key prefix, so each one starts cold.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterator

import pytest

from app.storage.base import ObjectStore
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint, unique_bucket_name
from tests.support.redis_server import RedisServer
from tests.support.replicas import (
    Outcome,
    ReplicaSet,
    StormSummary,
    big_wire_bucket,
    coldify,
    replica_env,
    storm,
    wait_for_lease,
)
from tests.support.service import wait_until
from tests.support.stats import WireBucket

pytestmark = pytest.mark.integration

REPLICAS = 3
PER_REPLICA = 50
DELTAS = 12_000


@pytest.fixture(scope="module")
def big(s3_store: S3ObjectStore) -> WireBucket:
    name = unique_bucket_name("replicas")
    s3_store.create_bucket(name)
    return big_wire_bucket(s3_store, name, DELTAS)


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def cold(big: WireBucket, s3_store: ObjectStore) -> WireBucket:
    coldify(s3_store, big.bucket)
    return big


def detailed_storm(replicas: ReplicaSet, wire: WireBucket) -> dict[int, list[Outcome]]:
    return storm(replicas.urls, f"/buckets/{wire.bucket}/stats", PER_REPLICA, params={"mode": "detailed"})


def assert_consistent(summary: StormSummary, wire: WireBucket, answered: int) -> None:
    """Every answer a 200 with the same figures, and those are the figures written."""
    assert summary.statuses == {200: answered}, summary.statuses  # no 500, no 503
    assert len(summary.distinct_figures) == 1, summary.distinct_figures
    (figures,) = summary.distinct_figures
    expected = wire.expected()
    assert figures[0] == expected["object_count"]
    assert figures[1] == expected["total_size"]
    assert figures[2] == expected["compressed_size"]
    assert figures[5] == expected["delta_objects"]
    assert figures[6] == expected["direct_objects"]
    assert figures[7] is True  # detailed: every original size known


def test_cold_storm_across_three_replicas_computes_once(
    seaweed: S3Endpoint, redis: RedisServer, cold: WireBucket
) -> None:
    with ReplicaSet(REPLICAS, replica_env(seaweed, redis.url)) as replicas:
        summary = StormSummary.of(detailed_storm(replicas, cold))
        assert summary.transport_errors == 0
        assert_consistent(summary, cold, REPLICAS * PER_REPLICA)
        assert replicas.computations() == 1
        assert set(summary.results) <= {"miss", "hit"}
        # Exactly one replica held the lease; the others waited for its value.
        assert sorted(replicas.metric("dg_stats_lease_events_total", {"event": "acquired"})) == [0, 0, 1]
        # The shared value is now fresh: another round is answered with no computation at all.
        again = StormSummary.of(detailed_storm(replicas, cold))
        assert again.results == {"hit": REPLICAS * PER_REPLICA}
        assert replicas.computations() == 1


def test_lease_shorter_than_the_computation_is_renewed(
    seaweed: S3Endpoint, redis: RedisServer, cold: WireBucket
) -> None:
    env = replica_env(seaweed, redis.url, DG_STATS_LEASE_SECONDS="1")
    with ReplicaSet(REPLICAS, env) as replicas:
        summary = StormSummary.of(detailed_storm(replicas, cold))
        assert_consistent(summary, cold, REPLICAS * PER_REPLICA)
        # The holder extends its 1 s lease while it computes for seconds. A heartbeat starved past
        # the lease on this shared machine may let one other replica take over: at most one extra.
        computed = replicas.computations()
        print(f"lease 1 s: {computed:.0f} computation(s)")
        assert 1 <= computed <= 2
        assert replicas.total("dg_stats_lease_events_total", {"event": "extend_failed"}) == 0


def test_computing_replica_paused_past_its_lease(
    seaweed: S3Endpoint, redis: RedisServer, cold: WireBucket
) -> None:
    """The holder stops (SIGSTOP) mid-computation until its lease lapses and another replica
    takes over, then continues: its late result must not overwrite the taker's."""
    env = replica_env(seaweed, redis.url, DG_STATS_LEASE_SECONDS="1")
    with ReplicaSet(REPLICAS, env) as replicas, cf.ThreadPoolExecutor(1) as pool:
        running = pool.submit(detailed_storm, replicas, cold)
        holder = replicas.computing_replica()
        others = [i for i in range(REPLICAS) if i != holder]
        replicas.pause(holder)
        try:
            wait_until(
                lambda: replicas.total("dg_stats_lease_events_total", {"event": "takeover"}, others) >= 1,
                timeout=60,
                interval=0.1,
                what="another replica to take over the lapsed lease",
            )
        finally:
            replicas.resume(holder)
        summary = StormSummary.of(running.result(timeout=300))
        assert_consistent(summary, cold, REPLICAS * PER_REPLICA)
        assert replicas.computations() == 2  # the paused holder's and the taker's: one extra
        # Fenced: the holder's late result was refused, the taker's is the shared value.
        assert replicas.total("dg_stats_lease_events_total", {"event": "store_rejected"}, [holder]) == 1
        assert replicas.total("dg_stats_lease_events_total", {"event": "store_rejected"}, others) == 0


def test_flushall_during_the_computation(seaweed: S3Endpoint, redis: RedisServer, cold: WireBucket) -> None:
    env = replica_env(seaweed, redis.url, DG_STATS_LEASE_SECONDS="2")
    with ReplicaSet(REPLICAS, env) as replicas, cf.ThreadPoolExecutor(1) as pool:
        running = pool.submit(detailed_storm, replicas, cold)
        wait_for_lease(redis, env["DG_REDIS_KEY_PREFIX"])
        assert replicas.computations() == 0  # the fault lands while the computation runs
        redis.flushall()
        summary = StormSummary.of(running.result(timeout=300))
        assert summary.transport_errors == 0
        assert_consistent(summary, cold, REPLICAS * PER_REPLICA)
        computed = replicas.computations()
        print(f"FLUSHALL: {computed:.0f} computation(s)")
        assert 1 <= computed <= 2


def test_computing_replica_killed(seaweed: S3Endpoint, redis: RedisServer, cold: WireBucket) -> None:
    env = replica_env(seaweed, redis.url, DG_STATS_LEASE_SECONDS="2")
    with ReplicaSet(REPLICAS, env) as replicas, cf.ThreadPoolExecutor(1) as pool:
        running = pool.submit(detailed_storm, replicas, cold)
        holder = replicas.computing_replica()
        assert replicas.computations() == 0
        replicas.kill(holder)
        outcomes = running.result(timeout=300)
        # The killed replica's own clients lose their connections; nobody else notices.
        assert all(isinstance(o, Exception) for o in outcomes[holder])
        summary = StormSummary.of(outcomes, skip=frozenset({holder}))
        assert summary.transport_errors == 0
        assert_consistent(summary, cold, (REPLICAS - 1) * PER_REPLICA)
        # The holder's computation died with it; one survivor took over the lapsed lease.
        assert replicas.computations() == 1
        assert replicas.total("dg_stats_lease_events_total", {"event": "takeover"}) == 1


def test_redis_stopped_during_the_computation(seaweed: S3Endpoint, cold: WireBucket) -> None:
    """Replicas fall back to in-process single-flight: each computes at most once, every answer
    is the same and a 200, /readyz stays ready and says degraded; Redis is picked up again."""
    with RedisServer() as own_redis:
        env = replica_env(seaweed, own_redis.url, DG_STATS_LEASE_SECONDS="2")
        with ReplicaSet(REPLICAS, env) as replicas, cf.ThreadPoolExecutor(1) as pool:
            running = pool.submit(detailed_storm, replicas, cold)
            wait_for_lease(own_redis, env["DG_REDIS_KEY_PREFIX"])
            own_redis.stop()
            summary = StormSummary.of(running.result(timeout=300))
            assert summary.transport_errors == 0
            assert_consistent(summary, cold, REPLICAS * PER_REPLICA)
            computed = replicas.computations()
            print(f"Redis stopped: {computed:.0f} computation(s)")
            assert 1 <= computed <= REPLICAS  # at most one per replica
            for index in range(REPLICAS):
                ready = replicas.readiness(index)
                assert ready.status_code == 200, ready.text
                check = {c["name"]: c for c in ready.json()["checks"]}["coordination"]
                assert check["ok"] is True
                assert check["detail"].startswith("degraded"), check
            assert replicas.metric("dg_coordination_up") == [0.0] * REPLICAS
            assert all(v >= 1 for v in replicas.metric("dg_coordination_degraded_total"))
            # Still answering while Redis is down (from each replica's own shared value).
            during = StormSummary.of(detailed_storm(replicas, cold))
            assert_consistent(during, cold, REPLICAS * PER_REPLICA)

            own_redis.start()  # same port: the replicas find it again by themselves

            def recovered() -> bool:
                details = [
                    {c["name"]: c for c in replicas.readiness(i).json()["checks"]}["coordination"]["detail"]
                    for i in range(REPLICAS)
                ]
                return not any(d.startswith("degraded") for d in details)

            wait_until(recovered, timeout=60, interval=0.5, what="coordination to recover")
            assert replicas.metric("dg_coordination_up") == [1.0] * REPLICAS
