"""bench/RESULTS.md is assembled from the fragments bench modules write, in a fixed order."""

from __future__ import annotations

from pathlib import Path

from bench.fragment import Run, ratio_spread, spread, write_fragment
from bench.report import assemble, fragments


def test_fragments_carry_command_cores_and_load(tmp_path: Path) -> None:
    run = Run(command=".venv/bin/python -m bench.engine --repeats 5")
    path = write_fragment("engine", "## Engine", run, "| a | b |\n|---|---|\n| 1 | 2 |", tmp_path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("## Engine\n\nCommand: `.venv/bin/python -m bench.engine --repeats 5`.")
    assert f"{run.cores} cores" in text
    assert "load average (1 / 5 / 15 min)" in text
    assert text.endswith("| 1 | 2 |\n")


def test_report_orders_known_fragments_first_then_the_rest(tmp_path: Path) -> None:
    run = Run(command="x")
    for name, heading in (("zeta", "## Zeta"), ("cache", "## Reference cache"), ("engine", "## Engine")):
        write_fragment(name, heading, run, f"body of {name}", tmp_path)
    assert [p.stem for p in fragments(tmp_path)] == ["engine", "cache", "zeta"]
    text = assemble(tmp_path)
    assert text.startswith("# Benchmark results\n")
    assert text.index("## Engine") < text.index("## Reference cache") < text.index("## Zeta")
    assert "- [Reference cache](#reference-cache)" in text
    assert text.endswith("body of zeta\n")


def test_spread_is_median_with_min_and_max() -> None:
    assert spread([3.0, 1.0, 2.0, 10.0, 2.5]) == "2.50 (1.00-10.00)"
    assert ratio_spread([2.0, 4.0, 9.0], [1.0, 2.0, 3.0]) == "2.00 (2.00-3.00)x"
