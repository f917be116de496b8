"""Engine benchmark: Glider against DeltaGlider 6.2.0 on real release series, like for like.

Run: `.venv/bin/python -m bench.engine` (also `make bench-engine`); writes bench/results/engine.md.
Data needs no hand steps (bench/common.py: pip/npm downloads and a generated zip tree, cached in
bench/data/). One SeaweedFS on loopback. Each repeat uploads every version of every series in
order into fresh buckets, then downloads every version and compares it byte for byte, with four
tools, interleaved so that a slower machine slows all of them alike:

- process against process: `glider cp` and `deltaglider cp`, one process per file;
- in-process against in-process: Glider's engine (built as the service builds it) and
  deltaglider's Python SDK (`deltaglider.create_client().upload/download`), one long-lived client
  each, so both keep their reference caches warm.

Zip series (wheels, zip trees: byte-exact deltas for both tools) and gzip series (sdists, npm
tarballs) are reported apart. Peak memory on 1 GiB files is bench/rss.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.components import build_engine, build_store
from app.domain.hashing import sha256_file
from app.engine.engine import DeltaEngine
from app.settings import CacheSettings, EngineSettings, S3Settings, Settings
from app.storage.base import ObjectStore
from app.storage.seaweed import SeaweedServer
from bench.common import Series, all_series
from bench.fragment import MIN_REPEATS, Run, ratio_spread, spread, write_fragment

BIN = Path(sys.executable).parent
TOOLS = ("glider-cli", "dg-cli", "glider-engine", "dg-sdk")
COMPARISONS = (
    ("Process against process: `glider cp` vs `deltaglider cp`", "glider-cli", "dg-cli"),
    ("In-process: Glider's engine vs deltaglider's Python SDK", "glider-engine", "dg-sdk"),
)


@dataclass
class Sample:
    """One tool on one series in one repeat."""

    upload_s: float = 0.0
    download_s: float = 0.0
    stored: int = 0
    exact: int = 0


@dataclass
class Tally:
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)

    def add(self, tool: str, series: str, sample: Sample) -> None:
        self.samples.setdefault((tool, series), []).append(sample)

    def get(self, tool: str, names: list[str]) -> list[Sample]:
        """Per repeat, the samples of `names` summed (one Sample per repeat)."""
        per_series = [self.samples[(tool, name)] for name in names]
        return [
            Sample(
                sum(s.upload_s for s in group),
                sum(s.download_s for s in group),
                sum(s.stored for s in group),
                sum(s.exact for s in group),
            )
            for group in zip(*per_series, strict=True)
        ]


def tool_env(server: SeaweedServer) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))}
    return base | {
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "DG_DISABLE_EC2_DETECTION": "1",  # deltaglider probes the EC2 metadata service otherwise
        "DG_METRICS": "noop",
        "DG_SUPPRESS_DEPRECATION": "1",
        "DG_LOG_LEVEL": "WARNING",
    }


Uploader = Callable[[Path, str, str], None]  # (file, bucket, key)
Downloader = Callable[[str, str, Path], None]  # (bucket, key, destination)


def cli(tool: str, env: dict[str, str]) -> tuple[Uploader, Downloader]:
    exe = str(BIN / tool)

    def run(*args: str) -> None:
        subprocess.run([exe, "cp", *args], env=env, capture_output=True, check=True)

    return (lambda path, bucket, key: run(str(path), f"s3://{bucket}/{key}"),
            lambda bucket, key, dest: run(f"s3://{bucket}/{key}", str(dest)))  # fmt: skip


def glider_engine(engine: DeltaEngine) -> tuple[Uploader, Downloader]:
    def upload(path: Path, bucket: str, key: str) -> None:
        engine.put(bucket, key, path)

    def download(bucket: str, key: str, dest: Path) -> None:
        engine.get(bucket, key, dest)

    return upload, download


def dg_sdk(server: SeaweedServer) -> tuple[Uploader, Downloader]:
    from deltaglider import create_client  # noqa: PLC0415  # only this bench needs it

    client = create_client(
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        log_level="WARNING",
    )

    def upload(path: Path, bucket: str, key: str) -> None:
        client.upload(path, f"s3://{bucket}/{key.rpartition('/')[0]}/")  # keeps the file's name

    def download(bucket: str, key: str, dest: Path) -> None:
        client.download(f"s3://{bucket}/{key}", dest)

    return upload, download


def measure(
    tools: tuple[Uploader, Downloader], series: Series, bucket: str, store: ObjectStore, tmp: Path
) -> Sample:
    upload, download = tools
    store.create_bucket(bucket)
    sample = Sample()
    for path in series.files:
        began = time.perf_counter()
        upload(path, bucket, f"{series.name}/{path.name}")
        sample.upload_s += time.perf_counter() - began
    sample.stored = sum(o.size for o in store.iter_objects(bucket))
    for path in series.files:
        out = tmp / f"out-{path.name}"
        began = time.perf_counter()
        with contextlib.suppress(Exception):  # a failed download counts as not byte-exact
            download(bucket, f"{series.name}/{path.name}", out)
        sample.download_s += time.perf_counter() - began
        sample.exact += out.exists() and sha256_file(out) == sha256_file(path)
        out.unlink(missing_ok=True)
    return sample


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """The deltaglider SDK reads its switches from the process environment."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_all(series_list: list[Series], repeats: int) -> Tally:
    tally = Tally()
    with SeaweedServer() as server, tempfile.TemporaryDirectory(prefix="glider-bench-") as top:
        tmp = Path(top)
        env = tool_env(server)
        s3 = S3Settings(endpoint_url=server.endpoint_url, access_key_id=server.access_key,
                        secret_access_key=server.secret_key)  # fmt: skip
        settings = Settings(
            s3=s3, cache=CacheSettings(dir=tmp / "cache"), engine=EngineSettings(work_dir=tmp)
        )
        store = build_store(s3)
        with environment(env):
            tools = {
                "glider-cli": cli("glider", env),
                "dg-cli": cli("deltaglider", env),
                "glider-engine": glider_engine(build_engine(settings, store)),
                "dg-sdk": dg_sdk(server),
            }
            for rep in range(repeats):
                for index, series in enumerate(series_list):
                    for tool, pair in tools.items():
                        sample = measure(pair, series, f"{tool}-{index}-r{rep}", store, tmp)
                        tally.add(tool, series.name, sample)
                        print(f"repeat {rep + 1}/{repeats} {series.name} {tool}: {sample}", flush=True)
        store.close()
    return tally


