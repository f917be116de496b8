"""Real release artifacts: Glider (gzip-aware deltas, zip-family candidates) vs deltaglider 6.2.0.

Run: `.venv/bin/python -m bench.artifacts` (`--runs N`, default 5). Downloads its series once into
bench/data/artifacts/ (`pip download --no-deps`, `npm pack`; kept between runs, gitignored), makes
a GNU-gzip series and a 20 MB tar.gz/zip pair locally, starts one SeaweedFS on loopback, and per
run and series uploads every version in order with `glider cp --json` and `deltaglider cp` (one
process per file each), then downloads every version back and compares SHA-256. Wheels are also
uploaded by Glider under `.zip` names (the same bytes), for the "within 1.1x" target. Writes
bench/results/artifacts.md; stored bytes, forms and reasons come from the first run (they do not
vary), times are medians (min-max) over the runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from app.caches.keys import generate_key
from app.domain.hashing import sha256_file
from app.engine.node_zlib import locate as locate_node
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from bench.common import DATA, npm_pack, pip_download
from bench.engine import tool_env

_WORDS = ("build", "release", "module", "config", "value", "return", "import", "class", "test", "data")

BIN = Path(sys.executable).parent
HERE = DATA / "artifacts"
RESULTS = Path(__file__).resolve().parent / "results" / "artifacts.md"
COMMAND = ".venv/bin/python -m bench.artifacts"

PYPI = (  # (series, package, versions, kind, file suffix Glider stores it under)
    ("requests-sdist", "requests", ("2.31.0", "2.32.0", "2.32.3"), "sdist"),
    ("django-sdist", "Django", ("5.0.1", "5.0.2", "5.0.3", "5.0.4"), "sdist"),
    ("boto3-wheel", "boto3", tuple(f"1.35.{n}" for n in range(6)), "wheel"),
    ("numpy-wheel", "numpy", ("1.26.2", "1.26.3", "1.26.4"), "wheel"),
)
NPM = (
    ("lodash-npm", "lodash", ("4.17.19", "4.17.20", "4.17.21")),
    ("typescript-npm", "typescript", ("5.4.2", "5.4.3", "5.4.4", "5.4.5")),
)


@dataclass(frozen=True)
class Series:
    name: str
    files: tuple[Path, ...]
    zlib_gzip: bool = False  # a zlib-made .tar.gz/.tgz series (the 15% / 45% targets)

    @property
    def total(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def _pip(package: str, version: str, kind: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    found = [
        p for p in folder.iterdir() if f"-{version}" in p.name and p.name.lower().startswith(package.lower())
    ]
    if found:
        return found[0]
    platform: tuple[str, ...] = ()
    if kind == "wheel" and package == "numpy":
        platform = (
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--platform",
            "manylinux2014_x86_64",
        )
    return pip_download(package, version, kind, folder, platform)


def _npm(package: str, version: str, folder: Path) -> Path:
    return npm_pack(package, version, folder / f"{package}-{version}.tgz")


def _gnu_series(source: Series) -> Series:
    """The requests sdists' tars recompressed by GNU gzip -9 (its own deflate, not zlib)."""
    folder = HERE / "gnu-gzip-tar"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for path in source.files:
        target = folder / path.name.replace(".tar.gz", "-gnu9.tar.gz")
        if not target.exists():
            raw = gzip.decompress(path.read_bytes())
            target.write_bytes(
                subprocess.run(["gzip", "-9", "-n", "-c"], input=raw, capture_output=True, check=True).stdout
            )
        files.append(target)
    return Series("gnu-gzip9-tar", tuple(files))


