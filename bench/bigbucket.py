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
from dataclasses import dataclass
from pathlib import Path

from obstore.store import S3Store

from app.domain.keys import INTERNAL_PREFIX
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from bench.bigbucket_fill import PER_SPACE, SPACES, Totals, fill
from bench.common import DATA
from bench.engine import tool_env
from bench.fragment import MIN_REPEATS, Run, spread, write_fragment

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
                return Measured(time.perf_counter() - started, usage.ru_maxrss / 1024, None)
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[:3]} failed ({proc.returncode}): {err.read().decode()[-2000:]}")
        return Measured(seconds, usage.ru_maxrss / 1024, json.loads(out.read()))


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
            cleared = clear_stats_documents(store)
            glider.append(measure([str(BIN / "glider"), "stats", BUCKET, "--json"], env, 1800.0))
            print(f"glider: {glider[-1].seconds:.1f} s, {glider[-1].peak_mib:.0f} MiB "
                  f"({cleared} stats documents cleared first)", flush=True)  # fmt: skip
        dg = []
        for _ in range(args.dg_repeats):
            dg.append(measure([str(BIN / "deltaglider"), "stats", BUCKET, "--json"], env, args.dg_timeout))
            print(f"deltaglider: {dg[-1].seconds:.1f} s, {dg[-1].peak_mib:.0f} MiB", flush=True)
        store.close()
    write_fragment("bigbucket", "## Big bucket (1,000,000 objects)", run, render(args, totals, glider, dg))


def render(args: argparse.Namespace, totals: Totals, glider: list[Measured], dg: list[Measured]) -> str:
    g_time = spread([m.seconds for m in glider], 1)
    g_rss = spread([m.peak_mib for m in glider], 0)
    g_med = sorted(m.seconds for m in glider)[len(glider) // 2]
    g_mib = max(m.peak_mib for m in glider)
    ok = all(m.report is not None and figures_ok(m.report, totals) for m in glider)
    finished = [m for m in dg if m.report is not None]
    if finished:
        d_time = spread([m.seconds for m in finished], 1)
        d_rss = spread([m.peak_mib for m in finished], 0)
        ratio = f"{sorted(m.seconds for m in finished)[len(finished) // 2] / g_med:.1f}x"
    else:
        d_time, d_rss, ratio = f"did not finish in {args.dg_timeout:.0f} s", "n/a", "n/a"
    d_rss_seen = f"{max(m.peak_mib for m in dg):.0f}" if dg else "n/a"
    verdict_t = "met" if g_med < TARGET_SECONDS else "MISSED"
    verdict_m = "met" if g_mib < TARGET_MIB else "MISSED"
    return f"""Bucket: {totals.objects:,} objects on SeaweedFS (`weed mini` on loopback, same machine):
{SPACES:,} deltaspaces, each one `reference.bin`, {PER_SPACE} `.delta` objects and one direct file,
all with the metadata Glider writes ({totals.delta_objects:,} deltas, {totals.direct_objects:,} direct,
{totals.stored_bytes / 2**20:.0f} MiB stored). Written once by the bench in {totals.fill_seconds:.0f} s
(obstore async PUTs, bench/bigbucket_fill.py) and kept in `bench/data/bigbucket/` between runs.

Cold quick stats, whole command (a fresh process, start-up included), every `.deltaglider/`
document deleted before each Glider run. Peak RSS: the process's own `ru_maxrss`. Glider: {args.repeats}
runs; DeltaGlider: {len(dg)} run(s) of `deltaglider stats {BUCKET} --json`, stopped after
{args.dg_timeout:.0f} s (each takes minutes, so one run unless `--dg-repeats` says more).

| tool | command | time (s) | peak RSS (MiB) | figures = written |
|---|---|---:|---:|---|
| glider | `glider stats {BUCKET} --json` | {g_time} | {g_rss} | {"yes" if ok else "NO"} |
| deltaglider 6.2.0 | `deltaglider stats {BUCKET} --json` | {d_time} | {d_rss} (max seen {d_rss_seen}) | n/a |

DeltaGlider / Glider time: **{ratio}**.

Targets: cold quick stats < {TARGET_SECONDS:.0f} s: **{verdict_t}** (median {g_med:.1f} s);
peak RSS < 1 GiB: **{verdict_m}** (max {g_mib:.0f} MiB over the runs).
"""


if __name__ == "__main__":
    main()
