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
import statistics
import tempfile
from pathlib import Path

from app.domain.hashing import sha256_file
from app.engine.node_zlib import locate as locate_node
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from bench.artifact_report import med, table_section
from bench.artifact_runs import BIN, Result, measure_run, pair_run, run_tool, tools_on
from bench.artifact_series import Series, big_tgz_pair, prepare
from bench.engine import tool_env
from bench.sampling import watch_peak

RESULTS = Path(__file__).resolve().parent / "results" / "artifacts.md"
COMMAND = ".venv/bin/python -m bench.artifacts"


def render(series: list[Series], glider: dict[str, Result], dg: dict[str, Result], as_zip: dict[str, Result],
           pair: tuple[Result, Result], runs: int) -> str:  # fmt: skip
    lines = table_section(
        "## Real release artifacts (gzip-aware deltas, zip-family candidates)",
        COMMAND,
        runs,
        "One `glider cp` / `deltaglider cp` process per file for both tools; Glider with its defaults "
        "(gzip-aware deltas on). Stored bytes are every object in the bucket, references included; "
        "times are whole-series medians (min-max) over the runs.",
        series,
        glider,
        dg,
    )
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
            f"- 20 MB .tar.gz vs same-size .zip, {label} upload: {med(t_up)} s vs {med(z_up)} s = "
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


RSS_HEADING = "### Peak RSS, 1 GiB .tar.gz"


def rss_section() -> str:
    """Peak RSS of `glider cp` (and its xdelta3 child) uploading and downloading 1 GiB .tar.gz."""
    first, second = big_tgz_pair()
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

        def as_zip_too(
            index: int, s: Series
        ) -> None:  # same bytes as .zip, once: the .whl within 1.1x target
            if s.name in as_zip:
                run_tool(
                    "glider", s, f"z-{index}", env, store, tmp, as_zip[s.name], first=True, suffix=".zip"
                )

        for run in range(args.runs):
            measure_run(series, run, env, store, tmp, glider, dg, also=as_zip_too if run == 0 else None)
            pair_run(pair, env, store, tmp, pair_results, run)
            # Written after every run, so an interrupted bench still leaves its figures.
            text = render(series, glider, dg, as_zip, pair_results, run + 1)
            _write_fragment(text, keep_rss=True)
        store.close()
    print(text)


if __name__ == "__main__":
    main()
