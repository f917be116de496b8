"""Settings: the only module that reads the environment. Prefix `DG_`, grouped by concern.

Each group is read from its own prefix so the seed documents' names keep working
(`DG_CACHE_BACKEND`, `DG_CACHE_MEMORY_SIZE_MB`, `DG_CACHE_ENCRYPTION_KEY`, `DG_MAX_RATIO`), and
the standard `AWS_*` variables configure S3. Lower layers receive plain values, never Settings.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.stats.model import StatsMode

CommaList = Annotated[tuple[str, ...], NoDecode]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


MIN_TOKEN_LENGTH = 16


def parse_tokens(raw: str) -> dict[str, frozenset[str]]:
    """`{"token": ["scope", ...]}` as a mapping; ValueError saying what is wrong (never the token)."""
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"is not valid JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(scopes, list) and all(isinstance(s, str) for s in scopes) for scopes in parsed.values()
    ):
        raise ValueError("must be a JSON object mapping each token to a list of scopes")
    weak = sum(len(token) < MIN_TOKEN_LENGTH for token in parsed)
    if weak:
        # A short token can be guessed (401s are answered as fast as the service can).
        raise ValueError(
            f"has {weak} token(s) shorter than {MIN_TOKEN_LENGTH} characters: use long random tokens "
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return {str(tok): frozenset(scopes) for tok, scopes in parsed.items()}


def _http_url(value: str | None) -> str | None:
    """An http(s) URL with a host, or None for an unset or empty variable."""
    if value is None or not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.strip()


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_STATS_MODES = ("quick", "sampled", "detailed")


def default_cache_root() -> Path:
    """Under the user's cache directory when it is writable, else the system temp directory."""
    home_cache = Path.home() / ".cache"
    try:
        home_cache.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=home_cache, delete=True)  # noqa: SIM115
        probe.close()
        return home_cache / "glider"
    except OSError:
        return Path(tempfile.gettempdir()) / "glider"


class _Group(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)


