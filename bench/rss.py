"""Peak memory of `glider cp` on a 1 GiB artifact: the Glider process and its xdelta3 child.

Run: `.venv/bin/python -m bench.rss` (also `make bench-rss`); writes bench/results/rss.md.
Two 1 GiB files of random bytes (bench/common.py `big_pair`), the second with a 64 KiB edit in
every 16th 8 MiB block: upload the first (the reference), the second (a delta against it), then
download the second and compare it byte for byte, `--repeats` times into fresh buckets, for the
default codec memory budget and for 2048 MiB. Each process is sampled every 20 ms with psutil.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from app.components import build_store
from app.domain.hashing import sha256_file
from app.settings import S3Settings
from app.storage.seaweed import SeaweedServer
from bench.common import big_pair
from bench.engine import tool_env
from bench.fragment import MIN_REPEATS, Run, spread, write_fragment

BIN = Path(sys.executable).parent
BUDGETS = (None, 2048)  # DG_CODEC_MEMORY_MB; None: the default (256)
STEPS = ("upload 1 GiB (reference)", "upload 1 GiB (delta)", "download 1 GiB (delta)")


@dataclass
class Peak:
    glider_mib: float = 0.0
    child_mib: float = 0.0
    seconds: float = 0.0


def watch_peak(argv: list[str], env: dict[str, str]) -> Peak:
    """Run `argv`, sampling the RSS of the process and (separately) of its children."""
    peak = Peak()
    start = time.perf_counter()
    proc = psutil.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak.glider_mib = max(peak.glider_mib, proc.memory_info().rss / 2**20)
                for child in proc.children(recursive=True):
                    peak.child_mib = max(peak.child_mib, child.memory_info().rss / 2**20)
            except psutil.Error:
                pass
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    stop.set()
    sampler.join()
    peak.seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[1:3]} failed: {err.decode()[-500:]}")
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS)
    parser.add_argument("--size-mib", type=int, default=1024, help="size of each file")
    args = parser.parse_args()
    run = Run()
    first, second = big_pair(args.size_mib << 20, name=f"big-{args.size_mib}")
    peaks: dict[tuple[str, str], list[Peak]] = {}
    deltas: dict[str, int] = {}
    exact = 0
    with SeaweedServer() as server, tempfile.TemporaryDirectory(prefix="glider-bench-rss-") as top:
        store = build_store(S3Settings(endpoint_url=server.endpoint_url, access_key_id=server.access_key,
                                       secret_access_key=server.secret_key))  # fmt: skip
        glider, out = str(BIN / "glider"), Path(top) / "v2.out"
        for rep in range(args.repeats):
            for budget in BUDGETS:
                label = f"{budget} MiB" if budget else "default (256 MiB)"
                extra = {"DG_CACHE_BACKEND": "memory"} | (
                    {"DG_CODEC_MEMORY_MB": str(budget)} if budget else {}
                )
                bucket = f"rss-{budget or 'default'}-{rep}"
                store.create_bucket(bucket)
                argvs = (
                    [glider, "cp", str(first), f"s3://{bucket}/big/v1.bin.tar"],
                    [glider, "cp", str(second), f"s3://{bucket}/big/v2.bin.tar"],
                    [glider, "cp", f"s3://{bucket}/big/v2.bin.tar", str(out)],
                )
                for step, argv in zip(STEPS, argvs, strict=True):
                    peaks.setdefault((label, step), []).append(watch_peak(argv, tool_env(server) | extra))
                exact += sha256_file(out) == sha256_file(second)
                deltas[label] = store.head(bucket, "big/v2.bin.tar.delta").size
                out.unlink(missing_ok=True)
                print(f"repeat {rep + 1}/{args.repeats} {label} done", flush=True)
        store.close()
    rows = [
        f"| {label} | {step} | {spread([p.glider_mib for p in got], 0)} "
        f"| {spread([p.child_mib for p in got], 0)} | {spread([p.seconds for p in got], 1)} |"
        for (label, step), got in peaks.items()
    ]
    body = "\n".join(
        [
            f"{args.repeats} repeats, files of {args.size_mib} MiB. `DG_CODEC_MEMORY_MB` is the codec "
            "process's memory budget: xdelta3's source window (-B) is the largest power of two whose "
            "~1.55x resident cost fits in it (128 MiB for the 256 MiB default, the whole 1 GiB "
            "reference at 2048 MiB); decoding always uses 64 MiB. "
            f"Downloads byte-exact: {exact}/{args.repeats * len(BUDGETS)}. Stored delta: "
            + ", ".join(f"{label} {size / 2**20:.1f} MiB" for label, size in deltas.items())
            + ".",
            "",
            "| codec memory budget | step | Glider peak RSS MiB | xdelta3 peak RSS MiB | wall s |",
            "|---|---|---:|---:|---:|",
            *rows,
        ]
    )
    path = write_fragment("rss", "## Peak memory, 1 GiB artifact", run, body)
    print(path.read_text())


if __name__ == "__main__":
    main()
