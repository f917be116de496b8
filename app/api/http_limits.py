"""Limits on what a client can make the HTTP server hold before (and while) the app reads a request.

uvicorn's default parser (httptools) buffers a request's headers without any bound, and neither
of its protocols times out a client that sends a request slowly: four 200 MB headers took the
process past 1 GB before authentication could run. `glider serve` therefore runs uvicorn's h11
protocol, whose parser refuses to buffer more than `max_header_bytes` of an incomplete request
head, with this subclass on top, which adds what h11 and uvicorn lack:

- a header count and request-line length check (431 / 414, decided by `refusal()`);
- a deadline for each request head (`header_timeout_seconds` from the connection's first byte,
  or from the end of the previous response): 408, then the connection is closed;
- a body idle timeout (`body_timeout_seconds` without a byte while the server is ready to read;
  a paused read because the app is behind does not count against the client): 408 or a close;
- a bound on open connections: the one past `max_connections` is answered 503 and closed before
  anything is read, so slow clients cannot exhaust file descriptors.

Refusals are written straight to the socket as small problem+json documents and the connection
is closed; the app never sees these requests. Their log lines are rate limited per kind
(`LimitedLog`): a client can provoke them at will. Everything runs on the event loop (no threads).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, TypedDict

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from app.api.problems import PROBLEM_JSON, TYPE_BASE
from app.observability.limited_log import LimitedLog

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Byte sizes, counts and seconds; see `app.settings.HttpSettings` for each one's meaning."""

    max_header_bytes: int = 16384
    max_header_count: int = 100
    max_request_line_bytes: int = 8192
    header_timeout_seconds: float = 15.0
    body_timeout_seconds: float = 60.0
    max_connections: int = 1000
    backlog: int = 2048


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    slug: str
    detail: str


HEAD_TOO_LARGE = "request-header-too-large"


def refusal(
    method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]], limits: HttpLimits
) -> Refusal | None:
    """Why a parsed request head must be refused, or None (pure).

    h11 enforces `max_header_bytes` only on a head still incomplete when its buffer fills; a head
    that arrives whole in one read is measured here (names and values plus `: ` and CRLF).
    """
    line = len(method) + len(target) + len(b"  HTTP/1.1")
    if line > limits.max_request_line_bytes:
        return Refusal(
            414, "uri-too-long", f"the request line is longer than {limits.max_request_line_bytes} bytes"
        )
    if len(headers) > limits.max_header_count:
        return Refusal(
            431, HEAD_TOO_LARGE, f"the request has more than {limits.max_header_count} header fields"
        )
    if line + sum(len(name) + len(value) + 4 for name, value in headers) > limits.max_header_bytes:
        return Refusal(431, HEAD_TOO_LARGE, _too_large(limits))
    return None


def _too_large(limits: HttpLimits) -> str:
    return f"the request line and headers are larger than {limits.max_header_bytes} bytes"