class S3Settings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_S3_", extra="ignore", populate_by_name=True)

    endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DG_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
        description="S3 endpoint; unset: AWS, or embedded SeaweedFS when DG_EMBEDDED_S3 is on",
    )
    region: str = Field(
        "us-east-1",
        validation_alias=AliasChoices("DG_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="S3 region used to sign requests",
    )
    access_key_id: str | None = Field(
        None,
        validation_alias=AliasChoices("DG_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        description="S3 access key; unset: the standard AWS credential chain",
    )
    secret_access_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DG_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        description="S3 secret key paired with the access key",
    )
    addressing_style: Literal["path", "virtual", "auto"] = Field(
        "path", description="Bucket addressing in URLs (path suits SeaweedFS and MinIO)"
    )
    max_pool_connections: int = Field(64, ge=1, description="Most connections open to S3 at once")
    multipart_threshold_mb: int = Field(
        64, ge=5, description="Objects larger than this are uploaded in parts"
    )
    multipart_chunk_mb: int = Field(16, ge=5, description="Part size of multipart uploads")
    connect_timeout_seconds: float = Field(5.0, gt=0, description="Timeout to connect to S3")
    read_timeout_seconds: float = Field(60.0, gt=0, description="Timeout waiting for S3 to answer")
    max_attempts: int = Field(3, ge=1, description="Attempts per S3 request, retries included")
    list_concurrency: int = Field(
        8, ge=1, le=64, description="Parallel LIST streams over a big bucket's subtrees (stats)"
    )
    # Proxies and trusted CAs (the standard variables; the README's credentials section has more).
    https_proxy: str | None = Field(
        None, validation_alias=AliasChoices("DG_S3_HTTPS_PROXY", "HTTPS_PROXY"),
        description="Proxy for https:// S3 endpoints",
    )  # fmt: skip
    http_proxy: str | None = Field(
        None, validation_alias=AliasChoices("DG_S3_HTTP_PROXY", "HTTP_PROXY"),
        description="Proxy for http:// S3 endpoints",
    )  # fmt: skip
    no_proxy: str | None = Field(
        None, validation_alias=AliasChoices("DG_S3_NO_PROXY", "NO_PROXY"),
        description="Comma-separated hosts, domains or CIDRs reached without the proxy",
    )  # fmt: skip
    ca_bundle: Path | None = Field(
        None, validation_alias=AliasChoices("DG_S3_CA_BUNDLE", "AWS_CA_BUNDLE"),
        description="PEM file of extra CAs trusted for the S3 endpoint and proxy",
    )  # fmt: skip

    _url = field_validator("endpoint_url", mode="before")(_http_url)


class EngineSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_", extra="ignore", populate_by_name=True)

    max_ratio: float = Field(0.5, gt=0, le=1, description="Largest delta/original ratio kept as a delta")
    codec: Literal["xdelta3", "zstd"] = Field("xdelta3", description="Delta codec for new uploads")
    xdelta_level: int = Field(3, ge=0, le=9, description="xdelta3 level; 3 measured best (bench/RESULTS.md)")
    xdelta_secondary: Literal["none", "djw", "fgk", "lzma"] = Field(
        "none", description="xdelta3 secondary compressor (-S); none is fastest"
    )
    codec_memory_mb: int = Field(256, ge=64, description="Resident memory the codec process may use")
    codec_timeout_seconds: float = Field(600.0, gt=0, description="Longest a single encode or decode may run")
    delta_extensions: CommaList = Field(
        (),
        description="File suffixes stored as deltas, replacing the built-in list (README, How objects "
        "are stored); unset: the built-in list",
    )
    delta_extensions_extra: CommaList = Field(
        (), description="File suffixes added to the candidate list (e.g. .pex,.crate)"
    )
    gzip_deltas: bool = Field(
        True,
        description="Deltas inside .tar.gz/.tgz/.gz with an exact recompression recipe; false keeps "
        "to forms deltaglider 6.2.0 reads byte-exact",
    )
    gzip_recipe_seconds: float = Field(
        3.0, gt=0, description="Longest search for a gzip recompression recipe per file (upload or rescue)"
    )
    gzip_max_expanded_mb: int = Field(
        16384, ge=1, description="Largest decompressed size of a gzip upload; larger is refused (413)"
    )
    gzip_max_ratio: float = Field(
        250.0,
        gt=1,
        description="Largest decompressed/compressed ratio of a gzip upload expanding past 64 MiB; "
        "larger is refused as a decompression bomb (413)",
    )
    work_dir: Path | None = Field(
        None,
        description="Spooled uploads and scratch files; the service works in a private subdirectory and "
        "removes killed processes' leftovers at start. Unset: <user cache>/glider/work (CLI: system temp)",
    )

    _split = field_validator("delta_extensions", "delta_extensions_extra", mode="before")(_split_commas)


class CacheSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_CACHE_", extra="ignore", populate_by_name=True)

    backend: Literal["filesystem", "memory"] = Field("filesystem", description="Where references are cached")
    memory_size_mb: int = Field(512, ge=1, description="Budget of the memory backend (LRU by bytes)")
    disk_size_mb: int = Field(10240, ge=1, description="Budget of the filesystem backend (LRU by bytes)")
    dir: Path | None = Field(
        None, description="Filesystem cache directory; unset: <user cache>/glider/references"
    )
    encryption_key: SecretStr | None = Field(
        None, description="Persistent encryption key (format in the README); unset: a per-process key"
    )
    encryption: bool = Field(True, description="Encrypt cached references at rest")


class StatsSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_STATS_", extra="ignore", populate_by_name=True)

    fresh_seconds: float = Field(
        30.0, ge=0, description="Stats validated this recently are served without a LIST"
    )
    max_stale_seconds: float = Field(
        3600.0, ge=0, description="Oldest stats ever served while a recomputation runs"
    )
    head_concurrency: int = Field(
        64, ge=1, le=1024, description="Parallel HEAD requests while computing stats"
    )
    wait_seconds: float = Field(20.0, gt=0, description="How long a request waits for another's computation")
    lease_seconds: float = Field(
        15.0, gt=0, description="Single-flight lease length; renewed while computing"
    )
    retry_backoff_seconds: float = Field(
        5.0, gt=0, description="First back-off after a failed background revalidation (doubles)"
    )


class SchedulerSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_", extra="ignore", populate_by_name=True)

    clear_cache_interval: float = Field(7200.0, ge=0, description="Seconds between cache clears; 0 disables")
    warm_buckets: CommaList = Field((), description="Buckets whose stats the warm_stats job keeps fresh")
    warm_modes: Annotated[tuple[StatsMode, ...], NoDecode] = Field(
        (StatsMode.QUICK, StatsMode.SAMPLED), description="Stats modes the warm_stats job computes"
    )
    warm_interval: float = Field(300.0, ge=0, description="Seconds between stats warm-ups; 0 disables")
    misfire_grace_seconds: int = Field(60, ge=1, description="A job run delayed by more than this is skipped")
    abort_uploads_after_hours: float = Field(
        24.0, ge=0, description="Abort incomplete multipart uploads older than this (hourly job); 0 disables"
    )

    _split = field_validator("warm_buckets", "warm_modes", mode="before")(_split_commas)

    @field_validator("warm_modes")
    @classmethod
    def _known_modes(cls, modes: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in modes if m not in _STATS_MODES]
        if unknown:
            raise ValueError(f"has unknown stats mode(s) {', '.join(unknown)}: use {', '.join(_STATS_MODES)}")
        return modes


class RedisSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_REDIS_", extra="ignore", populate_by_name=True)

    url: SecretStr | None = Field(
        None, description="Redis for coordination across replicas (redis://...); unset: in-process only"
    )
    key_prefix: str = Field("glider:", description="Prefix of every Redis key Glider writes")
    socket_timeout_seconds: float = Field(
        2.0, gt=0, description="Redis operation timeout (then in-process fallback)"
    )


class AuthSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_AUTH_", extra="ignore", populate_by_name=True)

    enabled: bool = Field(True, description="Require bearer tokens (false: no auth; local development only)")
    tokens: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DG_API_TOKENS", "DG_AUTH_TOKENS"),
        description='Tokens and scopes as JSON: {"token": ["upload", "read", "admin"]}',
    )
    tokens_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("DG_API_TOKENS_FILE", "DG_AUTH_TOKENS_FILE"),
        description="File holding the same JSON (DG_API_TOKENS wins when both are set)",
    )
    open_metrics: bool = Field(True, description="/metrics answers without a token")
    open_health: bool = Field(True, description="/healthz and /readyz answer without a token")
    open_docs: bool = Field(True, description="/docs, /redoc and /openapi.json answer without a token")

    @field_validator("tokens")
    @classmethod
    def _tokens_are_json(cls, tokens: SecretStr | None) -> SecretStr | None:
        if tokens is not None and tokens.get_secret_value().strip():
            parse_tokens(tokens.get_secret_value())
        return tokens

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


class ServerSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_", extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", description="Interface `glider serve` binds")
    port: int = Field(8080, ge=0, le=65535, description="Port `glider serve` listens on")
    max_upload_mb: int = Field(4096, ge=1, description="Largest upload accepted (413 above it)")
    worker_threads: int = Field(
        32, ge=1, description="Threads running blocking work (S3, codec, hashing) for requests"
    )
    embedded_s3: bool = Field(
        False,
        description="Start a local SeaweedFS when no S3 endpoint is set (`glider serve --embedded` sets it)",
    )
    default_bucket: str = Field("artifacts", description="Bucket that --embedded creates and /readyz checks")
    embedded_s3_max_restarts: int = Field(
        5, ge=0, description="Restarts of a failing embedded SeaweedFS in a row before the service exits"
    )


class HttpSettings(_Group):
    """What a client may make the HTTP server hold before and while a request is read
    (enforced by `app.api.http_limits`, which `glider serve` installs)."""

    model_config = SettingsConfigDict(env_prefix="DG_HTTP_", extra="ignore", populate_by_name=True)

    max_header_bytes: int = Field(
        16384, ge=1024, le=1048576, description="Largest request line plus headers, in bytes (431 above it)"
    )
    max_header_count: int = Field(
        100, ge=8, le=10000, description="Most header fields in a request (431 above it)"
    )
    max_request_line_bytes: int = Field(
        8192,
        ge=256,
        le=1048576,
        description="Longest request line (method, path, query), in bytes (414 above it)",
    )
    header_timeout_seconds: float = Field(
        15.0, gt=0, description="Time a client has to send a request's line and headers (408, then closed)"
    )
    body_timeout_seconds: float = Field(
        60.0, gt=0, description="Longest pause while a request body is being read (408, then closed)"
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="Open connections at once; more are answered 503 and closed (keep below ulimit -n)",
    )
    backlog: int = Field(2048, ge=1, description="Connections the kernel queues before they are accepted")


class LogSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_LOG_", extra="ignore", populate_by_name=True)

    level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING or ERROR")

    @field_validator("level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        if level.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return level.upper()

    json_format: bool = Field(
        True,
        validation_alias=AliasChoices("DG_LOG_JSON", "DG_LOG_JSON_FORMAT"),
        description="One JSON object per log line (false: plain text)",
    )


class AssetSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_ASSET_", extra="ignore", populate_by_name=True)

    cache_dir: Path | None = Field(
        None, description="Asset cache directory; unset: <user cache>/glider/assets"
    )
    max_age_seconds: float = Field(
        86400.0, ge=0, description="Revalidate a local copy older than this (0: on every fetch)"
    )
    max_stale_seconds: float = Field(
        7 * 86400.0, ge=0, description="Use a local copy up to this old when S3 is unreachable"
    )
    immutable_buckets: CommaList = Field(
        (),
        validation_alias=AliasChoices("DG_IMMUTABLE_BUCKETS", "DG_ASSET_IMMUTABLE_BUCKETS"),
        description="Buckets whose assets are never revalidated",
    )
    prefill_concurrency: int = Field(8, ge=1, description="Parallel downloads of `glider prefill`")
    server_url: str | None = Field(None, description="Fetch assets through this Glider server instead of S3")
    server_token: SecretStr | None = Field(None, description="Bearer token (read scope) for server_url")

    _url = field_validator("server_url", mode="before")(_http_url)

    _split = field_validator("immutable_buckets", mode="before")(_split_commas)


class Settings(BaseSettings):
    """Everything configurable, read once. Construct with overrides in tests: Settings(cache=...)."""

    model_config = SettingsConfigDict(env_prefix="DG_", extra="ignore")

    s3: S3Settings = Field(default_factory=S3Settings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    stats: StatsSettings = Field(default_factory=StatsSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    assets: AssetSettings = Field(default_factory=AssetSettings)
