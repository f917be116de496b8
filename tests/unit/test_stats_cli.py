"""`glider stats` presentation and argument handling (no S3 needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
import pytest
from click.testing import CliRunner

from app.cli.main import cli
from app.cli.stats import format_bytes, parse_bucket, render_json, render_text
from app.services.stats import CacheOutcome, StatsResult
from app.stats.model import StatsMode, summarize


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0.00 B"),
        (1023, "1023.00 B"),
        (1536, "1.50 KiB"),
        (5 * 1024**3, "5.00 GiB"),
        (3 * 1024**6, "3072.00 PiB"),
    ],
)
def test_format_bytes_uses_1024_units(size: int, text: str) -> None:
    assert format_bytes(size) == text


def test_parse_bucket_accepts_s3_urls() -> None:
    assert parse_bucket("s3://releases/") == "releases"
    assert parse_bucket("s3://releases") == "releases"
    assert parse_bucket("releases") == "releases"
    with pytest.raises(click.BadParameter):
        parse_bucket("s3://releases/some/key")


def _result(exact: bool) -> StatsResult:
    stats = summarize(
        "rel", delta_objects=3, direct_objects=1, original_bytes=4 * 1024**3, stored_bytes=512 * 1024**2
    )
    return StatsResult(stats, CacheOutcome.HIT, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), exact, 42.0, 0)


def test_human_output_shows_units_ratio_and_provenance() -> None:
    text = render_text(_result(exact=False), StatsMode.QUICK)
    assert "Original Size:        4.00 GiB (4,294,967,296 bytes)" in text
    assert "Compressed Size:      512.00 MiB" in text
    assert "Savings:              87.5% of the original size" in text
    assert "Compression Ratio" not in text
    assert "approximate (some delta sizes estimated; try --sampled or --detailed)" in text
    assert "hit, computed 2025-01-02 03:04:05 UTC (42s ago)" in text
    assert "Figures:              exact" in render_text(_result(exact=True), StatsMode.DETAILED)


def test_json_output_keeps_the_wire_fields_and_adds_provenance() -> None:
    doc = json.loads(render_json(_result(exact=True), StatsMode.SAMPLED))
    assert doc["total_size"] == 4 * 1024**3
    assert doc["average_compression_ratio"] == 0.875
    assert (doc["mode"], doc["cache"], doc["exact"], doc["computed_at"]) == (
        "sampled", "hit", True, "2025-01-02T03:04:05Z",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--sampled", "--detailed"], "--sampled and --detailed"),
        (["--refresh", "--no-cache"], "--refresh and --no-cache"),
    ],
)
def test_mutually_exclusive_flags_are_usage_errors(flags: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["stats", "some-bucket", *flags])
    assert result.exit_code == 2
    assert message in result.output
    assert "mutually exclusive" in result.output


@pytest.mark.parametrize(
    ("mode", "hint"),
    [(StatsMode.QUICK, "try --sampled or --detailed"), (StatsMode.SAMPLED, "try --detailed")],
)
def test_figures_line_follows_exact_and_the_mode(mode: StatsMode, hint: str) -> None:
    inexact = render_text(_result(exact=False), mode)
    assert f"Figures:              approximate (some delta sizes estimated; {hint})" in inexact
    assert "Figures:              exact" not in inexact
    assert "Figures:              exact" in render_text(_result(exact=True), mode)
