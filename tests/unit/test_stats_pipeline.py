"""Pipelined HEAD batches against a misbehaving loopback HTTP server (a real socket, scripted)."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from app.errors import AccessDenied, ObjectNotFound, StorageUnavailable
from app.storage.lean import LeanS3
from app.storage.sigv4 import Credentials

# script(key, attempt, answered_on_connection) -> (raw answer bytes, close after sending)
Script = Callable[[str, int, int], tuple[bytes, bool]]


def _ok(key: str, extra: str = "") -> bytes:
    return (
        'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nETag: "e-' + key + '"\r\n'
        "Last-Modified: Sun, 22 Nov 2026 03:20:36 GMT\r\nX-Amz-Meta-Dg-File-Size: 99\r\n" + extra + "\r\n"
    ).encode()


class _Server:
    """Answers pipelined HEADs per `script`; counts attempts per key."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.attempts: Counter[str] = Counter()
        self.connections = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _handle(self, conn: socket.socket) -> None:
        buffer = b""
        answered = 0
        with conn:
            while True:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    buffer += chunk
                    continue
                request, buffer = buffer[:end].decode(), buffer[end + 4 :]
                key = request.split(" ")[1].split("/", 2)[2]
                with self._lock:
                    self.attempts[key] += 1
                    attempt = self.attempts[key]
                answer, close = self.script(key, attempt, answered)
                answered += 1
                try:
                    conn.sendall(answer)
                except OSError:
                    return
                if close:
                    return

    def close(self) -> None:
        self._sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[[Script], tuple[_Server, LeanS3]]]:
    made: list[tuple[_Server, LeanS3]] = []

    def start(script: Script, attempts: int = 3) -> tuple[_Server, LeanS3]:
        server = _Server(script)
        lean = LeanS3(
            f"http://127.0.0.1:{server.port}", "us-east-1", Credentials("a", "b"),
            max_attempts=attempts, pipeline_depth=4, read_timeout=10,
        )  # fmt: skip
        made.append((server, lean))
        return server, lean

    yield start  # type: ignore[misc]
    for server, lean in made:
        lean.close()
        server.close()


KEYS = [f"k{i:02d}" for i in range(25)]


def test_well_behaved_server_answers_every_key_once(serve) -> None:  # type: ignore[no-untyped-def]
    server, lean = serve(lambda key, attempt, n: (_ok(key), False))
    results = {r.key: r for r in lean.head_many("b", KEYS, concurrency=8)}
    assert set(results) == set(KEYS)
    head = results["k07"].head
    assert head is not None
    assert (head.size, head.etag, head.metadata) == (1234, "e-k07", {"dg-file-size": "99"})
    assert set(server.attempts.values()) == {1}
    assert server.connections == 2  # concurrency 8 / depth 4


def test_connection_dropped_mid_pipeline_resends_unanswered_keys(serve) -> None:  # type: ignore[no-untyped-def]
    # Every connection dies after its third answer, with requests still in flight.
    server, lean = serve(lambda key, attempt, n: (_ok(key), n == 2))
    results = list(lean.head_many("b", KEYS, concurrency=4))
    assert sorted(r.key for r in results) == KEYS
    assert all(r.head is not None for r in results)
    assert server.connections > 2


def test_connection_close_header_is_honoured(serve) -> None:  # type: ignore[no-untyped-def]
    server, lean = serve(lambda key, attempt, n: (_ok(key, "Connection: close\r\n"), True))
    results = list(lean.head_many("b", KEYS[:10], concurrency=4))
    assert all(r.head is not None for r in results)
    assert len(results) == 10
    assert server.connections == 10


def test_server_errors_are_retried_then_reported(serve) -> None:  # type: ignore[no-untyped-def]
    unavailable = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    _, lean = serve(lambda key, attempt, n: (unavailable if attempt == 1 else _ok(key), False))
    assert all(r.head is not None for r in lean.head_many("b", KEYS, concurrency=4))
    _, stubborn = serve(lambda key, attempt, n: (unavailable, False), 2)
    results = list(stubborn.head_many("b", KEYS[:5], concurrency=4))
    assert all(isinstance(r.error, StorageUnavailable) for r in results)


def test_client_errors_map_to_typed_errors(serve) -> None:  # type: ignore[no-untyped-def]
    answers = {"gone": b"HTTP/1.1 404 Not Found\r\n\r\n", "secret": b"HTTP/1.1 403 Forbidden\r\n\r\n"}
    _, lean = serve(lambda key, attempt, n: (answers.get(key) or _ok(key), False))
    results = {r.key: r for r in lean.head_many("b", ["gone", "ok", "secret"], concurrency=4)}
    assert isinstance(results["gone"].error, ObjectNotFound)
    assert isinstance(results["secret"].error, AccessDenied)
    assert results["ok"].head is not None


def test_garbage_is_an_error_not_a_result(serve) -> None:  # type: ignore[no-untyped-def]
    _, lean = serve(lambda key, attempt, n: (b"SMTP ready\r\n\r\n", True), 2)
    results = list(lean.head_many("b", KEYS[:3], concurrency=4))
    assert len(results) == 3
    assert all(isinstance(r.error, StorageUnavailable) for r in results)
