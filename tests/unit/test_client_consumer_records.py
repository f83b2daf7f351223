"""How the consumer turns a Fetch answer's records into `ConsumerRecord`s (spec/client.md
CLIENT-23): whole batches only, control batches skipped, records below the fetch offset skipped,
gzip batches decoded, the next fetch offset after the last whole batch."""

from __future__ import annotations

import struct

import pytest

from flyq.client import ConsumerRecord
from flyq.client._consumer import _decode_records, _next_fetch_offset
from flyq.codec.record_batch import COMPRESSION_GZIP, CRC_START, batch_crc, encode_batch
from flyq.errors import CorruptRecordBatch
from flyq.records import Record

_CONTROL = 0x20


def control_batch(base_offset: int) -> bytes:
    """A one-record batch with the control attribute set (a transaction marker's shape)."""
    batch = bytearray(encode_batch(base_offset, [Record(value=b"\0\0\0\0", key=b"\0\0\0\0")]))
    (attributes,) = struct.unpack_from(">h", batch, 21)
    struct.pack_into(">h", batch, 21, attributes | _CONTROL)
    struct.pack_into(">I", batch, 17, batch_crc(memoryview(batch)[CRC_START:]))
    return bytes(batch)


def records(values: range) -> list[Record]:
    return [Record(value=f"v{n}".encode(), key=f"k{n}".encode(), headers=(("h", b"x"),),
                   timestamp=1000 + n) for n in values]


def test_records_from_the_fetch_offset_control_skipped_gzip_decoded() -> None:
    """A batch starting below the fetch offset yields only the records from it; a control batch
    yields none but moves the next fetch offset past it; a gzip batch decodes; a partial batch
    at the end is left for the next fetch."""
    data = (encode_batch(10, records(range(10, 13))) + control_batch(13)
            + encode_batch(14, records(range(14, 16)), compression=COMPRESSION_GZIP))
    tail = encode_batch(16, records(range(16, 17)))
    got, next_offset = _decode_records("t", 2, memoryview(data + tail[:-3]), 11)
    assert [record.offset for record in got] == [11, 12, 14, 15]
    assert got[0] == ConsumerRecord("t", 2, 11, 1011, b"k11", b"v11", (("h", b"x"),))
    assert got[-1] == ConsumerRecord("t", 2, 15, 1015, b"k15", b"v15", (("h", b"x"),))
    assert next_offset == 16


def test_a_trailing_control_batch_still_moves_the_fetch_offset() -> None:
    """Only a control batch: no records, the next fetch offset is after it."""
    assert _decode_records("t", 0, control_batch(7), 7) == ([], 8)


def test_no_whole_batch_keeps_the_fetch_offset() -> None:
    """Fewer bytes than one batch: nothing, and the same fetch offset."""
    assert _decode_records("t", 0, encode_batch(3, records(range(3, 4)))[:20], 3) == ([], 3)


def test_a_corrupt_batch_is_an_error() -> None:
    """A batch whose CRC does not match raises CorruptRecordBatch, not a bare exception."""
    batch = bytearray(encode_batch(0, records(range(1))))
    batch[-1] ^= 0xFF
    with pytest.raises(CorruptRecordBatch):
        _decode_records("t", 0, bytes(batch), 0)


def test_the_next_fetch_offset_from_headers_is_the_decoders() -> None:
    """The fetch offset the consumer asks next, computed from batch headers before any record
    is decoded, is the one decoding the answer gives (a cut batch, control batches, gzip)."""
    data = (encode_batch(10, records(range(10, 13))) + control_batch(13)
            + encode_batch(14, records(range(14, 16)), compression=COMPRESSION_GZIP))
    tail = encode_batch(16, records(range(16, 17)))
    for answer, fetch_offset in ((data + tail[:-3], 11), (data + tail, 16), (control_batch(7), 7),
                                 (tail[:20], 16), (b"", 4)):
        expected = _decode_records("t", 0, memoryview(answer), fetch_offset)[1]
        assert _next_fetch_offset(memoryview(answer), fetch_offset) == expected
    assert _next_fetch_offset(data + tail, 11) == 17
