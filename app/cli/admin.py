"""`glider clear-cache`: drop a running service's cached references (POST /admin/clear-cache).

Server mode only: the cache belongs to a service process (each CLI run has its own, gone when it
exits). Needs a token with the `admin` scope. Behind a load balancer only the replica that
answers is cleared; address replicas one by one to clear them all.
"""

from __future__ import annotations

import json

import click

from app.cli.remote import SERVER_ENV, open_client, server_options


@click.command("clear-cache")
@click.option("--json", "as_json", is_flag=True, help="Print the service's JSON answer.")
@server_options
def clear_cache_command(as_json: bool, server: str | None, token: str | None) -> None:
    """Drop the reference.bin files a running Glider service keeps cached (admin scope)."""
    if server is None:
        raise click.UsageError(
            f"clear-cache talks to a running service: give --server URL or set {SERVER_ENV}"
        )
    with open_client(server, token) as client:
        result = client.clear_cache()
    if as_json:
        click.echo(json.dumps({"bytes_freed": result.bytes_freed, "entries_freed": result.entries_freed}))
        return
    from app.cli.stats import format_bytes  # noqa: PLC0415 - the CLI's one byte formatter

    click.echo(
        f"clear-cache: {client.server}: {result.entries_freed:,} entries, "
        f"{format_bytes(result.bytes_freed)} ({result.bytes_freed:,} bytes) freed"
    )


def register(group: click.Group) -> None:
    """Attach this module's commands to the top-level group."""
    group.add_command(clear_cache_command)
