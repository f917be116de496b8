"""The table both artifact benches (bench.artifacts, bench.artifacts_bzxz) open their fragment with:
the heading, the command and machine line, then one row a series, Glider beside deltaglider 6.2.0.
"""

from __future__ import annotations

import os
import platform

from bench.artifact_runs import Result
from bench.artifact_series import Series
from bench.fragment import spread


def med(values: list[float]) -> str:
    """`median (min-max)` with two decimals, or `n/a` for no values."""
    return spread(values) if values else "n/a"


def series_table(series: list[Series], glider: dict[str, Result], dg: dict[str, Result]) -> list[str]:
    """One row a series: stored bytes, later versions' cost, times, byte-exactness, Glider's forms."""
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
            f"{med(g.up)} / {med(d.up)} | "
            f"{med(g.down)} / {med(d.down)} | {g.exact}/{len(s.files)} / {d.exact}/{len(s.files)} | "
            f"{'; '.join(g.files)} |"
        )
    return lines


def table_section(heading: str, command: str, runs: int, about: str, series: list[Series],
                  glider: dict[str, Result], dg: dict[str, Result]) -> list[str]:  # fmt: skip
    """`heading`, the command and the machine (load average now, at the end of the run), `about`
    (what was run, after "SeaweedFS on loopback."), and the series table."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        heading,
        "",
        f"Command: `{command}` ({runs} runs). Machine: {os.cpu_count()} cores shared with other work "
        f"(load average {load} at the end), {platform.machine()}, Python {platform.python_version()}, "
        f"SeaweedFS on loopback. {about}",
        "",
        *series_table(series, glider, dg),
    ]
