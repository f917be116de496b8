"""Request ids, HTTP metrics by route template, one log line per request, and the last-resort 500.

A pure ASGI middleware (no BaseHTTPMiddleware: streaming bodies pass through untouched). It sits
inside Starlette's ServerErrorMiddleware, so an unexpected exception is logged here exactly once
and answered with a problem document without a stack trace instead of being re-raised.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import INTERNAL, PROBLEM_JSON, problem_body
from app.observability.logging import request_id
from app.observability.metrics import Metrics

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
# Probes and scrapes arrive every few seconds: keep them out of the INFO log.
_QUIET_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})
UNMATCHED = "unmatched"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_ID.match(text) else None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/buckets/{bucket}/stats`), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, rid)
            await send(message)

        began = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.error("unhandled %s on %s %s", type(exc).__name__, scope["method"], route_template(scope),
                      exc_info=exc)  # fmt: skip
            if not started:
                await self._answer_500(scope, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - began)
            request_id.reset(token)

    async def _answer_500(self, scope: Scope, send: Send) -> None:
        detail = "an unexpected error occurred; see the server log"
        body = json.dumps(problem_body(INTERNAL, detail, str(scope.get("path", "")))).encode()
        headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = route_template(scope)
        self.metrics.http_requests.labels(method, route, str(status)).inc()
        self.metrics.http_request_seconds.labels(method, route).observe(seconds)
        level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
        log.log(
            level,
            "%s %s %d %.1fms",
            method,
            route,
            status,
            seconds * 1000,
            extra={"http_method": method, "route": route, "status": status, "duration_ms": seconds * 1000},
        )
