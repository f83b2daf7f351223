"""Index entries, checkpoint files and segment file names: layouts, round trips, rejections.

Covers flyq.codec.index_entry, flyq.codec.checkpoint and flyq.codec.segment_name; expected bytes are
packed here by hand with `struct` and `crc32c`.
"""

from __future__ import annotations

import struct

import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flyq.codec.checkpoint import decode_checkpoint, encode_checkpoint
from flyq.codec.index_entry import (
    OFFSET_ENTRY_SIZE,
    TIME_ENTRY_SIZE,
    decode_offset_entry,
    decode_time_entry,
    encode_offset_entry,
    encode_time_entry,
)
from flyq.codec.segment_name import SEGMENT_SUFFIXES, parse_segment_name, segment_name
from flyq.errors import CorruptCheckpoint, CorruptIndex, DecodeError, FlyQError

U32_MAX = (1 << 32) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
u32s = st.integers(0, U32_MAX)
int64s = st.integers(INT64_MIN, INT64_MAX)

# --- offset index entries -------------------------------------------------------------------------


def test_entry_sizes() -> None:
    """An offset entry is 8 bytes (u32, u32) and a time entry 12 (i64, u32)."""
    assert (OFFSET_ENTRY_SIZE, TIME_ENTRY_SIZE) == (8, 12)


def test_offset_entry_layout() -> None:
    """An offset entry is the big-endian relative offset followed by the big-endian position."""
    assert encode_offset_entry(0x01020304, 0x0A0B0C0D) == bytes.fromhex("01020304 0a0b0c0d")
    assert decode_offset_entry(bytes.fromhex("00000001 00001000")) == (1, 4096)


@settings(deadline=None)
@given(u32s, u32s)
def test_offset_entry_round_trip(relative_offset: int, position: int) -> None:
    """Any pair of u32 survives encode then decode."""
    data = encode_offset_entry(relative_offset, position)
    assert len(data) == 8
    assert decode_offset_entry(data) == (relative_offset, position)


@settings(deadline=None)
@given(st.lists(st.tuples(u32s, u32s), min_size=1, max_size=10), st.data())
def test_offset_entry_decodes_at_any_entry_position(
    entries: list[tuple[int, int]], data: st.DataObject
) -> None:
    """In an index file of entries, the entry at byte 8*i decodes to the i-th pair."""
    index = b"".join(encode_offset_entry(*e) for e in entries)
    i = data.draw(st.integers(0, len(entries) - 1))
    assert decode_offset_entry(index, 8 * i) == entries[i]
    assert decode_offset_entry(memoryview(index), 8 * i) == entries[i]


@pytest.mark.parametrize("size", range(8))
def test_torn_offset_entry(size: int) -> None:
    """Fewer than 8 bytes left is a CorruptIndex naming where the torn entry starts."""
    data = b"\x00" * 8 + b"\x01" * size
    with pytest.raises(CorruptIndex) as info:
        decode_offset_entry(data, 8)
    assert (info.value.field, info.value.position) == ("offset entry", 8)


@pytest.mark.parametrize(
    ("relative_offset", "position"), [(-1, 0), (0, -1), (U32_MAX + 1, 0), (0, U32_MAX + 1)]
)
def test_offset_entry_out_of_range(relative_offset: int, position: int) -> None:
    """Values that do not fit a u32 are refused with a FlyQ error, not a struct.error."""
    with pytest.raises(CorruptIndex):
        encode_offset_entry(relative_offset, position)


# --- time index entries ---------------------------------------------------------------------------


def test_time_entry_layout() -> None:
    """A time entry is the big-endian i64 timestamp followed by the big-endian u32 offset."""
    assert encode_time_entry(1_700_000_000_000, 5) == bytes.fromhex("0000018bcfe56800 00000005")
    assert decode_time_entry(bytes.fromhex("ffffffffffffffff 00000007")) == (-1, 7)


@settings(deadline=None)
@given(int64s, u32s)
def test_time_entry_round_trip(timestamp: int, relative_offset: int) -> None:
    """Any int64 timestamp and u32 relative offset survive encode then decode."""
    data = encode_time_entry(timestamp, relative_offset)
    assert len(data) == 12
    assert decode_time_entry(data) == (timestamp, relative_offset)
    assert decode_time_entry(b"\xee" * 5 + data, 5) == (timestamp, relative_offset)


