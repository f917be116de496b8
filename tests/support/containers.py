"""bzip2 and xz streams made by the real tools (`bzip2`, `xz`) and by Python's bz2/lzma."""

from __future__ import annotations

import bz2
import lzma
import subprocess


def tool(*argv: str, data: bytes) -> bytes:
    return subprocess.run(list(argv), input=data, capture_output=True, check=True, timeout=120).stdout


def bzip2_tool(data: bytes, level: int = 9) -> bytes:
    return tool("bzip2", f"-{level}", "-c", data=data)


def xz_tool(
    data: bytes, preset: int = 6, *, threads: int = 1, extreme: bool = False, check: str = "crc64"
) -> bytes:
    flags = [f"-{preset}", *(["-e"] if extreme else []), f"-T{threads}", f"--check={check}"]
    return tool("xz", *flags, "-c", data=data)


def python_bz2(data: bytes, level: int = 9) -> bytes:
    return bz2.compress(data, level)


def python_xz(data: bytes, preset: int = 6, check: int = lzma.CHECK_CRC64) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=check, preset=preset)
