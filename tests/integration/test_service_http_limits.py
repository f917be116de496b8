"""Unauthenticated clients cannot exhaust the service: `glider serve` in a real process, raw sockets
on loopback (oversized and slow request heads, stalled bodies, connection floods)."""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from app.domain.sizes import MiB
from app.observability.limited_log import PER_INTERVAL
from tests.conftest import S3Endpoint
from tests.support.service import ServiceProcess, running_service, wait_until

pytestmark = pytest.mark.integration

TOKEN = "upload-token-0123456789"
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0


def limits_env(seaweed: S3Endpoint, **extra: str) -> dict[str, str]:
    return (
        seaweed.env()
        | {
            "DG_API_TOKENS": json.dumps({TOKEN: ["upload", "read"]}),
            "DG_CLEAR_CACHE_INTERVAL": "0",
            "DG_WARM_INTERVAL": "0",
            "DG_EMBEDDED_S3": "false",
            "DG_HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
            "DG_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        }
        | extra
    )


@pytest.fixture(scope="module")
def service(seaweed: S3Endpoint) -> Iterator[ServiceProcess]:
    with running_service(limits_env(seaweed), cli=True) as svc:
        yield svc


def connect(service: ServiceProcess, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_until_closed(sock: socket.socket, limit: int = 65536) -> bytes:
    """Everything the server sends until it closes (b"" parts after a reset are lost)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while len(data) < limit:
            part = sock.recv(4096)
            if not part:
                break
            data += part
    return data


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer.split(b" ", 2)[1])


def stream_header(service: ServiceProcess, megabytes: int, outcome: list[str]) -> None:
    """Send one header value of `megabytes` MiB in 1 MiB writes; record how the server answered."""
    chunk = b"a" * MiB
    with connect(service) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: glider\r\nX-Padding: ")
        try:
            for _ in range(megabytes):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection mid-header: what we want
        else:
            outcome.append("accepted all")
            return
        answer = read_until_closed(sock)
        outcome.append("431" if status_of(answer) == 431 else "closed" if not answer else repr(answer[:60]))


def rss(service: ServiceProcess) -> int:
    return int(psutil.Process(service.pid).memory_info().rss)


def test_parallel_200_mb_headers_keep_memory_flat(service: ServiceProcess) -> None:
    process = psutil.Process(service.pid)
    assert httpx.get(service.url + "/healthz", timeout=10).status_code == 200
    before = rss(service)
    outcome: list[str] = []
    clients = [threading.Thread(target=stream_header, args=(service, 200, outcome)) for _ in range(4)]
    for client in clients:
        client.start()
    peak = before
    while any(client.is_alive() for client in clients):
        peak = max(peak, int(process.memory_info().rss))
        time.sleep(0.02)
    for client in clients:
        client.join(timeout=60)
    assert peak - before < 32 * MiB, f"RSS grew by {(peak - before) / MiB:.0f} MiB"
    assert len(outcome) == 4, outcome
    assert set(outcome) <= {"431", "closed"}, outcome
    assert "431" in outcome  # at least one client read the answer before the reset
    assert httpx.get(service.url + "/healthz", timeout=10).status_code == 200


def test_oversized_heads_are_refused_before_the_app(service: ServiceProcess) -> None:
    big = httpx.get(service.url + "/healthz", headers={"X-Padding": "a" * 20000}, timeout=10)
    assert big.status_code == 431
    assert big.headers["content-type"] == "application/problem+json"
    assert "16384 bytes" in big.json()["detail"]
    many = httpx.get(service.url + "/healthz", headers={f"X-H{i}": "v" for i in range(150)}, timeout=10)
    assert many.status_code == 431
    assert "100 header fields" in many.json()["detail"]
    long_line = httpx.get(service.url + "/" + "a" * 9000, timeout=10)
    assert long_line.status_code == 414


def test_a_flood_of_refused_requests_logs_a_bounded_number_of_lines(seaweed: S3Endpoint) -> None:
    flood = PER_INTERVAL * 10
    with running_service(limits_env(seaweed), cli=True) as service:  # its own: a fresh log window
        answers = []
        for _ in range(flood):
            with connect(service) as sock:
                sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                answers.append(status_of(read_until_closed(sock)))
        assert answers == [400] * flood  # every one is still refused, and answered
        assert httpx.get(service.url + "/healthz", timeout=10).status_code == 200
    assert service.log_text().count("refused a request") == PER_INTERVAL  # the flood lasts < 1 window


def test_half_sent_request_is_answered_408_and_closed(service: ServiceProcess) -> None:
    with connect(service) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: glider\r\nX-Slow: ")
        began = time.monotonic()
        answer = read_until_closed(sock)
        waited = time.monotonic() - began
    assert status_of(answer) == 408, answer
    assert b"did not arrive within 2 seconds" in answer
    assert HEADER_TIMEOUT - 0.5 <= waited <= HEADER_TIMEOUT + 6


def test_idle_connection_is_closed_after_the_header_timeout(service: ServiceProcess) -> None:
    with connect(service) as sock:
        began = time.monotonic()
        assert read_until_closed(sock) == b""  # closed without an answer: nothing was asked
        assert time.monotonic() - began <= HEADER_TIMEOUT + 6


def test_stalled_body_is_answered_408_and_closed(service: ServiceProcess) -> None:
    head = (
        "POST /upload?bucket=limits-bucket&key=slow.bin HTTP/1.1\r\nHost: glider\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100000\r\n\r\n"
    )
    with connect(service) as sock:
        sock.sendall(head.encode() + b"x" * 10)
        began = time.monotonic()
        answer = read_until_closed(sock)
        waited = time.monotonic() - began
    assert status_of(answer) == 408, answer
    assert b"body stalled" in answer
    assert BODY_TIMEOUT - 0.5 <= waited <= BODY_TIMEOUT + 6


def test_slow_but_steady_body_is_not_cut(service: ServiceProcess, seaweed: S3Endpoint) -> None:
    """A body that keeps arriving (gaps shorter than the timeout) is read to the end."""
    del seaweed
    parts = 4

    def body() -> Iterator[bytes]:
        for _ in range(parts):
            yield b"y" * 1000
            time.sleep(BODY_TIMEOUT * 0.6)  # the client's own pacing, not a wait for the server

    answer = httpx.post(
        service.url + "/upload",
        params={"bucket": "no-such-bucket-limits", "key": "steady.bin"},
        content=body(),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    # The whole body was read (the store then answers for the missing bucket), not a 408.
    assert answer.status_code == 404, answer.text
    assert answer.json()["type"].endswith("bucket-not-found")


def test_healthz_stays_fast_while_slow_and_oversized_clients_hold_connections(
    service: ServiceProcess,
) -> None:
    slow = [connect(service) for _ in range(200)]
    try:
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: glider\r\n")
        outcome: list[str] = []
        floods = [threading.Thread(target=stream_header, args=(service, 100, outcome)) for _ in range(2)]
        for flood in floods:
            flood.start()
        latencies = []
        with httpx.Client(base_url=service.url, timeout=10) as client:
            for _ in range(20):
                began = time.monotonic()
                assert client.get("/healthz").status_code == 200
                latencies.append(time.monotonic() - began)
        for flood in floods:
            flood.join(timeout=60)
        # The slow clients themselves are let go once their header deadline passes.
        answers = [status_of(read_until_closed(sock)) for sock in slow]
    finally:
        for sock in slow:
            sock.close()
    assert statistics.median(latencies) < 0.25, latencies
    assert max(latencies) < 2.0, latencies
    assert answers == [408] * len(slow)


def test_connections_past_the_bound_are_answered_503(seaweed: S3Endpoint) -> None:
    env = limits_env(seaweed, DG_HTTP_MAX_CONNECTIONS="20", DG_HTTP_HEADER_TIMEOUT_SECONDS="60")
    with running_service(env, cli=True) as service:
        held = [connect(service) for _ in range(20)]
        try:
            for sock in held:
                sock.sendall(b"GET /healthz HTTP/1.1\r\n")

            def refused() -> bool:
                with connect(service) as extra:
                    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: glider\r\n\r\n")
                    return status_of(read_until_closed(extra)) == 503

            wait_until(refused, timeout=20, what="a 503 past DG_HTTP_MAX_CONNECTIONS")
        finally:
            for sock in held:
                sock.close()

        def healthy() -> bool:
            return httpx.get(service.url + "/healthz", timeout=5).status_code == 200

        wait_until(healthy, timeout=20, what="/healthz once the held connections closed")
        assert "DG_HTTP_MAX_CONNECTIONS" in service.log_text()
