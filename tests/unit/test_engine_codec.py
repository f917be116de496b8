"""XDelta3Codec and the hand-built identity VCDIFF, against the real xdelta3 binary."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from app.engine.codec import XDelta3Codec
from app.engine.vcdiff import application_header, identity_delta, source_was_decompressed, varint
from app.engine.zstd import ZstdPatchCodec, window_log
from app.errors import CodecError, IntegrityError
from tests.support.engine import gzip9_tarball, source_tree, versions, write


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path, bytes]:
    old, new = versions(400_000, 2, seed=3)
    return write(tmp_path, "old.zip", old), write(tmp_path, "new.zip", new), new


@pytest.mark.smoke
def test_roundtrip_is_byte_exact_and_small(tmp_path: Path, pair: tuple[Path, Path, bytes]) -> None:
    old, new, data = pair
    codec = XDelta3Codec()
    assert codec.encode(old, new, tmp_path / "d")
    assert (tmp_path / "d").stat().st_size < len(data) // 20
    codec.decode(old, tmp_path / "d", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == data


def test_gzip9_tarball_roundtrips_byte_exact(tmp_path: Path) -> None:
    """Without -D xdelta3 would decompress and recompress these; with it the bytes are exact."""
    rng = random.Random(5)
    tree = source_tree(rng)
    first = gzip9_tarball(tree)
    tree["pkg/mod3.py"] = b"changed " * 500
    second = gzip9_tarball(tree)
    src, dst = write(tmp_path, "a.tar.gz", first), write(tmp_path, "b.tar.gz", second)
    codec = XDelta3Codec()
    codec.encode(src, dst, tmp_path / "d")
    assert not source_was_decompressed(tmp_path / "d")
    codec.decode(src, tmp_path / "d", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == second


def test_decodes_a_delta_made_without_d_the_deltaglider_way(tmp_path: Path) -> None:
    """A DeltaGlider-style delta (no -D) of gzip files names its compressor and is decoded so."""
    data = os.urandom(50_000)
    src = write(tmp_path, "a.gz", __import__("gzip").compress(data))
    dst = write(tmp_path, "b.gz", __import__("gzip").compress(data + b"tail"))
    subprocess.run(
        ["xdelta3", "-e", "-f", "-9", "-s", src, dst, tmp_path / "d"], check=True, capture_output=True
    )
    assert source_was_decompressed(tmp_path / "d")
    XDelta3Codec().decode(src, tmp_path / "d", tmp_path / "back")
    # Recompressed by gzip: the payload is right, the exact bytes are up to gzip (SHA decides).
    assert __import__("gzip").decompress((tmp_path / "back").read_bytes()) == data + b"tail"


@pytest.mark.parametrize("size", [1, 1000, 8 << 20, (8 << 20) + 1, 20_000_000])
def test_identity_delta_decodes_with_xdelta3(tmp_path: Path, size: int) -> None:
    src = write(tmp_path, "src.zip", random.Random(size).randbytes(size))
    codec = XDelta3Codec()
    codec.encode_identity(src, tmp_path / "d")
    assert (tmp_path / "d").stat().st_size < 40 + 16 * (size // (8 << 20) + 1)
    subprocess.run(["xdelta3", "-d", "-f", "-s", src, tmp_path / "d", tmp_path / "back"], check=True)
    assert (tmp_path / "back").read_bytes() == src.read_bytes()


def test_varint_is_rfc3284_base128() -> None:
    assert varint(0) == b"\x00"
    assert varint(127) == b"\x7f"
    assert varint(128) == b"\x81\x00"
    assert varint(123456789) == bytes([0x80 | 58, 0x80 | 111, 0x80 | 26, 21])
    with pytest.raises(ValueError):
        varint(-1)


def test_application_header_is_absent_from_the_identity_delta() -> None:
    assert application_header(identity_delta(10)) is None
    assert application_header(b"not a vcdiff") is None


def test_corrupt_delta_is_an_integrity_error(tmp_path: Path, pair: tuple[Path, Path, bytes]) -> None:
    old, new, _ = pair
    codec = XDelta3Codec()
    codec.encode(old, new, tmp_path / "d")
    blob = bytearray((tmp_path / "d").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    write(tmp_path, "bad", bytes(blob))
    with pytest.raises(IntegrityError, match="corrupt or truncated"):
        codec.decode(old, tmp_path / "bad", tmp_path / "back")
    write(tmp_path, "garbage", os.urandom(5000))
    with pytest.raises(IntegrityError, match="corrupt or truncated"):
        codec.decode(old, tmp_path / "garbage", tmp_path / "back")


def test_truncated_delta_is_an_integrity_error(tmp_path: Path, pair: tuple[Path, Path, bytes]) -> None:
    old, new, _ = pair
    codec = XDelta3Codec()
    codec.encode(old, new, tmp_path / "d")
    write(tmp_path, "short", (tmp_path / "d").read_bytes()[:40])
    with pytest.raises(IntegrityError):
        codec.decode(old, tmp_path / "short", tmp_path / "back")


def test_size_limit_abandons_a_delta_that_grows_too_big(tmp_path: Path) -> None:
    src = write(tmp_path, "a.zip", os.urandom(3_000_000))
    dst = write(tmp_path, "b.zip", os.urandom(3_000_000))
    assert not XDelta3Codec().encode(src, dst, tmp_path / "d", size_limit=100_000)
    assert XDelta3Codec().encode(src, src, tmp_path / "d", size_limit=100_000)


def test_timeout_is_a_codec_error(tmp_path: Path) -> None:
    slow = write(tmp_path, "slow-xdelta3", b"#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    codec = XDelta3Codec(timeout=0.3, binary=str(slow))
    src = write(tmp_path, "a.zip", b"abc")
    with pytest.raises(CodecError, match="timed out"):
        codec.encode(src, src, tmp_path / "d")
    with pytest.raises(CodecError, match="timed out"):
        codec.encode(src, src, tmp_path / "d", size_limit=10)
    with pytest.raises(CodecError, match="timed out"):
        codec.decode(src, src, tmp_path / "out")


def test_missing_binary_is_a_codec_error(tmp_path: Path) -> None:
    src = write(tmp_path, "a.zip", b"abc")
    codec = XDelta3Codec(binary=str(tmp_path / "no-such-xdelta3"))
    with pytest.raises(CodecError, match="not found"):
        codec.encode(src, src, tmp_path / "d")


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        XDelta3Codec(level=10)
    with pytest.raises(ValueError):
        XDelta3Codec(secondary="zip")


def test_command_line_records_the_real_flags() -> None:
    assert XDelta3Codec(level=3).command_line("a.zip") == (
        "xdelta3 -e -D -3 -N -S none -s reference.bin a.zip a.zip.delta"
    )
    assert "-N" not in XDelta3Codec(target_matching=True).command_line("a.zip")


def test_zstd_patch_codec_roundtrips_and_refuses_corruption(
    tmp_path: Path, pair: tuple[Path, Path, bytes]
) -> None:
    old, new, data = pair
    codec = ZstdPatchCodec()
    assert codec.encode(old, new, tmp_path / "d")
    assert (tmp_path / "d").stat().st_size < len(data) // 10
    codec.decode(old, tmp_path / "d", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == data
    write(tmp_path, "bad", (tmp_path / "d").read_bytes()[:-20] + b"\x00" * 20)
    with pytest.raises(IntegrityError):
        codec.decode(old, tmp_path / "bad", tmp_path / "back")
    assert window_log(1) == 20
    assert window_log(3 << 20, 1) == 22
    with pytest.raises(CodecError, match="2 GiB"):
        window_log(3 << 30)
