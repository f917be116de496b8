"""CLI commands for consumers of stored artifacts: `fetch`, `vc add|update|fetch`, `prefill`.

All of them go through the asset cache (`DG_ASSET_CACHE_DIR`, default `<user cache>/glider/assets`)
and read S3 directly through the delta engine, or through a Glider server when
`DG_ASSET_SERVER_URL` is set (publishing always needs direct S3). Paths are printed on stdout,
one per line; warnings (a stale copy served) and progress go to stderr.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import click
from tqdm import tqdm

from app.assets.cache import AssetCache
from app.assets.engine_source import EngineSource
from app.assets.http_source import GliderServerSource
from app.assets.manifest import Manifest
from app.assets.prefill import PrefillResult, prefill, read_target_list
from app.assets.revalidation import Freshness, RevalidationPolicy
from app.assets.source import AssetSource
from app.assets.versioned import VersionedCache
from app.assets.versions import INITIAL_VERSION, Bump, Version
from app.cli.output import exit_code_for
from app.cli.settings import command_settings
from app.components import build_engine, build_store
from app.errors import InvalidInput
from app.observability.logging import configure_logging
from app.settings import Settings, default_cache_root

F = TypeVar("F", bound=Callable[..., object])


def _engine_source(settings: Settings, stack: contextlib.ExitStack) -> EngineSource:
    store = build_store(settings.s3)
    stack.callback(store.close)
    engine = build_engine(settings, store)
    return EngineSource(engine, store)


@contextlib.contextmanager
def open_cache(settings: Settings, *, direct: bool = False) -> Iterator[AssetCache]:
    """The asset cache the settings describe; `direct` forces S3 even when a server is set."""
    assets = settings.assets
    configure_logging("WARNING", json_format=False)
    with contextlib.ExitStack() as stack:
        source: AssetSource
        if assets.server_url and not direct:
            token = assets.server_token.get_secret_value() if assets.server_token else None
            http = GliderServerSource(assets.server_url, token, timeout=settings.s3.read_timeout_seconds)
            stack.callback(http.close)
            source = http
        else:
            source = _engine_source(settings, stack)
        policy = RevalidationPolicy(
            Freshness.after(assets.max_age_seconds),
            max_stale_seconds=assets.max_stale_seconds,
            immutable_buckets=frozenset(assets.immutable_buckets),
        )
        yield AssetCache(assets.cache_dir or default_cache_root() / "assets", source, policy)


def _endpoint_option(fn: F) -> F:
    return click.option(
        "--endpoint-url", default=None, help="S3 endpoint (default: AWS_ENDPOINT_URL / DG_S3_ENDPOINT_URL)."
    )(fn)


def _vc_options(fn: F) -> F:
    fn = click.option(
        "--manifest",
        "manifest",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="The manifest JSON file (checked in with the code).",
    )(fn)
    fn = click.option("--bucket", required=True, help="The bucket holding the versioned assets.")(fn)
    return _endpoint_option(fn)


class _FreshnessType(click.ParamType[Freshness, object]):
    name = "SECONDS|never|always"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Freshness:
        if isinstance(value, Freshness):
            return value
        try:
            return Freshness.parse(str(value))
        except InvalidInput as err:
            self.fail(str(err), param, ctx)


@click.command("fetch")
@click.argument("locations", nargs=-1, required=True)
@click.option(
    "--max-age",
    type=_FreshnessType(),
    default=None,
    help="Revalidate a local copy older than this many seconds (0 = always; 'never'). "
    "Default DG_ASSET_MAX_AGE_SECONDS (one day).",
)
@_endpoint_option
def fetch_command(locations: tuple[str, ...], max_age: Freshness | None, endpoint_url: str | None) -> None:
    """Print a local path for each s3://BUCKET/KEY (downloaded or revalidated as needed).

    A local path is printed unchanged.
    """
    with open_cache(command_settings(endpoint_url)) as cache:
        for location in locations:
            click.echo(str(cache.path(location, freshness=max_age)))


@click.group("vc")
def vc_group() -> None:
    """Versioned assets pinned by a manifest: add, update (bump a version), fetch."""


@vc_group.command("add")
@click.argument("path")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", default=str(INITIAL_VERSION), show_default=True, help="First version.")
@_vc_options
def vc_add(
    *, path: str, file: Path, version: str, manifest: Path, bucket: str, endpoint_url: str | None
) -> None:
    """Upload FILE as the first version of PATH (write-once) and pin it in the manifest."""
    with open_cache(command_settings(endpoint_url), direct=True) as cache:
        published = VersionedCache(cache, manifest, bucket).add(path, file, Version.parse(version))
    click.echo(f"{published.path} {published.version} {published.url}")


@vc_group.command("update")
@click.argument("path")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--major", "bump", flag_value=Bump.MAJOR.value, help="Bump MAJOR, reset MINOR and PATCH.")
@click.option("--minor", "bump", flag_value=Bump.MINOR.value, help="Bump MINOR, reset PATCH.")
@click.option("--patch", "bump", flag_value=Bump.PATCH.value, help="Bump PATCH.")
@_vc_options
def vc_update(
    *, path: str, file: Path, bump: str | None, manifest: Path, bucket: str, endpoint_url: str | None
) -> None:
    """Upload FILE as the next version of PATH (write-once) and pin it in the manifest."""
    if bump is None:
        raise click.UsageError("choose one of --major, --minor, --patch")
    with open_cache(command_settings(endpoint_url), direct=True) as cache:
        published = VersionedCache(cache, manifest, bucket).update(path, file, Bump(bump))
    click.echo(f"{published.path} {published.version} {published.url}")


@vc_group.command("fetch")
@click.argument("paths", nargs=-1, required=True)
@_vc_options
def vc_fetch(paths: tuple[str, ...], manifest: Path, bucket: str, endpoint_url: str | None) -> None:
    """Print the local path of the version the manifest pins for each PATH (hash verified)."""
    with open_cache(command_settings(endpoint_url)) as cache:
        versioned = VersionedCache(cache, manifest, bucket)
        for path in paths:
            click.echo(str(versioned.path(path)))


@click.command("prefill")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--bucket", default=None, help="The versioned-assets bucket (with --manifest).")
@click.option(
    "--list",
    "list_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A file of s3:// URLs, one per line (# comments allowed).",
)
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=None, help="Default DG_ASSET_PREFILL_CONCURRENCY."
)
@_endpoint_option
def prefill_command(
    manifest: Path | None,
    bucket: str | None,
    list_file: Path | None,
    concurrency: int | None,
    endpoint_url: str | None,
) -> None:
    """Warm the asset cache from a manifest (every entry) or a list of s3:// URLs."""
    if (manifest is None) == (list_file is None):
        raise click.UsageError("give exactly one of --manifest and --list")
    if manifest is not None and bucket is None:
        raise click.UsageError("--manifest needs --bucket")
    settings = command_settings(endpoint_url)
    with open_cache(settings) as cache:
        resolve: Callable[[str], Path] = cache.path
        if list_file is not None:
            targets = read_target_list(list_file.read_text(encoding="utf-8"))
        elif manifest is not None and bucket is not None:
            targets = [path for path, _ in Manifest.load(manifest)]
            resolve = VersionedCache(cache, manifest, bucket).path
        with tqdm(total=len(targets), unit="asset", desc="prefill", disable=None) as bar:

            def done(result: PrefillResult) -> None:
                bar.update(1)
                if result.error is not None:
                    tqdm.write(f"glider: {result.target}: {result.error}", file=sys.stderr)

            report = prefill(
                targets, resolve, concurrency=concurrency or settings.assets.prefill_concurrency, on_done=done
            )
    failures = [result.error for result in report.failures if result.error is not None]
    click.echo(f"prefilled {len(report.results) - len(failures)} of {len(report.results)} assets", err=True)
    if failures:  # the exit status of the first failure's class, as for any other command
        raise click.exceptions.Exit(exit_code_for(failures[0]))


def register(group: click.Group) -> None:
    """Attach this module's commands to the top-level group."""
    group.add_command(fetch_command)
    group.add_command(vc_group)
    group.add_command(prefill_command)
