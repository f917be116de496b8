"""`--server URL` / `--token T`: the CLI as a client of a running Glider service.

Every command that can go through a service takes both options; their values come from the
command line or from `GLIDER_SERVER` / `GLIDER_TOKEN`. With no server the command talks to S3
directly. This module imports click only: the HTTP client (httpx) is loaded when a server is
actually given, so direct-mode start-up does not pay for it. The token is never printed; prefer
the variable to the option, since command-line arguments are visible to other local users.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from app.cli.client import GliderClient

SERVER_ENV = "GLIDER_SERVER"
TOKEN_ENV = "GLIDER_TOKEN"  # noqa: S105 - the variable's name, not a secret

F = TypeVar("F", bound=Callable[..., None])


def server_options(command: F) -> F:
    """Add `--server` and `--token` (passed to the command as `server` and `token`)."""
    token = click.option(
        "--token",
        envvar=TOKEN_ENV,
        default=None,
        metavar="TOKEN",
        help=f"Bearer token for --server (default: ${TOKEN_ENV}; the variable keeps it out of `ps`).",
    )
    server = click.option(
        "--server",
        envvar=SERVER_ENV,
        default=None,
        metavar="URL",
        help=f"The Glider service to go through (default: ${SERVER_ENV}).",
    )
    return server(token(command))


def check_mode(server: str | None, *, endpoint_url: str | None = None) -> None:
    """Refuse option mixes that cannot mean anything (a usage error, exit status 2)."""
    ctx = click.get_current_context()
    if server is None and ctx.get_parameter_source("token") is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError(f"--token is for --server: give --server URL or set {SERVER_ENV}")
    if server is not None and endpoint_url:
        raise click.UsageError(
            "--endpoint-url is for direct S3 access and --server goes through a Glider service: choose one"
        )


def open_client(server: str, token: str | None) -> GliderClient:
    """A client of the service at `server`; use it as a context manager."""
    from app.cli.client import GliderClient  # noqa: PLC0415 - httpx only in server mode

    return GliderClient(server, token)
