"""Single-flight across real processes sharing a real redis-server, with the faults that break
naive locks: a lease shorter than the computation, FLUSHALL mid-computation, the computing
process SIGKILLed, and Redis stopped mid-computation."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess
from typing import cast

import pytest
from prometheus_client import CollectorRegistry

from app.coordination.base import CacheKey
from app.coordination.factory import open_backend
from app.coordination.freshness import Policy
from app.coordination.redis import RedisBackend
from app.coordination.singleflight import SingleFlight, Source
from app.observability.metrics import Metrics
from tests.support.coordination_procs import Message, ReplicaConfig, run_replica
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPAWN = multiprocessing.get_context("spawn")
REPLICAS = 3
THREADS = 8


@dataclass
class FleetRun:
    started: list[tuple[int, int]] = field(default_factory=list)
    finished: list[tuple[int, int]] = field(default_factory=list)
    answers: dict[int, list[str]] = field(default_factory=dict)
    errors: dict[int, list[str]] = field(default_factory=dict)

    def all_answers(self) -> list[str]:
        return [a for answers in self.answers.values() for a in answers]

    def all_errors(self) -> list[str]:
        return [e for errors in self.errors.values() for e in errors]


def run_fleet(
    base: ReplicaConfig,
    *,
    on_first_start: Callable[[int], None] | None = None,
    expect_results: int = REPLICAS,
    timeout: float = 120.0,
) -> FleetRun:
    """Start REPLICAS processes, release them together, collect their events until
    `expect_results` have reported. `on_first_start(pid)` runs when the first computation starts."""
    go = SPAWN.Event()
    procs: list[SpawnProcess] = []
    readers: list[Connection] = []
    writers: list[Connection] = []
    for i in range(REPLICAS):
        reader, writer = SPAWN.Pipe(duplex=False)
        procs.append(
            SPAWN.Process(target=run_replica, args=(replace(base, replica=i), go, writer), daemon=True)
        )
        readers.append(reader)
        writers.append(writer)
    for proc in procs:
        proc.start()
    for writer in writers:
        writer.close()  # the child has its copy; ours would hide the EOF of a dead child
    run = FleetRun()
    deadline = time.monotonic() + timeout
    ready = 0
    open_readers = list(readers)
    try:
        while ready < REPLICAS or len(run.answers) < expect_results:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"fleet did not finish: {run}"
            assert open_readers, f"every replica exited: {run}"
            for conn in wait(open_readers, timeout=remaining):
                assert isinstance(conn, Connection)
                try:
                    message: Message = conn.recv()
                except EOFError:  # that replica exited (or was killed)
                    open_readers.remove(conn)
                    continue
                handle(run, message, on_first_start)
                if message[0] == "ready":
                    ready += 1
                    if ready == REPLICAS:
                        go.set()
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
        for conn in readers:
            conn.close()
    return run


def handle(run: FleetRun, message: Message, on_first_start: Callable[[int], None] | None) -> None:
    kind, replica = message[0], int(str(message[1]))
    if kind == "started":
        run.started.append((replica, int(str(message[2]))))
        if len(run.started) == 1 and on_first_start is not None:
            on_first_start(int(str(message[2])))
    elif kind == "finished":
        run.finished.append((replica, int(str(message[2]))))
    elif kind == "result":
        run.answers[replica] = list(cast(list[str], message[2]))
        run.errors[replica] = list(cast(list[str], message[3]))


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server this test may stop."""
    with RedisServer() as server:
        yield server


