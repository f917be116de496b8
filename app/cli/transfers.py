"""What `glider cp` does around a transfer in both modes (direct S3 and `--server`): parsing
s3:// URLs, choosing local and remote names, hashing with a progress bar, printing results.

Shared by `app.cli.objects` and `app.cli.remote_objects` (so neither imports the other).
"""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from app.engine.results import ObjectMeta, PutResult

PROGRESS_MIN_BYTES = 8 << 20


def split_s3_url(text: str) -> tuple[str, str] | None:
    """`s3://bucket/key` -> (bucket, key); None for a local path."""
    if not text.startswith("s3://"):
        return None
    bucket, _, key = text[5:].partition("/")
    return bucket, key


def spinner(label: str, size: int, force: bool | None) -> AbstractContextManager[object]:
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


def meta_json(meta: ObjectMeta) -> dict[str, object]:
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
    form = f", {result.form.value}-aware" if result.form is not Form.PLAIN else ""
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


def download_path(dest: Path, key: str) -> Path:
    """`dest`, or `dest/<name>` when it is a directory; its parent directory is created."""
    if dest.is_dir():
        dest = dest / key.rpartition("/")[2]
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest
