"""Spooled uploads live in the service's own work directory, and a `kill -9` leaves nothing behind
for longer than the next start (real uvicorn processes, real SeaweedFS, raw sockets)."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import httpx
import pytest

from app.domain.sizes import MiB
from tests.conftest import S3Endpoint
from tests.support.service import ServiceProcess, running_service, wait_until

pytestmark = pytest.mark.integration

TOKEN = "spool-token-0123456789"


def spool_env(seaweed: S3Endpoint, work: Path) -> dict[str, str]:
    return seaweed.env() | {
        "DG_API_TOKENS": json.dumps({TOKEN: ["upload", "read"]}),
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_WARM_INTERVAL": "0",
        "DG_EMBEDDED_S3": "false",
        "DG_WORK_DIR": str(work),
    }


def spooled(work: Path) -> dict[Path, int]:
    found = {}
    for path in work.rglob("glider-upload-*.part"):
        try:
            found[path] = path.stat().st_size
        except FileNotFoundError:
            continue
    return found


def test_spool_of_a_killed_service_is_swept_at_the_next_start(
    seaweed: S3Endpoint, bucket: str, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    env = spool_env(seaweed, work)
    with running_service(env) as neighbour:  # a live service sharing the directory
        neighbour_dirs = list(work.glob("proc-*"))
        victim = ServiceProcess(env).start()
        head = (
            f"POST /upload?bucket={bucket}&key=big.bin HTTP/1.1\r\nHost: glider\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: {64 * MiB}\r\n\r\n"
        )
        try:
            with socket.create_connection(("127.0.0.1", victim.port), timeout=10) as sock:
                sock.sendall(head.encode())
                for _ in range(8):
                    sock.sendall(b"z" * MiB)
                wait_until(lambda: sum(spooled(work).values()) >= 4 * MiB, timeout=30, what="the spool")
                os.killpg(victim.pid, signal.SIGKILL)
                victim.stop()
        finally:
            victim.close()
        leftovers = spooled(work)
        assert leftovers, "the killed process left its spooled body behind"
        assert all(path.is_relative_to(work) for path in leftovers)
        assert not any(path.is_relative_to(d) for path in leftovers for d in neighbour_dirs)

        with running_service(env) as restarted:
            assert not any(path.exists() for path in leftovers)
            (neighbour_dir,) = neighbour_dirs
            assert neighbour_dir.is_dir(), "a live process's directory must survive the sweep"
            assert "removed 1 leftover scratch files" in restarted.log_text()
            stored = httpx.post(
                restarted.url + "/upload",
                params={"bucket": bucket, "key": "small.txt"},
                content=b"after the restart",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            )
            assert stored.status_code == 201, stored.text
            assert neighbour.pid != restarted.pid
        assert neighbour_dir.is_dir()
    assert not neighbour_dir.exists(), "a clean stop removes the process's own directory"
    assert spooled(work) == {}
