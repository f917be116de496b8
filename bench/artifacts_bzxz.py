"""Real release artifacts as .tar.bz2 and .tar.xz: Glider (bzip2/xz content deltas) vs deltaglider 6.2.0.

Run: `.venv/bin/python -m bench.artifacts_bzxz` (`--runs N`, default 5). PyPI and npm publish no
`.tar.bz2`/`.tar.xz` of these packages, so the real requests and Django sdists and lodash npm
tarballs (downloaded once by `bench.artifact_series`' helpers into bench/data/artifacts/) are
decompressed and their exact tars recompressed by the real tools: `bzip2 -9`, `xz -6 -T1`
(liblzma's single-threaded encoder: a recipe exists), `xz -6 -T0` (multi-threaded: no recipe,
the fallback), and `bzip2 -6`, `xz -9 -T1` (not the tools' defaults, which deltaglider's
recompression assumes). Uploads, downloads and the table work as in `bench.artifacts` (one CLI process per
file, both tools, same SeaweedFS, same run). Writes bench/results/artifacts_bzxz.md.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import tempfile
from pathlib import Path

from app.storage.seaweed import SeaweedServer
from bench.artifact_report import table_section
from bench.artifact_runs import Result, measure_run, tools_on
from bench.artifact_series import HERE, Series, npm_file, pypi_file
from bench.fragment import RESULTS_DIR

RESULTS = RESULTS_DIR / "artifacts_bzxz.md"
COMMAND = ".venv/bin/python -m bench.artifacts_bzxz"

SOURCES = {  # name: (package, versions, "sdist" | "npm")
    "requests": ("requests", ("2.31.0", "2.32.0", "2.32.3"), "sdist"),
    "django": ("Django", ("5.0.1", "5.0.2", "5.0.3", "5.0.4"), "sdist"),
    "lodash": ("lodash", ("4.17.19", "4.17.20", "4.17.21"), "npm"),
}
SERIES = (  # (series, source, suffix, compressor argv)
    ("requests-tar-bz2-9", "requests", ".tar.bz2", ("bzip2", "-9", "-c")),
    ("django-tar-bz2-9", "django", ".tar.bz2", ("bzip2", "-9", "-c")),
    ("requests-tar-xz-6-T1", "requests", ".tar.xz", ("xz", "-6", "-T1", "-c")),
    ("lodash-tar-xz-6-T1", "lodash", ".tar.xz", ("xz", "-6", "-T1", "-c")),
    ("requests-tar-xz-6-T0", "requests", ".tar.xz", ("xz", "-6", "-T0", "-c")),
    # not the tools' default levels: deltaglider recompresses with the defaults on read
    ("requests-tar-bz2-6", "requests", ".tar.bz2", ("bzip2", "-6", "-c")),
    ("requests-tar-xz-9-T1", "requests", ".tar.xz", ("xz", "-9", "-T1", "-c")),
)


def _source(name: str) -> list[Path]:
    package, versions, kind = SOURCES[name]
    if kind == "npm":
        return [npm_file(package, v, HERE / f"{name}-npm") for v in versions]
    return [pypi_file(package, v, "sdist", HERE / f"{name}-sdist") for v in versions]


def prepare() -> list[Series]:
    """Each series' files, made once from the real downloads and kept between runs."""
    out = []
    for series, source, suffix, argv in SERIES:
        folder = HERE / series
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for path in _source(source):
            stem = path.name.removesuffix(".tar.gz").removesuffix(".tgz")
            target = folder / f"{stem}{suffix}"
            if not target.exists():
                tar = gzip.decompress(path.read_bytes())
                made = subprocess.run(list(argv), input=tar, capture_output=True, check=True).stdout
                target.write_bytes(made)
            files.append(target)
        out.append(Series(series, tuple(files)))
    return out


def render(series: list[Series], glider: dict[str, Result], dg: dict[str, Result], runs: int) -> str:
    lines = table_section(
        "## Real release artifacts as .tar.bz2 and .tar.xz (bzip2/xz content deltas)",
        COMMAND,
        runs,
        "The real requests/Django sdists and lodash npm tarballs, their exact tars recompressed by "
        "`bzip2 -9`/`-6`, `xz -6 -T1`, `xz -6 -T0` and `xz -9 -T1` (PyPI and npm publish no bzip2/xz "
        "forms of them). One `glider cp` / `deltaglider cp` process per file; Glider with its defaults. "
        "Stored bytes are every object in the bucket, references included; times are whole-series "
        "medians (min-max) over the runs.",
        series,
        glider,
        dg,
    )
    lines += ["", "### Findings", ""]
    for s in series:
        g, d = glider[s.name], dg[s.name]
        exact = "every file byte-exact" if g.exact == len(s.files) else f"ONLY {g.exact}/{len(s.files)} exact"
        lines.append(
            f"- {s.name}: Glider stores {g.stored / s.total:.1%} of the series ({exact}), "
            f"deltaglider 6.2.0 {d.stored / s.total:.1%} ({d.exact}/{len(s.files)} byte-exact on download); "
            f"Glider / deltaglider stored bytes = {g.stored / max(d.stored, 1):.2f}x"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    series = prepare()
    glider: dict[str, Result] = {s.name: Result() for s in series}
    dg: dict[str, Result] = {s.name: Result() for s in series}
    with SeaweedServer() as server, tempfile.TemporaryDirectory(prefix="glider-bzxz-") as tmp_name:
        tmp = Path(tmp_name)
        env, store = tools_on(server, tmp)
        for run in range(args.runs):
            measure_run(series, run, env, store, tmp, glider, dg)
            text = render(series, glider, dg, run + 1)  # after every run: an interrupted bench keeps figures
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(text)
        store.close()
    print(text)


if __name__ == "__main__":
    main()
