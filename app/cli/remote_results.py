"""What the Glider service answers, as the CLI's types: objects seen through GET/HEAD headers and
the stats document (`app.cli.client` fills them in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.engine.results import StoredAs
from app.stats.model import BucketStats, StatsMode


@dataclass(frozen=True, slots=True)
class RemoteObject:
    """What a GET or HEAD says about a logical object (`sha256` None when the server has none;
    `size` from Content-Length, or the bytes received when a GET has none)."""

    bucket: str
    key: str
    size: int
    sha256: str | None
    stored_as: StoredAs
    etag: str
    last_modified: datetime | None


@dataclass(frozen=True, slots=True)
class ServerStats:
    """`GET /buckets/{b}/stats`: the figures, how they were obtained, and the JSON verbatim."""

    stats: BucketStats
    mode: StatsMode
    exact: bool
    cache: str
    computed_at: datetime
    age_seconds: float
    document: dict[str, object]


def http_date(text: str | None) -> datetime | None:
    if not text:
        return None
    from email.utils import parsedate_to_datetime  # noqa: PLC0415

    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None


def server_stats(document: dict[str, Any]) -> ServerStats:
    """The figures of a `GET /buckets/{b}/stats` answer, and the JSON verbatim."""
    cache = document["cache"]
    return ServerStats(
        stats=BucketStats(
            bucket=document["bucket"],
            object_count=int(document["object_count"]),
            total_size=int(document["total_size"]),
            compressed_size=int(document["compressed_size"]),
            space_saved=int(document["space_saved"]),
            average_compression_ratio=float(document["average_compression_ratio"]),
            delta_objects=int(document["delta_objects"]),
            direct_objects=int(document["direct_objects"]),
        ),
        mode=StatsMode(document["mode"]),
        exact=bool(document["exact"]),
        cache=str(cache["result"]),
        computed_at=datetime.fromisoformat(cache["computed_at"]),
        age_seconds=float(cache["age_seconds"]),
        document=document,
    )
