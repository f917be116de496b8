"""A VCDIFF (RFC 3284) writer for one special case: the delta of a file against itself.

The first file of a deltaspace becomes `reference.bin` and also gets a "zero-diff" delta. Running
xdelta3 over the file twice just to learn that it equals itself costs a full read of both; the
identity delta is a fixed shape instead: one window per 8 MiB of source, each a single COPY of
that source segment. xdelta3 (and so DeltaGlider) decodes it like any other delta.
"""

from __future__ import annotations

from pathlib import Path

_MAGIC = b"\xd6\xc3\xc4\x00"  # 'V' 'C' 'D' with the high bit set, version 0
_HDR_INDICATOR = 0x00  # no secondary compressor, no custom code table, no application header
_VCD_SOURCE = 0x01
_COPY_MODE0_EXPLICIT_SIZE = 19  # default code table: COPY, size 0 (size follows), mode 0 (SELF)
WINDOW = 8 << 20


def varint(value: int) -> bytes:
    """RFC 3284 integer: base-128, most significant digit first, high bit on all but the last."""
    if value < 0:
        raise ValueError("VCDIFF integers are unsigned")
    digits = [value & 0x7F]
    value >>= 7
    while value:
        digits.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(digits))


def _window(position: int, length: int) -> bytes:
    instructions = bytes([_COPY_MODE0_EXPLICIT_SIZE]) + varint(length)
    addresses = varint(0)  # SELF mode: offset 0 of this window's source segment
    body = (
        varint(length)  # target window size
        + b"\x00"  # delta indicator: nothing compressed
        + varint(0)  # data section (ADD/RUN bytes): empty
        + varint(len(instructions))
        + varint(len(addresses))
        + instructions
        + addresses
    )
    return bytes([_VCD_SOURCE]) + varint(length) + varint(position) + varint(len(body)) + body


def identity_delta(size: int, window: int = WINDOW) -> bytes:
    """The whole VCDIFF that rebuilds a `size`-byte source unchanged (about 12 bytes per window)."""
    parts = [_MAGIC, bytes([_HDR_INDICATOR])]
    parts.extend(_window(pos, min(window, size - pos)) for pos in range(0, size, window))
    return b"".join(parts)


def write_identity_delta(size: int, out: Path) -> None:
    out.write_bytes(identity_delta(size))


_VCD_DECOMPRESS = 0x01
_VCD_CODETABLE = 0x02
_VCD_APPHEADER = 0x04


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated VCDIFF integer")
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos


def application_header(head: bytes) -> bytes | None:
    """The xdelta3 application header of a VCDIFF whose first bytes are `head`, if any.

    Returns None for input without one (or not VCDIFF, or cut short: callers only use this
    as a hint, the decoder is the judge of validity).
    """
    if len(head) < 5 or head[:3] != _MAGIC[:3]:
        return None
    indicator, pos = head[4], 5
    try:
        if indicator & _VCD_DECOMPRESS:
            pos += 1
        if indicator & _VCD_CODETABLE:
            length, pos = _read_varint(head, pos)
            pos += length
        if not indicator & _VCD_APPHEADER:
            return None
        length, pos = _read_varint(head, pos)
    except ValueError:
        return None
    return head[pos : pos + length] if pos + length <= len(head) else None


def source_was_decompressed(delta: Path) -> bool:
    """True when xdelta3 diffed an externally decompressed source (encoded without `-D`).

    xdelta3 records `target/target-compressor/source/source-compressor` in its application
    header; a non-empty source compressor means the decoder must decompress the source too.
    Glider's deltas (always `-D`, or hand-built with no header) use the source as stored.
    """
    with delta.open("rb") as fh:
        header = application_header(fh.read(4096))
    if header is None:
        return False
    fields = header.split(b"/")
    return len(fields) == 4 and fields[3] != b""
