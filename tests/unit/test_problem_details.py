"""app.api.problems.public_detail: what a caller may read of an error (pure)."""

from __future__ import annotations

import json

import pytest

from app import errors
from app.api.problems import kind_for, public_detail


def raised_from(err: errors.GliderError, cause: BaseException) -> errors.GliderError:
    try:
        raise err from cause
    except errors.GliderError as caught:
        return caught


def detail(err: errors.GliderError) -> str:
    return public_detail(err, kind_for(err))


@pytest.mark.parametrize(
    "err",
    [
        errors.StorageUnavailable("S3 endpoint http://10.0.0.5:8333 unreachable: Could not connect"),
        errors.CodecError("xdelta3 encode failed: XD3_INVALID_INPUT"),
        errors.AccessDenied("S3 endpoint http://s3.internal denied access: AccessDenied"),
        errors.GliderError("something odd at /srv/glider/x"),
    ],
)
def test_server_side_failures_answer_with_the_kinds_fixed_text(err: errors.GliderError) -> None:
    shown = detail(err)
    assert shown == kind_for(err).public
    assert "/" not in shown
    assert "xdelta3" not in shown


def test_client_errors_keep_their_words_without_paths_or_endpoints() -> None:
    assert detail(errors.InvalidInput("cannot read /tmp/glider-upload-1.part: gone")) == (
        "cannot read (a server path): gone"
    )
    assert detail(errors.InvalidInput("S3 at https://s3.internal:9000/b said no")) == (
        "S3 at (an internal endpoint) said no"
    )
    assert detail(errors.InvalidInput("key must not contain NUL")) == "key must not contain NUL"


def test_not_found_keeps_the_callers_own_key_even_when_it_looks_like_a_path() -> None:
    err = errors.ObjectNotFound("object '/abs/like/key.txt' in bucket 'b' does not exist")
    assert detail(err) == "object '/abs/like/key.txt' in bucket 'b' does not exist"


def test_a_wrapped_library_message_is_cut_at_the_colon() -> None:
    err = raised_from(
        errors.InvalidInput("bad multipart boundary: Boundary length 300 exceeds 256"), ValueError("x")
    )
    assert detail(err) == "bad multipart boundary"
    library = json.JSONDecodeError("Expecting value", "doc", 0)  # a stdlib module, not builtins
    err = raised_from(
        errors.InvalidInput("S3 rejected the request on bucket 'b': InvalidArgument: no"), library
    )
    assert detail(err) == "S3 rejected the request on bucket 'b'"


def test_a_verbatim_library_message_is_replaced() -> None:
    library = json.JSONDecodeError("Expecting value", "doc", 0)
    err = raised_from(errors.InvalidInput(str(library)), library)
    assert detail(err) == "the request could not be carried out as given; the server log has the details"


def test_integrity_errors_keep_our_words_but_not_the_codecs_output() -> None:
    codec = errors.IntegrityError(
        "xdelta3 decode failed, the delta is corrupt or truncated: "
        "xdelta3: nothing to output: /tmp/glider-x.delta"
    )
    assert detail(codec) == "xdelta3 decode failed, the delta is corrupt or truncated"
    lost = errors.IntegrityError(
        "s3://b/rel/b.zip: its reference 'rel/reference.bin' is missing; cannot rebuild it"
    )
    assert detail(lost) == str(lost)
