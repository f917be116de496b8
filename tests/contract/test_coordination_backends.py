"""One contract suite for every CoordinationBackend: in-process and Redis (a real redis-server)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from app.coordination.base import CacheKey, CoordinationBackend, Entry, LeaseState
from app.coordination.inprocess import InProcessBackend
from app.coordination.redis import RedisBackend
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(params=["inprocess", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[CoordinationBackend]:
    if request.param == "inprocess":
        made: CoordinationBackend = InProcessBackend()
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        made = RedisBackend(server.url, key_prefix=f"t{uuid.uuid4().hex[:8]}:")
    yield made
    made.close()


KEY = CacheKey("bucket-a", "detailed")
T = TypeVar("T")
MARGIN = 0.05  # past a TTL measured from after the call that set it
DEADLINE = 5.0  # generous bound for a condition expected within a fraction of a second


def poll(attempt: Callable[[], T | None], timeout: float = DEADLINE) -> T | None:
    """`attempt()` until it returns something (not None/False) or `timeout` passes (then its last
    answer). For conditions whose only event is a TTL lapsing inside the backend."""
    deadline = time.monotonic() + timeout
    while True:
        got = attempt()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(0.01)


def wait_past(moment: float) -> None:
    """Block until monotonic `moment` has passed: for a lapse that nothing can observe without
    changing the state under test (a try_lease would take the lapsed lease)."""
    while (left := moment - time.monotonic()) > 0:
        time.sleep(left)


def entry_for(fence: int, payload: bytes = b'{"n":1}', now: float | None = None) -> Entry:
    at = time.time() if now is None else now
    return Entry(payload, fence, at, at + 30, at + 3600)


def test_empty_read(backend: CoordinationBackend) -> None:
    snap = backend.read(KEY)
    assert snap.entry is None
    assert snap.invalidated == 0
    assert snap.backoff_seconds == 0


def test_lease_is_exclusive_until_released(backend: CoordinationBackend) -> None:
    first = backend.try_lease(KEY, 10)
    assert first is not None
    assert backend.try_lease(KEY, 10) is None
    assert backend.try_lease(CacheKey("bucket-a", "quick"), 10) is not None  # other key, other lease
    backend.release(first)
    second = backend.try_lease(KEY, 10)
    assert second is not None
    assert second.fence > first.fence
    assert second.token != first.token


def test_release_by_a_stale_holder_keeps_the_new_lease(backend: CoordinationBackend) -> None:
    old = backend.try_lease(KEY, 0.05)
    assert old is not None
    new = poll(lambda: backend.try_lease(KEY, 10))
    assert new is not None
    backend.release(old)
    assert backend.try_lease(KEY, 10) is None
    assert backend.extend(old, 10) is LeaseState.LOST
    assert backend.extend(new, 10) is LeaseState.HELD


def test_extend_takes_back_a_lapsed_free_lease(backend: CoordinationBackend) -> None:
    lease = backend.try_lease(KEY, 0.05)
    assert lease is not None
    wait_past(time.monotonic() + 0.05 + MARGIN)  # the lease lapsed
    assert backend.extend(lease, 10) is LeaseState.REGAINED
    assert backend.try_lease(KEY, 10) is None


def test_a_lapsed_holder_invites_one_takeover_only(backend: CoordinationBackend) -> None:
    ttl = 0.25
    started = time.monotonic()
    first = backend.try_lease(KEY, ttl)  # running window: 4 leases = 1 s from `started` on
    assert first is not None
    second = poll(lambda: backend.try_lease(KEY, ttl))  # once lapsed; the holder may still compute
    assert second is not None
    wait_past(time.monotonic() + ttl + MARGIN)  # the taker's lease lapsed too
    refused = backend.try_lease(KEY, 10)
    elapsed = time.monotonic() - started
    assert elapsed < 4 * ttl, f"asked {elapsed:.2f}s in: the first holder's window had closed"
    assert refused is None  # two computations already run
    backend.release(first)  # the first finished
    assert backend.try_lease(KEY, 10) is not None


def test_a_dead_holder_frees_its_running_slot_in_time(backend: CoordinationBackend) -> None:
    assert backend.try_lease(KEY, 0.05) is not None  # never released: it died
    assert poll(lambda: backend.try_lease(KEY, 0.05)) is not None  # took over, then died too
    # With both slots held by the dead, a lease is granted once the first's window (0.2 s) ends.
    assert poll(lambda: backend.try_lease(KEY, 10)) is not None


def test_store_then_read_round_trips(backend: CoordinationBackend) -> None:
    lease = backend.try_lease(KEY, 10)
    assert lease is not None
    entry = entry_for(lease.fence, b"\x00binary\xffpayload")
    assert backend.store(lease, entry)
    assert backend.read(KEY).entry == entry


def test_store_is_refused_while_another_holds_the_lease(backend: CoordinationBackend) -> None:
    old = backend.try_lease(KEY, 0.05)
    assert old is not None
    new = poll(lambda: backend.try_lease(KEY, 10))
    assert new is not None
    assert not backend.store(old, entry_for(old.fence, b"old"))
    assert backend.read(KEY).entry is None
    assert backend.store(new, entry_for(new.fence, b"new"))


def test_late_store_never_overwrites_a_later_computation(backend: CoordinationBackend) -> None:
    early = backend.try_lease(KEY, 0.05)
    assert early is not None
    later = poll(lambda: backend.try_lease(KEY, 10))
    assert later is not None
    assert backend.store(later, entry_for(later.fence, b"later"))
    backend.release(later)
    # The early holder's lease lapsed and is free now, but its result is older: refused.
    assert not backend.store(early, entry_for(early.fence, b"early"))
    snap = backend.read(KEY)
    assert snap.entry is not None
    assert snap.entry.payload == b"later"


def test_late_store_is_kept_when_nothing_newer_exists(backend: CoordinationBackend) -> None:
    lease = backend.try_lease(KEY, 0.05)
    assert lease is not None
    wait_past(time.monotonic() + 0.05 + MARGIN)  # lapsed, nobody took over (FLUSHALL, missed beat)
    assert backend.store(lease, entry_for(lease.fence, b"kept"))
    snap = backend.read(KEY)
    assert snap.entry is not None
    assert snap.entry.payload == b"kept"


def test_entry_fence_may_not_exceed_the_lease(backend: CoordinationBackend) -> None:
    lease = backend.try_lease(KEY, 10)
    assert lease is not None
    with pytest.raises(ValueError):
        backend.store(lease, entry_for(lease.fence + 1))


def test_invalidation_orders_against_leases(backend: CoordinationBackend) -> None:
    before = backend.try_lease(KEY, 10)
    assert before is not None
    stamp = backend.invalidate(KEY.group)
    assert stamp > before.fence
    backend.release(before)
    after = backend.try_lease(KEY, 10)
    assert after is not None
    assert after.fence > stamp
    assert backend.read(KEY).invalidated == stamp
    assert backend.read(CacheKey("bucket-a", "quick")).invalidated == stamp  # the whole group
    assert backend.read(CacheKey("bucket-b", "quick")).invalidated == 0


def test_watch_wakes_on_store_and_release(backend: CoordinationBackend) -> None:
    lease = backend.try_lease(KEY, 10)
    assert lease is not None
    with backend.watch(KEY) as watch:
        assert not watch.wait(0.05)
        writer = threading.Thread(target=lambda: backend.store(lease, entry_for(lease.fence)))
        writer.start()
        assert watch.wait(5)
        writer.join(5)
        backend.release(lease)
        assert watch.wait(5)


def test_watch_ignores_other_keys(backend: CoordinationBackend) -> None:
    other = CacheKey("bucket-a", "quick")
    lease = backend.try_lease(other, 10)
    assert lease is not None
    with backend.watch(KEY) as watch:
        backend.store(lease, entry_for(lease.fence))
        assert not watch.wait(0.2)


def test_failures_back_off_exponentially_and_store_resets(backend: CoordinationBackend) -> None:
    assert backend.record_failure(KEY, 1.0, 10.0) == pytest.approx(1.0)
    assert backend.record_failure(KEY, 1.0, 10.0) == pytest.approx(2.0)
    assert backend.record_failure(KEY, 1.0, 3.0) == pytest.approx(3.0)  # capped
    assert 0 < backend.read(KEY).backoff_seconds <= 3.0
    lease = backend.try_lease(KEY, 10)
    assert lease is not None
    assert backend.store(lease, entry_for(lease.fence))
    assert backend.read(KEY).backoff_seconds == 0
    assert backend.record_failure(KEY, 1.0, 10.0) == pytest.approx(1.0)


def test_job_runs_once_per_interval(backend: CoordinationBackend) -> None:
    assert backend.try_acquire_job("warm_stats", 0.2)
    assert not backend.try_acquire_job("warm_stats", 0.2)
    assert backend.try_acquire_job("clear_cache", 0.2)  # jobs are independent
    assert poll(lambda: backend.try_acquire_job("warm_stats", 0.2))  # once the interval passed


def test_status_is_healthy(backend: CoordinationBackend) -> None:
    status = backend.status()
    assert status.healthy
    assert status.backend == backend.origin


def test_concurrent_lease_race_has_one_winner(backend: CoordinationBackend) -> None:
    key = CacheKey("race", "k")
    barrier = threading.Barrier(8)
    winners: list[int] = []
    lock = threading.Lock()

    def contend() -> None:
        barrier.wait(5)
        lease = backend.try_lease(key, 10)
        if lease is not None:
            with lock:
                winners.append(lease.fence)

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(winners) == 1


def test_redis_prefixes_isolate_deployments(redis_server: RedisServer) -> None:
    one = RedisBackend(redis_server.url, key_prefix="one:")
    two = RedisBackend(redis_server.url, key_prefix="two:")
    try:
        assert one.try_lease(KEY, 10) is not None
        assert two.try_lease(KEY, 10) is not None
        with redis_server.client() as client:
            names = {name.decode() for name in client.keys("*")}
        assert {"one:lease:bucket-a:detailed", "two:lease:bucket-a:detailed"} <= names
    finally:
        one.close()
        two.close()


def test_redis_entry_is_compact_and_versioned(redis_server: RedisServer) -> None:
    backend = RedisBackend(redis_server.url, key_prefix="compact:")
    try:
        lease = backend.try_lease(KEY, 10)
        assert lease is not None
        backend.store(lease, entry_for(lease.fence, b'{"objects":3}', now=1000.0))
        with redis_server.client() as client:
            stored = client.hgetall("compact:entry:bucket-a:detailed")
            ttl_ms = client.pttl("compact:entry:bucket-a:detailed")
        assert stored[b"p"] == b'{"objects":3}'
        assert stored[b"t"] == b'{"v":1,"c":1000.0,"f":1030.0,"s":4600.0}'
        assert int(stored[b"f"]) == lease.fence
        assert 0 < ttl_ms <= 3601_000  # hard expiry bounds how long Redis keeps it
        with redis_server.client() as client:
            client.hset("compact:entry:bucket-a:detailed", "t", b'{"v":99}')
        assert backend.read(KEY).entry is None  # another schema version reads as a miss
    finally:
        backend.close()
