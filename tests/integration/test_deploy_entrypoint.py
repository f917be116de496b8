"""The image's entry command and health check work on this host (no container engine here).

The Dockerfile's ENTRYPOINT and HEALTHCHECK are read from the file and run as written, with only
what a container provides swapped for host equivalents: the venv's executables, loopback and a free
port (DG_HOST/DG_PORT) instead of 0.0.0.0:8080, temporary directories for the image's paths, and
the session's SeaweedFS as S3. `docker stop` sends SIGTERM, so the process must exit 0 on it.
(tests/integration/test_image.py builds and runs the real image where podman can.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.storage.seaweed import free_ports
from tests.conftest import S3Endpoint
from tests.support.deploy import (
    dockerfile_env,
    dockerfile_instructions,
    exec_form,
    final_stage,
    venv_tool,
)
from tests.support.service import wait_until

pytestmark = pytest.mark.integration


def instruction(keyword: str) -> list[str]:
    (found,) = [exec_form(i) for i in final_stage(dockerfile_instructions()) if i.keyword == keyword]
    return found


@dataclass(frozen=True)
class Running:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path


def host_argv(argv: list[str]) -> list[str]:
    """The ENTRYPOINT with the venv's executable."""
    return [venv_tool(argv[0]), *argv[1:]]


@pytest.fixture
def entrypoint(seaweed: S3Endpoint, tmp_path: Path) -> Iterator[Running]:
    image_env = {k: v for k, v in dockerfile_env(dockerfile_instructions()).items() if k.startswith("DG_")}
    # The image's paths exist only in the image: map each to a fresh directory here.
    for name, value in image_env.items():
        if value.startswith("/"):
            image_env[name] = str(tmp_path / value.strip("/").replace("/", "-"))
    port = free_ports(1)[0]
    env = (
        seaweed.env()
        | image_env
        | {"DG_API_TOKENS": '{"tok-0123456789abcdef": ["read"]}', "TMPDIR": str(tmp_path)}
    )
    env |= {"DG_HOST": "127.0.0.1", "DG_PORT": str(port)}
    log = tmp_path / "entrypoint.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            host_argv(instruction("ENTRYPOINT")),
            cwd=tmp_path,  # like WORKDIR /tmp: the installed package must not need the source tree
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Running(proc, port, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_entrypoint_serves_and_healthcheck_passes(entrypoint: Running) -> None:
    def up() -> bool:
        assert entrypoint.proc.poll() is None, entrypoint.log.read_text(errors="replace")[-3000:]
        return healthy(entrypoint.port)

    wait_until(up, timeout=60, what="the entry command to answer /healthz")
    assert httpx.get(f"http://127.0.0.1:{entrypoint.port}/readyz", timeout=10).status_code == 200

    check = instruction("HEALTHCHECK")
    assert check[0] == "python"
    run = subprocess.run([sys.executable, *check[1:]], capture_output=True, timeout=30, check=False,
                         env={"DG_PORT": str(entrypoint.port)})  # fmt: skip
    assert run.returncode == 0, run.stderr

    # `docker stop` sends SIGTERM: the lifespan must finish (scheduler and services closed).
    entrypoint.proc.send_signal(signal.SIGTERM)
    exit_code = entrypoint.proc.wait(timeout=30)
    log = entrypoint.log.read_text(errors="replace")
    assert exit_code == 0, log[-3000:]
    assert "Application shutdown complete" in log


def test_healthcheck_fails_when_nothing_answers() -> None:
    port = free_ports(1)[0]
    check = instruction("HEALTHCHECK")
    run = subprocess.run([sys.executable, *check[1:]], capture_output=True, timeout=30, check=False,
                         env={"DG_PORT": str(port)})  # fmt: skip
    assert run.returncode != 0
