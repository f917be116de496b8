"""SeaweedServer: starts, answers S3, listens on loopback only, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from app.errors import BucketNotFound
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import LOOPBACK, SeaweedServer


def _weed_processes(server: SeaweedServer) -> list[psutil.Process]:
    """This server's weed process and its children (other sessions' servers are excluded)."""
    ours: list[psutil.Process] = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any(str(server.data_dir) in arg for arg in child.cmdline()):
                ours.append(child)
                ours.extend(child.children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    return ours


def test_serves_s3_on_loopback_only_and_stops_cleanly() -> None:
    server = SeaweedServer().start()
    data_dir = server.data_dir
    assert data_dir is not None
    try:
        processes = _weed_processes(server)
        assert processes, "weed process not found"

        store = S3ObjectStore(server.endpoint_url, "us-east-1", server.access_key, server.secret_key)
        try:
            store.create_bucket("launcher-check")
            store.put_bytes("launcher-check", "k", b"v")
            assert store.get_bytes("launcher-check", "k") == b"v"
            with pytest.raises(BucketNotFound):  # started with bucket auto-creation off, like AWS
                store.put_bytes("never-created", "k", b"v")
        finally:
            store.close()

        listening = [
            conn.laddr
            for proc in processes
            for conn in proc.net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN
        ]
        assert len(listening) >= 5  # master, volume, filer, s3 (+ their gRPC ports)
        assert {addr.ip for addr in listening} == {LOOPBACK}, listening
        assert int(server.endpoint_url.rsplit(":", 1)[1]) in {addr.port for addr in listening}
    finally:
        server.stop()

    for proc in processes:
        assert not proc.is_running(), f"pid {proc.pid} survived stop()"
    assert not data_dir.exists()  # its temporary directory is gone too
    s3_port = int(server.endpoint_url.rsplit(":", 1)[1])
    assert not Path(f"/tmp/seaweedfs-s3-{s3_port}.sock").exists(), "weed's S3 socket left behind"
