"""Zig-zag varints (flyq.codec._varint) against a reference written from the protobuf definition."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flyq.codec._varint import decode_varint, encode_varint, size_of_varint
from flyq.errors import CorruptRecordBatch, FlyQError

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
int64s = st.integers(INT64_MIN, INT64_MAX)


def reference_varint(value: int) -> bytes:
    """Zig-zag (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...), then 7-bit groups, low group first."""
    zigzag = 2 * value if value >= 0 else -2 * value - 1
    groups = []
    while True:
        groups.append(zigzag % 128)
        zigzag //= 128
        if zigzag == 0:
            break
    return bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])


def encoded(value: int) -> bytes:
    out = bytearray()
    encode_varint(value, out)
    return bytes(out)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "00"),
        (-1, "01"),
        (1, "02"),
        (-2, "03"),
        (63, "7e"),
        (-64, "7f"),
        (64, "8001"),
        (-65, "8101"),
        (300, "d804"),
        (INT32_MAX, "feffffff0f"),
        (INT32_MIN, "ffffffff0f"),
        (INT64_MAX, "feffffffffffffffff01"),
        (INT64_MIN, "ffffffffffffffffff01"),
    ],
)
def test_known_encodings(value: int, expected: str) -> None:
    """Boundary values encode to the hand-computed bytes and decode back from them."""
    assert encoded(value).hex() == expected
    assert decode_varint(bytes.fromhex(expected), 0, "v") == (value, len(expected) // 2)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (0, 1),
        (-1, 1),
        (63, 1),
        (-64, 1),
        (64, 2),
        (-65, 2),
        (8191, 2),
        (8192, 3),
        (INT32_MAX, 5),
        (INT32_MIN, 5),
        (1 << 62, 10),
        (INT64_MAX, 10),
        (INT64_MIN, 10),
    ],
)
def test_size_at_group_boundaries(value: int, size: int) -> None:
    """Every 7 bits of zig-zag value cost one byte; int64 extremes take the full 10 bytes."""
    assert size_of_varint(value) == size
    assert len(encoded(value)) == size


@settings(deadline=None)
@given(int64s)
def test_encode_matches_reference(value: int) -> None:
    """encode_varint agrees with the reference encoding for every int64."""
    assert encoded(value) == reference_varint(value)


@settings(deadline=None)
@given(int64s)
def test_size_of_varint_is_encoded_length(value: int) -> None:
    """size_of_varint predicts exactly how many bytes encode_varint appends."""
    assert size_of_varint(value) == len(encoded(value))


@settings(deadline=None)
@given(int64s, st.binary(max_size=8), st.binary(max_size=8))
def test_round_trip_inside_a_buffer(value: int, before: bytes, after: bytes) -> None:
    """A varint decodes back from any position and reports the position just after it."""
    data = before + encoded(value) + after
    assert decode_varint(data, len(before), "v") == (value, len(data) - len(after))


def test_encode_appends_to_existing_bytes() -> None:
    """encode_varint appends, leaving what the buffer already held untouched."""
    out = bytearray(b"xy")
    encode_varint(-1, out)
    encode_varint(64, out)
    assert out == b"xy\x01\x80\x01"


def test_decode_accepts_memoryview_and_bytearray() -> None:
    """Decoding reads bytes, bytearray and memoryview alike."""
    for buf in (b"\xd8\x04", bytearray(b"\xd8\x04"), memoryview(b"\xd8\x04")):
        assert decode_varint(buf, 0, "v") == (300, 2)


def test_ten_byte_varint_is_the_limit() -> None:
    """Ten bytes decode (int64 min); an 11th byte is corrupt even if the value would fit."""
    assert decode_varint(b"\xff" * 9 + b"\x01", 0, "v") == (INT64_MIN, 10)
    with pytest.raises(CorruptRecordBatch, match="longer than 10 bytes"):
        decode_varint(b"\x80" * 10 + b"\x00", 0, "v")
    with pytest.raises(CorruptRecordBatch):
        decode_varint(b"\xff" * 10 + b"\x01", 0, "v")


@pytest.mark.parametrize("last", [0x02, 0x03, 0x40, 0x7F])
def test_tenth_byte_beyond_bit_63_is_corrupt(last: int) -> None:
    """A 10th byte above 1 sets bits past 64: no int64 encodes to it, so decoding rejects it."""
    with pytest.raises(CorruptRecordBatch) as info:
        decode_varint(b"\xff" * 9 + bytes([last]), 0, "timestampDelta")
    assert info.value.field == "timestampDelta"


@settings(deadline=None)
@given(int64s, st.data())
def test_every_strict_prefix_is_truncated(value: int, data: st.DataObject) -> None:
    """A varint cut short raises CorruptRecordBatch naming the field and where it began."""
    whole = encoded(value)
    cut = data.draw(st.integers(0, len(whole) - 1))
    buf = b"\x00\x00" + whole[:cut]
    with pytest.raises(CorruptRecordBatch) as info:
        decode_varint(buf, 2, "key")
    assert (info.value.field, info.value.position) == ("key", 2)


@settings(deadline=None)
@given(st.binary(max_size=12), st.integers(0, 12))
def test_any_bytes_decode_or_raise_flyq_error(data: bytes, pos: int) -> None:
    """On any bytes decode_varint returns an int64 or raises CorruptRecordBatch, nothing else."""
    try:
        value, after = decode_varint(data, pos, "v")
    except FlyQError as exc:
        assert type(exc) is CorruptRecordBatch
    else:
        assert INT64_MIN <= value <= INT64_MAX
        assert pos < after <= min(len(data), pos + 10)
