"""The HTTP edge without services: auth, the problem table, request ids, HTTP metrics, validators."""

from __future__ import annotations

import logging

import anyio
import httpx
import pytest
from fastapi import FastAPI

from app import errors
from app.api.auth import Scope, TokenAuthority, require
from app.api.conditional import none_match, strong_etag, weak_etag
from app.api.middleware import RequestContextMiddleware
from app.api.problems import PROBLEMS, TYPE_BASE, install_problem_handlers, kind_for
from app.observability.limited_log import PER_INTERVAL
from app.observability.metrics import Metrics


def _app(authority: TokenAuthority, metrics: Metrics) -> FastAPI:
    app = FastAPI()
    app.state.authority = authority
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    @app.get("/things/{name}", dependencies=[require(Scope.READ)])
    async def thing(name: str) -> dict[str, str]:
        failures: dict[str, errors.GliderError] = {
            "missing": errors.ObjectNotFound("no such object"),
            "reserved": errors.ReservedKey("reserved name"),
            "pending": errors.ComputationPending("busy", retry_after=2.2),
            "down": errors.StorageUnavailable("S3 is down"),
            "throttled": errors.Throttled("S3 asked to wait", retry_after=29.2),
            "corrupt": errors.IntegrityError("hash mismatch"),
            "empty": errors.EmptyFile("empty"),
            "pathy": errors.InvalidInput("cannot read /srv/glider/up.part: gone"),  # logged: detail differs
        }
        if name in failures:
            raise failures[name]
        if name == "bug":
            raise RuntimeError("secret internals /etc/passwd")
        return {"name": name}

    @app.post("/admin-thing", dependencies=[require(Scope.ADMIN)])
    async def admin_thing() -> dict[str, str]:
        return {"ok": "yes"}

    return app


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


class Client:
    """Synchronous calls into the ASGI app in-process (httpx's ASGI transport, one loop per call)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, url, headers=headers)

        return anyio.run(call)

    def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", url, headers)

    def post(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.request("POST", url, headers)


@pytest.fixture
def client(metrics: Metrics) -> Client:
    authority = TokenAuthority.from_tokens(
        {"tok-read": frozenset({"read"}), "tok-ops": frozenset({"read", "admin"})}
    )
    return Client(_app(authority, metrics))


READ = {"Authorization": "Bearer tok-read"}


def test_missing_and_wrong_tokens_answer_401_with_challenge(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dG9rLXJlYWQ="}):
        response = client.get("/things/a", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == TYPE_BASE + "unauthorized"


def test_missing_scope_answers_403_and_right_scope_passes(client: Client) -> None:
    assert client.post("/admin-thing", headers=READ).status_code == 403
    assert client.post("/admin-thing", headers={"Authorization": "Bearer tok-ops"}).json() == {"ok": "yes"}
    assert client.get("/things/a", headers=READ).json() == {"name": "a"}


def test_authority_rejects_unknown_scopes_without_echoing_the_token() -> None:
    with pytest.raises(errors.InvalidInput) as info:
        TokenAuthority.from_tokens({"super-secret-token": frozenset({"write"})})
    assert "super-secret-token" not in str(info.value)
    assert "write" in str(info.value)


def test_disabled_auth_lets_everything_through() -> None:
    TokenAuthority.from_tokens({}, enabled=False).authorize(None, Scope.ADMIN)
    with pytest.raises(errors.Unauthorized):
        TokenAuthority.from_tokens({}).authorize("anything", Scope.READ)


@pytest.mark.parametrize(
    ("name", "status", "slug"),
    [
        ("missing", 404, "object-not-found"),
        ("reserved", 409, "reserved-key"),
        ("pending", 503, "computation-pending"),
        ("down", 503, "storage-unavailable"),
        ("corrupt", 502, "integrity-error"),
        ("empty", 400, "empty-file"),
    ],
)
def test_errors_map_to_problem_documents(client: Client, name: str, status: int, slug: str) -> None:
    response = client.get(f"/things/{name}", headers=READ)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == TYPE_BASE + slug
    assert body["status"] == status
    assert body["instance"] == f"/things/{name}"
    assert body["request_id"] == response.headers["x-request-id"]


def test_503s_carry_retry_after(client: Client) -> None:
    assert client.get("/things/pending", headers=READ).headers["retry-after"] == "3"
    assert client.get("/things/down", headers=READ).headers["retry-after"] == "5"
    assert client.get("/things/throttled", headers=READ).headers["retry-after"] == "30"  # S3's own wait


def test_unexpected_exception_is_a_bare_500_logged_once(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.get("/things/bug", headers=READ)
    assert response.status_code == 500
    assert response.json()["type"] == TYPE_BASE + "internal-error"
    assert "passwd" not in response.text
    assert "Traceback" not in response.text
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(crashes) == 1
    assert crashes[0].exc_info is not None


def test_unknown_route_and_validation_are_problems(client: Client) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["type"] == TYPE_BASE + "http-404"


def test_request_id_is_echoed_when_safe_and_replaced_when_not(client: Client) -> None:
    assert client.get("/things/a", headers=READ | {"X-Request-ID": "abc-123"}).headers["x-request-id"] == (
        "abc-123"
    )
    generated = client.get("/things/a", headers=READ | {"X-Request-ID": "bad id\t"}).headers["x-request-id"]
    assert generated != "bad id\t"
    assert len(generated) == 32


def test_http_metrics_use_the_route_template(client: Client, metrics: Metrics) -> None:
    for name in ("a", "b", "missing"):
        client.get(f"/things/{name}", headers=READ)
    client.get("/nowhere/at/all")
    sample = metrics.registry.get_sample_value
    labels = {"method": "GET", "route": "/things/{name}"}
    assert sample("dg_http_requests_total", labels | {"status": "200"}) == 2
    assert sample("dg_http_requests_total", labels | {"status": "404"}) == 1
    assert sample("dg_http_requests_total", {"method": "GET", "route": "unmatched", "status": "404"}) == 1
    assert sample("dg_http_request_seconds_count", labels) == 3


def test_a_flood_of_refused_requests_logs_bounded_lines_and_counts_every_one(
    client: Client, metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.api.problems"):
        for _ in range(PER_INTERVAL * 3):
            assert client.get("/things/pathy", headers=READ).status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.name == "app.api.problems"]
    assert len(lines) == PER_INTERVAL
    assert all(line.startswith("request refused: InvalidInput: cannot read") for line in lines)
    labels = {"method": "GET", "route": "/things/{name}", "status": "400"}
    assert metrics.registry.get_sample_value("dg_http_requests_total", labels) == PER_INTERVAL * 3


def test_every_error_class_has_a_row() -> None:
    leaves = [
        cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.GliderError)
    ]
    for cls in leaves:
        kind = kind_for(cls("x") if cls is not errors.ComputationPending else cls("x", 1.0))
        assert kind.status >= 400
    assert len({k.slug for k in PROBLEMS.values()}) == len(PROBLEMS)


def test_etag_helpers() -> None:
    tag = weak_etag({"a": 1, "b": 2})
    assert tag == weak_etag({"b": 2, "a": 1})
    assert tag.startswith('W/"')
    assert none_match(tag.removeprefix("W/"), tag)
    assert none_match(f'"other", {tag}', tag)
    assert none_match("*", tag)
    assert not none_match('"other"', tag)
    assert not none_match(None, tag)
    assert strong_etag("sha256:ab") == '"sha256:ab"'