@pytest.mark.parametrize("size", range(12))
def test_torn_time_entry(size: int) -> None:
    """Fewer than 12 bytes left is a CorruptIndex naming where the torn entry starts."""
    with pytest.raises(CorruptIndex) as info:
        decode_time_entry(b"\x01" * (12 + size), 12)
    assert (info.value.field, info.value.position) == ("time entry", 12)


@pytest.mark.parametrize("relative_offset", [-1, U32_MAX + 1])
def test_time_entry_offset_out_of_range(relative_offset: int) -> None:
    """A relative offset that does not fit a u32 is refused with CorruptIndex."""
    with pytest.raises(CorruptIndex):
        encode_time_entry(0, relative_offset)


# --- checkpoints ----------------------------------------------------------------------------------


def hand_checkpoint(
    values: list[int], *, magic: bytes = b"FQCP", version: int = 1, count: int | None = None
) -> bytes:
    """Magic "FQCP" | u16 version | u16 count | count x i64 | u32 CRC-32C of the bytes before."""
    body = magic + struct.pack(">HH", version, len(values) if count is None else count)
    body += b"".join(struct.pack(">q", v) for v in values)
    return body + struct.pack(">I", crc32c.crc32c(body))


def test_checkpoint_layout() -> None:
    """encode_checkpoint writes the hand-built layout: magic, version 1, count, values, CRC."""
    assert encode_checkpoint((42,)) == hand_checkpoint([42])
    assert encode_checkpoint((42,))[:8] == b"FQCP\x00\x01\x00\x01"
    assert len(encode_checkpoint((1, 2, 3))) == 8 + 3 * 8 + 4


@settings(deadline=None)
@given(st.lists(int64s, max_size=8).map(tuple))
def test_checkpoint_round_trip(values: tuple[int, ...]) -> None:
    """Any tuple of int64 values survives encode then decode."""
    data = encode_checkpoint(values)
    assert data == hand_checkpoint(list(values))
    assert decode_checkpoint(data, expected_count=len(values), source="cp") == values


GOOD_CP = hand_checkpoint([7, -7])


def _cp_error(data: bytes, expected_count: int = 2) -> CorruptCheckpoint:
    with pytest.raises(FlyQError) as info:
        decode_checkpoint(data, expected_count=expected_count, source="recovery-point")
    assert type(info.value) is CorruptCheckpoint
    assert info.value.source == "recovery-point"
    return info.value


@pytest.mark.parametrize("size", range(len(GOOD_CP)))
def test_torn_checkpoint(size: int) -> None:
    """A checkpoint cut to any shorter length is rejected as torn."""
    assert _cp_error(GOOD_CP[:size]).field == "checkpoint"


def test_checkpoint_with_extra_bytes() -> None:
    """A checkpoint with bytes after its CRC is rejected, not silently truncated."""
    assert _cp_error(GOOD_CP + b"\x00").field == "checkpoint"


def test_checkpoint_with_other_count_is_rejected_by_length() -> None:
    """A valid checkpoint of 3 values read where 2 are expected is rejected."""
    assert _cp_error(hand_checkpoint([1, 2, 3])).field == "checkpoint"


@pytest.mark.parametrize("magic", [b"FQCQ", b"fqcp", b"\x00\x00\x00\x00", b"PCQF"])
def test_checkpoint_wrong_magic(magic: bytes) -> None:
    """A file that does not start with "FQCP" is rejected as foreign, at byte 0."""
    error = _cp_error(hand_checkpoint([7, -7], magic=magic))
    assert (error.field, error.position) == ("magic", 0)


@pytest.mark.parametrize("version", [0, 2, 0xFFFF])
def test_checkpoint_wrong_version(version: int) -> None:
    """A version other than 1 is rejected at byte 4."""
    error = _cp_error(hand_checkpoint([7, -7], version=version))
    assert (error.field, error.position) == ("version", 4)


@pytest.mark.parametrize("count", [0, 1, 3, 0xFFFF])
def test_checkpoint_wrong_count(count: int) -> None:
    """A count field that disagrees with the expected count is rejected at byte 6."""
    error = _cp_error(hand_checkpoint([7, -7], count=count))
    assert (error.field, error.position) == ("count", 6)