def _tree(rng: random.Random, files: int, size: int) -> dict[str, bytes]:
    return {
        f"src/m{i}/f{i}.txt": " ".join(
            rng.choice(_WORDS) + str(rng.randrange(5000)) for _ in range(size // 9)
        ).encode()
        for i in range(files)
    }


def same_size_pair() -> tuple[Series, Series]:
    """Two versions of one ~20 MB tree as .tar.gz (Python tarfile, zlib level 6) and as .zip."""
    folder = HERE / "20mb"
    folder.mkdir(parents=True, exist_ok=True)
    tgz = (folder / "app-1.tar.gz", folder / "app-2.tar.gz")
    zips = (folder / "app-1.zip", folder / "app-2.zip")
    if not all(p.exists() for p in (*tgz, *zips)):
        rng = random.Random(20)
        tree = _tree(rng, 400, 150_000)
        for version, (tpath, zpath) in enumerate(zip(tgz, zips, strict=True)):
            if version:
                for i in rng.sample(range(400), 8):
                    tree[f"src/m{i}/f{i}.txt"] = _tree(rng, 1, 150_000)["src/m0/f0.txt"]
            with tarfile.open(tpath, "w:gz", compresslevel=6) as tar:
                for name in sorted(tree):
                    path = folder / "tmp.txt"
                    path.write_bytes(tree[name])
                    tar.add(path, arcname=name)
            with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
                for name in sorted(tree):
                    zf.writestr(name, tree[name])
        (folder / "tmp.txt").unlink(missing_ok=True)
    return Series("20mb-tar-gz", tgz, zlib_gzip=True), Series("20mb-zip", zips)


def prepare() -> tuple[list[Series], tuple[Series, Series]]:
    out = []
    for name, package, versions, kind in PYPI:
        files = tuple(_pip(package, v, kind, HERE / name) for v in versions)
        out.append(Series(name, files, zlib_gzip=kind == "sdist"))
    for name, package, versions in NPM:
        out.append(Series(name, tuple(_npm(package, v, HERE / name) for v in versions), zlib_gzip=True))
    out.append(_gnu_series(out[0]))
    return out, same_size_pair()


@dataclass
class Result:
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


def _med(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})" if values else "n/a"


def series_table(series: list[Series], glider: dict[str, Result], dg: dict[str, Result]) -> list[str]:
    """The per-series table both artifact benches print."""
    lines = [
        "| series | files | original MB | stored MB Glider / DG | stored % of original Glider / DG | "
        "later versions, Glider % of their size | upload s Glider / DG | download s Glider / DG | "
        "byte-exact Glider / DG | Glider: each file's form (reason) and stored bytes |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for s in series:
        g, d = glider[s.name], dg[s.name]
        later = ", ".join(f"{r:.1%}" for r in g.later_ratios) or "none"
        lines.append(
            f"| {s.name} | {len(s.files)} | {s.total / 1e6:.2f} | {g.stored / 1e6:.2f} / "
            f"{d.stored / 1e6:.2f} | {g.stored / s.total:.1%} / {d.stored / s.total:.1%} | {later} | "
            f"{_med(g.up)} / {_med(d.up)} | "
            f"{_med(g.down)} / {_med(d.down)} | {g.exact}/{len(s.files)} / {d.exact}/{len(s.files)} | "
            f"{'; '.join(g.files)} |"
        )
    return lines


def render(series: list[Series], glider: dict[str, Result], dg: dict[str, Result], as_zip: dict[str, Result],
           pair: tuple[Result, Result], runs: int) -> str:  # fmt: skip
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "## Real release artifacts (gzip-aware deltas, zip-family candidates)",
        "",
        f"Command: `{COMMAND}` ({runs} runs). Machine: {os.cpu_count()} cores shared with other work "
        f"(load average {load} at the end), {platform.machine()}, Python {platform.python_version()}, "
        "SeaweedFS on loopback. One `glider cp` / `deltaglider cp` process per file for both tools; "
        "Glider with its defaults (gzip-aware deltas on). Stored bytes are every object in the "
        "bucket, references included; times are whole-series medians (min-max) over the runs.",
        "",
        *series_table(series, glider, dg),
    ]
    lines += ["", "### Targets", ""]
    for s in series:
        g = glider[s.name]
        if s.zlib_gzip:
            worst = max(g.later_ratios, default=1.0)
            whole = g.stored / s.total
            ok = worst <= 0.15 and (len(s.files) != 4 or whole <= 0.45)
            four = " (target <= 45% for 4 versions)" if len(s.files) == 4 else ""
            lines.append(
                f"- {s.name}: worst later version {worst:.1%} (target <= 15%), whole series {whole:.1%}"
                f"{four}: {'met' if ok else 'MISSED'}"
            )
        if s.name in as_zip:
            z = as_zip[s.name]
            ratio = g.stored / z.stored
            verdict = "met" if ratio <= 1.1 else "MISSED"
            lines.append(
                f"- {s.name}: stored as .whl {g.stored / 1e6:.2f} MB vs the same bytes as .zip "
                f"{z.stored / 1e6:.2f} MB = {ratio:.3f}x (target <= 1.1x): {verdict}"
            )
    exact = all(glider[s.name].exact == len(s.files) for s in series)
    lines.append(f"- every file byte-exact through Glider: {'met' if exact else 'MISSED'}")
    tgz, zp = pair
    for label, t_up, z_up in (
        ("first file (the reference)", tgz.first_up, zp.first_up),
        ("second version (a delta)", tgz.up, zp.up),
    ):
        ratio = statistics.median(t_up) / statistics.median(z_up)
        lines.append(
            f"- 20 MB .tar.gz vs same-size .zip, {label} upload: {_med(t_up)} s vs {_med(z_up)} s = "
            f"{ratio:.2f}x (target <= 2x): {'met' if ratio <= 2 else 'MISSED'}"
        )
    lines += [
        f"- 20 MB pair stored: {tgz.files[-1]} vs {zp.files[-1]}; wall and CPU per upload, and the "
        "proof's deflate floor: `python -m bench.gzip_upload` (bench/results/gzip_upload.md)",
        "",
        "deltaglider 6.2.0 stores gzip series small but its own `cp` cannot give most of them back "
        "(its xdelta3 recompresses on download: the byte-exact column).",
        "",
        npm_note(),
    ]
    return "\n".join(lines) + "\n"


