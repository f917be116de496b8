"""The data path's settings: S3 connection, the delta engine, the reference cache."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from app.settings.fields import CommaList, Secret, http_url, setting
from app.settings.group import Group


def _readable_file(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise ValueError(f"names no readable file ({path})")
    return path


class S3Settings(Group):
    env_prefix = "DG_S3_"

    endpoint_url: str | None = setting(
        default=None,
        names=("DG_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
        check=http_url,
        description="S3 endpoint; unset: AWS, or embedded SeaweedFS when DG_EMBEDDED_S3 is on",
    )
    region: str = setting(
        default="us-east-1",
        names=("DG_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="S3 region used to sign requests",
    )
    access_key_id: str | None = setting(
        default=None,
        names=("DG_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        description="S3 access key; unset: the standard AWS credential chain",
    )
    secret_access_key: Secret | None = setting(
        default=None,
        names=("DG_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        description="S3 secret key paired with the access key",
    )
    addressing_style: Literal["path", "virtual", "auto"] = setting(
        default="path", description="Bucket addressing in URLs (path suits SeaweedFS and MinIO)"
    )
    max_pool_connections: int = setting(default=64, ge=1, description="Most connections open to S3 at once")
    multipart_threshold_mb: int = setting(
        default=64, ge=5, description="Objects larger than this are uploaded in parts"
    )
    multipart_chunk_mb: int = setting(default=16, ge=5, description="Part size of multipart uploads")
    connect_timeout_seconds: float = setting(default=5.0, gt=0, description="Timeout to connect to S3")
    read_timeout_seconds: float = setting(default=60.0, gt=0, description="Timeout waiting for S3 to answer")
    max_attempts: int = setting(default=3, ge=1, description="Attempts per S3 request, retries included")
    max_retry_wait_seconds: float = setting(
        default=20.0,
        gt=0,
        description="Longest pause before a retry; a server asking longer (Retry-After) is not waited for",
    )
    retry_budget_seconds: float = setting(
        default=60.0, gt=0, description="No new attempt of an S3 request starts this long after its first"
    )
    list_concurrency: int = setting(
        default=8, ge=1, le=64, description="Parallel LIST streams over a big bucket's subtrees (stats)"
    )
    # Proxies and trusted CAs (the standard variables; the README's credentials section has more).
    https_proxy: str | None = setting(
        default=None, names=("DG_S3_HTTPS_PROXY", "HTTPS_PROXY"), check=http_url,
        description="Proxy for https:// S3 endpoints",
    )  # fmt: skip
    http_proxy: str | None = setting(
        default=None, names=("DG_S3_HTTP_PROXY", "HTTP_PROXY"), check=http_url,
        description="Proxy for http:// S3 endpoints",
    )  # fmt: skip
    no_proxy: str | None = setting(
        default=None, names=("DG_S3_NO_PROXY", "NO_PROXY"),
        description="Comma-separated hosts, domains or CIDRs reached without the proxy",
    )  # fmt: skip
    ca_bundle: Path | None = setting(
        default=None, names=("DG_S3_CA_BUNDLE", "AWS_CA_BUNDLE"), check=_readable_file,
        description="PEM file of extra CAs trusted for the S3 endpoint and proxy",
    )  # fmt: skip


class EngineSettings(Group):
    env_prefix = "DG_"

    max_ratio: float = setting(
        default=0.5, gt=0, le=1, description="Largest delta/original ratio kept as a delta"
    )
    codec: Literal["xdelta3", "zstd"] = setting(default="xdelta3", description="Delta codec for new uploads")
    xdelta_level: int = setting(
        default=3, ge=0, le=9, description="xdelta3 level; 3 measured best (bench/RESULTS.md)"
    )
    xdelta_secondary: Literal["none", "djw", "fgk", "lzma"] = setting(
        default="none", description="xdelta3 secondary compressor (-S); none is fastest"
    )
    codec_memory_mb: int = setting(
        default=256, ge=64, description="Resident memory the codec process may use"
    )
    codec_timeout_seconds: float = setting(
        default=600.0, gt=0, description="Longest a single encode or decode may run"
    )
    delta_extensions: CommaList = setting(
        default=(),
        description="File suffixes stored as deltas, replacing the built-in list (README, How objects "
        "are stored); unset: the built-in list",
    )
    delta_extensions_extra: CommaList = setting(
        default=(), description="File suffixes added to the candidate list (e.g. .pex,.crate)"
    )
    gzip_deltas: bool = setting(
        default=True,
        description="Deltas inside .tar.gz/.tgz/.gz, .tar.bz2 and .tar.xz with an exact recompression "
        "recipe; false keeps to forms deltaglider 6.2.0 reads byte-exact",
    )
    gzip_recipe_seconds: float = setting(
        default=3.0,
        gt=0,
        description="Longest search for a gzip/bzip2/xz recompression recipe per file (upload or rescue)",
    )
    gzip_node: str | None = setting(
        default=None,
        description="node binary for npm tarballs made by node's zlib (node-zlib gzip recipes); unset: "
        "`node` on PATH when its zlib is the Chromium fork (official builds), empty: off",
    )
    gzip_max_expanded_mb: int = setting(
        default=16384,
        ge=1,
        description="Largest decompressed size of a gzip/bzip2/xz upload; larger is refused (413)",
    )
    gzip_max_ratio: float = setting(
        default=250.0,
        gt=1,
        description="Largest decompressed/compressed ratio of a gzip/bzip2/xz upload expanding past 64 MiB; "
        "larger is refused as a decompression bomb (413)",
    )
    work_dir: Path | None = setting(
        default=None,
        description="Spooled uploads and scratch files; the service works in a private subdirectory and "
        "removes killed processes' leftovers at start. Unset: <user cache>/glider/work (CLI: system temp)",
    )


class CacheSettings(Group):
    env_prefix = "DG_CACHE_"

    backend: Literal["filesystem", "memory"] = setting(
        default="filesystem", description="Where references are cached"
    )
    memory_size_mb: int = setting(
        default=512, ge=1, description="Budget of the memory backend (LRU by bytes)"
    )
    disk_size_mb: int = setting(
        default=10240, ge=1, description="Budget of the filesystem backend (LRU by bytes)"
    )
    dir: Path | None = setting(
        default=None, description="Filesystem cache directory; unset: <user cache>/glider/references"
    )
    encryption_key: Secret | None = setting(
        default=None, description="Persistent encryption key (format in the README); unset: a per-process key"
    )
    encryption: bool = setting(default=True, description="Encrypt cached references at rest")
