"""`glider serve`: run the HTTP service under uvicorn (one worker; scale with replicas).

`--embedded` (what `make run` uses) makes a fresh machine useful at once: SeaweedFS is started
when no S3 endpoint is configured, the default bucket is created, and when no token is
configured one is generated with every scope and printed, with the URL and a curl example.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
from types import FrameType

import click
import uvicorn
from pydantic import SecretStr

from app.api.http_limits import HttpLimits, server_options
from app.components import S3Target, build_store
from app.container import s3_target
from app.main import create_app
from app.observability.logging import configure_logging
from app.settings import Settings

ALL_SCOPES = ("upload", "read", "admin")


def _with_embedded_s3(settings: Settings, stack: contextlib.ExitStack) -> tuple[Settings, S3Target]:
    """Where S3 is (the container's rule; `--embedded` always allows SeaweedFS), with a started
    SeaweedFS written into the settings so the app's own wiring uses it instead of starting another."""
    settings = settings.model_copy(
        update={"server": settings.server.model_copy(update={"embedded_s3": True})}
    )
    target = s3_target(settings, stack)
    if not target.embedded:
        return settings, target
    secret = SecretStr(target.secret_access_key) if target.secret_access_key is not None else None
    s3 = settings.s3.model_copy(
        update={
            "endpoint_url": target.endpoint_url,
            "access_key_id": target.access_key_id,
            "secret_access_key": secret,
        }
    )
    return settings.model_copy(update={"s3": s3}), target


def _with_token(settings: Settings) -> tuple[Settings, str | None]:
    """Generate an all-scopes token when auth is on and none is configured."""
    if not settings.auth.enabled or settings.auth.token_scopes():
        return settings, None
    token = secrets.token_urlsafe(32)
    tokens = SecretStr('{"%s": ["upload", "read", "admin"]}' % token)  # noqa: UP031 - JSON braces
    return settings.model_copy(update={"auth": settings.auth.model_copy(update={"tokens": tokens})}), token


def _create_bucket(settings: Settings, target: S3Target) -> None:
    store = build_store(settings.s3, target)
    try:
        store.create_bucket(settings.server.default_bucket)
    finally:
        store.close()


def banner(url: str, bucket: str, token: str | None, endpoint: str | None) -> str:
    auth = f' -H "Authorization: Bearer {token}"' if token else ' -H "Authorization: Bearer $TOKEN"'
    lines = [
        "",
        f"  Glider is serving at {url}",
        f"  S3 endpoint:    {endpoint or '(AWS default chain)'}",
        f"  Default bucket: {bucket}",
        f"  Token (all scopes, generated for this run): {token}" if token else "  Token: from DG_API_TOKENS",
        "",
        "  Try:",
        f"    curl{auth} --data-binary @README.md '{url}/upload?bucket={bucket}&key=docs/README.md'",
        f"    curl{auth} '{url}/buckets/{bucket}/stats?mode=sampled'",
        f"    curl{auth} -o README.copy '{url}/buckets/{bucket}/objects/docs/README.md'",
        f"    curl {url}/metrics",
        "",
    ]
    return "\n".join(lines)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise SystemExit(0)


@click.command("serve")
@click.option("--host", default=None, help="Interface to bind (default DG_HOST, 127.0.0.1)")
@click.option("--port", type=int, default=None, help="Port (default DG_PORT, 8080)")
@click.option(
    "--embedded",
    is_flag=True,
    help="Start SeaweedFS when no S3 endpoint is set, create the bucket, generate and print a token",
)
def serve(host: str | None, port: int | None, embedded: bool) -> None:
    """Serve the HTTP API until interrupted."""
    settings = Settings()
    configure_logging(settings.log.level, settings.log.json_format)
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    limits = server_options(HttpLimits(**settings.http.model_dump()))  # header/body/connection bounds
    settings.auth.token_scopes()  # malformed or short tokens: one line and exit 2, before uvicorn starts
    if not embedded:
        uvicorn.run("app.main:create_app", factory=True, host=host, port=port, log_config=None,
                    access_log=False, **limits)  # fmt: skip
        return
    # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit lets the
    # stack below stop the embedded SeaweedFS instead of dying with it still running.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with contextlib.ExitStack() as stack:
        settings, target = _with_embedded_s3(settings, stack)
        settings, token = _with_token(settings)
        _create_bucket(settings, target)
        click.echo(banner(f"http://{host}:{port}", settings.server.default_bucket, token,
                          settings.s3.endpoint_url))  # fmt: skip
        uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False, **limits)


def register(group: click.Group) -> None:
    """Attach this module's commands to the top-level group."""
    group.add_command(serve)
