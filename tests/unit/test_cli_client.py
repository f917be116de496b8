"""The CLI's HTTP client reads the service's errors back into the same classes (so the same exit
statuses) as direct mode, and never lets a bad key or a bad URL reach the wire."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app import errors
from app.api.problems import PROBLEMS, VALIDATION, problem_body
from app.cli.client import GliderClient
from app.cli.output import exit_code_for
from app.cli.problems import PROBLEM_ERRORS, error_for

SERVER = "http://127.0.0.1:1"


def problem(status: int, slug: str, detail: str = "it went wrong") -> httpx.Response:
    body = {"type": f"urn:glider:problem:{slug}", "title": "t", "status": status, "detail": detail}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


@pytest.mark.parametrize("cls", list(PROBLEMS), ids=lambda cls: cls.__name__)
def test_every_problem_type_maps_back_to_its_class(cls: type[errors.GliderError]) -> None:
    kind = PROBLEMS[cls]
    body = problem_body(kind, "detail text", "/x")
    err = error_for(httpx.Response(kind.status, json=body), SERVER)
    assert type(err) is cls
    assert exit_code_for(err) == exit_code_for(cls("direct mode"))


def test_the_client_table_has_no_type_the_service_lacks() -> None:
    served = {kind.slug for kind in PROBLEMS.values()} | {VALIDATION.slug}
    assert set(PROBLEM_ERRORS) == served


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (400, errors.InvalidInput, 2),
        (401, errors.Unauthorized, 7),
        (403, errors.Forbidden, 7),
        (404, errors.NotFound, 3),
        (409, errors.Conflict, 4),
        (413, errors.PayloadTooLarge, 2),
        (422, errors.InvalidInput, 2),
        (502, errors.IntegrityError, 5),
        (503, errors.StorageUnavailable, 6),
        (500, errors.GliderError, 1),
    ],
)
def test_answers_that_are_not_problems_map_by_status(
    status: int, cls: type[errors.GliderError], code: int
) -> None:
    err = error_for(httpx.Response(status, text="<html>proxy says no\n</html>"), SERVER)
    assert type(err) is cls
    assert exit_code_for(err) == code
    assert str(err) == f"{SERVER} answered {status} {httpx.codes.get_reason_phrase(status)}"


def test_the_message_is_one_line_with_the_detail() -> None:
    err = error_for(problem(404, "object-not-found", "no such\nobject  here"), SERVER)
    assert isinstance(err, errors.ObjectNotFound)
    assert str(err) == f"{SERVER} answered 404 Not Found: no such object here"


def test_bad_keys_fail_before_any_request(tmp_path: Path) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    with GliderClient(SERVER, "tok", transport=httpx.MockTransport(record)) as client:
        with pytest.raises(errors.InvalidInput):
            client.download("bkt", "a/../b", tmp_path / "out")
        with pytest.raises(errors.ReservedKey):
            client.delete("bkt", "a/reference.bin")
        with pytest.raises(errors.InvalidInput):
            client.list("Not_A_Bucket")
    assert sent == []
    assert not (tmp_path / "out").exists()


def test_a_server_url_must_be_http() -> None:
    with pytest.raises(errors.InvalidInput, match="http:// or https://"):
        GliderClient("127.0.0.1:8080")


def test_a_download_failing_its_check_leaves_no_file(tmp_path: Path) -> None:
    body = b"x" * 1000

    def serve(request: httpx.Request) -> httpx.Response:
        sha = "0" * 64 if request.url.path.endswith("wrong") else None
        headers = {"Content-Length": "1000", "X-Glider-Stored-As": "direct"}
        if sha:
            headers["X-Content-SHA256"] = sha
        return httpx.Response(200, content=body, headers=headers)

    dest = tmp_path / "f"
    with GliderClient(SERVER, transport=httpx.MockTransport(serve)) as client:
        with pytest.raises(errors.IntegrityError, match="SHA-256"):
            client.download("bkt", "k/wrong", dest)
        assert list(tmp_path.iterdir()) == []
        got = client.download("bkt", "k/right", dest)
    assert dest.read_bytes() == body
    assert (got.size, got.sha256, got.stored_as.value) == (1000, None, "direct")


def test_messages_never_show_credentials_in_the_server_url() -> None:
    secret_server = "http://user:s3cret@127.0.0.1:1"

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with GliderClient(secret_server, transport=httpx.MockTransport(refuse)) as client:
        assert "s3cret" not in client.server
        with pytest.raises(errors.StorageUnavailable) as unreachable:
            client.head("bkt", "k")
    assert "s3cret" not in str(unreachable.value)
    assert "127.0.0.1:1" in str(unreachable.value)
    answered = error_for(problem(500, "storage-unavailable"), secret_server)
    assert "s3cret" not in str(answered)
    assert "user" not in str(answered)
