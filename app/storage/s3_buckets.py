"""One obstore `S3Store` per bucket (each with its own connection pool), and the one way to call
them: counted, failures translated by `s3_errors`, throttling backed off.

obstore retries idempotent requests itself (exponential backoff with jitter, `retry_config`) but
immediately and without showing a Retry-After header; a request still throttled after those
retries gets whole further rounds here, after a real pause (full jitter, doubling, capped), up
to `max_attempts` rounds. Thread-safe.
"""

from __future__ import annotations

import itertools
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

T = TypeVar("T")
THROTTLE_BASE = 1.0  # seconds of the first pause after a throttled round (then doubling)
THROTTLE_CAP = 20.0


class BucketClients:
    """`counts` tallies calls by operation (head, list, get, put, delete, copy)."""

    def __init__(self, options: S3Options) -> None:
        self.options = options
        self.endpoint = options.endpoint
        self._client = client_config(options)
        self._retry = retry_config(options)
        static = bool(options.access_key_id and options.secret_access_key)
        self._credentials = None if static else BotocoreCredentials()
        self._stores: dict[str, S3Store] = {}
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def count(self, op: str) -> None:
        with self._lock:
            self.counts[op] += 1

    def store(self, bucket: str) -> S3Store:
        """The bucket's obstore client (InvalidInput for a bad bucket name: never sent)."""
        with self._lock:
            found = self._stores.get(bucket)
            if found is None:
                validate_bucket(bucket)
                found = self._stores[bucket] = self._build(bucket)
            return found

    def _build(self, bucket: str) -> S3Store:
        o = self.options
        auth: dict[str, Any] = (
            {"credential_provider": self._credentials}
            if self._credentials is not None
            else {"access_key_id": o.access_key_id, "secret_access_key": o.secret_access_key}
        )
        virtual = o.addressing_style == "virtual" or (o.addressing_style == "auto" and o.endpoint_url is None)
        return S3Store(
            bucket, endpoint=self.endpoint, region=o.region, virtual_hosted_style_request=virtual,
            client_options=self._client, retry_config=self._retry, **auth,
        )  # fmt: skip

    def call(
        self, op: str, bucket: str, key: str | None, work: Callable[[S3Store], T], *, creating: bool = False
    ) -> T:
        """Run one obstore call on `bucket`, counted, with its failure translated."""
        store = self.store(bucket)
        for attempt in itertools.count(1):
            self.count(op)
            try:
                return work(store)
            except GliderError:
                raise
            except Exception as err:  # obstore raises builtins and its own classes alike
                failure = translate_obstore(
                    err, endpoint=self.endpoint, bucket=bucket, key=key, creating=creating
                )
                if not isinstance(failure, Throttled) or attempt >= self.options.max_attempts:
                    raise failure from err
            time.sleep(random.uniform(0, min(THROTTLE_CAP, THROTTLE_BASE * 2 ** (attempt - 1))))  # noqa: S311
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._stores.clear()
