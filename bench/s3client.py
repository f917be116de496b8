"""S3 client benchmark (issue 13): Glider on obstore against DeltaGlider 6.2.0, same data, same run.

Run: `.venv/bin/python -m bench.s3client` (writes bench/results/s3client.md). Starts its own
SeaweedFS on loopback and measures, each figure the median of `--reps` (default 5) runs after one
warm-up, with min-max, the two tools alternating run by run:
1. start-up: `glider --help` vs `deltaglider --help`; `glider cp` vs `deltaglider cp` of a
   100 KB file (upload included), one process each;
2. 4 successive 6 MB zip versions uploaded one process each, into a fresh bucket per run;
3. a 10,000-delta bucket (100 deltaspaces, written straight in the wire format): cold detailed
   stats, `glider stats --detailed` vs `deltaglider stats --detailed` (processes), and the service
   (`GET /buckets/{b}/stats?mode=detailed&refresh=true` on a running `glider serve`) vs
   DeltaGlider's SDK `get_bucket_stats(detailed, refresh_cache=True)` in-process; warm detailed
   stats against a bare boto3 LIST process;
4. in-process client cost: LIST of the bucket and 3,000 HEADs with user metadata, boto3 vs obstore.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

import app
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer, free_ports
from bench.common import zip_tree_series
from bench.stats import BARE_LIST, BUCKET, build, clear_cache, client_throughput

BIN = Path(sys.executable).parent
OUT = Path(__file__).resolve().parent / "results" / "s3client.md"
COMMAND = ".venv/bin/python -m bench.s3client"
Timer = Callable[[int], float]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall seconds of one process; `cpu` gets its CPU seconds (user + system, its own children
    such as xdelta3 included): the figure the machine's load does not inflate much."""
    started, cpu_before = time.perf_counter(), children_cpu()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({done.returncode}): {done.stderr[-1500:]}")
    if cpu is not None:
        cpu.append(children_cpu() - cpu_before)
    return time.perf_counter() - started


def pair(a: Timer, b: Timer, reps: int) -> tuple[list[float], list[float]]:
    """One warm-up each, then `reps` runs of each, alternating (a drifting machine hits both)."""
    a(-1)
    b(-1)
    xs, ys = [], []
    for i in range(reps):
        xs.append(a(i))
        ys.append(b(i))
    return xs, ys


