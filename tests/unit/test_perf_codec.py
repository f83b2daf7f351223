"""The codec's fast paths (flyq.client's hot paths) give the same bytes as the plain ones."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flyq.codec._varint import encode_varint, varint_bytes

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)


@given(st.one_of(INT64, st.integers(min_value=-3, max_value=2100)))
def test_varint_bytes_is_encode_varint(value: int) -> None:
    """`varint_bytes` (a table for 0..2047) is exactly what `encode_varint` appends."""
    out = bytearray()
    encode_varint(value, out)
    assert varint_bytes(value) == bytes(out)
