"""Gzip streams of every family the tests need, made by the real tools (zlib, GNU gzip)."""

from __future__ import annotations

import io
import random
import struct
import subprocess
import tarfile
import zlib

from tests.support.engine import source_tree


def tar_bytes(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, body in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(body))
    return raw.getvalue()


def zlib_gzip(
    data: bytes,
    *,
    level: int = 9,
    wbits: int = 15,
    mem_level: int = 8,
    strategy: int = 0,
    header: bytes | None = None,
) -> bytes:
    """A gzip member made by zlib with the given parameters; default header npm-style (no name,
    mtime 0, OS 3) with zlib's XFL for the level."""
    if header is None:
        xfl = 2 if level == 9 else 4 if level == 1 else 0
        header = b"\x1f\x8b\x08\x00" + struct.pack("<IBB", 0, xfl, 3)
    comp = zlib.compressobj(level, zlib.DEFLATED, -wbits, mem_level, strategy)
    body = comp.compress(data) + comp.flush()
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def full_header(
    name: bytes, mtime: int, *, extra: bytes = b"", comment: bytes = b"", os_byte: int = 255
) -> bytes:
    """A header with FNAME (and FEXTRA/FCOMMENT when given), as Python's gzip or other tools write."""
    flags = 8 | (4 if extra else 0) | (16 if comment else 0)
    head = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<IBB", mtime, 0, os_byte)
    if extra:
        head += struct.pack("<H", len(extra)) + extra
    head += name + b"\x00"
    if comment:
        head += comment + b"\x00"
    return head


def gnu_gzip(data: bytes, level: int = 9) -> bytes:
    """GNU gzip's own deflate (not zlib): usually no zlib recipe reproduces it."""
    return subprocess.run(
        ["gzip", f"-{level}", "-n", "-c"], input=data, capture_output=True, check=True, timeout=60
    ).stdout


def tar_versions(count: int, seed: int = 7, files: int = 60, size: int = 5000) -> list[bytes]:
    """`count` uncompressed tars of a source tree, each version editing a few files."""
    rng = random.Random(seed)
    tree = source_tree(rng, files=files, size=size)
    out = []
    for n in range(count):
        tree = dict(tree)
        tree[f"pkg/mod{rng.randrange(files)}.py"] = rng.randbytes(800).hex().encode()
        tree[f"pkg/new{n}.py"] = f"VERSION = {n}\n".encode() * 50
        out.append(tar_bytes(tree))
    return out


def late_divergent_gzip(data: bytes, level: int = 6) -> bytes:
    """A clean gzip member equal to zlib's `level` output up to its last block, then a sync
    flush zlib's own finish never writes: the likeliest recipe matches until the very end."""
    xfl = 2 if level == 9 else 4 if level == 1 else 0
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH) + comp.flush()
    header = b"\x1f\x8b\x08\x00" + struct.pack("<IBB", 0, xfl, 3)
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
