"""Entry point: one click group; each module contributes its commands.

Exit statuses (distinct per error class, documented in the README):
0 ok, 1 unexpected, 2 usage/invalid input, 3 not found, 4 conflict/reserved, 5 integrity,
6 storage unavailable, 7 access denied/unauthorized, 8 codec failure.
"""

from __future__ import annotations

import sys

import click

from app.cli import admin, assets, objects, serve, stats
from app.cli.output import fail_on_errors


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="glider")
def cli() -> None:
    """Glider: build artifacts on S3 as binary deltas, with fast bucket statistics."""


for module in (objects, stats, serve, admin, assets):
    module.register(cli)


def main() -> None:
    with fail_on_errors():
        cli.main(prog_name="glider", standalone_mode=True)
    sys.exit(0)
