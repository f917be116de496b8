"""Replica processes for coordination tests (importable by `multiprocessing` spawn children).

`run_replica` builds the production stack (`open_backend` -> `SingleFlight`) against a real Redis,
waits for the shared start signal, then has `threads` threads ask for one key at once. It reports
on its own pipe (not a shared Queue: a SIGKILLed child could die holding a Queue's lock):
("ready", replica, pid), ("started", replica, pid) and ("finished", replica, pid) around each
computation, and finally ("result", replica, answers, errors).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

from app.coordination.base import CacheKey
from app.coordination.factory import open_backend
from app.coordination.freshness import Policy
from app.coordination.singleflight import SingleFlight

Message = tuple[object, ...]


@dataclass(frozen=True)
class ReplicaConfig:
    replica: int
    redis_url: str
    key_prefix: str
    group: str
    name: str
    threads: int
    compute_seconds: float
    lease_seconds: float = 5.0
    wait_seconds: float = 20.0
    heartbeat: bool = True


class _Reporter:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def put(self, message: Message) -> None:
        with self._lock:
            self._conn.send(message)


def run_replica(config: ReplicaConfig, go: Event, conn: Connection) -> None:
    events = _Reporter(conn)
    backend = open_backend(
        config.redis_url, key_prefix=config.key_prefix, socket_timeout_seconds=1.0, probe_seconds=0.5
    )
    policy = Policy(
        fresh_seconds=300,
        lease_seconds=config.lease_seconds,
        wait_seconds=config.wait_seconds,
        heartbeat=config.heartbeat,
    )
    flight = SingleFlight(backend, policy)
    key = CacheKey(config.group, config.name)
    pid = os.getpid()

    def compute() -> bytes:
        events.put(("started", config.replica, pid))
        time.sleep(config.compute_seconds)  # the slow computation being simulated
        events.put(("finished", config.replica, pid))
        return f"replica-{config.replica}-pid-{pid}-at-{time.time_ns()}".encode()

    answers: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(config.threads)

    def ask() -> None:
        barrier.wait(30)
        try:
            payload = flight.get(key, compute).payload.decode()
            with lock:
                answers.append(payload)
        except Exception as exc:
            with lock:
                errors.append(repr(exc))

    events.put(("ready", config.replica, pid))
    if not go.wait(60):
        events.put(("result", config.replica, [], ["never told to start"]))
        return
    threads = [threading.Thread(target=ask) for _ in range(config.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    events.put(("result", config.replica, answers, errors))
    flight.close(timeout=10)
    conn.close()
