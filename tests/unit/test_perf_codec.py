"""The codec's fast paths (flyq.client's hot paths) give the same bytes as the plain ones."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flyq.codec._varint import encode_varint, varint_bytes
from flyq.codec.record_batch import (
    BATCH_HEADER_SIZE,
    COMPRESSION_GZIP,
    COMPRESSION_NONE,
    decode_batch,
    decode_batch_header,
    decode_batch_into,
    encode_batch,
)
from flyq.errors import CorruptRecordBatch, FlyQError
from flyq.records import Record
from tests.strategies import batches

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)


@given(st.one_of(INT64, st.integers(min_value=-3, max_value=2100)))
def test_varint_bytes_is_encode_varint(value: int) -> None:
    """`varint_bytes` (a table for 0..2047) is exactly what `encode_varint` appends."""
    out = bytearray()
    encode_varint(value, out)
    assert varint_bytes(value) == bytes(out)


def _reference_records_section(records: list[Record]) -> bytes:
    """The records section of a v2 batch, built field by field with `encode_varint`
    (spec/format.md 1.3): the plain encoder the fast one must agree with."""
    out = bytearray()
    base = records[0].timestamp
    for delta, record in enumerate(records):
        body = bytearray(b"\0")
        encode_varint(record.timestamp - base, body)
        encode_varint(delta, body)
        for field in (record.key, record.value):
            encode_varint(-1 if field is None else len(field), body)
            body += field or b""
        encode_varint(len(record.headers), body)
        for name, value in record.headers:
            encode_varint(len(name.encode("utf-8")), body)
            body += name.encode("utf-8")
            encode_varint(-1 if value is None else len(value), body)
            body += value or b""
        encode_varint(len(body), out)
        out += body
    return bytes(out)


@given(batches(max_size=20))
def test_encode_batch_records_are_the_plain_encoding(records: list[Record]) -> None:
    """`encode_batch`'s records section is byte for byte the field-by-field encoding."""
    assert encode_batch(0, records)[BATCH_HEADER_SIZE:] == _reference_records_section(records)


@given(batches(max_size=8), st.integers(min_value=0, max_value=5), st.data())
def test_decode_from_a_view_is_decode_from_bytes(records: list[Record], lead: int,
                                                 data: st.DataObject) -> None:
    """A batch decoded from a memoryview into a larger buffer gives the records, or the error
    (type, field and byte position), that decoding the same bytes gives; a byte of the records
    section may be flipped."""
    encoded = bytearray(encode_batch(0, records))
    if data.draw(st.booleans()):
        at = data.draw(st.integers(BATCH_HEADER_SIZE, len(encoded) - 1))
        encoded[at] ^= data.draw(st.integers(1, 255))
    view = memoryview(bytearray(b"\xff" * lead) + encoded)[lead:]

    def outcome(buf: bytes | memoryview) -> object:
        try:
            return decode_batch(buf, verify_crc=False)
        except CorruptRecordBatch as exc:
            return (type(exc), str(exc))

    assert outcome(view) == outcome(bytes(encoded))


@given(batches(max_size=8), st.booleans(), st.data())
def test_decode_batch_into_builds_what_decode_batch_decodes(records: list[Record], gzip: bool,
                                                            data: st.DataObject) -> None:
    """`decode_batch_into` hands `make` each record's (offset, timestamp, key, value, headers)
    exactly as `decode_batch` decodes them, from a view as from bytes, gzip or not; and where a
    flipped byte makes `decode_batch` fail, it fails with the same error (CRC included)."""
    encoded = bytearray(encode_batch(7, records,
                                     compression=COMPRESSION_GZIP if gzip else COMPRESSION_NONE))
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(encoded) - 1))
        encoded[at] ^= data.draw(st.integers(1, 255))

    def outcome(buf: bytes | memoryview, into: bool) -> object:
        try:
            if not into:
                return [(r.offset, r.timestamp, r.key, r.value, r.headers)
                        for r in decode_batch(buf).records]
            built: list[tuple[object, ...]] = []
            decode_batch_into(buf, 0, decode_batch_header(buf), lambda *fields: fields, built)
            return built
        except FlyQError as exc:
            return (type(exc), str(exc))

    expected = outcome(bytes(encoded), into=False)
    assert outcome(bytes(encoded), into=True) == expected
    assert outcome(memoryview(encoded), into=True) == expected
