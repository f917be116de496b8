"""`glider stats BUCKET [--sampled | --detailed] [--refresh | --no-cache] [--json]`.

Talks to S3 directly (no server needed). Start-up matters (a warm cache answers in about one
LIST), so everything beyond click is imported inside the command, and with static keys in the
environment botocore is never imported by this command. With --server URL (or GLIDER_SERVER) the figures
come from a running service's GET /buckets/{b}/stats instead: the same table, and `--json`
prints the API's JSON as it came.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, NoReturn

import click

from app.cli.remote import check_mode, open_client, server_options
from app.cli.settings import command_settings

if TYPE_CHECKING:
    from tqdm import tqdm

    from app.services.stats import StatsResult, StatsService
    from app.settings import Settings
    from app.stats.compute import StatsProgress
    from app.stats.model import StatsMode

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(size: float) -> str:
    """1024-based units with two decimals: 1536 -> '1.50 KiB'."""
    for unit in _UNITS[:-1]:
        if abs(size) < 1024.0:
            return f"{size:.2f} {unit}"
        size /= 1024.0
    return f"{size:.2f} {_UNITS[-1]}"


def parse_bucket(text: str) -> str:
    """Accept `bucket`, `s3://bucket` and `s3://bucket/` (as DeltaGlider does)."""
    if text.startswith("s3://"):
        bucket, _, rest = text[5:].partition("/")
        if rest.strip("/"):
            raise click.BadParameter(
                "stats cover a whole bucket: give s3://BUCKET without a key", param_hint="BUCKET"
            )
        return bucket
    return text


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h ago"
    return f"{seconds / 86400:.1f}d ago"


# What to ask for when figures are estimates: a mode that HEADs more than this one.
_MORE_EXACT = {
    "quick": "try --sampled or --detailed",
    "sampled": "try --detailed",
    "detailed": "objects changed while computing; run again",
}


def render_text(result: StatsResult, mode: StatsMode) -> str:
    """The readable table. `Figures` says exactly what the API's `exact` says."""
    s = result.stats
    figures = (
        "exact"
        if result.exact
        else f"approximate (some delta sizes estimated; {_MORE_EXACT.get(mode.value, 'try --detailed')})"
    )
    stamp = result.computed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"Bucket Statistics: {s.bucket}  (mode: {mode.value})",
        "=" * 60,
        f"Total Objects:        {s.object_count:,}",
        f"  Delta Objects:      {s.delta_objects:,}",
        f"  Direct Objects:     {s.direct_objects:,}",
        "",
        f"Original Size:        {format_bytes(s.total_size)} ({s.total_size:,} bytes)",
        f"Compressed Size:      {format_bytes(s.compressed_size)} ({s.compressed_size:,} bytes)",
        f"Space Saved:          {format_bytes(s.space_saved)} ({s.space_saved:,} bytes)",
        # average_compression_ratio is the savings fraction (space_saved / total_size).
        f"Savings:              {s.average_compression_ratio:.1%} of the original size",
        "",
        f"Figures:              {figures}",
        f"Cache:                {result.cache.value}, computed {stamp} ({_age(result.age_seconds)})",
    ]
    return "\n".join(lines)


def render_json(result: StatsResult, mode: StatsMode) -> str:
    payload: dict[str, object] = dict(result.stats.to_dict())
    payload |= {
        "mode": mode.value,
        "exact": result.exact,
        "cache": result.cache.value,
        "computed_at": result.computed_at.isoformat().replace("+00:00", "Z"),
        "age_seconds": round(result.age_seconds, 3),
        "head_requests": result.heads,
    }
    return json.dumps(payload, indent=2)


