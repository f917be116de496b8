"""Replicas benchmark: GET stats at 50 concurrent clients spread over three uvicorn replicas that
share one redis-server and one SeaweedFS, with the fresh window on and off.

Run: `.venv/bin/python -m bench.replicas` (writes bench/results/replicas.md). For each
configuration, `--repeats` times: three fresh replicas start, one request warms the shared value,
then 50 clients (round-robin over the replicas, each sending its next request as soon as the last
one answers) run for `--seconds`. Reported as medians with min-max: latency p50/p99,
throughput, how answers were obtained (`cache.result`), completed stats computations, and S3
LIST requests per minute: validation LISTs summed over the replicas'
`dg_stats_validation_list_seconds_count` (the bucket is under 1,000 objects, so one LIST request
each).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field

import httpx

from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from bench.fragment import MIN_REPEATS, Run, spread, write_fragment
from tests.conftest import S3Endpoint
from tests.support.redis_server import RedisServer
from tests.support.replicas import AUTH, ReplicaSet, big_wire_bucket, replica_env

BUCKET = "replicas-bench"
CLIENTS = 50
REPLICAS = 3
DELTAS = 800  # + 2 x 10 references / direct files: one LIST page


@dataclass
class Row:
    """One configuration in one repeat."""

    name: str
    fresh_seconds: float
    redis: bool
    latencies: list[float] = field(default_factory=list)
    results: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    lists: float = 0.0
    computations: float = 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(urls: list[str], path: str, seconds: float, row: Row) -> None:
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    clients = [httpx.AsyncClient(base_url=url, timeout=60, limits=limits) for url in urls]

    async def client(n: int) -> None:
        http = clients[n % len(clients)]
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                response = await http.get(path, params={"mode": "detailed"}, headers=AUTH)
            except httpx.TransportError:
                row.errors += 1
                continue
            row.latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                row.errors += 1
                continue
            result = response.json()["cache"]["result"]
            row.results[result] = row.results.get(result, 0) + 1

    try:
        started = time.monotonic()
        await asyncio.gather(*(client(n) for n in range(CLIENTS)))
        row.seconds = time.monotonic() - started
    finally:
        for http in clients:
            await http.aclose()


def run_row(endpoint: S3Endpoint, redis: RedisServer | None, row: Row, seconds: float) -> Row:
    env = replica_env(
        endpoint,
        redis.url if redis is not None else None,
        DG_STATS_FRESH_SECONDS=str(row.fresh_seconds),
        DG_LOG_LEVEL="WARNING",
    )
    with ReplicaSet(REPLICAS, env) as replicas:
        warm = httpx.get(f"{replicas.urls[0]}/buckets/{BUCKET}/stats", params={"mode": "detailed"},
                         headers=AUTH, timeout=120)  # fmt: skip
        warm.raise_for_status()
        lists_before = replicas.total("dg_stats_validation_list_seconds_count")
        computed_before = replicas.computations()
        asyncio.run(load(replicas.urls, f"/buckets/{BUCKET}/stats", seconds, row))
        row.lists = replicas.total("dg_stats_validation_list_seconds_count") - lists_before
        row.computations = replicas.computations() - computed_before
    return row


def render(runs: dict[str, list[Row]], objects: int, seconds: float, repeats: int) -> str:
    lines = [
        f"{repeats} repeats per configuration; three uvicorn replicas, redis-server, SeaweedFS and the "
        f"load generator on one machine. GET /buckets/{{b}}/stats?mode=detailed on a {objects}-object "
        f"bucket (one LIST page), {CLIENTS} concurrent clients round-robin over {REPLICAS} replicas for "
        f"{seconds:.0f} s each, after one warming request. LISTs = validation LISTs summed over the "
        "replicas' `dg_stats_validation_list_seconds_count`. Answers and errors are summed over the "
        "repeats.",
        "",
        "| configuration | requests | req/s | p50 (ms) | p99 (ms) | answers | computations | S3 LISTs/min |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name, rows in runs.items():
        results: dict[str, int] = {}
        for row in rows:
            for key, value in row.results.items():
                results[key] = results.get(key, 0) + value
        answers = ", ".join(f"{k} {v}" for k, v in sorted(results.items()))
        if errors := sum(row.errors for row in rows):
            answers += f", errors {errors}"
        lines.append(
            f"| {name} | {spread([len(r.latencies) for r in rows], 0)} "
            f"| {spread([len(r.latencies) / r.seconds for r in rows], 0)} "
            f"| {spread([r.pct(0.50) for r in rows], 1)} | {spread([r.pct(0.99) for r in rows], 1)} "
            f"| {answers} | {spread([r.computations for r in rows], 0)} "
            f"| {spread([r.lists * 60 / r.seconds for r in rows], 0)} |"
        )
    lines += [
        "",
        "Fresh window on: every answer within the window comes from the shared value with no S3 "
        "request; after it, one replica revalidates (one LIST, the stored document still matches) "
        "while the others keep answering. Off (`DG_STATS_FRESH_SECONDS=0`): every request is "
        "still answered at once from the shared value (`stale`), and revalidations run back to "
        "back, one at a time across the replicas, so the LIST rate is bounded by a LIST's "
        "duration, not by the request rate. Without Redis each replica keeps its own window and "
        "revalidates on its own (three times the LISTs). The load generator is one Python "
        "process on the same cores: request rates and tails are bounded by it, not by Glider.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS)
    args = parser.parse_args()
    conditions = Run()
    configurations = [
        ("Redis, fresh window on (DG_STATS_FRESH_SECONDS=30)", 30, True),
        ("Redis, fresh window off (DG_STATS_FRESH_SECONDS=0)", 0, True),
        ("no Redis (in-process per replica), fresh window on", 30, False),
    ]
    runs: dict[str, list[Row]] = {name: [] for name, _, _ in configurations}
    with SeaweedServer() as weed, RedisServer() as redis:
        endpoint = S3Endpoint(weed.endpoint_url, weed.access_key, weed.secret_key)
        s3 = S3ObjectStore(weed.endpoint_url, "us-east-1", weed.access_key, weed.secret_key)
        s3.create_bucket(BUCKET)
        wire = big_wire_bucket(s3, BUCKET, DELTAS, spaces=10)
        objects = len(wire.objects)
        for rep in range(args.repeats):
            for name, fresh, shared in configurations:  # interleaved, so drift hits all alike
                redis.flushall()
                row = run_row(endpoint, redis if shared else None, Row(name, fresh, shared), args.seconds)
                runs[name].append(row)
                summary = f"{len(row.latencies)} requests, p50 {row.pct(0.5):.1f} ms, LISTs {row.lists:.0f}"
                print(f"repeat {rep + 1}: {row.name}: {summary}", file=sys.stderr)
        s3.close()
    body = render(runs, objects, args.seconds, args.repeats)
    path = write_fragment("replicas", "## Replicas", conditions, body)
    print(path.read_text())


if __name__ == "__main__":
    main()