def exact(samples: list[Sample]) -> int:
    return sum(x.exact for x in samples)


def table(tally: Tally, groups: list[tuple[str, list[Series]]], ours: str, theirs: str) -> list[str]:
    lines = [
        "| series | versions | upload speed-up | download speed-up | stored Glider / DG "
        "| upload s Glider | upload s DG | download s Glider | download s DG | stored MB Glider / DG "
        "| byte-exact Glider / DG |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, members in groups:
        rows = [(s.name, [s.name], len(s.files)) for s in members]
        if len(members) > 1:
            rows.append((f"**{label} total**", [s.name for s in members], sum(len(s.files) for s in members)))
        for name, names, versions in rows:
            g, d = tally.get(ours, names), tally.get(theirs, names)
            cells = [
                name,
                str(versions),
                ratio_spread([x.upload_s for x in d], [x.upload_s for x in g]),
                ratio_spread([x.download_s for x in d], [x.download_s for x in g]),
                f"{g[0].stored / d[0].stored:.3f}" if d[0].stored else "n/a",
                spread([x.upload_s for x in g]),
                spread([x.upload_s for x in d]),
                spread([x.download_s for x in g]),
                spread([x.download_s for x in d]),
                f"{g[0].stored / 1e6:.2f} / {d[0].stored / 1e6:.2f}",
                f"{exact(g)}/{versions * len(g)} / {exact(d)}/{versions * len(d)}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(tally: Tally, series_list: list[Series], repeats: int) -> str:
    zips = [s for s in series_list if s.suffix == ".zip"]
    gzips = [s for s in series_list if s.suffix != ".zip"]
    groups = [(label, members) for label, members in (("zip", zips), ("gzip", gzips)) if members]
    lines = [
        f"{repeats} repeats; each uploads every version of a series in order into a fresh bucket "
        "(one deltaspace), then downloads every version and compares it byte for byte. Speed-ups are "
        "DeltaGlider's time over Glider's, pairwise per repeat (above 1: Glider is faster); stored is "
        "Glider's bytes over DeltaGlider's, reference.bin included (below 1: Glider stores less). "
        "Times are seconds for the whole series. Glider runs with its defaults (xdelta3 `-3 -N -S none "
        "-D`, max ratio 0.5, encrypted reference cache); DeltaGlider 6.2.0 with its own (`xdelta3 -9`, "
        "no `-D`).",
        "",
        "Series: "
        + "; ".join(f"{s.name} ({len(s.files)} versions, {s.total_bytes / 1e6:.1f} MB)" for s in series_list)
        + ".",
    ]
    for title, ours, theirs in COMPARISONS:
        lines += ["", f"### {title}", "", *table(tally, groups, ours, theirs)]
    lines += [
        "",
        "Gzip streams (`.tar.gz` sdists, npm `.tgz`): DeltaGlider diffs them after decompressing "
        "(xdelta3 without `-D`) and recompresses on download, so its small deltas can come back as "
        "different bytes and fail its own SHA-256 check (the byte-exact column). Glider never makes a "
        "gzip/bzip2/xz stream a reference (DeltaGlider could not decode a `-D` delta against one) and "
        "stores them direct, exact for both tools.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS)
    parser.add_argument("--series", nargs="*", help="only these series (bench/common.py names)")
    parser.add_argument("--versions", type=int, default=0, help="only the first N versions of each series")
    args = parser.parse_args()
    run = Run()
    series_list = [s for s in all_series(args.series) if not args.series or s.name in args.series]
    if args.versions:
        series_list = [Series(s.name, s.suffix, s.files[: args.versions]) for s in series_list]
    tally = run_all(series_list, args.repeats)
    path = write_fragment("engine", "## Engine", run, render(tally, series_list, args.repeats))
    print(path.read_text())


if __name__ == "__main__":
    main()