def test_checkpoint_bad_crc() -> None:
    """A value or CRC bit flipped after the CRC was computed is rejected at the CRC's byte."""
    for at in (8, 15, 23, len(GOOD_CP) - 1):
        damaged = bytearray(GOOD_CP)
        damaged[at] ^= 0x10
        error = _cp_error(bytes(damaged))
        assert (error.field, error.position) == ("crc", len(GOOD_CP) - 4)


def test_every_single_bit_flip_in_checkpoint_is_rejected() -> None:
    """No single-bit change anywhere in a checkpoint file decodes."""
    for at in range(len(GOOD_CP)):
        for bit in range(8):
            damaged = bytearray(GOOD_CP)
            damaged[at] ^= 1 << bit
            _cp_error(bytes(damaged))


# --- segment names --------------------------------------------------------------------------------

suffixes = st.sampled_from([".log", ".index", ".timeindex"])


def test_suffixes() -> None:
    """The segment suffixes are .log, .index and .timeindex, as Kafka names them."""
    assert set(SEGMENT_SUFFIXES) == {".log", ".index", ".timeindex"}


@pytest.mark.parametrize(
    ("base_offset", "suffix", "name"),
    [
        (0, ".log", "00000000000000000000.log"),
        (42, ".index", "00000000000000000042.index"),
        (1_000_000, ".timeindex", "00000000000001000000.timeindex"),
        (INT64_MAX, ".log", "09223372036854775807.log"),
    ],
)
def test_known_names(base_offset: int, suffix: str, name: str) -> None:
    """A name is the base offset in 20 zero-padded digits plus the suffix, and parses back."""
    assert segment_name(base_offset, suffix) == name
    assert parse_segment_name(name) == (base_offset, suffix)


@settings(deadline=None)
@given(st.integers(0, INT64_MAX), suffixes)
def test_name_round_trip(base_offset: int, suffix: str) -> None:
    """Every int64 base offset and suffix formats to a 20-digit name that parses back."""
    name = segment_name(base_offset, suffix)
    assert len(name) == 20 + len(suffix)
    assert parse_segment_name(name) == (base_offset, suffix)


@settings(deadline=None)
@given(st.integers(0, INT64_MAX), st.integers(0, INT64_MAX))
def test_names_sort_like_offsets(a: int, b: int) -> None:
    """Sorting names as strings sorts segments by base offset (directory listings rely on it)."""
    assert (segment_name(a, ".log") < segment_name(b, ".log")) == (a < b)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("0000.log", "base offset"),
        ("abcdefghijklmnopqrst.log", "base offset"),
        ("0000000000000000000a.log", "base offset"),
        ("-0000000000000000001.log", "base offset"),
        ("+0000000000000000001.log", "base offset"),
        (" 0000000000000000001.log", "base offset"),
        ("0000000000000000000.log", "base offset"),
        ("000000000000000000000.log", "base offset"),
        ("\uff10" * 20 + ".log", "base offset"),
        ("0000000000000000000\u0661.log", "base offset"),
        (".log", "base offset"),
        ("", "base offset"),
        ("09223372036854775808.log", "base offset"),
        ("99999999999999999999.log", "base offset"),
        ("00000000000000000000.txt", "suffix"),
        ("00000000000000000000.LOG", "suffix"),
        ("00000000000000000000.log.deleted", "suffix"),
        ("00000000000000000000.index.swap", "suffix"),
        ("00000000000000000000", "suffix"),
        ("00000000000000000000.", "suffix"),
        ("00000000000000000000log", "base offset"),
    ],
)
def test_bad_names(name: str, field: str) -> None:
    """A name that is not 20 ASCII digits of an int64 plus a known suffix is a DecodeError."""
    with pytest.raises(FlyQError) as info:
        parse_segment_name(name)
    assert type(info.value) is DecodeError
    assert info.value.field == field
    assert info.value.source == name


@pytest.mark.parametrize(
    ("base_offset", "suffix"), [(-1, ".log"), (INT64_MAX + 1, ".log"), (0, ".txt"), (0, "log")]
)
def test_bad_name_arguments(base_offset: int, suffix: str) -> None:
    """segment_name refuses a negative or over-int64 offset and an unknown suffix."""
    with pytest.raises(DecodeError):
        segment_name(base_offset, suffix)
