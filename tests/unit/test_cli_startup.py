"""CLI start-up: `glider --help` imports no command module, and each command only what it uses."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import click
import pytest

from app.cli.main import COMMANDS
from app.storage.seaweed import free_ports

SERVER_STACK = ("fastapi", "starlette", "uvicorn", "redis", "apscheduler")


def _imported(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages a `python -m app ARGS` process imported (from -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "app", *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert names, done.stderr[-500:]
    return names


def test_table_matches_the_commands() -> None:
    for name, (module, attribute, short) in COMMANDS.items():
        command = getattr(importlib.import_module(f"app.cli.{module}"), attribute)
        assert isinstance(command, click.Command)
        assert command.name == name
        assert command.get_short_help_str(limit=80) == short


def test_help_imports_no_command_module() -> None:
    loaded = _imported("--help")
    for heavy in (*SERVER_STACK, "botocore", "boto3", "obstore", "pydantic", "httpx"):
        assert heavy not in loaded, heavy


@pytest.mark.parametrize(
    "args",
    [
        ("ls", "s3://bkt-x"),
        ("rm", "s3://bkt-x/k"),
        ("stats", "bkt-x"),
        ("cp", "pyproject.toml", "s3://bkt-x/k"),
    ],
)
def test_object_commands_skip_the_server_stack(args: tuple[str, ...]) -> None:
    [port] = free_ports(1)  # nothing listens: the command fails fast after its imports
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))} | {
        "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "DG_S3_MAX_ATTEMPTS": "1",
        "DG_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}", "DG_CACHE_BACKEND": "memory",
    }  # fmt: skip
    loaded = _imported(*args, env=env)
    assert "obstore" in loaded  # the command really ran
    for heavy in (*SERVER_STACK, "botocore", "boto3", "httpx", "pydantic_settings", "prometheus_client"):
        assert heavy not in loaded, heavy
    if args[0] != "stats":  # stats reads the stored stats document, a pydantic model
        # Settings are read without pydantic: importing it and building the groups' schemas
        # cost ~0.15 s of a small `glider cp`.
        assert "pydantic" not in loaded
        assert "pydantic_core" not in loaded
