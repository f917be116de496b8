"""`glider cp`, `glider ls`, `glider rm`: objects on S3 through the delta engine, no server needed.

    glider cp FILE s3://BUCKET/KEY     upload (KEY as given; a KEY ending in '/' gets FILE's name)
    glider cp s3://BUCKET/KEY FILE     download (into FILE, or DIR/<name> when FILE is a directory)
    glider ls s3://BUCKET[/PREFIX]     logical listing (reference.bin and .deltaglider/ hidden)
    glider rm s3://BUCKET/KEY          delete (the deltaspace's last file takes its reference along)

The endpoint comes from --endpoint-url, else AWS_ENDPOINT_URL / DG_S3_ENDPOINT_URL; credentials
from the standard AWS variables. With --server URL (or GLIDER_SERVER) the same commands go
through a running Glider service instead (`app.cli.client`, token from --token / GLIDER_TOKEN) and
print the same lines. Errors print one line and exit with the status of `app.cli.output`, the
same in both modes. Heavy imports (boto3, the engine, httpx) happen inside the commands.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.remote import check_mode, open_client, server_options
from app.cli.settings import command_settings
from app.cli.transfers import (
    download_path,
    hash_with_progress,
    meta_json,
    print_put,
    spinner,
    split_s3_url,
    upload_target,
)

if TYPE_CHECKING:
    from app.engine.engine import DeltaEngine
    from app.engine.results import LogicalPage
    from app.settings import Settings

endpoint_option = click.option(
    "--endpoint-url", envvar=None, default=None, help="S3 endpoint (default: AWS_ENDPOINT_URL)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def open_engine(settings: Settings) -> DeltaEngine:
    """The engine one command uses: `app.components.build_engine` with the reference cache on
    disk only where a later process can reuse it (imported here: the engine is not --help's)."""
    from app.components import build_engine  # noqa: PLC0415

    return build_engine(settings, persistent_cache_only=True)


@click.command("cp")
@click.argument("source")
@click.argument("dest")
@endpoint_option
@json_option
@click.option("--progress/--no-progress", default=None, help="Force the progress display on or off.")
@server_options
def cp_command(  # noqa: PLR0917 - click passes every option by name
    source: str,
    dest: str,
    endpoint_url: str | None,
    as_json: bool,
    progress: bool | None,
    server: str | None,
    token: str | None,
) -> None:
    """Copy a local file to S3 (stored as reference, delta or direct) or an S3 object to a file."""
    src, dst = split_s3_url(source), split_s3_url(dest)
    if (src is None) == (dst is None):
        raise click.UsageError("exactly one of SOURCE and DEST must be an s3://BUCKET/KEY URL")
    check_mode(server, endpoint_url=endpoint_url)
    if server is not None:
        from app.cli import remote_objects  # noqa: PLC0415 - httpx only in server mode

        with open_client(server, token) as client:
            if dst is not None:
                remote_objects.upload(client, Path(source), dst, as_json, progress)
            elif src is not None:
                remote_objects.download(client, src, Path(dest), as_json, progress)
        return
    engine = open_engine(command_settings(endpoint_url))
    if dst is not None:
        _upload(engine, Path(source), dst, as_json, progress)
    elif src is not None:
        _download(engine, src, Path(dest), as_json, progress)


def _upload(
    engine: DeltaEngine, path: Path, target: tuple[str, str], as_json: bool, force: bool | None
) -> None:
    bucket, key = upload_target(path, target)
    sha = hash_with_progress(path, force)
    with spinner(f"uploading s3://{bucket}/{key}", path.stat().st_size, force):
        result = engine.put(bucket, key, path, sha256=sha)
    print_put(path, result, as_json)


def _download(
    engine: DeltaEngine, source: tuple[str, str], dest: Path, as_json: bool, force: bool | None
) -> None:
    bucket, key = source
    dest = download_path(dest, key)
    show = force if force is not None else sys.stderr.isatty()
    size = (engine.head(bucket, key).size or 0) if show else 0  # the size only decides the progress line
    with spinner(f"downloading s3://{bucket}/{key}", size, force):
        meta = engine.get(bucket, key, dest)
    if as_json:
        click.echo(json.dumps(meta_json(meta) | {"path": str(dest)}))
        return
    click.echo(
        f"download: s3://{bucket}/{key} to {dest} ({meta.size:,} bytes, {meta.stored_as.value}, verified)"
    )


@click.command("ls")
@click.argument("url")
@endpoint_option
@json_option
@click.option(
    "--long", "-l", "detailed", is_flag=True, help="Original sizes and hashes (one HEAD per object)."
)
@server_options
def ls_command(  # noqa: PLR0917 - click passes every option by name
    url: str, endpoint_url: str | None, as_json: bool, detailed: bool, server: str | None, token: str | None
) -> None:
    """List logical objects under s3://BUCKET[/PREFIX] (PREFIX matches the start of keys)."""
    parsed = split_s3_url(url)
    if parsed is None:
        raise click.UsageError("give s3://BUCKET or s3://BUCKET/PREFIX")
    check_mode(server, endpoint_url=endpoint_url)
    if server is not None:
        from app.cli.remote_objects import pages  # noqa: PLC0415 - httpx only in server mode

        with open_client(server, token) as client:
            _print_listing(pages(client, *parsed, detailed), as_json)
        return
    _print_listing(_engine_pages(open_engine(command_settings(endpoint_url)), *parsed, detailed), as_json)


def _engine_pages(engine: DeltaEngine, bucket: str, prefix: str, detailed: bool) -> Iterator[LogicalPage]:
    token: str | None = None
    while True:
        page = engine.list(bucket, prefix, continuation_token=token, detailed=detailed)
        yield page
        token = page.next_token
        if token is None:
            return


def _print_listing(pages: Iterator[LogicalPage], as_json: bool) -> None:
    entries: list[dict[str, object]] = []
    for page in pages:
        for meta in page.objects:
            if as_json:
                entries.append(meta_json(meta))
            else:
                stamp = meta.last_modified.strftime("%Y-%m-%d %H:%M:%S")
                size = (
                    "-" if meta.size is None else f"{meta.size:,}"
                )  # unknown original: never the stored size
                click.echo(f"{stamp} {size:>14} {meta.stored_as.value:<9} {meta.key}")
    if as_json:
        click.echo(json.dumps(entries))


@click.command("rm")
@click.argument("url")
@endpoint_option
@json_option
@server_options
def rm_command(
    url: str, endpoint_url: str | None, as_json: bool, server: str | None, token: str | None
) -> None:
    """Delete s3://BUCKET/KEY (every stored form of it, and its reference when no longer needed)."""
    parsed = split_s3_url(url)
    if parsed is None:
        raise click.UsageError("give s3://BUCKET/KEY")
    bucket, key = parsed
    check_mode(server, endpoint_url=endpoint_url)
    if server is not None:
        with open_client(server, token) as client:
            result = client.delete(bucket, key)
    else:
        result = open_engine(command_settings(endpoint_url)).delete(bucket, key)
    if as_json:
        click.echo(json.dumps({"bucket": bucket, "key": key, "deleted_keys": list(result.deleted_keys)}))
        return
    click.echo(f"delete: s3://{bucket}/{key} ({', '.join(result.deleted_keys)})")


def register(group: click.Group) -> None:
    """Attach this module's commands to the top-level group."""
    for command in (cp_command, ls_command, rm_command):
        group.add_command(command)
