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
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.remote import check_mode, open_client, server_options
from app.cli.settings import command_settings

if TYPE_CHECKING:
    from app.engine.engine import DeltaEngine
    from app.engine.results import LogicalPage, ObjectMeta, PutResult
    from app.settings import Settings

PROGRESS_MIN_BYTES = 8 << 20

endpoint_option = click.option(
    "--endpoint-url", envvar=None, default=None, help="S3 endpoint (default: AWS_ENDPOINT_URL)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def split_s3_url(text: str) -> tuple[str, str] | None:
    """`s3://bucket/key` -> (bucket, key); None for a local path."""
    if not text.startswith("s3://"):
        return None
    bucket, _, key = text[5:].partition("/")
    return bucket, key


def build_engine(settings: Settings) -> DeltaEngine:
    """The engine for one command (`app.components.build_engine`). With an explicit endpoint and
    static keys, HEAD/LIST/small reads and deletes go through the lean client and botocore is
    imported and built only when a file is transferred (`glider ls`/`rm` never load it). Otherwise
    (AWS default endpoint, a credential chain whose roles refresh) the botocore store does it all.
    The reference cache is kept on disk only where a later process can reuse it."""
    from app.components import build_engine as wire_engine  # noqa: PLC0415
    from app.components import build_store  # noqa: PLC0415

    s3 = settings.s3
    lean = bool(s3.endpoint_url and s3.access_key_id and s3.secret_access_key)
    return wire_engine(settings, build_store(s3, lean=lean), persistent_cache_only=True)


def _spinner(label: str, size: int, force: bool | None) -> AbstractContextManager[object]:
    """A tqdm status line on stderr for transfers over a few MB (terminals only unless forced)."""
    show = force if force is not None else sys.stderr.isatty()
    if not show or size < PROGRESS_MIN_BYTES:
        return nullcontext()
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=None, desc=label, file=sys.stderr, bar_format="{desc} {elapsed} {postfix}", leave=False)


def hash_with_progress(path: Path, force: bool | None) -> str:
    """SHA-256 of `path`; a byte progress bar on stderr for big files."""
    from app.domain.hashing import sha256_file  # noqa: PLC0415

    size = path.stat().st_size
    show = (force if force is not None else sys.stderr.isatty()) and size >= PROGRESS_MIN_BYTES
    if not show:
        return sha256_file(path)
    from tqdm import tqdm  # noqa: PLC0415

    with tqdm(total=size, desc="hashing", unit="B", unit_scale=True, file=sys.stderr, leave=False) as bar:
        return sha256_file(path, on_block=bar.update)


def _meta_json(meta: ObjectMeta) -> dict[str, object]:
    return {
        "bucket": meta.bucket,
        "key": meta.key,
        "size": meta.size,
        "stored_size": meta.stored_size,
        "sha256": meta.sha256,
        "stored_as": meta.stored_as.value,
        "last_modified": meta.last_modified.isoformat(),
        "etag": meta.etag,
    }


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
    engine = build_engine(command_settings(endpoint_url))
    if dst is not None:
        _upload(engine, Path(source), dst, as_json, progress)
    elif src is not None:
        _download(engine, src, Path(dest), as_json, progress)


def _upload(
    engine: DeltaEngine, path: Path, target: tuple[str, str], as_json: bool, force: bool | None
) -> None:
    bucket, key = upload_target(path, target)
    sha = hash_with_progress(path, force)
    with _spinner(f"uploading s3://{bucket}/{key}", path.stat().st_size, force):
        result = engine.put(bucket, key, path, sha256=sha)
    print_put(path, result, as_json)


def upload_target(path: Path, target: tuple[str, str]) -> tuple[str, str]:
    """(bucket, key) for uploading `path`: a KEY that is empty or ends in '/' gets the file's name."""
    from app.errors import InvalidInput  # noqa: PLC0415

    bucket, key = target
    if not key or key.endswith("/"):
        key += path.name
    if not path.is_file():
        raise InvalidInput(f"{path}: not a readable file")
    return bucket, key


def put_summary(result: PutResult) -> str:
    """How the file was stored, in words: the first file of a deltaspace costs its full size
    (its reference.bin), a direct one says why."""
    from app.engine.results import Form, StoredAs  # noqa: PLC0415 - light, but keep CLI start-up lazy

    size = f"{result.original_size:,} bytes"
    if result.stored_as is StoredAs.REFERENCE:
        full = f"{result.reference_size:,}"
        return f"reference, {size}: the deltaspace's reference.bin costs the full {full} bytes"
    ratio = result.stored_size / result.original_size
    stored = f"{size} stored as {result.stored_size:,}, {ratio:.1%}"
    if result.stored_as is StoredAs.DIRECT:
        reason = result.reason.value if result.reason is not None else "unknown"
        return f"direct, {stored}, reason: {reason}"
    form = ", gzip-aware" if result.form is Form.GZIP else ""
    return f"delta{form}, {stored}"


def print_put(path: Path, result: PutResult, as_json: bool) -> None:
    bucket, key = result.bucket, result.key
    if as_json:
        payload = {
            "bucket": result.bucket, "key": result.key, "stored_as": result.stored_as.value,
            "original_size": result.original_size, "stored_size": result.stored_size,
            "reference_size": result.reference_size, "sha256": result.sha256, "stored_key": result.stored_key,
            "reason": result.reason.value if result.reason is not None else None, "form": result.form.value,
        }  # fmt: skip
        click.echo(json.dumps(payload))
        return
    click.echo(f"upload: {path} to s3://{bucket}/{key} ({put_summary(result)})")


def _download(
    engine: DeltaEngine, source: tuple[str, str], dest: Path, as_json: bool, force: bool | None
) -> None:
    bucket, key = source
    dest = download_path(dest, key)
    show = force if force is not None else sys.stderr.isatty()
    size = engine.head(bucket, key).size if show else 0  # the size only decides the progress line
    with _spinner(f"downloading s3://{bucket}/{key}", size, force):
        meta = engine.get(bucket, key, dest)
    if as_json:
        click.echo(json.dumps(_meta_json(meta) | {"path": str(dest)}))
        return
    click.echo(
        f"download: s3://{bucket}/{key} to {dest} ({meta.size:,} bytes, {meta.stored_as.value}, verified)"
    )


def download_path(dest: Path, key: str) -> Path:
    """`dest`, or `dest/<name>` when it is a directory; its parent directory is created."""
    if dest.is_dir():
        dest = dest / key.rpartition("/")[2]
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest


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
    _print_listing(_engine_pages(build_engine(command_settings(endpoint_url)), *parsed, detailed), as_json)


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
                entries.append(_meta_json(meta))
            else:
                stamp = meta.last_modified.strftime("%Y-%m-%d %H:%M:%S")
                click.echo(f"{stamp} {meta.size:>14,} {meta.stored_as.value:<9} {meta.key}")
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
        result = build_engine(command_settings(endpoint_url)).delete(bucket, key)
    if as_json:
        click.echo(json.dumps({"bucket": bucket, "key": key, "deleted_keys": list(result.deleted_keys)}))
        return
    click.echo(f"delete: s3://{bucket}/{key} ({', '.join(result.deleted_keys)})")


def register(group: click.Group) -> None:
    """Attach this module's commands to the top-level group."""
    for command in (cp_command, ls_command, rm_command):
        group.add_command(command)
