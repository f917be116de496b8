"""Metadata values S3 cannot carry: RFC 2047 encoding on write, decoding (and verbatim) on read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.metadata import (
    MAX_METADATA_BYTES,
    DeltaInfo,
    decode_value,
    delta_metadata,
    direct_metadata,
    encode_value,
    metadata_bytes,
    read_field,
    reference_metadata,
)

utf8_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=200)


def _header_value(value: str) -> bool:
    """What an HTTP header (and so S3 user metadata) carries intact."""
    return value.isascii() and value.isprintable() and value == value.strip()


@given(utf8_text)
def test_every_value_round_trips_through_a_header_safe_form(value: str) -> None:
    wire = encode_value(value)
    assert _header_value(wire)
    assert decode_value(wire) == value


def test_plain_ascii_is_written_as_is() -> None:
    for value in ("app-1.0.zip", "rel/1.0/reference.bin", "xdelta3 -e -9 -s a b", "a b"):
        assert encode_value(value) == value


def test_non_ascii_and_trimmed_values_are_encoded_words() -> None:
    assert encode_value("✓-é.txt") == "=?UTF-8?B?4pyTLcOpLnR4dA==?="
    assert encode_value(" lead.txt").startswith("=?UTF-8?B?")
    assert encode_value("tab\there").startswith("=?UTF-8?B?")
    assert encode_value("=?looks?B?encoded?=").startswith("=?UTF-8?B?")  # unambiguous on read


def test_aws_style_answers_decode() -> None:
    """AWS S3 stores encoded words decoded and answers them re-encoded, possibly as several
    words, in B or Q encoding."""
    assert decode_value("=?UTF-8?Q?caf=C3=A9_bar?=") == "café bar"
    assert decode_value("=?utf-8?b?4pyT?= =?utf-8?b?LcOpLnR4dA==?=") == "✓-é.txt"
    assert decode_value("=?ISO-8859-1?Q?caf=E9?=") == "café"


def test_anything_else_is_read_verbatim() -> None:
    for raw in (
        "plain",
        "=?UTF-8?B?!!!?=",
        "=?nope?B?eA==?=",
        "=?UTF-8?B?/w==?=",
        "=? not a word",
        "x =?UTF-8?B?eA==?=",
    ):
        assert decode_value(raw) == raw


def test_builders_write_only_header_safe_values_and_read_back() -> None:
    name = "✓-é ☃.zip"
    meta = delta_metadata(
        tool="glider/1",
        original_name=name,
        sha256="ab" * 32,
        size=10,
        ref_key="ünï/çødé/reference.bin",
        ref_sha256="cd" * 32,
        delta_size=3,
        codec="xdelta3",
        command=f"xdelta3 -e -s reference.bin {name} {name}.delta",
        zero_diff=False,
    )
    assert all(_header_value(v) for v in meta.values())
    info = DeltaInfo.parse("ünï/çødé/✓-é ☃.zip.delta", meta)
    assert (info.ref_key, info.original_name) == ("ünï/çødé/reference.bin", name)
    for other in (
        direct_metadata("glider/1", name, "ab" * 32, 10),
        reference_metadata("glider/1", name, "ab" * 32),
    ):
        assert all(_header_value(v) for v in other.values())
        assert (read_field(other, "original_name") or read_field(other, "source_name")) == name
    assert read_field(direct_metadata("glider/1", name, "ab" * 32, 10), "original_name") == name


def test_the_informational_command_goes_when_metadata_would_pass_two_kib() -> None:
    name = "é" * 400 + ".zip"  # 804 bytes, ~1.1 KB encoded, twice in the command line
    meta = delta_metadata(
        tool="glider/1",
        original_name=name,
        sha256="ab" * 32,
        size=10,
        ref_key="reference.bin",
        ref_sha256="cd" * 32,
        delta_size=3,
        codec="xdelta3",
        command=f"xdelta3 -e -s reference.bin {name} {name}.delta",
        zero_diff=False,
    )
    assert "dg-delta-cmd" not in meta
    assert metadata_bytes(meta) <= MAX_METADATA_BYTES
    assert read_field(meta, "original_name") == name
