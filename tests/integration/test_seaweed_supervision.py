"""SeaweedServer's supervision with a real weed and kill -9: restart on the same endpoint with the
data intact, give up after `max_restarts` failures in a row, pid file and sockets cleaned."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest

from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from tests.support.service import wait_until

pytestmark = pytest.mark.integration


def _pid(data_dir: Path) -> int:
    return int(json.loads((data_dir / "weed.pid").read_text())["pid"])


def test_a_killed_weed_comes_back_with_its_data(tmp_path: Path) -> None:
    with SeaweedServer(data_dir=tmp_path / "data", restart_backoff=0.1) as server:
        store = S3ObjectStore(server.endpoint_url, "us-east-1", server.access_key, server.secret_key)
        try:
            store.create_bucket("kept")
            store.put_bytes("kept", "k", b"still here")
            first = server.pid
            assert first is not None
            assert first == _pid(tmp_path / "data")
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: server.running and server.pid not in (None, first), timeout=90,
                       what="a restarted weed")  # fmt: skip
            assert store.get_bytes("kept", "k") == b"still here"
        finally:
            store.close()
    assert not (tmp_path / "data" / "weed.pid").exists()


def test_repeated_failures_give_up_with_one_line(tmp_path: Path) -> None:
    gave_up = threading.Event()
    lines: list[str] = []

    def record(line: str) -> None:
        lines.append(line)
        gave_up.set()

    server = SeaweedServer(data_dir=tmp_path / "data", max_restarts=0, on_give_up=record).start()
    try:
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert gave_up.wait(60)
        assert lines == [server.gave_up]
        assert "exited 1 time in a row (last exit code -9); gave up, see" in lines[0]
        assert "\n" not in lines[0]
        assert not server.running
    finally:
        server.stop()