def npm_note() -> str:
    """Which node made the node-zlib recipes, and why the lodash files are what they are."""
    node = locate_node(None)
    used = f"`{node.binary}` (zlib {node.zlib_version})" if node else "no node (family off)"
    return (
        f"npm tarballs: node-zlib recipes ran through {used}. typescript 5.4.x needs them (node's "
        "zlib at level 9; stock zlib rebuilds none). lodash 4.17.21 is stock zlib level 6; 4.17.19 "
        "and 4.17.20 are rebuilt by no stock setting and no node 20 setting (older node zlib builds "
        "made them), so 4.17.19 is the reference kept verbatim and 4.17.20 goes direct "
        "(no-exact-recipe)."
    )


def _pair_run(pair: tuple[Series, Series], env: dict[str, str], store: S3ObjectStore, tmp: Path,
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


RSS_HEADING = "### Peak RSS, 1 GiB .tar.gz"


def _big_tgz_pair() -> tuple[Path, Path]:
    """Two ~1 GiB .tar.gz (zlib level 1 over incompressible members), the second with 16 members
    replaced: written member by member, never whole in memory."""
    folder = HERE / "1gib"
    folder.mkdir(parents=True, exist_ok=True)
    pair = (folder / "big-1.tar.gz", folder / "big-2.tar.gz")
    if all(p.exists() for p in pair):
        return pair
    member = folder / "member.bin"
    for version, path in enumerate(pair):
        rng = random.Random(1)
        with tarfile.open(path, "w:gz", compresslevel=1) as tar:
            for n in range(128):
                data = rng.randbytes(8 << 20)
                if version and n % 8 == 3:
                    data = random.Random(n).randbytes(8 << 20)
                member.write_bytes(data)
                tar.add(member, arcname=f"blob/{n:03d}.bin")
    member.unlink()
    return pair


def rss_section() -> str:
    """Peak RSS of `glider cp` (and its xdelta3 child) uploading and downloading 1 GiB .tar.gz."""
    from bench.sampling import watch_peak  # noqa: PLC0415 - only this part needs it

    first, second = _big_tgz_pair()
    rows = []
    with SeaweedServer() as server, tempfile.TemporaryDirectory(prefix="glider-rss-") as tmp_name:
        tmp = Path(tmp_name)
        env = tool_env(server) | {"DG_CACHE_BACKEND": "memory", "DG_WORK_DIR": str(tmp)}
        store = S3ObjectStore(server.endpoint_url, "us-east-1", server.access_key, server.secret_key)
        store.create_bucket("rss")
        glider = str(BIN / "glider")
        steps = [
            ("upload 1 GiB .tar.gz (reference)", [glider, "cp", str(first), "s3://rss/big/big-1.tar.gz"]),
            ("upload 1 GiB .tar.gz (gzip-aware delta)", [glider, "cp", str(second), "s3://rss/big/big-2.tar.gz"]),
            ("download it (cold cache: expand reference, decode, recompress)",
             [glider, "cp", "s3://rss/big/big-2.tar.gz", str(tmp / "out.tar.gz")]),
        ]  # fmt: skip
        for name, argv in steps:
            peak = watch_peak(argv, env)
            rows.append(f"| {name} | {peak.glider_mib:.0f} | {peak.child_mib:.0f} | {peak.seconds:.1f} |")
        exact = sha256_file(tmp / "out.tar.gz") == sha256_file(second)
        delta = store.head("rss", "big/big-2.tar.gz.delta")
        store.close()
    return "\n".join([
        RSS_HEADING,
        "",
        f"`{COMMAND} --rss-only`: `glider cp` processes sampled every 20 ms with psutil. Two "
        f"{first.stat().st_size / 2**30:.2f} GiB `.tar.gz` (128 incompressible 8 MiB members, zlib "
        "level 1); the second replaces 16 members. Target: under 300 MiB for the Glider process.",
        "",
        "| step | Glider peak RSS MiB | xdelta3 peak RSS MiB | wall s |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        f"Download byte-exact: {'yes' if exact else 'NO'}; stored delta {delta.size / 2**20:.1f} MiB "
        f"({delta.metadata.get('dg-form', 'plain')} form).",
    ]) + "\n"  # fmt: skip


def _write_fragment(text: str, *, keep_rss: bool) -> None:
    """Write bench/results/artifacts.md; `keep_rss` carries over a peak-RSS section already there."""
    if keep_rss and RESULTS.exists() and RSS_HEADING in RESULTS.read_text():
        text = text.rstrip("\n") + "\n\n" + RSS_HEADING + RESULTS.read_text().split(RSS_HEADING, 1)[1]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rss-only", action="store_true", help="only the 1 GiB peak-RSS part (appended)")
    args = parser.parse_args()
    if args.rss_only:
        section = rss_section()
        previous = RESULTS.read_text() if RESULTS.exists() else ""
        _write_fragment(previous.split(RSS_HEADING)[0].rstrip("\n") + "\n\n" + section, keep_rss=False)
        print(section)
        return
    series, pair = prepare()
    glider: dict[str, Result] = {s.name: Result() for s in series}
    dg: dict[str, Result] = {s.name: Result() for s in series}
    as_zip: dict[str, Result] = {s.name: Result() for s in series if s.name.endswith("-wheel")}
    pair_results = (Result(), Result())
    with SeaweedServer() as server, tempfile.TemporaryDirectory(prefix="glider-artifacts-") as tmp_name:
        tmp = Path(tmp_name)
        env, store = tools_on(server, tmp)
        for run in range(args.runs):
            first = run == 0
            for index, s in enumerate(series):
                run_tool("glider", s, f"g-{run}-{index}", env, store, tmp, glider[s.name], first=first)
                run_tool("deltaglider", s, f"d-{run}-{index}", env, store, tmp, dg[s.name], first=first)
                if first and s.name in as_zip:
                    run_tool(
                        "glider", s, f"z-{index}", env, store, tmp, as_zip[s.name], first=True, suffix=".zip"
                    )
                print(
                    f"run {run} {s.name}: glider {glider[s.name].up[-1]:.1f}s dg {dg[s.name].up[-1]:.1f}s",
                    flush=True,
                )
            _pair_run(pair, env, store, tmp, pair_results, run)
            # Written after every run, so an interrupted bench still leaves its figures.
            text = render(series, glider, dg, as_zip, pair_results, run + 1)
            _write_fragment(text, keep_rss=True)
        store.close()
    print(text)


if __name__ == "__main__":
    main()