def fig(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def speedup(glider: list[float], other: list[float]) -> str:
    return f"{statistics.median(other) / statistics.median(glider):.1f}x"


def startup_rows(env: dict[str, str], store: S3ObjectStore, tmp: Path, reps: int) -> list[str]:
    small = tmp / "small.bin"
    small.write_bytes(os.urandom(100_000))
    store.create_bucket("startup")
    helps = pair(
        lambda _: run([str(BIN / "glider"), "--help"], env),
        lambda _: run([str(BIN / "deltaglider"), "--help"], env),
        reps,
    )
    cpu: dict[str, list[float]] = {"glider": [], "deltaglider": []}

    def cp(tool: str) -> Timer:
        def go(i: int) -> float:
            argv = [str(BIN / tool), "cp", str(small), f"s3://startup/{tool}-{i}.bin"]
            return run(argv, env, cpu[tool] if i >= 0 else None)

        return go

    cps = pair(cp("glider"), cp("deltaglider"), reps)
    g_cpu, d_cpu = cpu["glider"], cpu["deltaglider"]
    return [
        f"| `--help` | {fig(helps[0])} | {fig(helps[1])} | {speedup(*helps)} | <= 0.25 s |",
        f"| `cp` 100 KB upload | {fig(cps[0])} | {fig(cps[1])} | {speedup(*cps)} | <= 0.35 s |",
        f"| `cp` 100 KB upload: CPU seconds of the process | {fig(g_cpu)} | {fig(d_cpu)} "
        f"| {speedup(g_cpu, d_cpu)} | |",
    ]


def zip_rows(env: dict[str, str], store: S3ObjectStore, reps: int) -> list[str]:
    series = zip_tree_series("zip6m", files=180, file_kb=64, versions=4, changed=0.03)
    stored: dict[str, int] = {}
    cpu: dict[str, list[float]] = {"glider": [], "deltaglider": []}

    def upload(tool: str) -> Timer:
        def go(i: int) -> float:
            bucket = f"zips-{tool}-{i + 1}"
            store.create_bucket(bucket)
            each: list[float] = []
            total = sum(
                run([str(BIN / tool), "cp", str(path), f"s3://{bucket}/app/{path.name}"], env, each)
                for path in series.files
            )
            if i >= 0:
                cpu[tool].append(sum(each))
            stored[tool] = sum(o.size for o in store.iter_objects(bucket))
            return total

        return go

    glider, dg = pair(upload("glider"), upload("deltaglider"), reps)
    g_cpu, d_cpu = cpu["glider"], cpu["deltaglider"]
    size = series.files[0].stat().st_size / 1e6
    ratio = stored["glider"] / stored["deltaglider"]
    return [
        f"| 4 versions of a {size:.1f} MB zip, 4 processes | {fig(glider)} | {fig(dg)} "
        f"| {speedup(glider, dg)} | >= 3x |",
        f"| the same: CPU seconds of the 4 processes | {fig(g_cpu)} | {fig(d_cpu)} "
        f"| {speedup(g_cpu, d_cpu)} | |",
        f"| stored bytes (Glider / DeltaGlider) | {stored['glider']:,} | {stored['deltaglider']:,} "
        f"| {ratio:.2f} | <= 1.1 |",
    ]


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    [port] = free_ports(1)
    proc = subprocess.Popen(
        [str(BIN / "glider"), "serve", "--port", str(port)],
        env=env | {"DG_AUTH_ENABLED": "false", "DG_LOG_LEVEL": "WARNING", "DG_DEFAULT_BUCKET": BUCKET},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("glider serve did not become ready")


def stats_rows(env: dict[str, str], store: S3ObjectStore, reps: int) -> list[str]:
    from deltaglider import create_client  # noqa: PLC0415 - the bench's own comparison only

    glider_cli = [str(BIN / "glider"), "stats", BUCKET, "--detailed", "--json"]
    dg_cli = [str(BIN / "deltaglider"), "stats", BUCKET, "--detailed", "--json"]

    def cold_cli(_: int) -> float:
        clear_cache(store)
        return run(glider_cli, env)

    cli = pair(cold_cli, lambda _: run(dg_cli, env), reps)
    proc, url = serve(env)
    sdk = create_client(endpoint_url=env["AWS_ENDPOINT_URL"], log_level="WARNING")

    def cold_service(_: int) -> float:
        clear_cache(store)
        started = time.perf_counter()
        answer = httpx.get(f"{url}/buckets/{BUCKET}/stats", params={"mode": "detailed", "refresh": "true"},
                           timeout=600)  # fmt: skip
        answer.raise_for_status()
        return time.perf_counter() - started

    def dg_sdk(_: int) -> float:
        started = time.perf_counter()
        sdk.get_bucket_stats(BUCKET, mode="detailed", refresh_cache=True)
        return time.perf_counter() - started

    try:
        service = pair(cold_service, dg_sdk, reps)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    run(glider_cli, env)  # leaves the cache warm
    warm = pair(
        lambda _: run(glider_cli, env), lambda _: run([sys.executable, "-c", BARE_LIST % BUCKET], env), reps
    )
    warm_ratio = statistics.median(warm[0]) / statistics.median(warm[1])
    return [
        f"| cold detailed stats, CLI (process vs process) | {fig(cli[0])} | {fig(cli[1])} "
        f"| {speedup(*cli)} | >= 8x |",
        f"| cold detailed stats, service refresh=true vs DeltaGlider SDK in-process | {fig(service[0])} "
        f"| {fig(service[1])} | {speedup(*service)} | >= 8x |",
        f"| warm detailed stats (Glider CLI) vs bare boto3 LIST process | {fig(warm[0])} | {fig(warm[1])} "
        f"| {warm_ratio:.2f} of a LIST | <= 1.5 |",
    ]


def compile_glider() -> None:
    """Byte-compile Glider's modules before timing, as `pip install` leaves an installed package
    (DeltaGlider's wheel was compiled at install). The checkout is an editable install, and with
    PYTHONDONTWRITEBYTECODE set, as on this machine, every `glider` process would otherwise
    recompile each module it imports from source (~40 ms of a `glider cp`)."""
    compileall.compile_dir(Path(app.__file__).parent, quiet=1)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--spaces", type=int, default=100)
    parser.add_argument("--per-space", type=int, default=100)
    args = parser.parse_args()
    compile_glider()
    load_before = loadavg()
    with SeaweedServer() as server, tempfile.TemporaryDirectory(prefix="glider-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))} | {
            "AWS_ENDPOINT_URL": server.endpoint_url, "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true", "DG_DISABLE_EC2_DETECTION": "1", "DG_METRICS": "noop",
            "DG_SUPPRESS_DEPRECATION": "1", "DG_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        os.environ.update(
            {k: env[k] for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        )
        store = S3ObjectStore(server.endpoint_url, "us-east-1", server.access_key, server.secret_key)
        rows = startup_rows(env, store, Path(tmp), args.reps)
        print(*rows, sep="\n", flush=True)
        rows += zip_rows(env, store, args.reps)
        print(*rows[-3:], sep="\n", flush=True)
        store.create_bucket(BUCKET)
        bucket = build(store, args.spaces, args.per_space)
        rows += stats_rows(env, store, args.reps)
        print(*rows[-3:], sep="\n", flush=True)
        keys = sorted(k for k, v in bucket.objects.items() if v[2] == "delta")
        tp = client_throughput(server.endpoint_url, env, keys)
        store.close()
    load = loadavg()
    text = [
        "## S3 client (issue 13)",
        "",
        f"Command: `{COMMAND}`. {os.cpu_count()} cores shared with other work (load average at the start: "
        f"{load_before}, at the end: {load}), {platform.machine()}, Python {platform.python_version()}, "
        "SeaweedFS on loopback. "
        f"Seconds, median of {args.reps} runs after one warm-up (min-max), tools alternating run by run; "
        f"stats bucket: {len(bucket.objects):,} objects ({len(keys):,} deltas in {args.spaces} deltaspaces). "
        "Glider's modules are byte-compiled first, as an installed package's are.",
        "",
        "| measure | Glider | DeltaGlider 6.2.0 | ratio (DG / Glider) | target |",
        "|---|---:|---:|---:|---|",
        *rows,
        "",
        "In-process client cost on the same bucket (3,000 HEADs with user metadata on 32 threads; LIST of "
        "every key):",
        "",
        "| client | HEAD/s | client CPU per HEAD (ms) | LIST (s) | LIST client CPU (s) |",
        "|---|---:|---:|---:|---:|",
        f"| boto3 | {tp['boto3_head_per_s']:.0f} | {tp['boto3_head_cpu_ms']:.2f} | {tp['boto3_list_s']:.2f} "
        f"| {tp['boto3_list_cpu_s']:.2f} |",
        f"| obstore (`app/storage/s3.py`) | {tp['lean_head_per_s']:.0f} | {tp['lean_head_cpu_ms']:.2f} "
        f"| {tp['lean_list_s']:.2f} | {tp['lean_list_cpu_s']:.2f} |",
        "",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