class _ProgressBar:
    """A tqdm bar on stderr, created on the first report; silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self._bar: tqdm[NoReturn] | None = None
        self._enabled = sys.stderr.isatty()

    def __call__(self, report: StatsProgress) -> None:
        if not self._enabled:
            return
        bar = self._bar
        if bar is None:
            from tqdm import tqdm  # noqa: PLC0415 - only on a terminal

            bar = tqdm(file=sys.stderr, unit="obj", leave=False, dynamic_ncols=True)
            self._bar = bar
        if report.phase == "listing":
            bar.set_description("listing")
            bar.n = report.objects_listed
        else:
            bar.set_description(f"{report.phase} ({report.objects_listed:,} listed)")
            bar.unit = "HEAD"
            bar.total = report.heads_planned or None
            bar.n = report.heads_done
        bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def build_stats_service(settings: Settings) -> StatsService:
    """A StatsService on the S3 store Settings describe (pool sized for the HEAD concurrency)."""
    from app.components import build_store  # noqa: PLC0415
    from app.services.stats import StatsService  # noqa: PLC0415

    heads = settings.stats.head_concurrency
    store = build_store(settings.s3, max_connections=heads)
    return StatsService(store, head_concurrency=heads)


@click.command("stats")
@click.argument("bucket")
@click.option("--sampled", is_flag=True, help="One HEAD per deltaspace whose sizes are unknown.")
@click.option("--detailed", is_flag=True, help="Every delta's original size (HEADs only for unknown ones).")
@click.option("--refresh", is_flag=True, help="Recompute now even if the cached figures are valid.")
@click.option(
    "--no-cache", "no_cache", is_flag=True, help="Neither read nor write anything under .deltaglider/."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@server_options
def stats_command(  # noqa: PLR0917 - click passes every option positionally by name
    bucket: str,
    sampled: bool,
    detailed: bool,
    refresh: bool,
    no_cache: bool,
    as_json: bool,
    server: str | None,
    token: str | None,
) -> None:
    """Bucket statistics: objects, original vs stored bytes, space saved.

    Modes: quick (default, LIST only plus sizes learned earlier), --sampled, --detailed.
    The figures are cached in the bucket (.deltaglider/stats_<mode>.json) and validated by a
    LIST on every call; a changed bucket only costs HEADs for what changed.
    """
    if sampled and detailed:
        raise click.UsageError("--sampled and --detailed are mutually exclusive: choose one mode")
    if refresh and no_cache:
        raise click.UsageError(
            "--refresh and --no-cache are mutually exclusive: --refresh rewrites the cache, "
            "--no-cache leaves it untouched"
        )
    from app.domain.keys import validate_bucket  # noqa: PLC0415
    from app.stats.model import StatsMode  # noqa: PLC0415

    name = validate_bucket(parse_bucket(bucket))
    mode = StatsMode.DETAILED if detailed else StatsMode.SAMPLED if sampled else StatsMode.QUICK
    check_mode(server)
    if server is not None:
        _stats_via_server(server, token, name, mode, refresh=refresh, use_cache=not no_cache, as_json=as_json)
        return
    service = build_stats_service(command_settings())
    bar = _ProgressBar()
    try:
        result = service.get(name, mode, refresh=refresh, use_cache=not no_cache, progress=bar)
    finally:
        bar.close()
    click.echo(render_json(result, mode) if as_json else render_text(result, mode))


def _stats_via_server(
    server: str,
    token: str | None,
    bucket: str,
    mode: StatsMode,
    *,
    refresh: bool,
    use_cache: bool,
    as_json: bool,
) -> None:
    from app.services.stats_result import CacheOutcome, StatsResult  # noqa: PLC0415

    with open_client(server, token) as client:
        answer = client.stats(bucket, mode, refresh=refresh, use_cache=use_cache)
    if as_json:
        click.echo(json.dumps(answer.document, indent=2))
        return
    result = StatsResult(
        answer.stats, CacheOutcome(answer.cache), answer.computed_at, answer.exact, answer.age_seconds
    )
    click.echo(render_text(result, answer.mode))


def register(group: click.Group) -> None:
    """Attach this module's commands to the top-level group."""
    group.add_command(stats_command)
