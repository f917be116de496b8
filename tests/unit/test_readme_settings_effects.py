"""Every variable the README's configuration table documents is read, and does what it says.

The table is parsed from README.md itself (not regenerated from the code): each row's variables
must reach the Settings field the row describes, its Default column must be the value in effect
when nothing is set, and the variables with an observable effect have a behavioural check here,
driven through the environment into the real app, codec, caches and scheduler.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.caches.encrypted import EncryptedReferenceCache
from app.caches.filesystem import FilesystemReferenceCache
from app.caches.memory import MemoryReferenceCache
from app.cli.config_table import END_MARKER, START_MARKER
from app.cli.config_vars import config_vars, format_value
from app.components import build_codec, build_reference_cache
from app.container import assemble
from app.engine.codec import XDelta3Codec
from app.main import create_app
from app.observability.logging import configure_logging
from app.observability.metrics import Metrics
from app.scheduler import ABORT_UPLOADS, CLEAR_CACHE, WARM_STATS, build_scheduler
from app.settings import Secret, Settings, SettingsError
from app.storage.memory import MemoryObjectStore
from tests.support.service import AppClient

README = Path(__file__).resolve().parents[2] / "README.md"
TOKEN = "tok-effects-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@dataclass(frozen=True, slots=True)
class Row:
    names: tuple[str, ...]
    type: str
    default: str


def readme_rows() -> list[Row]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(START_MARKER) : text.index(END_MARKER)]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            names = tuple(re.findall(r"`([A-Z0-9_]+)`", cells[0]))
            rows.append(Row(names, cells[1], cells[2]))
    return rows


ROWS = readme_rows()
NAMES = [name for row in ROWS for name in row.names]
FIELDS = {name: (var.group, var.field) for var in config_vars() for name in var.names}


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No settings variable from the machine; caches and scratch files under tmp_path."""
    monkeypatch = clean_env
    monkeypatch.setenv("DG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DG_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("DG_CLEAR_CACHE_INTERVAL", "0")
    monkeypatch.setenv("DG_WARM_INTERVAL", "0")
    monkeypatch.setenv("DG_ABORT_UPLOADS_AFTER_HOURS", "0")
    return monkeypatch


def field_value(settings: Settings, name: str) -> object:
    group, field = FIELDS[name]
    return getattr(getattr(settings, group), field)


def test_the_readme_table_lists_every_setting_and_only_real_ones() -> None:
    assert len(NAMES) >= 50
    assert len(NAMES) == len(set(NAMES))
    unknown = [name for name in NAMES if name not in FIELDS]
    assert not unknown, f"the README documents variables Settings does not read: {unknown}"
    assert set(FIELDS) == set(NAMES), "a variable Settings reads is missing from the README"


@pytest.mark.parametrize("row", ROWS, ids=[row.names[0] for row in ROWS])
def test_documented_default_is_the_default(env: pytest.MonkeyPatch, row: Row) -> None:
    unset = ("DG_CACHE_DIR", "DG_WORK_DIR", "DG_CLEAR_CACHE_INTERVAL", "DG_WARM_INTERVAL")
    for name in (*unset, "DG_ABORT_UPLOADS_AFTER_HOURS"):
        env.delenv(name)
    value = field_value(Settings(), row.names[0])
    if row.default == "unset":
        assert value in (None, ()), row
    elif row.default != "*(hidden)*":
        assert row.default == f"`{format_value(value)}`", row


def _sample(row: Row, current: object) -> str:
    """A value the row's Type column allows that differs from `current`."""
    # Values Settings validates beyond their type: a valid sample of each.
    validated = {
        "DG_S3_ENDPOINT_URL": "http://sample.example:9000",
        "DG_ASSET_SERVER_URL": "http://sample.example:8080",
        "DG_S3_HTTPS_PROXY": "http://proxy.example:3128",
        "DG_S3_HTTP_PROXY": "http://proxy.example:3128",
        "DG_S3_CA_BUNDLE": "/etc/os-release",  # any readable file
        "DG_REDIS_URL": "redis://sample.example:6379/0",
        "DG_LOG_LEVEL": "DEBUG",
    }
    if row.names[0] in validated:
        return validated[row.names[0]]
    choices = re.findall(r"`([^`]+)`", row.type)
    if choices:
        return next(c for c in reversed(choices) if c != format_value(current))
    if row.type.startswith("bool"):
        return "false" if current else "true"
    if row.type.startswith("integer"):
        upper = re.search(r"≤ (\d+)", row.type)
        assert isinstance(current, int)
        return str(current - 1 if upper and current >= int(upper.group(1)) else current + 1)
    if row.type.startswith("number"):
        return "0.25" if "≤ 1" in row.type else "7.5"
    if row.type.startswith("comma-separated"):
        return "quick,detailed" if row.names[0] == "DG_WARM_MODES" else "alpha,beta"
    if row.type == "path":
        return "/srv/glider-sample"
    if row.type == "secret":
        return (
            json.dumps({"sample-token-0123456789": ["read"]}) if "TOKENS" in row.names[0] else "sample-secret"
        )
    return "sample-value"


@pytest.mark.parametrize("name", NAMES)
def test_every_documented_variable_reaches_its_field(env: pytest.MonkeyPatch, name: str) -> None:
    row = next(r for r in ROWS if name in r.names)
    env.delenv(name, raising=False)
    before = field_value(Settings(), name)
    text = _sample(row, before)
    env.setenv(name, text)
    after = field_value(Settings(), name)
    shown = after.get_secret_value() if isinstance(after, Secret) else format_value(after)
    assert shown == text, f"{name}={text} did not reach Settings.{'.'.join(FIELDS[name])}"
    assert after != before


# -- behaviour -----------------------------------------------------------------------------------


@pytest.fixture
def serve(env: pytest.MonkeyPatch) -> Iterator[Callable[..., AppClient]]:
    """Start the real app on Settings read from the environment (after `**variables`)."""
    clients: list[AppClient] = []

    def start(**variables: str) -> AppClient:
        for name, value in variables.items():
            env.setenv(name, value)
        settings = Settings()
        store = MemoryObjectStore()
        store.create_bucket(settings.server.default_bucket)
        client = AppClient(create_app(settings, assemble(store, settings, Metrics())))
        clients.append(client.__enter__())
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


TOKENS = json.dumps({TOKEN: ["upload", "read", "admin"]})


def test_dg_api_tokens_grants_its_scopes(serve: Callable[..., AppClient]) -> None:
    client = serve(DG_API_TOKENS=json.dumps({TOKEN: ["read"]}))
    assert client.get("/status").status_code == 401
    assert client.get("/status", headers=BEARER).status_code == 200
    assert client.post("/admin/clear-cache", headers=BEARER).status_code == 403


def test_dg_api_tokens_file_is_read_and_the_variable_wins(
    serve: Callable[..., AppClient], tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"from-file-0123456789": ["read"]}), encoding="utf-8")
    client = serve(DG_API_TOKENS_FILE=str(tokens))
    assert client.get("/status", headers={"Authorization": "Bearer from-file-0123456789"}).status_code == 200
    assert client.get("/status", headers=BEARER).status_code == 401
    both = serve(DG_API_TOKENS=TOKENS)  # the file is still set: "DG_API_TOKENS wins"
    assert both.get("/status", headers=BEARER).status_code == 200
    assert both.get("/status", headers={"Authorization": "Bearer from-file-0123456789"}).status_code == 401


