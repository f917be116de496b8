"""Entry point: one click group whose commands are imported only when they run.

Exit statuses (distinct per error class, documented in the README):
0 ok, 1 unexpected, 2 usage/invalid input, 3 not found, 4 conflict/reserved, 5 integrity,
6 storage unavailable, 7 access denied/unauthorized, 8 codec failure.

Click's "lazily loading subcommands" pattern: `glider --help` lists the commands from the table
below without importing any command module (the server stack, pydantic, the settings, the engine
and the S3 libraries all stay unloaded), and `glider cp` imports `app.cli.objects` alone.
`tests/unit/test_cli_startup.py` checks the table against the commands and the imports.
"""

from __future__ import annotations

import importlib
import sys

import click

from app.cli.output import fail_on_errors

# name -> (module under app.cli, attribute, the short help shown by `glider --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "clear-cache": (
        "admin", "clear_cache_command",
        "Drop the reference.bin files a running Glider service keeps cached (admin...",
    ),
    "config": ("config", "config_group", "Configuration: the reference table and the values in effect."),
    "cp": (
        "objects", "cp_command",
        "Copy a local file to S3 (stored as reference, delta or direct) or an S3...",
    ),
    "fetch": (
        "assets", "fetch_command",
        "Print a local path for each s3://BUCKET/KEY (downloaded or revalidated as...",
    ),
    "ls": (
        "objects", "ls_command",
        "List logical objects under s3://BUCKET[/PREFIX] (PREFIX matches the start of...",
    ),
    "prefill": (
        "assets", "prefill_command",
        "Warm the asset cache from a manifest (every entry) or a list of s3:// URLs.",
    ),
    "rm": (
        "objects", "rm_command",
        "Delete s3://BUCKET/KEY (every stored form of it, and its reference when no...",
    ),
    "serve": ("serve", "serve", "Serve the HTTP API until interrupted."),
    "stats": ("stats", "stats_command", "Bucket statistics: objects, original vs stored bytes, space saved."),
    "vc": (
        "assets", "vc_group",
        "Versioned assets pinned by a manifest: add, update (bump a version), fetch.",
    ),
}  # fmt: skip


class LazyGroup(click.Group):
    """Commands from `COMMANDS`, each module imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attribute, _ = entry
        command: click.Command = getattr(importlib.import_module(f"app.cli.{module}"), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="glider")
def cli() -> None:
    """Glider: build artifacts on S3 as binary deltas, with fast bucket statistics."""


def main() -> None:
    with fail_on_errors():
        cli.main(prog_name="glider", standalone_mode=True)
    sys.exit(0)
