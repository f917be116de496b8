"""Cold quick stats of a 1,000,000-object bucket: time and peak RSS, Glider against DeltaGlider 6.2.0.

Run: `.venv/bin/python -m bench.bigbucket` (also `make bench-bigbucket`; not in `make bench`: the
first run writes the bucket, about a million PUTs). Writes bench/results/bigbucket.md.

SeaweedFS (`weed mini` on loopback, telemetry off) keeps its data in bench/data/bigbucket/weed
between runs; bench/bigbucket_fill.py writes the bucket once (resuming an interrupted fill) and
marks it complete. Each measured run is a whole command in a fresh process:

- `glider stats BUCKET --json` (quick mode) with nothing under `.deltaglider/` (every stats
  document deleted before each run, so the listing is all it has), `--repeats` times;
- `deltaglider stats BUCKET --json` (quick mode too), `--dg-repeats` times, each stopped after
  `--dg-timeout` seconds.

Peak RSS is the process's own high-water mark (`ru_maxrss` from wait4), not a sampled figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from obstore.store import S3Store

from app.domain.keys import INTERNAL_PREFIX
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from bench.bigbucket_fill import PER_SPACE, Totals, fill
from bench.common import DATA
from bench.engine import tool_env
from bench.fragment import MIN_REPEATS, Run, median, spread, write_fragment
from bench.sampling import sampling
from bench.service import AUTH, run_service

BIN = Path(sys.executable).parent
BUCKET = "big-bucket"
FOLDER = DATA / "bigbucket"
TARGET_SECONDS = 60.0
TARGET_MIB = 1024.0


@dataclass
class Measured:
    seconds: float
    peak_mib: float
    report: dict[str, object] | None  # None: stopped at the time limit
    cpu: float = 0.0  # the measured process's CPU seconds (user + system)
    server_cpu: float = 0.0  # SeaweedFS's CPU seconds meanwhile
    status: int = 200  # the service's answer


def brief(m: Measured) -> str:
    counts = {k: (m.report or {}).get(k) for k in ("object_count", "compressed_size")}
    return (
        f"{m.seconds:.1f} s, {m.peak_mib:.0f} MiB, cpu {m.cpu:.1f} s, server cpu {m.server_cpu:.1f} s, "
        f"status {m.status}, {counts}"
    )


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def with_server(server: SeaweedServer, work: Callable[[], Measured]) -> Measured:
    """`work`'s measurement plus the CPU time SeaweedFS spent meanwhile."""
    before = cpu_seconds(server.pid)
    found = work()
    found.server_cpu = cpu_seconds(server.pid) - before
    return found


