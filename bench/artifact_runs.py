"""Measuring the artifact benches: every version of a series uploaded in order, then downloaded and
checked, by `glider cp --json` and `deltaglider cp` (one process per file, both tools against the
same SeaweedFS, fresh buckets each run). Stored bytes, forms and byte-exactness are taken from a
series' first run (they do not vary between runs); times from every run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.caches.keys import generate_key
from app.domain.hashing import sha256_file
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from bench.artifact_series import Series
from bench.engine import tool_env

BIN = Path(sys.executable).parent


@dataclass
class Result:
    """One tool's figures for one series, filled in by `run_tool` (or `pair_run`) run after run."""

    stored: int = 0
    exact: int = 0
    up: list[float] = field(default_factory=list)  # per run: whole-series upload seconds
    first_up: list[float] = field(default_factory=list)  # per run, the 20 MB pair only: v1's upload
    down: list[float] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # per file: "form/reason (stored bytes)"
    later_ratios: list[float] = field(default_factory=list)


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=900)
    return time.perf_counter() - start, done


def _describe(payload: dict[str, object]) -> str:
    kind = str(payload["stored_as"])
    if kind == "direct":
        return f"direct ({payload['reason']})"
    return f"{kind}/{payload.get('form', 'plain')}" if kind == "delta" else kind


def run_tool(tool: str, series: Series, bucket: str, env: dict[str, str], store: S3ObjectStore, tmp: Path,
             result: Result, *, first: bool, suffix: str | None = None) -> None:  # fmt: skip
    """Upload, then download and compare, every file of `series` with `tool` into a new `bucket`,
    adding this run's whole-series times to `result`; on the `first` run also its stored bytes,
    byte-exact count and (Glider) each file's form. `suffix` replaces the files' own (the wheels
    under .zip names). Raises RuntimeError when an upload fails."""
    store.create_bucket(bucket)
    exe, up_total, down_total = str(BIN / tool), 0.0, 0.0
    names = []
    for n, path in enumerate(series.files):
        name = path.name if suffix is None else path.stem + suffix
        names.append(name)
        if tool == "deltaglider":  # it stores under the local file name, the same here
            seconds, done = _timed([exe, "cp", str(path), f"s3://{bucket}/{series.name}/{name}"], env)
        else:
            seconds, done = _timed(
                [exe, "cp", "--json", str(path), f"s3://{bucket}/{series.name}/{name}"], env
            )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} upload of {name} failed: {done.stderr[-400:]}")
        up_total += seconds
        if first and tool == "glider":
            payload = json.loads(done.stdout)
            result.files.append(f"{_describe(payload)} {int(str(payload['stored_size'])):,}")
            if n > 0:  # a later version, whatever it became (direct 100%; a late reference its full size)
                cost = int(str(payload["stored_size"])) + int(str(payload.get("reference_size") or 0))
                result.later_ratios.append(cost / path.stat().st_size)
    if first:
        result.stored = sum(o.size for o in store.iter_objects(bucket))
    for path, name in zip(series.files, names, strict=True):
        out = tmp / "down.bin"
        out.unlink(missing_ok=True)
        seconds, done = _timed([exe, "cp", f"s3://{bucket}/{series.name}/{name}", str(out)], env)
        down_total += seconds
        if first:
            result.exact += done.returncode == 0 and out.exists() and sha256_file(out) == sha256_file(path)
    result.up.append(up_total)
    result.down.append(down_total)


def tools_on(server: SeaweedServer, tmp: Path) -> tuple[dict[str, str], S3ObjectStore]:
    """Both CLIs' environment (Glider's cache and work dir under `tmp`) and a store to inspect."""
    cache = {
        "DG_CACHE_DIR": str(tmp / "cache"),
        "DG_CACHE_ENCRYPTION_KEY": generate_key(),
        "DG_WORK_DIR": str(tmp / "work"),
    }
    store = S3ObjectStore(server.endpoint_url, "us-east-1", server.access_key, server.secret_key)
    return tool_env(server) | cache, store


def measure_run(series: list[Series], run: int, env: dict[str, str], store: S3ObjectStore, tmp: Path,
                glider: dict[str, Result], dg: dict[str, Result],
                also: Callable[[int, Series], None] | None = None) -> None:  # fmt: skip
    """Run `run` of both tools over every series in order, into buckets `g-RUN-I` and `d-RUN-I`;
    `also(I, series)` runs after both tools on each series (bench.artifacts' .zip-name uploads)."""
    for index, s in enumerate(series):
        run_tool("glider", s, f"g-{run}-{index}", env, store, tmp, glider[s.name], first=run == 0)
        run_tool("deltaglider", s, f"d-{run}-{index}", env, store, tmp, dg[s.name], first=run == 0)
        if also is not None:
            also(index, s)
        print(
            f"run {run} {s.name}: glider {glider[s.name].up[-1]:.1f}s dg {dg[s.name].up[-1]:.1f}s", flush=True
        )


def pair_run(pair: tuple[Series, Series], env: dict[str, str], store: S3ObjectStore, tmp: Path,
             results: tuple[Result, Result], run: int) -> None:  # fmt: skip
    """Upload v1 then time v2 alone (the delta), for the tar.gz and the zip."""
    for s, result in zip(pair, results, strict=True):
        bucket = f"pair-{run}-{s.name.replace('.', '-')}"
        store.create_bucket(bucket)
        exe = str(BIN / "glider")
        for n, path in enumerate(s.files):
            seconds, done = _timed([exe, "cp", "--json", str(path), f"s3://{bucket}/p/{path.name}"], env)
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-400:])
            if n == 0:
                result.first_up.append(seconds)
            if n == len(s.files) - 1:
                result.up.append(seconds)
                payload = json.loads(done.stdout)
                result.files.append(f"{_describe(payload)} {int(str(payload['stored_size'])):,} B")