def test_dg_auth_enabled_false_needs_no_token(serve: Callable[..., AppClient]) -> None:
    assert serve().get("/status").status_code == 401
    assert serve(DG_AUTH_ENABLED="false").get("/status").status_code == 200


@pytest.mark.parametrize(
    ("variable", "paths"),
    [("DG_AUTH_OPEN_METRICS", ["/metrics"]), ("DG_AUTH_OPEN_HEALTH", ["/healthz", "/readyz"])],
)
def test_open_endpoints_close_when_told(
    serve: Callable[..., AppClient], variable: str, paths: list[str]
) -> None:
    open_client = serve(DG_API_TOKENS=TOKENS)
    assert all(open_client.get(path).status_code == 200 for path in paths)
    closed = serve(**{variable: "false"})
    for path in paths:
        assert closed.get(path).status_code == 401, path
        assert closed.get(path, headers=BEARER).status_code == 200, path


def test_dg_max_upload_mb_refuses_bigger_bodies(serve: Callable[..., AppClient]) -> None:
    client = serve(DG_API_TOKENS=TOKENS, DG_MAX_UPLOAD_MB="1")
    params = {"bucket": "artifacts", "key": "big.bin"}
    assert (
        client.post("/upload", params=params, content=b"x" * (1024 * 1024 + 1), headers=BEARER).status_code
        == 413
    )
    assert client.post("/upload", params=params, content=b"x" * 1000, headers=BEARER).status_code == 201


