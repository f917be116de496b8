"""`glider serve`: run the HTTP service under uvicorn (one worker; scale with replicas).

`--embedded` (what `make run` uses) makes a fresh machine useful at once: see `app.cli.embedded`
(SeaweedFS started and supervised when no S3 endpoint is configured, the default bucket created,
a token generated and printed with ready-to-paste commands, one line for start-up conflicts).
"""

from __future__ import annotations

import dataclasses
import signal
from types import FrameType

import click
import uvicorn

from app.api.http_limits import HttpLimits, server_options
from app.cli.embedded import check_port, embedded_run
from app.cli.settings import check_for_serving, load_settings
from app.main import create_app
from app.observability.logging import configure_logging


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
    settings = load_settings()
    check_for_serving(settings)
    configure_logging(settings.log.level, settings.log.json_format)
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    limits = server_options(HttpLimits(**dataclasses.asdict(settings.http)))  # header/body/connection bounds
    # uvicorn re-raises SIGTERM after its graceful shutdown; as SystemExit(0) it ends the process
    # with exit code 0 (`docker stop`, Kubernetes) and lets the stack below stop an embedded SeaweedFS.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if not embedded:
        check_port(host, port)
        uvicorn.run("app.main:create_app", factory=True, host=host, port=port, log_config=None,
                    access_log=False, **limits)  # fmt: skip
        return
    with embedded_run(settings, host, port) as run:
        click.echo(run.banner)
        uvicorn.run(
            create_app(run.settings), host=host, port=port, log_config=None, access_log=False, **limits
        )


def register(group: click.Group) -> None:
    """Attach this module's commands to the top-level group."""
    group.add_command(serve)
