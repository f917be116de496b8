"""`glider serve` refuses weak bearer tokens at start: one line naming the variable, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.storage.seaweed import free_ports
from tests.support.service import REPO

pytestmark = pytest.mark.integration

WEAK = "tok-12345"


def serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))}
    argv = [sys.executable, "-m", "app", "serve", "--port", str(free_ports(1)[0])]
    return subprocess.run(
        argv, cwd=REPO, env=base | {"HOME": str(tmp_path)} | env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def test_short_token_in_the_environment_stops_the_service(tmp_path: Path) -> None:
    done = serve({"DG_API_TOKENS": '{"%s": ["read"]}' % WEAK}, tmp_path)  # noqa: UP031
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("glider: DG_API_TOKENS has 1 token(s) shorter than 16 characters")
    assert WEAK not in done.stderr + done.stdout


def test_short_token_in_the_file_stops_the_service(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text('{"%s": ["upload"], "a-long-enough-token-here": ["read"]}' % WEAK)  # noqa: UP031
    done = serve({"DG_API_TOKENS_FILE": str(tokens)}, tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"glider: DG_API_TOKENS_FILE: {tokens} has 1 token(s) shorter than 16")
    assert WEAK not in done.stderr + done.stdout
