"""`glider serve --embedded` (what `make run` runs): a useful service on a fresh machine, and one
clear line for every start-up mistake.

Before anything starts: a second instance on the same data directory is told who runs it (pid,
URL) and a busy port which variable changes it. Then SeaweedFS is started (unless an S3 endpoint
is configured) and supervised (`app.storage.seaweed`): if it keeps dying, the service shuts down
and exits non-zero with one line. The default bucket is created, a token with every scope is
generated when none is configured, and the banner says how to reach all of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import secrets
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click

from app.components import S3Target, build_store, settings_target
from app.container import embedded_data_dir
from app.errors import Conflict
from app.settings import Secret, Settings
from app.storage.seaweed import SeaweedServer
from app.storage.seaweed_child import private_dir

LOCK_FILE = "serve.lock"
EXIT_S3_GAVE_UP = 6  # the CLI's status for StorageUnavailable


def check_port(host: str, port: int) -> None:
    """Conflict (one line naming DG_PORT) when `host:port` cannot be bound."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise Conflict(
                    f"port {port} on {host} is already in use by another program; "
                    f"choose another with DG_PORT (e.g. DG_PORT={port + 1} make run, or --port {port + 1})"
                ) from None
            raise Conflict(
                f"cannot listen on {host}:{port} ({err.strerror}); check DG_HOST and DG_PORT"
            ) from None


@contextlib.contextmanager
def instance_lock(data_dir: Path, url: str) -> Iterator[None]:
    """Hold `data_dir`'s serve lock while running; Conflict naming the holder if it is taken.

    An flock dies with its process, so a killed instance never leaves a stale lock."""
    private_dir(data_dir)
    path = data_dir / LOCK_FILE
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read())
                who = f"pid {holder['pid']}, {holder['url']}"
            except (ValueError, KeyError, TypeError):
                who = "another process"
            raise Conflict(
                f"glider serve --embedded is already running ({who}) with the data in {data_dir}; "
                "use that one, or stop it first (Ctrl-C)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "url": url}))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)


def _cli_path() -> str:
    """How to call `glider` from here: `.venv/bin/glider` relative to the working directory."""
    path = Path(sys.executable).parent / "glider"
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def banner(
    url: str, bucket: str, token: str | None, target: S3Target, data_dir: Path | None, *, glider: str = ""
) -> str:
    """What `--embedded` prints: where everything is and commands that work when pasted
    (`glider`: how to call the CLI, default `.venv/bin/glider` as seen from here)."""
    bearer = token if token else "$TOKEN"
    auth = f'-H "Authorization: Bearer {bearer}"'
    glider = glider or _cli_path()
    where = f" (embedded SeaweedFS, data in {data_dir})" if target.embedded else ""
    lines = [
        "",
        f"  Glider is serving at {url}",
        f"  S3 endpoint:    {target.endpoint_url or '(AWS default chain)'}{where}",
        f"  Default bucket: {bucket}",
        f"  Token (all scopes, generated for this run): {token}" if token else "  Token: from DG_API_TOKENS",
        "",
    ]
    if target.embedded:
        lines += [
            "  In another shell, for the glider CLI (or aws, deltaglider) on this S3:",
            f"    export AWS_ENDPOINT_URL={target.endpoint_url} AWS_ACCESS_KEY_ID={target.access_key_id} "
            f"AWS_SECRET_ACCESS_KEY={target.secret_access_key}",
        ]
    lines += [
        f"    export GLIDER={url} TOKEN={bearer}",
        "",
        "  Try:",
        f"    curl {auth} --data-binary @README.md '{url}/upload?bucket={bucket}&key=docs/README.md'",
        f"    curl {auth} '{url}/buckets/{bucket}/stats?mode=sampled'",
        f"    curl {auth} -o README.copy '{url}/buckets/{bucket}/objects/docs/README.md'",
        f"    curl {url}/metrics",
        f"    {glider} ls s3://{bucket}/docs/",
        f"    {glider} stats {bucket} --sampled",
        f"  ({glider} is the CLI; `. {Path(glider).parent}/activate` puts `glider` on PATH.)",
        f"  API documentation: {url}/docs",
        "",
    ]
    return "\n".join(lines)


@dataclass
class EmbeddedRun:
    """What `serve` needs to run the app: the effective settings and the banner to print."""

    settings: Settings
    banner: str
    gave_up: list[str] = field(default_factory=list)

    def give_up(self, message: str) -> None:
        """SeaweedFS keeps dying: stop serving (uvicorn shuts down on SIGTERM) and remember why."""
        self.gave_up.append(message)
        os.kill(os.getpid(), signal.SIGTERM)


def _with_token(settings: Settings) -> tuple[Settings, str | None]:
    """Generate an all-scopes token when auth is on and none is configured."""
    if not settings.auth.enabled or settings.auth.token_scopes():
        return settings, None
    token = secrets.token_urlsafe(32)
    tokens = Secret('{"%s": ["upload", "read", "admin"]}' % token)  # noqa: UP031 - JSON braces
    return dataclasses.replace(settings, auth=dataclasses.replace(settings.auth, tokens=tokens)), token


def _with_target(settings: Settings, target: S3Target) -> Settings:
    """`target` written into the settings, so the app's own wiring uses it instead of starting
    another SeaweedFS."""
    secret = Secret(target.secret_access_key) if target.secret_access_key is not None else None
    s3 = dataclasses.replace(
        settings.s3,
        endpoint_url=target.endpoint_url,
        access_key_id=target.access_key_id,
        secret_access_key=secret,
    )
    server = dataclasses.replace(settings.server, embedded_s3=True)
    return dataclasses.replace(settings, s3=s3, server=server)


@contextlib.contextmanager
def embedded_run(settings: Settings, host: str, port: int) -> Iterator[EmbeddedRun]:
    """Everything `--embedded` sets up around the app, torn down on exit. If SeaweedFS gave up,
    leaving exits with one line and status 6 whatever ended the run."""
    url = f"http://{host}:{port}"
    run = EmbeddedRun(settings, "")
    try:
        with contextlib.ExitStack() as stack:
            data_dir: Path | None = None
            if settings.s3.endpoint_url:
                target = settings_target(settings.s3)
            else:
                data_dir = embedded_data_dir()
                stack.enter_context(instance_lock(data_dir, url))
                check_port(host, port)
                server = SeaweedServer(
                    data_dir=data_dir,
                    max_restarts=settings.server.embedded_s3_max_restarts,
                    on_give_up=run.give_up,
                )
                stack.enter_context(server)
                target = S3Target(server.endpoint_url, server.access_key, server.secret_key, embedded=True)
            check_port(host, port)
            settings, token = _with_token(_with_target(settings, target))
            store = build_store(settings.s3, target)
            try:
                store.create_bucket(settings.server.default_bucket)
            finally:
                store.close()
            run.settings = settings
            run.banner = banner(url, settings.server.default_bucket, token, target, data_dir)
            yield run
    finally:
        if run.gave_up:
            click.echo(f"glider: {run.gave_up[0]}", err=True)
            raise SystemExit(EXIT_S3_GAVE_UP)
