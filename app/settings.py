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

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

StatsMode = Literal["quick", "sampled", "detailed"]
CommaList = Annotated[tuple[str, ...], NoDecode]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


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
    )
    region: str = Field(
        "us-east-1",
        validation_alias=AliasChoices("DG_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    access_key_id: str | None = Field(
        None, validation_alias=AliasChoices("DG_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
    )
    secret_access_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DG_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
    )
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    max_pool_connections: int = Field(64, ge=1)
    multipart_threshold_mb: int = Field(64, ge=5)
    multipart_chunk_mb: int = Field(16, ge=5)
    connect_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(60.0, gt=0)
    max_attempts: int = Field(3, ge=1)


class EngineSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_", extra="ignore", populate_by_name=True)

    max_ratio: float = Field(0.5, gt=0, le=1, description="Largest delta/original ratio kept as a delta")
    codec: Literal["xdelta3", "zstd"] = Field("xdelta3", description="Delta codec for new uploads")
    xdelta_level: int = Field(3, ge=0, le=9, description="xdelta3 level; 3 measured best (bench/RESULTS.md)")
    xdelta_secondary: Literal["none", "djw", "fgk", "lzma"] = "none"
    codec_memory_mb: int = Field(2048, ge=64, description="Largest source window the codec may use")
    codec_timeout_seconds: float = Field(600.0, gt=0)
    delta_extensions: CommaList = ()
    work_dir: Path | None = Field(None, description="Temporary files for uploads and rebuilds")

    _split = field_validator("delta_extensions", mode="before")(_split_commas)


class CacheSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_CACHE_", extra="ignore", populate_by_name=True)

    backend: Literal["filesystem", "memory"] = "filesystem"
    memory_size_mb: int = Field(512, ge=1)
    disk_size_mb: int = Field(10240, ge=1)
    dir: Path | None = None
    encryption_key: SecretStr | None = None
    encryption: bool = True


class StatsSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_STATS_", extra="ignore", populate_by_name=True)

    fresh_seconds: float = Field(30.0, ge=0)
    max_stale_seconds: float = Field(3600.0, ge=0)
    head_concurrency: int = Field(64, ge=1, le=1024)
    wait_seconds: float = Field(20.0, gt=0, description="How long a request waits for another's computation")
    lease_seconds: float = Field(15.0, gt=0)
    retry_backoff_seconds: float = Field(5.0, gt=0)


class SchedulerSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_", extra="ignore", populate_by_name=True)

    clear_cache_interval: float = Field(7200.0, ge=0, description="Seconds between cache clears; 0 disables")
    warm_buckets: CommaList = ()
    warm_modes: CommaList = ("quick", "sampled")
    warm_interval: float = Field(300.0, ge=0, description="Seconds between stats warm-ups; 0 disables")
    misfire_grace_seconds: int = Field(60, ge=1)

    _split = field_validator("warm_buckets", "warm_modes", mode="before")(_split_commas)


class RedisSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_REDIS_", extra="ignore", populate_by_name=True)

    url: SecretStr | None = None
    key_prefix: str = "glider:"
    socket_timeout_seconds: float = Field(2.0, gt=0)


class AuthSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_AUTH_", extra="ignore", populate_by_name=True)

    enabled: bool = True
    tokens: SecretStr | None = Field(None, validation_alias=AliasChoices("DG_API_TOKENS", "DG_AUTH_TOKENS"))
    tokens_file: Path | None = Field(
        None, validation_alias=AliasChoices("DG_API_TOKENS_FILE", "DG_AUTH_TOKENS_FILE")
    )
    open_metrics: bool = True
    open_health: bool = True

    def token_scopes(self) -> dict[str, frozenset[str]]:
        """Parse `{"token": ["scope", ...]}` from the env value or the file (env wins)."""
        raw = self.tokens.get_secret_value() if self.tokens else None
        if raw is None and self.tokens_file is not None:
            raw = self.tokens_file.read_text(encoding="utf-8")
        if not raw:
            return {}
        parsed = json.loads(raw)
        if not isinstance(parsed, dict):
            raise ValueError("DG_API_TOKENS must be a JSON object of token -> list of scopes")
        return {str(tok): frozenset(str(s) for s in scopes) for tok, scopes in parsed.items()}


class ServerSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_upload_mb: int = Field(4096, ge=1)
    worker_threads: int = Field(32, ge=1)
    embedded_s3: bool = Field(True, description="Start SeaweedFS when no S3 endpoint is configured")
    default_bucket: str = "artifacts"


class LogSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_LOG_", extra="ignore", populate_by_name=True)

    level: str = "INFO"
    json_format: bool = Field(True, validation_alias=AliasChoices("DG_LOG_JSON", "DG_LOG_JSON_FORMAT"))


class AssetSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="DG_ASSET_", extra="ignore", populate_by_name=True)

    cache_dir: Path | None = None
    max_age_seconds: float = Field(86400.0, ge=0)
    max_stale_seconds: float = Field(7 * 86400.0, ge=0)
    immutable_buckets: CommaList = Field(
        (), validation_alias=AliasChoices("DG_IMMUTABLE_BUCKETS", "DG_ASSET_IMMUTABLE_BUCKETS")
    )
    prefill_concurrency: int = Field(8, ge=1)
    server_url: str | None = Field(None, description="Fetch assets through this Glider server instead of S3")
    server_token: SecretStr | None = Field(None, description="Bearer token (read scope) for server_url")

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
    log: LogSettings = Field(default_factory=LogSettings)
    assets: AssetSettings = Field(default_factory=AssetSettings)
