"""Streaming the `file` field out of multipart bodies, split at every possible chunk boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.api.multipart import file_field_chunks
from app.errors import InvalidInput

BOUNDARY = "glider-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _body(
    file_bytes: bytes, *, other: bytes = b"hello", with_file: bool = True, closed: bool = True
) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'.encode() + other + b"\r\n",
    ]
    if with_file:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n'
            "Content-Type: application/zip\r\n\r\n".encode()
            + file_bytes
            + b"\r\n"
        )
    end = f"--{BOUNDARY}--\r\n".encode() if closed else b""
    return b"".join(parts) + end


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _extract(data: bytes, size: int, content_type: str = CONTENT_TYPE) -> bytes:
    async def run() -> bytes:
        out = bytearray()
        async for piece in file_field_chunks(content_type, _chunks(data, size)):
            out += piece
        return bytes(out)

    return anyio.run(run)


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=3000), chunk=st.integers(min_value=1, max_value=4096))
def test_file_bytes_survive_any_chunking(payload: bytes, chunk: int) -> None:
    # Payloads may contain CRLF and dashes: only the real boundary ends the part.
    payload = payload + f"\r\n--{BOUNDARY[:-1]}".encode()
    assert _extract(_body(payload), chunk) == payload


def test_missing_file_field_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="no 'file' field"):
        _extract(_body(b"", with_file=False), 7)


def test_truncated_body_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="ended before"):
        _extract(_body(b"abc", closed=False), 5)


def test_no_boundary_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="boundary"):
        _extract(_body(b"abc"), 5, content_type="multipart/form-data")


def test_other_fields_are_bounded() -> None:
    with pytest.raises(InvalidInput, match="64 KiB"):
        _extract(_body(b"abc", other=b"x" * 70_000), 8192)


def _wrong_name_body(size: int, name: str = "upload") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="a.zip"\r\n\r\n'.encode()
        + b"x" * size
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


@pytest.mark.smoke
@pytest.mark.parametrize("size", [10, 64 * 1024 + 1, 3 * 1024 * 1024])
def test_a_wrong_field_name_is_named_whatever_the_size(size: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        _extract(_wrong_name_body(size), 64 * 1024)
    assert str(caught.value).startswith("multipart body has no 'file' field (got 'upload')")
    assert str(caught.value).endswith("send the file as the 'file' field")


def test_a_big_extra_field_is_still_refused_with_the_file_present() -> None:
    after = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'.encode()
        + b"y" * (64 * 1024 + 1)
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    with pytest.raises(InvalidInput, match="limited to 64 KiB"):
        _extract(after, 4096)