def test_dg_default_bucket_and_warm_buckets_show_on_the_status_page(serve: Callable[..., AppClient]) -> None:
    client = serve(DG_API_TOKENS=TOKENS, DG_DEFAULT_BUCKET="builds", DG_WARM_BUCKETS="nightly,builds")
    body = client.get("/status", headers=BEARER).json()
    assert (body["default_bucket"], body["buckets"]) == ("builds", ["builds", "nightly"])


def test_dg_stats_fresh_seconds_sets_the_fresh_window(serve: Callable[..., AppClient]) -> None:
    client = serve(DG_API_TOKENS=TOKENS, DG_STATS_FRESH_SECONDS="120")
    response = client.get("/buckets/artifacts/stats", headers=BEARER)
    assert response.status_code == 200
    max_age = int(response.headers["cache-control"].rpartition("=")[2])
    assert 100 <= max_age <= 120


def test_dg_max_ratio_and_delta_extensions_decide_how_files_are_stored(
    serve: Callable[..., AppClient],
) -> None:
    client = serve(DG_API_TOKENS=TOKENS, DG_DELTA_EXTENSIONS=".bin", DG_MAX_RATIO="0.01")
    first, unrelated = os.urandom(50_000), os.urandom(50_000)

    def stored_as(key: str, body: bytes) -> str:
        response = client.post(
            "/upload", params={"bucket": "artifacts", "key": key}, content=body, headers=BEARER
        )
        assert response.status_code == 201, response.text
        return str(response.json()["stored_as"])

    assert stored_as("r/a.zip", first) == "direct"  # .zip is no longer a candidate
    assert stored_as("r/a.bin", first) == "reference"
    assert stored_as("r/b.bin", first[:-10] + b"0123456789") == "delta"
    assert stored_as("r/c.bin", unrelated) == "direct"  # its delta exceeds 1% of its size


def test_codec_settings_shape_the_codec(env: pytest.MonkeyPatch) -> None:
    env.setenv("DG_XDELTA_LEVEL", "6")
    env.setenv("DG_XDELTA_SECONDARY", "djw")
    env.setenv("DG_CODEC_MEMORY_MB", "128")
    env.setenv("DG_CODEC_TIMEOUT_SECONDS", "42")
    codec = build_codec(Settings().engine)
    assert isinstance(codec, XDelta3Codec)
    assert "-6 -N -S djw" in codec.command_line("a.zip")
    assert (codec.memory_budget_bytes, codec.timeout) == (128 << 20, 42.0)
    env.setenv("DG_CODEC", "zstd")
    assert build_codec(Settings().engine).name == "zstd-patch"


