"""Service benchmark: the HTTP API under a real uvicorn process on a real SeaweedFS.

1. GET /buckets/{b}/stats?mode=sampled with a warm cache at 50 concurrent clients: throughput,
   p50, p99, and how the answers were obtained, with the fresh window on (the default 30 s) and
   off (DG_STATS_FRESH_SECONDS=0, a second service started by this same command).
2. 8 concurrent build agents POSTing versions, into one shared prefix and into separate
   prefixes: MB/s of original bytes; then every object is downloaded and compared byte-exact.

Each measurement is repeated `--repeats` times (medians with min-max).
Run: `.venv/bin/python -m bench.service` (or `make bench-service`). Writes bench/results/service.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.domain.sizes import MiB
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer, free_ports
from bench.fragment import MIN_REPEATS, Run, spread, write_fragment

TOKEN = "bench-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass(frozen=True)
class Service:
    url: str
    log: Path
    pid: int = 0


@contextlib.contextmanager
def run_service(weed: SeaweedServer, workdir: Path, extra: dict[str, str] | None = None) -> Iterator[Service]:
    port = free_ports(1)[0]
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))}
        | {
            "AWS_ENDPOINT_URL": weed.endpoint_url,
            "AWS_ACCESS_KEY_ID": weed.access_key,
            "AWS_SECRET_ACCESS_KEY": weed.secret_key,
            "AWS_REGION": "us-east-1",
            "DG_API_TOKENS": json.dumps({TOKEN: ["upload", "read", "admin"]}),
            "DG_EMBEDDED_S3": "false",
            "DG_CLEAR_CACHE_INTERVAL": "0",
            "DG_WARM_INTERVAL": "0",
            "DG_CACHE_DIR": str(workdir / "cache"),
            "DG_WORK_DIR": str(workdir / "work"),
        }
        | (extra or {})
    )
    log = workdir / "service.log"
    argv = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"service exited: {log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("service did not start")
            time.sleep(0.1)
        yield Service(url, log, proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def answers(results: list[dict[str, float]]) -> str:
    """How the answers of every repeat were obtained (`cache.result` counts, summed)."""
    total: dict[str, float] = {}
    for r in results:
        for key, value in r.items():
            if key.startswith("result_"):
                total[key.removeprefix("result_")] = total.get(key.removeprefix("result_"), 0) + value
    return ", ".join(f"{k} {v:.0f}" for k, v in sorted(total.items()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def make_versions(count: int, size: int, seed: int, base: bytes | None = None) -> list[bytes]:
    """`count` versions, each differing from the previous in 8 scattered 16 KiB runs; the first
    is `base` when given (agents building the same product share it)."""
    rng = random.Random(seed)
    current = bytearray(base if base is not None else rng.randbytes(size))
    out = [bytes(current)]
    for _ in range(count - 1):
        for _ in range(8):
            at = rng.randrange(0, size - 16384)
            current[at : at + 16384] = rng.randbytes(16384)
        out.append(bytes(current))
    return out


class KeepAliveConnection:
    """A minimal HTTP/1.1 GET client on one keep-alive connection.

    httpx's async pool costs ~6 ms of client CPU per request at 50 connections, which on a
    2-core machine measures the load generator, not the service; this costs a fraction of that.
    Only what the stats endpoint answers is supported (Content-Length bodies).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return int(status_line.split()[1]), body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def bench_stats(url: str, bucket: str, clients: int, requests: int) -> dict[str, float]:
    host, port = url.removeprefix("http://").split(":")
    path = f"/buckets/{bucket}/stats?mode=sampled"
    latencies: list[float] = []
    results: dict[str, int] = {}
    warm = httpx.get(url + path, headers=AUTH, timeout=120)
    warm.raise_for_status()
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        connection = KeepAliveConnection(host, int(port))
        try:
            while remaining > 0:
                remaining -= 1
                began = time.perf_counter()
                status, body = await connection.get(path, AUTH)
                latencies.append(time.perf_counter() - began)
                if status != 200:
                    raise RuntimeError(f"stats answered {status}: {body[:200]!r}")
                result = json.loads(body)["cache"]["result"]
                results[result] = results.get(result, 0) + 1
        finally:
            connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        **{f"result_{k}": float(v) for k, v in results.items()},
    }