def measure(argv: list[str], env: dict[str, str], timeout: float) -> Measured:
    """Run `argv` to its end (or kill it after `timeout` s): wall time, peak RSS, JSON output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, start_new_session=True)
        deadline = started + timeout
        status, usage = 0, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                cpu = usage.ru_utime + usage.ru_stime
                return Measured(time.perf_counter() - started, usage.ru_maxrss / 1024, None, cpu)
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[:3]} failed ({proc.returncode}): {err.read().decode()[-2000:]}")
        cpu = usage.ru_utime + usage.ru_stime
        return Measured(seconds, usage.ru_maxrss / 1024, json.loads(out.read()), cpu)


def service_runs(server: SeaweedServer, store: S3ObjectStore, repeats: int) -> list[Measured]:
    """`GET /buckets/BUCKET/stats?refresh=true` (quick), each on a fresh service process (no figures
    in its memory either) after the documents are cleared; peak RSS sampled every 20 ms."""
    found: list[Measured] = []
    for _ in range(repeats):
        clear_stats_documents(store)
        with (
            tempfile.TemporaryDirectory() as work,
            run_service(server, Path(work), {"DG_STATS_FRESH_SECONDS": "0"}) as svc,
        ):
            cpu, weed = cpu_seconds(svc.pid), cpu_seconds(server.pid)
            path = f"/buckets/{BUCKET}/stats"
            with sampling(psutil.Process(svc.pid), children=False) as peak:
                began = time.perf_counter()
                answer = httpx.get(f"{svc.url}{path}?refresh=true", headers=AUTH, timeout=1800)
                # 503 + Retry-After: the computation outlasted DG_STATS_WAIT_SECONDS and goes on;
                # ask again (joining it) until its figures come.
                while answer.status_code == 503 and time.perf_counter() - began < 1800:
                    time.sleep(1)
                    answer = httpx.get(f"{svc.url}{path}", headers=AUTH, timeout=1800)
                seconds = time.perf_counter() - began
            if answer.status_code != 200:  # recorded, not fatal: the table says what it answered
                print(f"service answered {answer.status_code}: {answer.text[:500]}", flush=True)
                found.append(Measured(seconds, peak.glider_mib, None, 0.0, 0.0, answer.status_code))
                continue
            cpu, weed = cpu_seconds(svc.pid) - cpu, cpu_seconds(server.pid) - weed
            found.append(Measured(seconds, peak.glider_mib, answer.json(), cpu, weed))
            print(f"service: {brief(found[-1])} cache {answer.json().get('cache')}", flush=True)
    return found


def clear_stats_documents(store: S3ObjectStore) -> int:
    keys = [o.key for o in store.iter_objects(BUCKET, INTERNAL_PREFIX)]
    store.delete_many(BUCKET, keys)
    return len(keys)


def figures_ok(report: dict[str, object], totals: Totals) -> bool:
    return (
        report.get("object_count") == totals.delta_objects + totals.direct_objects
        and report.get("delta_objects") == totals.delta_objects
        and report.get("direct_objects") == totals.direct_objects
        and report.get("compressed_size") == totals.stored_bytes
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS)
    parser.add_argument("--dg-repeats", type=int, default=1)
    parser.add_argument("--dg-timeout", type=float, default=600.0)
    parser.add_argument("--fill-only", action="store_true", help="write the bucket, measure nothing")
    args = parser.parse_args()
    run = Run()
    FOLDER.mkdir(parents=True, exist_ok=True)
    with SeaweedServer(data_dir=FOLDER / "weed", startup_timeout=180.0) as server:
        env = tool_env(server)
        store = S3ObjectStore(server.endpoint_url, "us-east-1", server.access_key, server.secret_key)
        store.create_bucket(BUCKET)
        raw = S3Store(
            BUCKET, endpoint=server.endpoint_url, region="us-east-1", access_key_id=server.access_key,
            secret_access_key=server.secret_key, virtual_hosted_style_request=False,
            client_options={"allow_http": True, "timeout": "120s"},
        )  # fmt: skip
        totals = fill(raw, FOLDER)
        print(f"bucket: {totals}", flush=True)
        if args.fill_only:
            return
        glider: list[Measured] = []
        for _ in range(args.repeats):
            clear_stats_documents(store)
            argv = [str(BIN / "glider"), "stats", BUCKET, "--json"]
            glider.append(with_server(server, lambda argv=argv: measure(argv, env, 1800.0)))
            print(f"glider: {brief(glider[-1])}", flush=True)
        service = service_runs(server, store, args.repeats)
        dg = []
        for _ in range(args.dg_repeats):
            clear_stats_documents(store)  # the bucket as the fill wrote it, as for Glider
            argv = [str(BIN / "deltaglider"), "stats", BUCKET, "--json"]
            dg.append(with_server(server, lambda argv=argv: measure(argv, env, args.dg_timeout)))
            print(f"deltaglider: {brief(dg[-1])}", flush=True)
        store.close()
    body = render(args, totals, {"cli": glider, "service": service}, dg)
    write_fragment("bigbucket", "## Big bucket (1,000,000 objects)", run, body)


def _row(tool: str, command: str, runs: list[Measured], totals: Totals, timeout: float) -> str:
    done = [m for m in runs if m.report is not None]
    failed = [m for m in runs if m.status != 200]
    if failed:
        times = ", ".join(f"{m.status} after {m.seconds:.0f} s" for m in failed)
        rss = spread([m.peak_mib for m in runs], 0)
        return f"| {tool} | `{command}` | answered {times} | {rss} | n/a | n/a | no |"
    if not done:
        return f"| {tool} | `{command}` | did not finish in {timeout:.0f} s | n/a | n/a | n/a | n/a |"
    ok = "yes" if all(m.report is not None and figures_ok(m.report, totals) for m in done) else "NO"
    return (
        f"| {tool} | `{command}` | {spread([m.seconds for m in done], 1)} "
        f"| {spread([m.peak_mib for m in done], 0)} | {spread([m.cpu for m in done], 1)} "
        f"| {spread([m.server_cpu for m in done], 1)} | {ok} |"
    )


def capped_note(dg: list[Measured], totals: Totals) -> str:
    """DeltaGlider 6.2.0's quick mode lists at most 60,000 objects (`QUICK_LIST_LIMIT` in its
    client_operations/stats.py) and answers for those alone: say so when its count shows it."""
    counts = sorted({int(str(m.report.get("object_count"))) for m in dg if m.report is not None})
    expected = totals.delta_objects + totals.direct_objects
    if not counts or counts[-1] >= expected:
        return ""
    return (
        f" Not like for like: DeltaGlider's quick mode stops listing at 60,000 objects "
        f"(`QUICK_LIST_LIMIT` in its `client_operations/stats.py`) and reports figures for those "
        f"alone ({counts[-1]:,} of {expected:,} objects counted), so its time is that of a "
        f"{60_000 / totals.objects:.0%} listing and its figures are wrong for this bucket."
    )


def render(
    args: argparse.Namespace, totals: Totals, glider: dict[str, list[Measured]], dg: list[Measured]
) -> str:
    cli, service = glider["cli"], glider["service"]
    g_med = median([m.seconds for m in cli])
    s_med = median([m.seconds for m in service if m.status == 200] or [float("inf")])
    g_mib = max(m.peak_mib for m in cli + service)
    finished = [m for m in dg if m.report is not None]
    dg_med = median([m.seconds for m in finished]) if finished else None
    ratio = f"{dg_med / g_med:.1f}x" if dg_med else f"more than {args.dg_timeout / g_med:.0f}x"
    slow = max(g_med, s_med)
    verdict_t = "met" if slow < TARGET_SECONDS else "MISSED"
    verdict_m = "met" if g_mib < TARGET_MIB else "MISSED"
    rows = "\n".join(
        [
            _row("glider (CLI)", f"glider stats {BUCKET} --json", cli, totals, 1800),
            _row("glider (service)", f"GET /buckets/{BUCKET}/stats?refresh=true", service, totals, 1800),
            _row("deltaglider 6.2.0", f"deltaglider stats {BUCKET} --json", dg, totals, args.dg_timeout),
        ]
    )
    return f"""Bucket: {totals.objects:,} objects on SeaweedFS (`weed mini` on loopback, same machine):
{totals.references:,} deltaspaces, each one `reference.bin`, {PER_SPACE} `.delta` objects and one direct file,
all with the metadata Glider writes ({totals.delta_objects:,} deltas, {totals.direct_objects:,} direct,
{totals.stored_bytes / 2**20:.0f} MiB stored). Written once by the bench in {totals.fill_seconds:.0f} s
(obstore async PUTs, bench/bigbucket_fill.py) and kept in `bench/data/bigbucket/` between runs.