def test_cache_settings_choose_the_cache(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    work = tmp_path / "work"
    default = build_reference_cache(Settings().cache, work)
    assert isinstance(default, EncryptedReferenceCache)
    assert isinstance(default.inner, FilesystemReferenceCache)
    assert default.inner.root == tmp_path / "cache"
    assert default.inner.max_bytes == 10240 << 20
    env.setenv("DG_CACHE_DISK_SIZE_MB", "3")
    env.setenv("DG_CACHE_ENCRYPTION", "false")
    plain = build_reference_cache(Settings().cache, work)
    assert isinstance(plain, FilesystemReferenceCache)
    assert plain.max_bytes == 3 << 20
    env.setenv("DG_CACHE_BACKEND", "memory")
    env.setenv("DG_CACHE_MEMORY_SIZE_MB", "5")
    memory = build_reference_cache(Settings().cache, work)
    assert isinstance(memory, MemoryReferenceCache)
    assert memory.max_bytes == 5 << 20


def test_scheduler_settings_choose_the_jobs(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings()
    services = assemble(MemoryObjectStore(), settings, Metrics())
    assert build_scheduler(Settings().scheduler, services).get_jobs() == []
    env.setenv("DG_CLEAR_CACHE_INTERVAL", "60")
    env.setenv("DG_WARM_INTERVAL", "30")
    env.setenv("DG_WARM_BUCKETS", "nightly")
    env.setenv("DG_MISFIRE_GRACE_SECONDS", "7")
    env.setenv("DG_ABORT_UPLOADS_AFTER_HOURS", "12")
    scheduler = build_scheduler(Settings().scheduler, services)
    scheduler.start(paused=True)  # job defaults (the grace time) apply once it starts
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(jobs) == {CLEAR_CACHE, WARM_STATS, ABORT_UPLOADS}
    assert jobs[CLEAR_CACHE].trigger.interval.total_seconds() == 60
    assert jobs[WARM_STATS].trigger.interval.total_seconds() == 30
    assert jobs[WARM_STATS].misfire_grace_time == 7
    env.setenv("DG_WARM_MODES", "quick,fast")
    with pytest.raises(SettingsError, match="DG_WARM_MODES"):
        Settings()


def test_log_settings_shape_the_log_lines(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        env.setenv("DG_LOG_JSON", "false")
        env.setenv("DG_LOG_LEVEL", "WARNING")
        log = Settings().log
        configure_logging(log.level, log.json_format)
        logging.getLogger("app.effects").info("hidden")
        logging.getLogger("app.effects").warning("shown %d", 1)
        plain = capsys.readouterr().err
        assert "hidden" not in plain
        assert "WARNING app.effects shown 1" in plain
        env.delenv("DG_LOG_JSON")
        log = Settings().log
        configure_logging(log.level, log.json_format)
        logging.getLogger("app.effects").warning("shown %d", 2)
        assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["msg"] == "shown 2"
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


BEHAVIOURAL = {
    "DG_API_TOKENS", "DG_API_TOKENS_FILE", "DG_AUTH_ENABLED", "DG_AUTH_OPEN_METRICS", "DG_AUTH_OPEN_HEALTH",
    "DG_MAX_UPLOAD_MB", "DG_DEFAULT_BUCKET", "DG_WARM_BUCKETS", "DG_STATS_FRESH_SECONDS", "DG_MAX_RATIO",
    "DG_DELTA_EXTENSIONS", "DG_XDELTA_LEVEL", "DG_XDELTA_SECONDARY", "DG_CODEC_MEMORY_MB",
    "DG_CODEC_TIMEOUT_SECONDS", "DG_CODEC", "DG_CACHE_DIR", "DG_CACHE_DISK_SIZE_MB", "DG_CACHE_ENCRYPTION",
    "DG_CACHE_BACKEND", "DG_CACHE_MEMORY_SIZE_MB", "DG_CLEAR_CACHE_INTERVAL", "DG_WARM_INTERVAL",
    "DG_MISFIRE_GRACE_SECONDS", "DG_WARM_MODES", "DG_LOG_JSON", "DG_LOG_LEVEL",
}  # fmt: skip


def test_behavioural_checks_cover_documented_variables() -> None:
    """The variables exercised above are all in the README (a renamed one cannot hide here)."""
    assert set(NAMES) >= BEHAVIOURAL
