"""What every bench module writes: one markdown fragment, `bench/results/<name>.md`.

A fragment holds its heading, the exact command that produced it (as invoked, arguments
included), the machine's core count and load average at the start and the end of the run, and
the module's tables. `python -m bench.report` assembles `bench/RESULTS.md` from the fragments, so
every figure in it comes from a command anyone can rerun.

Figures are medians of `repeats` runs (at least 5 by default) shown with their min-max, via
`spread`; like-for-like comparisons are given as ratios first.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIN_REPEATS = 5


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def invoked_command() -> str:
    """The command line that started this process, as `.venv/bin/python -m bench.<name> ...`."""
    module = sys.modules["__main__"].__spec__
    name = module.name if module is not None else Path(sys.argv[0]).stem
    return " ".join([".venv/bin/python", "-m", name, *sys.argv[1:]])


@dataclass
class Run:
    """The conditions of one bench run; `finish` records the load at the end."""

    command: str = field(default_factory=invoked_command)
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    load_start: str = field(default_factory=_load)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def preamble(self) -> str:
        return (
            f"Command: `{self.command}`. Machine: {self.cores} cores ({platform.machine()}, Python "
            f"{platform.python_version()}), shared with other work; load average (1 / 5 / 15 min) "
            f"{self.load_start} at the start, {_load()} at the end; run {self.started:%Y-%m-%d %H:%M} UTC."
        )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float], digits: int = 2) -> str:
    """`median (min-max)` of `values`, e.g. `1.23 (1.20-1.31)`."""
    return f"{median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def ratio_spread(numerators: Sequence[float], denominators: Sequence[float], digits: int = 2) -> str:
    """Pairwise ratios (run i against run i, so drift of the machine cancels) as `spread`."""
    pairs = [a / b for a, b in zip(numerators, denominators, strict=True) if b]
    return f"{spread(pairs, digits)}x" if pairs else "n/a"


def write_fragment(name: str, heading: str, run: Run, body: str, directory: Path = RESULTS_DIR) -> Path:
    """Write `<directory>/<name>.md`: heading, conditions, body. Returns the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.md"
    text = f"{heading}\n\n{run.preamble()}\n\n{body.strip()}\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