Cold quick stats: every `.deltaglider/` document deleted before each Glider run, so the listing
is all it has. CLI and DeltaGlider: a whole command (a fresh process, start-up included), peak RSS
its own `ru_maxrss`. Service: a fresh `uvicorn` process per run (`DG_STATS_FRESH_SECONDS=0`), the
time until the figures come (a 503 after `DG_STATS_WAIT_SECONDS` is followed by GETs joining the
computation), peak RSS of the process sampled every 20 ms. Glider: {args.repeats} runs each; DeltaGlider:
{len(dg)} run(s), stopped after {args.dg_timeout:.0f} s (each takes minutes, hence one run unless
`--dg-repeats` says more). "figures = written": counts and stored bytes equal what the fill wrote.
CPU: seconds of CPU the tool's process and the SeaweedFS process used during the run (user +
system): with 2 shared cores, the time is mostly the server's LIST work and the machine's load.

| tool | command | time (s) | peak RSS (MiB) | its CPU (s) | SeaweedFS CPU (s) | figures = written |
|---|---|---:|---:|---:|---:|---|
{rows}

DeltaGlider / Glider CLI time: **{ratio}**.{capped_note(dg, totals)}

Where the time goes (Glider CLI, medians): {g_med:.1f} s of wall time, of which Glider's process
used {median([m.cpu for m in cli]):.1f} s of CPU and SeaweedFS {median([m.server_cpu for m in cli]):.1f} s
while answering its LISTs; the rest is waiting for a core on the shared machine (see the load
average above).

Targets: cold quick stats < {TARGET_SECONDS:.0f} s: **{verdict_t}** (median CLI {g_med:.1f} s,
service {s_med:.1f} s); peak RSS < 1 GiB: **{verdict_m}** (max {g_mib:.0f} MiB over all runs).
"""


if __name__ == "__main__":
    main()
