"""Upload time of a 20 MB .tar.gz against a same-size .zip (issue 14's "<= 2x" target).

`python -m bench.gzip_upload [--runs N]`: the 20 MB pair of `bench.artifacts` (one ~68 MB source
tree as a Python-tarfile .tar.gz at zlib level 6, and the same tree as a .zip), two versions
each. Every run uploads, into a fresh bucket, v1 (the deltaspace's first file: the reference)
then v2 (a later version: a delta), for the .tar.gz then the .zip, one `glider cp` process
each, against one SeaweedFS on loopback. Per upload: wall seconds and CPU seconds (user + system
of the `glider cp` process and its xdelta3 children; CPU does not grow with the machine's load,
wall does). Also, once, the single-thread cost of the recipe proof alone: one zlib deflate of
the decompressed tar, the floor of any exact gzip-aware upload. Writes
bench/results/gzip_upload.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from app.caches.keys import generate_key
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from bench.artifact_series import same_size_pair
from bench.engine import tool_env

BIN = Path(sys.executable).parent
RESULTS = Path(__file__).resolve().parent / "results" / "gzip_upload.md"
COMMAND = ".venv/bin/python -m bench.gzip_upload"
CASES = (("tgz", "v1"), ("tgz", "v2"), ("zip", "v1"), ("zip", "v2"))

Sample = tuple[float, float]  # (wall s, cpu s)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _upload(path: Path, url: str, env: dict[str, str]) -> tuple[Sample, str]:
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [str(BIN / "glider"), "cp", "--json", str(path), url],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"upload of {path.name} failed: {done.stderr[-400:]}")
    return (wall, _children_cpu() - cpu), done.stdout


def _deflate_floor(tgz: Path) -> tuple[float, int]:
    """CPU seconds of one zlib level-6 deflate of the decompressed tar (the proof's core), and
    the tar's size."""
    raw = zlib.decompress(tgz.read_bytes(), 31)
    start = time.process_time()
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    compressor.compress(raw)
    compressor.flush()
    return time.process_time() - start, len(raw)


def measure(runs: int) -> tuple[dict[tuple[str, str], list[Sample]], dict[str, str]]:
    tgz, zips = same_size_pair()
    samples: dict[tuple[str, str], list[Sample]] = {case: [] for case in CASES}
    stored: dict[str, str] = {}
    with SeaweedServer() as server, tempfile.TemporaryDirectory(prefix="glider-gzup-") as tmp:
        env = tool_env(server) | {
            "DG_CACHE_DIR": f"{tmp}/cache",
            "DG_CACHE_ENCRYPTION_KEY": generate_key(),
            "DG_WORK_DIR": f"{tmp}/work",
        }
        store = S3ObjectStore(server.endpoint_url, "us-east-1", server.access_key, server.secret_key)
        for run in range(runs):
            for kind, series in (("tgz", tgz), ("zip", zips)):
                bucket = f"gzup-{run}-{kind}"
                store.create_bucket(bucket)
                for version, path in zip(("v1", "v2"), series.files, strict=True):
                    sample, out = _upload(path, f"s3://{bucket}/app/{path.name}", env)
                    samples[(kind, version)].append(sample)
                    stored[f"{kind} {version}"] = str(json.loads(out)["stored_as"])
                    print(
                        f"run {run} {kind} {version}: {sample[0]:.2f}s wall {sample[1]:.2f}s cpu", flush=True
                    )
        store.close()
    return samples, stored


def _med(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def render(samples: dict[tuple[str, str], list[Sample]], stored: dict[str, str], floor: tuple[float, int],
           loads: tuple[str, str], runs: int) -> str:  # fmt: skip
    tgz, zips = same_size_pair()
    size = tgz.files[0].stat().st_size / 1e6
    lines = [
        "## 20 MB .tar.gz upload vs a same-size .zip",
        "",
        f"Command: `{COMMAND}` ({runs} runs). Machine: {os.cpu_count()} cores shared with other work "
        f"(load average {loads[0]} at the start, {loads[1]} at the end), {platform.machine()}, Python "
        f"{platform.python_version()}, zlib {zlib.ZLIB_RUNTIME_VERSION}, SeaweedFS on loopback. One "
        f"`glider cp --json` process per upload, defaults (gzip-aware deltas on). Files: {size:.1f} MB "
        f".tar.gz (Python tarfile, zlib level 6, {floor[1] / 1e6:.1f} MB of text inside) and the same "
        f"tree as a {zips.files[0].stat().st_size / 1e6:.1f} MB .zip; v1 is a deltaspace's first file, "
        "v2 a later version. Medians (min-max). CPU = user + system seconds of the process and its xdelta3.",
        "",
        "| upload | .tar.gz wall s | .zip wall s | wall ratio | .tar.gz CPU s | .zip CPU s | CPU ratio "
        "| stored as (tgz / zip) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    verdicts = []
    for version, label in (("v1", "first file (reference)"), ("v2", "later version (delta)")):
        t, z = samples[("tgz", version)], samples[("zip", version)]
        wall = statistics.median(s[0] for s in t) / statistics.median(s[0] for s in z)
        cpu = statistics.median(s[1] for s in t) / statistics.median(s[1] for s in z)
        lines.append(
            f"| {label} | {_med([s[0] for s in t])} | {_med([s[0] for s in z])} | {wall:.2f}x | "
            f"{_med([s[1] for s in t])} | {_med([s[1] for s in z])} | {cpu:.2f}x | "
            f"{stored[f'tgz {version}']} / {stored[f'zip {version}']} |"
        )
        verdicts.append(
            f"- {label}: {wall:.2f}x the .zip's wall time (target <= 2x): {'met' if wall <= 2 else 'MISSED'}"
        )
    lines += [
        "",
        *verdicts,
        "",
        "A first file is stored verbatim as reference.bin and needs no recipe: it pays the "
        "decompression (for the content's SHA-256 and the expanded copy later versions diff "
        "against), not a proof. The floor of a later version: the recipe proof must recompress all "
        "of the content with zlib (byte-compare and SHA-256 before the upload is acknowledged); that "
        f"one deflate alone took {floor[0]:.2f} CPU s here, single-threaded (zlib's deflate cannot be "
        "split and stay byte-identical). The upload runs the proof in its own thread while the file "
        "decompresses, and the xdelta3 encode alongside it, so on idle cores the wall time approaches "
        "that floor plus process start; on a loaded machine the wall ratio tends to the CPU ratio.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    start_load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    samples, stored = measure(args.runs)
    floor = _deflate_floor(same_size_pair()[0].files[1])
    end_load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = render(samples, stored, floor, (start_load, end_load), args.runs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
