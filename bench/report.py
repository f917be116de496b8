"""Assemble bench/RESULTS.md from the fragments in bench/results/ (`python -m bench.report`).

Each bench module writes its own fragment (see bench/fragment.py); this only concatenates them,
in a fixed order for the known ones and alphabetically after that, under a short header and a
table of contents. `make bench` runs every bench and then this.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench.fragment import RESULTS_DIR

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ORDER = ("engine", "rss", "codec_levels", "cache", "service", "replicas", "stats", "startup", "artifacts")
HEADER = """# Benchmark results

Assembled by `python -m bench.report` from `bench/results/*.md`; each section was written by the
bench module its command names, with the machine's core count and load average during the run.
`make bench` reruns every bench and this report. Figures are medians of at least five runs with
min-max in parentheses unless a section says otherwise; comparisons with `deltaglider` 6.2.0 are
like for like (a process against a process, in-process against its Python SDK) and given as
ratios first.
"""


def fragments(directory: Path = RESULTS_DIR) -> list[Path]:
    found = {path.stem: path for path in directory.glob("*.md")}
    known = [found.pop(name) for name in ORDER if name in found]
    return known + [found[name] for name in sorted(found)]


def _anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")


def assemble(directory: Path = RESULTS_DIR) -> str:
    parts = [path.read_text(encoding="utf-8").strip() for path in fragments(directory)]
    headings = [part.splitlines()[0].removeprefix("## ").strip() for part in parts if part.startswith("## ")]
    contents = "\n".join(f"- [{title}](#{_anchor(title)})" for title in headings)
    return "\n\n".join([HEADER.strip(), contents, *parts]).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if RESULTS.md is not up to date")
    args = parser.parse_args()
    text = assemble()
    if args.check:
        raise SystemExit(0 if RESULTS.exists() and RESULTS.read_text(encoding="utf-8") == text else 1)
    RESULTS.write_text(text, encoding="utf-8")
    print(f"{RESULTS}: {len(fragments())} sections")


if __name__ == "__main__":
    main()