async def bench_agents(
    url: str, bucket: str, agents: int, blobs: list[list[bytes]], shared: bool, rep: int
) -> dict[str, float]:
    """Each agent uploads its versions in order; returns MB/s of original bytes and checks."""
    stored: dict[str, int] = {}
    keys: dict[str, str] = {}
    layout = f"{'shared' if shared else 'separate'}-{rep}"

    async def agent(index: int, client: httpx.AsyncClient) -> None:
        prefix = f"{layout}/builds" if shared else f"{layout}/agent-{index}"
        for version, blob in enumerate(blobs[index]):
            key = f"{prefix}/agent{index}-v{version}.zip"
            response = await client.post("/upload", params={"bucket": bucket, "key": key}, content=blob,
                                         headers={"Content-Type": "application/octet-stream"})  # fmt: skip
            response.raise_for_status()
            kind = response.json()["stored_as"]
            stored[kind] = stored.get(kind, 0) + 1
            keys[key] = hashlib.sha256(blob).hexdigest()

    total = sum(len(b) for series in blobs for b in series)
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=600) as client:
        began = time.perf_counter()
        await asyncio.gather(*(agent(i, client) for i in range(agents)))
        upload_seconds = time.perf_counter() - began

        began = time.perf_counter()
        for key, digest in keys.items():
            got = await client.get(f"/buckets/{bucket}/objects/{key}")
            got.raise_for_status()
            if hashlib.sha256(got.content).hexdigest() != digest:
                raise AssertionError(f"{key} came back different")
        download_seconds = time.perf_counter() - began
    return {
        "objects": len(keys),
        "mb": total / MiB,
        "upload_mb_s": total / MiB / upload_seconds,
        "download_mb_s": total / MiB / download_seconds,
        "upload_seconds": upload_seconds,
        **{f"stored_{k}": float(v) for k, v in stored.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--validated-requests", type=int, default=500)
    parser.add_argument("--objects", type=int, default=300, help="objects in the stats bucket")
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--size-mb", type=float, default=4.0)
    args = parser.parse_args()
    conditions = Run()
    fresh: list[dict[str, float]] = []
    revalidating: list[dict[str, float]] = []
    agent_results: dict[str, list[dict[str, float]]] = {"shared": [], "separate": []}
    with tempfile.TemporaryDirectory(prefix="glider-bench-svc-") as tmp, SeaweedServer() as weed:
        work = Path(tmp)
        store = S3ObjectStore(weed.endpoint_url, "us-east-1", weed.access_key, weed.secret_key)
        stats_bucket, upload_bucket = "bench-stats", "bench-uploads"
        store.create_bucket(stats_bucket)
        store.create_bucket(upload_bucket)
        with run_service(weed, work) as svc:
            # A stats bucket of many small artifacts (deltas and direct files) via the API.
            series = make_versions(6, 256 * 1024, seed=1)
            with httpx.Client(base_url=svc.url, headers=AUTH, timeout=120) as client:
                for index in range(args.objects):
                    space, version = divmod(index, 6)
                    key = f"proj-{space}/build-{version}.zip" if index % 5 else f"docs/note-{index}.txt"
                    body = series[version] if index % 5 else f"note {index}\n".encode() * 50
                    client.post("/upload", params={"bucket": stats_bucket, "key": key},
                                content=body).raise_for_status()  # fmt: skip
            size = int(args.size_mb * MiB)
            for rep in range(args.repeats):
                # Within the fresh window (DG_STATS_FRESH_SECONDS=30): answered from memory, no LIST.
                fresh.append(asyncio.run(bench_stats(svc.url, stats_bucket, args.clients, args.requests)))
                for shared in (True, False):
                    # Shared: every agent builds the same product (one base, its own edits) into one
                    # prefix. Separate: unrelated products, one prefix each.
                    base = make_versions(1, size, seed=7)[0] if shared else None
                    blobs = [
                        make_versions(args.versions, size, seed=100 + i, base=base)
                        for i in range(args.agents)
                    ]
                    agent_results["shared" if shared else "separate"].append(
                        asyncio.run(bench_agents(svc.url, upload_bucket, args.agents, blobs, shared, rep))
                    )
        # Fresh window off: every request starts a revalidation (one LIST at a time) and is
        # answered the last value at once.
        with run_service(weed, work, {"DG_STATS_FRESH_SECONDS": "0"}) as svc:
            for _ in range(args.repeats):
                revalidating.append(
                    asyncio.run(bench_stats(svc.url, stats_bucket, args.clients, args.validated_requests))
                )
        store.close()

    def stats_row(label: str, runs: list[dict[str, float]]) -> str:
        return (
            f"| {label} | {runs[0]['requests']:.0f} | {spread([r['rps'] for r in runs], 0)} "
            f"| {spread([r['p50_ms'] for r in runs], 1)} | {spread([r['p99_ms'] for r in runs], 1)} "
            f"| {answers(runs)} |"
        )

    lines = [
        f"{args.repeats} repeats; service, SeaweedFS and the load generator share the machine; one "
        "uvicorn worker, INFO logging. The second row's service is started by this same command with "
        "`DG_STATS_FRESH_SECONDS=0`.",
        "",
        f"GET /buckets/{{b}}/stats?mode=sampled, warm cache, {args.clients} concurrent clients, "
        f"over a {args.objects}-object bucket (per repeat; answers summed over the repeats):",
        "",
        "| fresh window | requests | throughput (req/s) | p50 (ms) | p99 (ms) | answers (`cache.result`) |",
        "|---|---:|---:|---:|---:|---|",
        stats_row("on (DG_STATS_FRESH_SECONDS=30)", fresh),
        stats_row("off (DG_STATS_FRESH_SECONDS=0): each request starts a revalidation", revalidating),
        "",
        f"{args.agents} concurrent build agents x {args.versions} versions of {args.size_mb:g} MiB "
        "(POST /upload, raw body), then every object downloaded and compared byte-exact:",
        "",
        "| prefixes | objects | MiB | upload MiB/s | download MiB/s | stored as (first repeat) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for layout, runs in agent_results.items():
        kinds = ", ".join(
            f"{k.removeprefix('stored_')} {v:.0f}" for k, v in runs[0].items() if k.startswith("stored_")
        )
        upload, download = (
            spread([r["upload_mb_s"] for r in runs], 1),
            spread([r["download_mb_s"] for r in runs], 1),
        )
        lines.append(
            f"| {layout} | {runs[0]['objects']:.0f} | {runs[0]['mb']:.0f} | {upload} | {download} | {kinds} |"
        )
    path = write_fragment("service", "## Service", conditions, "\n".join(lines))
    print(path.read_text())


if __name__ == "__main__":
    main()
