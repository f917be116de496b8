"""CLI commands: objects (placeholder until its issue lands)."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Attach this module's commands to the top-level group."""
    del group