def response_bytes(refused: Refusal) -> bytes:
    """A complete `Connection: close` HTTP/1.1 response carrying a problem document."""
    phrase = HTTPStatus(refused.status).phrase
    body = json.dumps(
        {
            "type": TYPE_BASE + refused.slug,
            "title": phrase,
            "status": refused.status,
            "detail": refused.detail,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {refused.status} {phrase}\r\ncontent-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _CheckedConnection(h11.Connection):
    """h11's server connection plus the checks h11 lacks (header count, request-line length).

    Keeps the refusal for the protocol to answer with: uvicorn turns every parser error into a
    generic 400 through `send_400_response`, which the protocol below overrides.
    """

    def __init__(self, limits: HttpLimits) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        self.limits = limits
        self.refused: Refusal | None = None
        self.heads_parsed = 0

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as err:
            if err.error_status_hint == 431:
                self.refused = Refusal(431, HEAD_TOO_LARGE, _too_large(self.limits))
            else:
                self.refused = Refusal(400, "malformed-request", "the request is not valid HTTP/1.1")
            raise
        if isinstance(event, h11.Request):
            self.refused = refusal(event.method, event.target, event.headers, self.limits)
            if self.refused is not None:
                raise h11.RemoteProtocolError(self.refused.detail, error_status_hint=self.refused.status)
            self.heads_parsed += 1
        return event


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the limits above. Use `protocol_for(limits)`, which binds them."""

    limits: ClassVar[HttpLimits] = HttpLimits()
    refusal_log: ClassVar[LimitedLog] = LimitedLog(log)  # shared by the server's connections

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = self._checked = _CheckedConnection(self.limits)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_awaited = 0  # heads_parsed value that ends the current head deadline
        self._body_timer: asyncio.TimerHandle | None = None
        self._last_read = 0.0
        self._bytes_since_head = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.refusal_log.log(
                logging.WARNING,
                "refused a connection",
                "refused a connection: %d open (DG_HTTP_MAX_CONNECTIONS)",
                len(self.connections) - 1,
            )
            self._refuse(Refusal(503, "too-many-connections", "the server has too many open connections"))
            return
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_read = self.loop.time()
        self._bytes_since_head += len(data)
        parsed = self._checked.heads_parsed
        super().data_received(data)
        if self._checked.heads_parsed != parsed:
            self._head_parsed()

    def on_response_complete(self) -> None:
        # Armed before the base class looks at pipelined data, which may complete the next head.
        if not self.transport.is_closing():
            self._arm_head_deadline()
        parsed = self._checked.heads_parsed
        super().on_response_complete()
        if self._checked.heads_parsed != parsed:
            self._head_parsed()

    def send_400_response(self, msg: str) -> None:
        refused = self._checked.refused or Refusal(
            400, "malformed-request", "the request is not valid HTTP/1.1"
        )
        self.refusal_log.log(logging.INFO, "refused a request", "refused a request: %s", refused.detail)
        self._refuse(refused)

    # Deadlines

    def _arm_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_awaited = self._checked.heads_parsed + 1
        self._bytes_since_head = 0
        self._head_timer = self.loop.call_later(self.limits.header_timeout_seconds, self._head_expired)

    def _head_parsed(self) -> None:
        if self._checked.heads_parsed >= self._head_awaited and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self._body_timer is None and self.conn.their_state is h11.SEND_BODY:
            self._last_read = self.loop.time()
            self._body_timer = self.loop.call_later(self.limits.body_timeout_seconds, self._body_check)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._checked.heads_parsed >= self._head_awaited:
            return
        if self._bytes_since_head == 0:
            self.transport.close()  # an idle connection: nothing to answer
            return
        detail = f"the request headers did not arrive within {self.limits.header_timeout_seconds:g} seconds"
        self.refusal_log.log(logging.INFO, "closed a connection", "closed a connection: %s", detail)
        self._refuse(Refusal(408, "request-timeout", detail))

    def _body_check(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        now = self.loop.time()
        waiting_for_app = self.flow.read_paused or (
            self.cycle is not None and self.cycle.waiting_for_100_continue
        )
        if waiting_for_app:
            # The app has not consumed what arrived, or has not yet asked for the body the client
            # holds back until `100 Continue`: the server is the slow side, not the client.
            self._last_read = now
        idle = now - self._last_read
        if idle < self.limits.body_timeout_seconds:
            self._body_timer = self.loop.call_later(self.limits.body_timeout_seconds - idle, self._body_check)
            return
        detail = f"the request body stalled for {self.limits.body_timeout_seconds:g} seconds"
        self.refusal_log.log(logging.INFO, "closed a connection", "closed a connection: %s", detail)
        self._refuse(Refusal(408, "request-timeout", detail))

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _refuse(self, refused: Refusal) -> None:
        """Answer `refused` unless a response is already under way, then close the connection."""
        self._cancel_timers()
        # IDLE: between requests; SEND_RESPONSE: a head is in, no answer begun. Otherwise an
        # answer is under way or sent (e.g. a 401 before the body), and a second one would lie.
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self.transport.write(response_bytes(refused))
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() sees a disconnect; its sends are dropped
            cycle.message_event.set()
        self.transport.close()


def protocol_for(limits: HttpLimits) -> type[LimitedH11Protocol]:
    """A protocol class bound to `limits` (uvicorn instantiates the class itself)."""

    class BoundProtocol(LimitedH11Protocol):
        pass

    BoundProtocol.limits = limits
    BoundProtocol.refusal_log = LimitedLog(log)
    return BoundProtocol


class ServerOptions(TypedDict):
    http: type[asyncio.Protocol]
    h11_max_incomplete_event_size: int
    backlog: int


def server_options(limits: HttpLimits) -> ServerOptions:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` that install these limits."""
    return ServerOptions(
        http=protocol_for(limits),
        h11_max_incomplete_event_size=limits.max_header_bytes,
        backlog=limits.backlog,
    )
