"""Several real uvicorn replicas sharing one SeaweedFS and one redis-server, for coordination tests
and the replicas benchmark.

`ReplicaSet` starts N `ServiceProcess`es in parallel on free 127.0.0.1 ports with the same
environment (S3, `DG_REDIS_URL`, a key prefix of their own), sums metrics across the live ones,
and fires storms of concurrent requests. `big_wire_bucket` writes a bucket of many small deltas
straight in the wire format (in parallel) so a cold detailed computation takes seconds: long
enough to inject a fault while it runs. `coldify` deletes the bucket's `.deltaglider/` cache.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx

from app.storage.base import ObjectStore
from tests.conftest import S3Endpoint
from tests.support.redis_server import RedisServer
from tests.support.service import ServiceProcess, metric, wait_until
from tests.support.stats import WireBucket

TOKEN = "replica-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FIGURES = (
    "object_count",
    "total_size",
    "compressed_size",
    "space_saved",
    "average_compression_ratio",
    "delta_objects",
    "direct_objects",
    "exact",
)

Outcome = httpx.Response | Exception


def replica_env(seaweed: S3Endpoint, redis_url: str | None, **extra: str) -> dict[str, str]:
    """Environment shared by every replica: S3, Redis, a read/upload token, no background jobs
    unless asked, room for 50+ concurrent waiting requests per replica."""
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps({TOKEN: ["upload", "read", "admin"]}),
        "DG_EMBEDDED_S3": "false",
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_WARM_INTERVAL": "0",
        "DG_WORKER_THREADS": "80",
        "DG_STATS_WAIT_SECONDS": "60",
        "DG_LOG_LEVEL": "INFO",
        "DG_REDIS_KEY_PREFIX": f"glider-{uuid.uuid4().hex[:8]}:",
    }
    if redis_url is not None:
        env["DG_REDIS_URL"] = redis_url
    return env | extra


class ReplicaSet:
    """N uvicorn replicas with one environment. Use as a context manager (stops them all)."""

    def __init__(self, count: int, env: Mapping[str, str], *, startup_timeout: float = 90.0) -> None:
        self.env = dict(env)
        self.replicas = [ServiceProcess(dict(env), startup_timeout) for _ in range(count)]
        self.killed: set[int] = set()

    def __enter__(self) -> ReplicaSet:
        with cf.ThreadPoolExecutor(len(self.replicas)) as pool:
            futures = [pool.submit(replica.start) for replica in self.replicas]
            errors = [f.exception() for f in futures]
        if any(errors):
            self.close()
            raise next(e for e in errors if e is not None)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for index, replica in enumerate(self.replicas):
            if index in self.killed:
                self.resume(index)  # a stopped (SIGSTOP) process cannot handle SIGTERM
            with contextlib.suppress(Exception):
                replica.close()

    @property
    def urls(self) -> list[str]:
        return [replica.url for replica in self.replicas]

    def live(self) -> list[int]:
        return [i for i in range(len(self.replicas)) if i not in self.killed]

    # -- faults -----------------------------------------------------------------------------------

    def kill(self, index: int) -> None:
        """SIGKILL: no shutdown, no lease release, requests in flight are cut."""
        os.kill(self.replicas[index].pid, signal.SIGKILL)
        self.killed.add(index)

    def pause(self, index: int) -> None:
        os.kill(self.replicas[index].pid, signal.SIGSTOP)

    def resume(self, index: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.replicas[index].pid, signal.SIGCONT)

    # -- observation ------------------------------------------------------------------------------

    def metrics_text(self, index: int) -> str:
        return httpx.get(self.urls[index] + "/metrics", timeout=30).text

    def metric(
        self, name: str, labels: Mapping[str, str] | None = None, among: Iterable[int] | None = None
    ) -> list[float]:
        """One value per replica of `among` (default: the live ones), in that order."""
        return [metric(self.metrics_text(i), name, labels) for i in (self.live() if among is None else among)]

    def total(
        self, name: str, labels: Mapping[str, str] | None = None, among: Iterable[int] | None = None
    ) -> float:
        return sum(self.metric(name, labels, among))

    def computations(self, among: Iterable[int] | None = None) -> float:
        """Completed stats computations (`dg_stats_computations_total`) summed across replicas."""
        return self.total("dg_stats_computations_total", among=among)

    def computing_replica(self, timeout: float = 60.0) -> int:
        """The replica that took the first stats lease (polls each replica's lease events)."""
        found: list[int] = []

        def look() -> bool:
            for index in self.live():
                if self.total("dg_stats_lease_events_total", {"event": "acquired"}, [index]) > 0:
                    found.append(index)
                    return True
            return False

        wait_until(look, timeout=timeout, interval=0.05, what="a replica to take the stats lease")
        return found[0]

    def readiness(self, index: int) -> httpx.Response:
        return httpx.get(self.urls[index] + "/readyz", timeout=30)


def storm(
    urls: list[str],
    path: str,
    per_replica: int,
    *,
    params: Mapping[str, str] | None = None,
    timeout: float = 180.0,
) -> dict[int, list[Outcome]]:
    """`per_replica` concurrent GETs of `path` on every url at once; outcomes by replica index.
    Transport errors are returned, not raised (a killed replica's clients see them)."""

    async def one(client: httpx.AsyncClient) -> Outcome:
        try:
            return await client.get(path, params=params, headers=AUTH)
        except httpx.TransportError as exc:
            return exc

    async def run() -> dict[int, list[Outcome]]:
        limits = httpx.Limits(max_connections=per_replica + 5, max_keepalive_connections=per_replica)
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits)
                )
                for url in urls
            ]
            tasks = {
                index: [asyncio.ensure_future(one(client)) for _ in range(per_replica)]
                for index, client in enumerate(clients)
            }
            return {index: list(await asyncio.gather(*group)) for index, group in tasks.items()}

    return asyncio.run(run())


