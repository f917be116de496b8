"""The running service's settings: stats, scheduled jobs, Redis, auth, HTTP server, logging."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from app.settings.fields import LOG_LEVELS, CommaList, Secret, parse_tokens, setting
from app.settings.group import Group
from app.stats.model import StatsMode


def _redis_url(url: Secret | None) -> Secret | None:
    if url is not None and url.get_secret_value().strip():
        scheme = urlsplit(url.get_secret_value().strip()).scheme
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return url


def _tokens_are_json(tokens: Secret | None) -> Secret | None:
    if tokens is not None and tokens.get_secret_value().strip():
        parse_tokens(tokens.get_secret_value())
    return tokens


def _known_level(level: str) -> str:
    if level.upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level.upper()


class StatsSettings(Group):
    env_prefix = "DG_STATS_"

    fresh_seconds: float = setting(
        default=30.0, ge=0, description="Stats validated this recently are served without a LIST"
    )
    max_stale_seconds: float = setting(
        default=3600.0, ge=0, description="Oldest stats ever served while a recomputation runs"
    )
    head_concurrency: int = setting(
        default=64, ge=1, le=1024, description="Parallel HEAD requests while computing stats"
    )
    wait_seconds: float = setting(
        default=20.0, gt=0, description="How long a request waits for another's computation"
    )
    lease_seconds: float = setting(
        default=15.0, gt=0, description="Single-flight lease length; renewed while computing"
    )
    retry_backoff_seconds: float = setting(
        default=5.0, gt=0, description="First back-off after a failed background revalidation (doubles)"
    )


class SchedulerSettings(Group):
    env_prefix = "DG_"

    clear_cache_interval: float = setting(
        default=7200.0, ge=0, description="Seconds between cache clears; 0 disables"
    )
    warm_buckets: CommaList = setting(
        default=(), description="Buckets whose stats the warm_stats job keeps fresh"
    )
    warm_modes: tuple[StatsMode, ...] = setting(
        default=(StatsMode.QUICK, StatsMode.SAMPLED), description="Stats modes the warm_stats job computes"
    )
    warm_interval: float = setting(
        default=300.0, ge=0, description="Seconds between stats warm-ups; 0 disables"
    )
    misfire_grace_seconds: int = setting(
        default=60, ge=1, description="A job run delayed by more than this is skipped"
    )
    abort_uploads_after_hours: float = setting(
        default=24.0,
        ge=0,
        description="Abort incomplete multipart uploads older than this (hourly job); 0 disables",
    )


class RedisSettings(Group):
    env_prefix = "DG_REDIS_"

    url: Secret | None = setting(
        default=None,
        check=_redis_url,
        description="Redis for coordination across replicas (redis://...); unset: in-process only",
    )
    key_prefix: str = setting(default="glider:", description="Prefix of every Redis key Glider writes")
    socket_timeout_seconds: float = setting(
        default=2.0, gt=0, description="Redis operation timeout (then in-process fallback)"
    )


class AuthSettings(Group):
    env_prefix = "DG_AUTH_"

    enabled: bool = setting(
        default=True, description="Require bearer tokens (false: no auth; local development only)"
    )
    tokens: Secret | None = setting(
        default=None,
        names=("DG_API_TOKENS", "DG_AUTH_TOKENS"),
        check=_tokens_are_json,
        description='Tokens and scopes as JSON: {"token": ["upload", "read", "admin"]}',
    )
    tokens_file: Path | None = setting(
        default=None,
        names=("DG_API_TOKENS_FILE", "DG_AUTH_TOKENS_FILE"),
        description="File holding the same JSON (DG_API_TOKENS wins when both are set)",
    )
    open_metrics: bool = setting(default=True, description="/metrics answers without a token")
    open_health: bool = setting(default=True, description="/healthz and /readyz answer without a token")
    open_docs: bool = setting(
        default=True, description="/docs, /redoc and /openapi.json answer without a token"
    )

    def token_scopes(self) -> dict[str, frozenset[str]]:
        """Parse `{"token": ["scope", ...]}` from the env value or the file (env wins).

        ValueError naming the variable when the file cannot be read or holds something else."""
        raw = self.tokens.get_secret_value() if self.tokens else None
        if raw is None and self.tokens_file is not None:
            try:
                raw = self.tokens_file.read_text(encoding="utf-8")
            except OSError as err:
                raise ValueError(
                    f"DG_API_TOKENS_FILE: cannot read {self.tokens_file} ({err.strerror})"
                ) from None
            try:
                return parse_tokens(raw) if raw.strip() else {}
            except ValueError as err:
                raise ValueError(f"DG_API_TOKENS_FILE: {self.tokens_file} {err}") from None
        if not raw or not raw.strip():
            return {}
        return parse_tokens(raw)


class ServerSettings(Group):
    env_prefix = "DG_"

    host: str = setting(default="127.0.0.1", description="Interface `glider serve` binds")
    port: int = setting(default=8080, ge=0, le=65535, description="Port `glider serve` listens on")
    max_upload_mb: int = setting(default=4096, ge=1, description="Largest upload accepted (413 above it)")
    worker_threads: int = setting(
        default=32, ge=1, description="Threads running blocking work (S3, codec, hashing) for requests"
    )
    embedded_s3: bool = setting(
        default=False,
        description="Start a local SeaweedFS when no S3 endpoint is set (`glider serve --embedded` sets it)",
    )
    default_bucket: str = setting(
        default="artifacts", description="Bucket that --embedded creates and /readyz checks"
    )
    embedded_s3_max_restarts: int = setting(
        default=5,
        ge=0,
        description="Restarts of a failing embedded SeaweedFS in a row before the service exits",
    )


class HttpSettings(Group):
    """What a client may make the HTTP server hold before and while a request is read
    (enforced by `app.api.http_limits`, which `glider serve` installs)."""

    env_prefix = "DG_HTTP_"

    max_header_bytes: int = setting(
        default=16384,
        ge=1024,
        le=1048576,
        description="Largest request line plus headers, in bytes (431 above it)",
    )
    max_header_count: int = setting(
        default=100, ge=8, le=10000, description="Most header fields in a request (431 above it)"
    )
    max_request_line_bytes: int = setting(
        default=8192,
        ge=256,
        le=1048576,
        description="Longest request line (method, path, query), in bytes (414 above it)",
    )
    header_timeout_seconds: float = setting(
        default=15.0,
        gt=0,
        description="Time a client has to send a request's line and headers (408, then closed)",
    )
    body_timeout_seconds: float = setting(
        default=60.0, gt=0, description="Longest pause while a request body is being read (408, then closed)"
    )
    max_connections: int = setting(
        default=1000,
        ge=1,
        description="Open connections at once; more are answered 503 and closed (keep below ulimit -n)",
    )
    backlog: int = setting(
        default=2048, ge=1, description="Connections the kernel queues before they are accepted"
    )


class LogSettings(Group):
    env_prefix = "DG_LOG_"

    level: str = setting(
        default="INFO", check=_known_level, description="Log level: DEBUG, INFO, WARNING or ERROR"
    )
    json_format: bool = setting(
        default=True,
        names=("DG_LOG_JSON", "DG_LOG_JSON_FORMAT"),
        description="One JSON object per log line (false: plain text)",
    )
