"""Entry point: one click group; each module contributes its commands.

Exit statuses (distinct per error class, documented in the README):
0 ok, 1 unexpected, 2 usage/invalid input, 3 not found, 4 conflict/reserved, 5 integrity,
6 storage unavailable, 7 access denied/unauthorized, 8 codec failure.
"""

from __future__ import annotations

import importlib
import sys

import click

from app.cli.output import fail_on_errors

# Command modules, imported only when needed: `glider stats` is timed as a whole process and
# must not pay for the server's imports (FastAPI, boto3, the engine: over a second).
_MODULES = ("objects", "stats", "serve", "admin", "assets", "config")
# Commands whose module is known, so running them imports that module alone.
_HOME = {
    "stats": "stats",
    "config": "config",
    "cp": "objects",
    "ls": "objects",
    "rm": "objects",
    "clear-cache": "admin",
}


class _LazyGroup(click.Group):
    """A group whose command modules register themselves on first need."""

    _loaded: set[str]

    def _load(self, *names: str) -> None:
        for name in names:
            if name not in self._loaded:
                self._loaded.add(name)
                importlib.import_module(f"app.cli.{name}").register(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        home = _HOME.get(cmd_name)
        if home is not None:
            self._load(home)
        if cmd_name not in self.commands:
            self._load(*_MODULES)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load(*_MODULES)
        return super().list_commands(ctx)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="glider")
def cli() -> None:
    """Glider: build artifacts on S3 as binary deltas, with fast bucket statistics."""


cli._loaded = set()


def main() -> None:
    with fail_on_errors():
        cli.main(prog_name="glider", standalone_mode=True)
    sys.exit(0)