def figures(response: httpx.Response) -> tuple[object, ...]:
    body = response.json()
    return tuple(body[name] for name in FIGURES)


@dataclass
class StormSummary:
    """A storm's outcomes: status counts, transport errors, the distinct figures of the 200s, and
    their `cache.result` counts (replicas in `skip`, e.g. a killed one, left out)."""

    statuses: dict[int, int]
    transport_errors: int
    distinct_figures: set[tuple[object, ...]]
    results: dict[str, int]

    @classmethod
    def of(cls, outcomes: Mapping[int, list[Outcome]], skip: frozenset[int] = frozenset()) -> StormSummary:
        statuses: dict[int, int] = {}
        results: dict[str, int] = {}
        distinct: set[tuple[object, ...]] = set()
        errors = 0
        for index, group in outcomes.items():
            if index in skip:
                continue
            for outcome in group:
                if isinstance(outcome, Exception):
                    errors += 1
                    continue
                statuses[outcome.status_code] = statuses.get(outcome.status_code, 0) + 1
                if outcome.status_code == 200:
                    distinct.add(figures(outcome))
                    result = str(outcome.json()["cache"]["result"])
                    results[result] = results.get(result, 0) + 1
        return cls(statuses, errors, distinct, results)


# -- data ---------------------------------------------------------------------------------------


def big_wire_bucket(store: ObjectStore, bucket: str, deltas: int, *, spaces: int = 50) -> WireBucket:
    """`deltas` small deltas in `spaces` deltaspaces (plus a reference and a direct file each),
    written in parallel. A cold detailed computation HEADs every delta."""
    wire = WireBucket(store, bucket)
    spaces_ = [f"apps/a{s:03d}" for s in range(spaces)]
    with cf.ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(wire.reference, space, 2048) for space in spaces_]
        futures += [pool.submit(wire.direct, f"{space}/notes.txt", 300) for space in spaces_]
        futures += [
            pool.submit(wire.delta, f"{spaces_[n % spaces]}/build-{n:06d}.zip", 64 + n % 97, 1_000_000 + n)
            for n in range(deltas)
        ]
        for future in futures:
            future.result()
    return wire


def coldify(store: ObjectStore, bucket: str) -> int:
    """Delete the bucket's stats cache (`.deltaglider/`): the next detailed request HEADs everything."""
    keys = [info.key for info in store.iter_objects(bucket, ".deltaglider/")]
    with cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: store.delete(bucket, key), keys))
    return len(keys)


def wait_for_lease(server: RedisServer, prefix: str, timeout: float = 60.0) -> None:
    """Until some replica holds a stats lease (its key exists under `prefix`)."""
    deadline = time.monotonic() + timeout
    with server.client() as client:
        while not client.keys(f"{prefix}lease:*"):
            if time.monotonic() > deadline:
                raise AssertionError("no replica took a stats lease")
            time.sleep(0.02)
