"""Every bad DG_* value stops `glider` / `glider serve` with one line naming the variable, what is
wrong and a valid example, exit status 2, no traceback. Real processes, real environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.service import REPO

pytestmark = pytest.mark.integration

GLIDER = Path(sys.executable).parent / "glider"
SECRET = "s3cr3t-never-echoed"


def run(argv: list[str], env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))}
    return subprocess.run(
        [str(GLIDER), *argv], cwd=REPO, env=base | {"HOME": str(home)} | env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


CASES = [
    ("DG_PORT", "eighty", "is not a whole number", "DG_PORT=8080"),
    ("DG_MAX_RATIO", "2", "must be at most 1", "DG_MAX_RATIO=0.5"),
    ("DG_API_TOKENS", "{" + SECRET, "is not valid JSON", "DG_API_TOKENS='{"),
    ("DG_API_TOKENS", '{"' + SECRET + '": "read"}', "must be a JSON object mapping", "DG_API_TOKENS='{"),
    ("DG_API_TOKENS", '{"' + SECRET + '": ["fly"]}', "unknown token scope(s) ['fly']", "DG_API_TOKENS"),
    ("DG_API_TOKENS_FILE", "/nonexistent/tokens.json", "cannot read /nonexistent/tokens.json", ""),
    ("DG_CACHE_BACKEND", "disk", "must be one of 'filesystem' or 'memory'", "DG_CACHE_BACKEND=filesystem"),
    ("DG_CACHE_ENCRYPTION_KEY", SECRET, "must be 32 random bytes", "generate one with"),
    ("DG_LOG_JSON", "maybe", "is not a boolean", "DG_LOG_JSON=true"),
    ("DG_LOG_LEVEL", "LOUD", "must be one of DEBUG, INFO", "DG_LOG_LEVEL=INFO"),
    (
        "DG_WARM_MODES",
        "quick,fast",
        "must be one of 'quick', 'sampled' or 'detailed'",
        "DG_WARM_MODES=quick,sampled",
    ),
    ("DG_S3_MAX_ATTEMPTS", "0", "must be at least 1", "DG_S3_MAX_ATTEMPTS=3"),
    ("AWS_ENDPOINT_URL", "localhost:9000", "must be an http:// or https:// URL", "AWS_ENDPOINT_URL=http://"),
    ("DG_STATS_FRESH_SECONDS", "soon", "is not a number", "DG_STATS_FRESH_SECONDS=30"),
    (
        "DG_REDIS_URL",
        "http://" + SECRET,
        "must be a redis://, rediss:// or unix:// URL",
        "DG_REDIS_URL=redis://",
    ),
    ("DG_S3_HTTPS_PROXY", "proxy:3128", "must be an http:// or https:// URL", "DG_S3_HTTPS_PROXY=http://"),
    ("DG_S3_CA_BUNDLE", "/nonexistent/ca.pem", "names no readable file", "DG_S3_CA_BUNDLE=/etc/ssl"),
]


@pytest.mark.parametrize(("variable", "value", "problem", "example"), CASES)
def test_serve_names_the_variable_in_one_line(
    tmp_path: Path, variable: str, value: str, problem: str, example: str
) -> None:
    done = run(["serve", "--port", "0"], {variable: value}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    [line] = lines
    assert line.startswith(f"glider: {variable}"), line
    assert problem in line
    assert example in line
    assert SECRET not in line
    if not variable.endswith(("_FILE", "_BUNDLE")):  # a file's name is said; values never are
        assert value not in line
    assert "Traceback" not in done.stderr


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("argv", "variable", "value"),
    [
        (["ls", "s3://artifacts"], "DG_S3_MAX_POOL_CONNECTIONS", "many"),
        (["stats", "artifacts"], "DG_STATS_HEAD_CONCURRENCY", "0"),
        (["cp", "s3://artifacts/a.txt", "a.txt"], "DG_CODEC", "bsdiff"),
        (["config", "show"], "DG_CACHE_DISK_SIZE_MB", "-1"),
    ],
)
def test_cli_commands_name_the_variable_in_one_line(
    tmp_path: Path, argv: list[str], variable: str, value: str
) -> None:
    done = run(argv, {variable: value}, tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"glider: {variable} "), line
    assert f"; e.g. {variable}=" in line
    assert value not in line
