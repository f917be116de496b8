"""The pure decisions of app.api.http_limits (the server behaviour is in
tests/integration/test_service_http_limits.py)."""

from __future__ import annotations

import json

from app.api.http_limits import HttpLimits, Refusal, refusal, response_bytes

LIMITS = HttpLimits(max_header_bytes=2048, max_header_count=10, max_request_line_bytes=512)


def test_a_small_request_passes() -> None:
    assert refusal(b"GET", b"/healthz", [(b"host", b"glider")], LIMITS) is None


def test_long_request_line_is_414() -> None:
    found = refusal(b"GET", b"/" + b"a" * 600, [], LIMITS)
    assert found is not None
    assert found.status == 414


def test_too_many_fields_is_431() -> None:
    found = refusal(b"GET", b"/", [(b"x-%d" % i, b"v") for i in range(11)], LIMITS)
    assert found is not None
    assert (found.status, found.slug) == (431, "request-header-too-large")


def test_head_that_arrived_whole_is_measured() -> None:
    found = refusal(b"GET", b"/", [(b"x-padding", b"a" * 2100)], LIMITS)
    assert found is not None
    assert "2048 bytes" in found.detail
    assert refusal(b"GET", b"/", [(b"x-padding", b"a" * 1900)], LIMITS) is None


def test_refusal_is_a_complete_closing_problem_response() -> None:
    raw = response_bytes(Refusal(408, "request-timeout", "too slow"))
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 408 Request Timeout"
    assert "connection: close" in lines
    assert f"content-length: {len(body)}" in lines
    assert json.loads(body) == {
        "type": "urn:glider:problem:request-timeout",
        "title": "Request Timeout",
        "status": 408,
        "detail": "too slow",
    }
