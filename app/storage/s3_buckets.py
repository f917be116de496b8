"""Two obstore `S3Store`s per bucket (each with its own connection pool, built on first use),
and the one way to call them: counted, failures translated by `s3_errors`, retried by `s3_retry`.

- `requests` (obstore's own retries off) serves single requests: HEAD, GET, range GET, PUT,
  COPY, DELETE, one LIST page. Each failure comes straight back here, so a throttled answer's
  Retry-After is obeyed before the next attempt, and other faults get full-jitter backoff.
- `transfers` (obstore's retries on) serves multi-request streams: a streaming GET (obstore
  resumes the body where it broke), a multipart PUT (one part re-sent, not the object), listings.
  Here only throttling gets further rounds.

obstore never shows response headers, so the Retry-After of a throttled answer is read by one
bodiless probe (`BotoAdmin.throttle_probe`): at most one per bucket while the gate is held
(concurrent threads wait on the gate it sets, instead of each retrying), and none any more once
the server has answered a throttled probe without the header (AWS documents none). Thread-safe.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from obstore.store import S3Store

from app.domain.keys import validate_bucket
from app.errors import GliderError, Throttled
from app.storage.s3_config import BotocoreCredentials, S3Options, client_config, retry_config
from app.storage.s3_errors import translate_obstore
from app.storage.s3_retry import RetryPolicy, ThrottleGate, next_wait, retryable

T = TypeVar("T")
Probe = Callable[[str, "str | None"], "tuple[bool, float | None]"]


class BucketClients:
    """`counts` tallies calls by operation (head, list, get, put, delete, copy); `probe(bucket,
    key)` answers (throttled, Retry-After seconds) from one request that shows headers."""

    def __init__(self, options: S3Options, probe: Probe | None = None) -> None:
        self.options = options
        self.endpoint = options.endpoint
        self.policy = RetryPolicy(options.max_attempts, options.max_retry_wait, options.retry_budget)
        self._client = client_config(options)
        static = bool(options.access_key_id and options.secret_access_key)
        self._credentials = None if static else BotocoreCredentials()
        self._stores: dict[tuple[str, bool], S3Store] = {}
        self._lock = threading.Lock()
        self._probe = probe
        self._probe_lock = threading.Lock()
        self.gate = ThrottleGate()
        self.counts: Counter[str] = Counter()

    def count(self, op: str) -> None:
        with self._lock:
            self.counts[op] += 1

    def store(self, bucket: str, *, transfer: bool = True) -> S3Store:
        """The bucket's obstore client (InvalidInput for a bad bucket name: never sent)."""
        with self._lock:
            found = self._stores.get((bucket, transfer))
            if found is None:
                validate_bucket(bucket)
                found = self._stores[bucket, transfer] = self._build(bucket, transfer)
            return found

    def _build(self, bucket: str, transfer: bool) -> S3Store:
        o = self.options
        auth: dict[str, Any] = (
            {"credential_provider": self._credentials}
            if self._credentials is not None
            else {"access_key_id": o.access_key_id, "secret_access_key": o.secret_access_key}
        )
        virtual = o.addressing_style == "virtual" or (o.addressing_style == "auto" and o.endpoint_url is None)
        return S3Store(
            bucket, endpoint=self.endpoint, region=o.region, virtual_hosted_style_request=virtual,
            client_options=self._client, retry_config=retry_config(o, transfer=transfer), **auth,
        )  # fmt: skip

    def call(
        self,
        op: str,
        bucket: str,
        key: str | None,
        work: Callable[[S3Store], T],
        *,
        creating: bool = False,
        transfer: bool = False,
    ) -> T:
        """Run `work` on `bucket`'s store, counted, failures translated, retried per `s3_retry`
        (transfers: throttling only, obstore retried the rest). Raises the last failure, a
        Throttled one carrying the server's Retry-After when it was too long to wait for."""
        store = self.store(bucket, transfer=transfer)
        deadline = time.monotonic() + self.policy.budget
        attempt = 0
        while True:
            attempt += 1
            self._pass_gate(bucket, key, deadline)
            self.count(op)
            try:
                result = work(store)
            except GliderError:
                raise
            except Exception as err:  # obstore raises builtins and its own classes alike
                failure = translate_obstore(
                    err, endpoint=self.endpoint, bucket=bucket, key=key, creating=creating
                )
                if not retryable(failure, creating=creating) or (
                    transfer and not isinstance(failure, Throttled)
                ):
                    raise failure from err
                server = self._server_wait(bucket, key) if isinstance(failure, Throttled) else None
                pause = next_wait(
                    attempt,
                    failure,
                    server,
                    self.policy,
                    remaining=deadline - time.monotonic(),
                    rand=random.random(),  # noqa: S311 - jitter, not secrecy
                )
                if pause is None:
                    raise _give_up(failure, server) from err
                time.sleep(pause)
            else:
                return result

    def stream_failure(self, err: Exception, bucket: str) -> GliderError:
        """A listing stream's failure (obstore already retried it; a stream is not restarted
        here), a Throttled one carrying the server's Retry-After when it sends one."""
        failure = translate_obstore(err, endpoint=self.endpoint, bucket=bucket)
        if isinstance(failure, Throttled):
            server = self._server_wait(bucket, None)
            if server is not None:
                return _give_up(failure, server)
        return failure

    def _pass_gate(self, bucket: str, key: str | None, deadline: float) -> None:
        """Wait out a pause the server asked for on this bucket; Throttled at once when it is
        longer than `max_retry_wait` or outlasts the request's time budget."""
        held = self.gate.remaining(bucket)
        if held <= 0:
            return
        if held > self.policy.max_wait or time.monotonic() + held > deadline:
            where = f"object '{key}' in bucket '{bucket}'" if key is not None else f"bucket '{bucket}'"
            raise Throttled(
                f"S3 endpoint {self.endpoint} is throttling requests on {where}: asked to wait {held:.0f} s",
                retry_after=held,
            )
        time.sleep(held)

    def _server_wait(self, bucket: str, key: str | None) -> float | None:
        """The server's Retry-After for `bucket`: the gate's when another thread learned it,
        else one probe (threads arriving meanwhile wait for its answer)."""
        if self._probe is None:
            return None
        with self._probe_lock:
            held = self.gate.remaining(bucket)
            if held > 0:
                return held
            if self._probe is None:
                return None
            throttled, after = self._probe(bucket, key)
            if not throttled:
                return None
            if after is None:
                self._probe = None  # this server throttles without Retry-After: stop asking
                return None
            self.gate.hold(bucket, after)
            return after

    def close(self) -> None:
        with self._lock:
            self._stores.clear()


def _give_up(failure: GliderError, server_wait: float | None) -> GliderError:
    if isinstance(failure, Throttled) and server_wait is not None:
        return Throttled(f"{failure}; the server asked to wait {server_wait:.0f} s", retry_after=server_wait)
    return failure