def config(server: RedisServer, **overrides: object) -> ReplicaConfig:
    base = ReplicaConfig(
        replica=0,
        redis_url=server.url,
        key_prefix=f"it{uuid.uuid4().hex[:8]}:",
        group="bucket",
        name="detailed",
        threads=THREADS,
        compute_seconds=1.0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def shared_value(server: RedisServer, cfg: ReplicaConfig) -> str:
    """What any replica answers now (fresh from Redis), checked to need no computation."""
    flight = SingleFlight(RedisBackend(server.url, key_prefix=cfg.key_prefix), Policy())

    def must_not_compute() -> bytes:
        raise AssertionError("the shared value should be there")

    try:
        served = flight.get(CacheKey(cfg.group, cfg.name), must_not_compute)
        assert served.source is Source.FRESH
        return served.payload.decode()
    finally:
        flight.close()


def test_cold_key_across_processes_computes_once(redis_server: RedisServer) -> None:
    cfg = config(redis_server)
    run = run_fleet(cfg)
    assert run.all_errors() == []
    assert len(run.started) == 1
    answers = run.all_answers()
    assert len(answers) == REPLICAS * THREADS
    assert len(set(answers)) == 1
    assert shared_value(redis_server, cfg) == answers[0]


def test_heartbeat_outlives_a_short_lease(redis_server: RedisServer) -> None:
    cfg = config(redis_server, lease_seconds=0.3, compute_seconds=1.5)
    run = run_fleet(cfg)
    assert run.all_errors() == []
    assert len(run.started) == 1
    assert len(set(run.all_answers())) == 1


def test_lapsed_lease_without_heartbeat_costs_at_most_one_more(redis_server: RedisServer) -> None:
    cfg = config(redis_server, lease_seconds=0.6, compute_seconds=1.5, heartbeat=False)
    run = run_fleet(cfg)
    assert run.all_errors() == []
    assert 1 <= len(run.started) <= 2
    answers = run.all_answers()
    assert len(answers) == REPLICAS * THREADS
    final = shared_value(redis_server, cfg)
    assert final in answers
    assert len(set(answers)) <= len(run.started)  # each answer is one computation's value
    for replica_answers in run.answers.values():
        assert len(set(replica_answers)) == 1  # one flight per replica


def test_flushall_mid_computation(redis_server: RedisServer) -> None:
    cfg = config(redis_server, lease_seconds=1.0, compute_seconds=1.5)
    run = run_fleet(cfg, on_first_start=lambda _pid: redis_server.flushall())
    assert run.all_errors() == []
    assert 1 <= len(run.started) <= 2
    answers = run.all_answers()
    assert len(answers) == REPLICAS * THREADS
    assert shared_value(redis_server, cfg) in answers


def test_computing_process_killed_a_waiter_takes_over(redis_server: RedisServer) -> None:
    killed: list[int] = []

    def kill(pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    cfg = config(redis_server, lease_seconds=1.0, compute_seconds=1.0, wait_seconds=20.0)
    run = run_fleet(cfg, on_first_start=kill, expect_results=REPLICAS - 1)
    assert len(killed) == 1
    assert run.all_errors() == []
    assert len(run.started) == 2  # the killed one, and exactly one takeover
    assert len(run.finished) == 1
    answers = run.all_answers()
    assert len(answers) == (REPLICAS - 1) * THREADS
    assert len(set(answers)) == 1
    assert shared_value(redis_server, cfg) == answers[0]


def test_redis_stopped_mid_computation_degrades_without_errors(own_redis: RedisServer) -> None:
    cfg = config(own_redis, lease_seconds=1.0, compute_seconds=1.0)
    run = run_fleet(cfg, on_first_start=lambda _pid: own_redis.stop())
    assert run.all_errors() == []
    assert len(run.all_answers()) == REPLICAS * THREADS
    assert len(run.started) <= REPLICAS  # per-replica single-flight while Redis is away
    for replica_answers in run.answers.values():
        assert len(set(replica_answers)) == 1


def test_resilient_backend_recovers_when_redis_returns(own_redis: RedisServer) -> None:
    metrics = Metrics(CollectorRegistry())
    backend = open_backend(
        own_redis.url, key_prefix="rec:", socket_timeout_seconds=0.5, probe_seconds=0.1, metrics=metrics
    )
    flight = SingleFlight(backend, Policy(wait_seconds=5))
    key = CacheKey("bucket", "quick")
    try:
        assert flight.get(key, lambda: b"before").payload == b"before"
        own_redis.stop()
        served = flight.get(CacheKey("bucket", "sampled"), lambda: b"during")
        assert served.payload == b"during"
        flight.invalidate("bucket")  # remembered for replay
        assert not flight.status().healthy
        degraded = metrics.registry.get_sample_value(
            "dg_coordination_degraded_total", {"reason": "connection"}
        )
        assert degraded == 1
        own_redis.start()  # same port, empty data
        deadline = time.monotonic() + 10
        while not flight.status().healthy:  # recovery is probed at most every 0.1 s
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert metrics.registry.get_sample_value("dg_coordination_up") == 1
        with own_redis.client() as client:
            assert client.get("rec:invalidated:bucket") is not None  # the outage's invalidation replayed
        assert flight.get(key, lambda: b"after").payload == b"after"
    finally:
        flight.close()
