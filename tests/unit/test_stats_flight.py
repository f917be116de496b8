"""StatsService through SingleFlight (in-process backend, in-memory store): the fresh window skips
the LIST, invalidation and refresh force a new value, stale values are answered at once while one
revalidation runs, concurrent callers share one computation, and the shared payload round-trips."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from app.coordination.freshness import Policy
from app.coordination.inprocess import InProcessBackend
from app.coordination.singleflight import SingleFlight
from app.observability.metrics import Metrics
from app.services.stats import CacheOutcome, StatsResult, StatsService
from app.services.stats_flight import PAYLOAD_VERSION, decode, encode
from app.stats.model import BucketStats, StatsMode
from app.storage.memory import MemoryObjectStore
from tests.support.stats import WireBucket, figures

BUCKET = "stats-flight"


def _service(policy: Policy, metrics: Metrics | None = None) -> tuple[StatsService, WireBucket, SingleFlight]:
    store = MemoryObjectStore()
    store.create_bucket(BUCKET)
    wire = WireBucket(store, BUCKET)
    wire.reference("app", 300)
    for n in range(3):
        wire.delta(f"app/v{n}.zip", stored=30 + n, original=300 + n)
    wire.direct("readme.txt", 50)
    flight = SingleFlight(InProcessBackend(), policy, metrics=metrics)
    return StatsService(store, metrics=metrics, flight=flight), wire, flight


def _lists(wire: WireBucket) -> int:
    assert isinstance(wire.store, MemoryObjectStore)
    return wire.store.counts["list_page"]


def test_fresh_window_skips_the_list_until_invalidated() -> None:
    service, wire, _ = _service(Policy(fresh_seconds=60))
    first = service.get(BUCKET, StatsMode.DETAILED)
    assert first.cache is CacheOutcome.MISS
    assert figures(first.stats) == wire.expected()
    lists = _lists(wire)
    again = service.get(BUCKET, StatsMode.DETAILED)
    assert again.cache is CacheOutcome.HIT
    assert again.stats == first.stats
    assert _lists(wire) == lists  # no S3 request at all
    wire.direct("new.txt", 70)
    assert service.get(BUCKET, StatsMode.DETAILED).stats == first.stats  # not seen: still fresh
    service.invalidate(BUCKET)  # what an upload through any replica does
    after = service.get(BUCKET, StatsMode.DETAILED)
    assert after.cache is CacheOutcome.MISS
    assert figures(after.stats) == wire.expected()
    assert _lists(wire) == lists + 1


def test_refresh_recomputes_and_use_cache_false_bypasses_the_flight() -> None:
    metrics = Metrics(CollectorRegistry())
    service, wire, _ = _service(Policy(fresh_seconds=60), metrics)
    service.get(BUCKET, StatsMode.QUICK)
    refreshed = service.get(BUCKET, StatsMode.QUICK, refresh=True)
    assert refreshed.cache is CacheOutcome.REFRESH
    lists = _lists(wire)
    bypass = service.get(BUCKET, StatsMode.QUICK, use_cache=False)
    assert bypass.cache is CacheOutcome.BYPASS
    assert _lists(wire) == lists + 1
    assert service.get(BUCKET, StatsMode.QUICK).cache is CacheOutcome.HIT
    sample = metrics.registry.get_sample_value
    assert sample("dg_stats_requests_total", {"mode": "quick", "result": "hit"}) == 1
    assert sample("dg_stats_requests_total", {"mode": "quick", "result": "refresh"}) == 1
    assert sample("dg_stats_computations_total", {"mode": "quick"}) == 3  # miss, refresh, bypass


def test_past_the_window_the_value_is_stale_and_one_revalidation_validates_it() -> None:
    metrics = Metrics(CollectorRegistry())
    service, wire, flight = _service(Policy(fresh_seconds=0), metrics)
    first = service.get(BUCKET, StatsMode.SAMPLED)
    lists = _lists(wire)
    stale = service.get(BUCKET, StatsMode.SAMPLED)
    assert stale.cache is CacheOutcome.STALE  # answered at once, a revalidation started
    assert stale.stats == first.stats
    flight.close(timeout=10)  # joins the background revalidation
    # It was one LIST that found the stored document still valid: nothing recomputed.
    assert _lists(wire) == lists + 1
    assert metrics.registry.get_sample_value("dg_stats_computations_total", {"mode": "sampled"}) == 1
    assert metrics.registry.get_sample_value("dg_stats_lease_events_total", {"event": "revalidate"}) == 1


def test_concurrent_callers_share_one_computation() -> None:
    metrics = Metrics(CollectorRegistry())
    service, _, _ = _service(Policy(fresh_seconds=60), metrics)
    barrier = threading.Barrier(16)
    answers: list[StatsResult] = []

    def ask() -> None:
        barrier.wait(10)
        answers.append(service.get(BUCKET, StatsMode.DETAILED))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 16
    assert {a.stats for a in answers} == {answers[0].stats}
    assert metrics.registry.get_sample_value("dg_stats_computations_total", {"mode": "detailed"}) == 1


def test_payload_round_trip_and_unknown_versions() -> None:
    stats = BucketStats("b", 2, 100, 40, 60, 0.6, 1, 1)
    result = StatsResult(stats, CacheOutcome.MISS, datetime.now(UTC), True, 0.0)
    assert decode(encode(result)) == (stats, True, CacheOutcome.MISS)
    assert decode(encode(result).replace(f'"v":{PAYLOAD_VERSION}'.encode(), b'"v":99')) is None
    assert decode(b"not json") is None
