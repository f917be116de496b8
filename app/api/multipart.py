"""Stream the `file` field of a multipart/form-data body without holding it in memory.

python-multipart's incremental parser is fed the request stream chunk by chunk; the bytes of the
part named `file` are yielded as they are parsed, other parts are skipped (their size bounded).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.errors import InvalidInput

FILE_FIELD = b"file"
_MAX_OTHER_FIELD_BYTES = 64 * 1024
_MAX_NAMES_SHOWN = 5


class _FileFieldCollector:
    """Parser callbacks: collect slices of the `file` part, bound the rest."""

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.found = False
        self.finished = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._in_file = False
        self._other_bytes = 0
        self.names: list[str] = []

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is not None and len(self.names) < _MAX_NAMES_SHOWN:
            self.names.append(name.decode("utf-8", errors="replace")[:40])
        if name == FILE_FIELD:
            if self.found:
                raise InvalidInput("multipart body has more than one 'file' field")
            self.found = True
            self._in_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.pending.append(data[start:end])
            return
        # Other parts are counted, never kept. Over the limit before any 'file' part, the big
        # part is most likely the file under another name: the answer says so, whatever its size.
        self._other_bytes += end - start
        if self._other_bytes > _MAX_OTHER_FIELD_BYTES:
            if not self.found:
                raise InvalidInput(self.no_file_field(" (fields other than 'file' are limited to 64 KiB)"))
            raise InvalidInput("multipart fields other than 'file' are limited to 64 KiB")

    def no_file_field(self, why: str = "") -> str:
        got = ", ".join(repr(n) for n in self.names) if self.names else "no named field"
        return f"multipart body has no 'file' field (got {got}){why}; send the file as the 'file' field"

    def on_part_end(self) -> None:
        self._in_file = False

    def on_end(self) -> None:
        self.finished = True


def boundary_of(content_type: str) -> bytes:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart/form-data without a boundary")
    return boundary


async def file_field_chunks(content_type: str, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Yield the `file` part's bytes from a multipart `body`; InvalidInput if it is malformed."""
    collector = _FileFieldCollector()
    try:
        parser = MultipartParser(
            boundary_of(content_type),
            {
                "on_part_begin": collector.on_part_begin,
                "on_header_field": collector.on_header_field,
                "on_header_value": collector.on_header_value,
                "on_header_end": collector.on_header_end,
                "on_headers_finished": collector.on_headers_finished,
                "on_part_data": collector.on_part_data,
                "on_part_end": collector.on_part_end,
                "on_end": collector.on_end,
            },
        )
    except ValueError as err:  # python-multipart rejects over-long boundaries this way
        raise InvalidInput(f"bad multipart boundary: {err}") from err
    async for chunk in body:
        try:
            parser.write(chunk)
        except FormParserError as err:
            raise InvalidInput(f"malformed multipart body: {err}") from err
        for piece in collector.pending:
            yield piece
        collector.pending.clear()
    if not collector.found:
        raise InvalidInput(collector.no_file_field())
    if not collector.finished:
        raise InvalidInput("multipart body ended before its closing boundary")
