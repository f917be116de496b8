"""`glider cp` and `glider ls` through a running Glider service (`--server`): the bodies of the
server mode, printing exactly what direct mode prints (`app.cli.objects`).

Imported only when a server is given (it loads httpx through `app.cli.client`).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from app.cli.client import GliderClient
from app.cli.remote_results import RemoteObject
from app.cli.transfers import PROGRESS_MIN_BYTES, download_path, hash_with_progress, print_put, upload_target
from app.engine.results import LogicalPage


def progress_min(force: bool | None) -> int | None:
    """The size from which transfers show a byte bar (None: never): terminals only unless forced."""
    show = force if force is not None else sys.stderr.isatty()
    return PROGRESS_MIN_BYTES if show else None


def upload(
    client: GliderClient, path: Path, target: tuple[str, str], as_json: bool, force: bool | None
) -> None:
    bucket, key = upload_target(path, target)
    sha = hash_with_progress(path, force)
    result = client.upload(path, bucket, key, sha256=sha, progress_min=progress_min(force))
    print_put(path, result, as_json)


def remote_json(remote: RemoteObject) -> dict[str, object]:
    """An object as direct mode prints it, without `stored_size` (a GET does not tell it)."""
    stamp = remote.last_modified.isoformat() if remote.last_modified else None
    return {
        "bucket": remote.bucket, "key": remote.key, "size": remote.size, "sha256": remote.sha256,
        "stored_as": remote.stored_as.value, "last_modified": stamp, "etag": remote.etag,
    }  # fmt: skip


def download(
    client: GliderClient, source: tuple[str, str], dest: Path, as_json: bool, force: bool | None
) -> None:
    bucket, key = source
    dest = download_path(dest, key)
    remote = client.download(bucket, key, dest, progress_min=progress_min(force))
    if as_json:
        click.echo(json.dumps(remote_json(remote) | {"path": str(dest)}))
        return
    click.echo(
        f"download: s3://{bucket}/{key} to {dest} ({remote.size:,} bytes, {remote.stored_as.value}, verified)"
    )


def pages(client: GliderClient, bucket: str, prefix: str, detailed: bool) -> Iterator[LogicalPage]:
    """The service's listing pages; `detailed` HEADs each object for its original size and hash."""
    token: str | None = None
    while True:
        page = client.list(bucket, prefix, continuation_token=token)
        if detailed:
            heads = [(meta, client.head(bucket, meta.key)) for meta in page.objects]
            objects = tuple(dataclasses.replace(m, size=h.size, sha256=h.sha256) for m, h in heads)
            page = dataclasses.replace(page, objects=objects)
        yield page
        token = page.next_token
        if token is None:
            return
