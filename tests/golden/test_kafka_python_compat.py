"""FlyQ's record-batch codec against kafka-python's, an independent RecordBatch v2 implementation.

kafka-python's producer writes baseOffset 0 and partitionLeaderEpoch 0 (the broker assigns both), so
FlyQ encodes with `partition_leader_epoch=0` here; FlyQ's own default of -1 is checked by the golden
vector `java_producer_epoch_minus_one`.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flyq.codec.record_batch import (
    COMPRESSION_GZIP,
    COMPRESSION_NONE,
    decode_batch,
    decode_batch_header,
    encode_batch,
    log_append_time_header,
)
from flyq.records import Record

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

pytestmark = pytest.mark.golden

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MAX = (1 << 63) - 1

blobs = st.one_of(st.none(), st.just(b""), st.binary(min_size=1, max_size=200))
header_keys = st.one_of(
    st.sampled_from(["", "trace-id", "h"]),  # small pool, so keys repeat
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
)
headers = st.lists(st.tuples(header_keys, blobs), max_size=4).map(tuple)
timestamps = st.one_of(
    st.integers(1_600_000_000_000, 1_800_000_000_000),  # near each other, deltas of both signs
    st.integers(0, 1 << 62),  # far apart, deltas still fit in int64
)
records_st = st.builds(Record, value=blobs, key=blobs, headers=headers, timestamp=timestamps)
record_lists = st.lists(records_st, min_size=1, max_size=50)


class Producer(NamedTuple):
    """The idempotent/transactional producer fields of a batch header."""

    producer_id: int
    producer_epoch: int
    base_sequence: int
    is_transactional: bool


producers = st.one_of(
    st.just(Producer(-1, -1, -1, False)),  # no producer id, as a plain producer sends
    st.builds(
        Producer,
        st.integers(0, INT64_MAX),
        st.integers(0, INT16_MAX),
        st.integers(0, INT32_MAX),
        st.booleans(),
    ),
    # Values no real producer sends still travel unchanged through both codecs.
    st.builds(
        Producer,
        st.integers(-(1 << 63), INT64_MAX),
        st.integers(INT16_MIN, INT16_MAX),
        st.integers(INT32_MIN, INT32_MAX),
        st.booleans(),
    ),
)


def kafka_encode(
    records: Sequence[Record],
    *,
    compression: int = COMPRESSION_NONE,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    is_transactional: bool = False,
) -> bytes:
    """The batch kafka-python's producer builds for `records`."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=is_transactional,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        batch_size=1 << 30,
    )
    for offset_delta, r in enumerate(records):
        appended = builder.append(offset_delta, r.timestamp, r.key, r.value, list(r.headers))
        assert appended is not None
    return bytes(builder.build())


def kafka_records(data: bytes) -> list[tuple[int, int, bytes | None, bytes | None, tuple]]:
    """(offset, timestamp, key, value, headers) of every record kafka-python reads from `data`."""
    batch = DefaultRecordBatch(data)
    assert batch.validate_crc()
    return [
        (r.offset, r.timestamp, r.key, r.value, tuple(tuple(h) for h in r.headers)) for r in batch
    ]


def expected_records(base_offset: int, records: Sequence[Record]) -> list[tuple]:
    return [
        (base_offset + i, r.timestamp, r.key, r.value, r.headers) for i, r in enumerate(records)
    ]


@settings(deadline=None)
@given(records=record_lists, producer=producers, base_offset=st.integers(0, INT64_MAX - 50))
def test_encode_is_byte_identical_to_kafka_python(
    records: list[Record], producer: Producer, base_offset: int
) -> None:
    """FlyQ's uncompressed batch equals kafka-python's byte for byte, but for baseOffset 0..7."""
    theirs = kafka_encode(records, **producer._asdict())
    ours = encode_batch(base_offset, records, partition_leader_epoch=0, **producer._asdict())
    assert ours[:8] == struct.pack(">q", base_offset)
    assert ours[8:].hex() == theirs[8:].hex()
    if base_offset == 0:
        assert ours == theirs


@settings(deadline=None)
@given(records=record_lists, producer=producers)
def test_decode_reads_what_kafka_python_writes(records: list[Record], producer: Producer) -> None:
    """decode_batch returns the records, timestamps and producer fields kafka-python encoded."""
    data = kafka_encode(records, **producer._asdict())
    batch = decode_batch(data)
    got = [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in batch.records]
    assert got == expected_records(0, records)
    h = batch.header
    assert (h.producer_id, h.producer_epoch, h.base_sequence, h.is_transactional) == producer
    assert h.partition_leader_epoch == 0
    assert h.base_timestamp == records[0].timestamp
    assert h.max_timestamp == max(r.timestamp for r in records)
    assert h.records_count == len(records) == h.last_offset_delta + 1
    assert h.size == len(data)


@settings(deadline=None)
@given(records=record_lists, producer=producers)
def test_decode_reads_kafka_python_gzip(records: list[Record], producer: Producer) -> None:
    """decode_batch reads kafka-python's gzip batches (compression_type=1) record for record."""
    # A compressible first record: kafka-python sends uncompressed when gzip does not shrink it.
    records = [Record(value=bytes(1000), key=b"k", timestamp=records[0].timestamp), *records]
    data = kafka_encode(records, compression=COMPRESSION_GZIP, **producer._asdict())
    assert DefaultRecordBatch(data).compression_type == COMPRESSION_GZIP
    batch = decode_batch(data)
    assert batch.header.compression == COMPRESSION_GZIP
    h = batch.header
    assert (h.producer_id, h.producer_epoch, h.base_sequence, h.is_transactional) == producer
    got = [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in batch.records]
    assert got == expected_records(0, records)


@settings(deadline=None)
@given(
    records=record_lists,
    producer=producers,
    compression=st.sampled_from([COMPRESSION_NONE, COMPRESSION_GZIP]),
    base_offset=st.integers(0, INT64_MAX - 50),
    epoch=st.integers(INT32_MIN, INT32_MAX),
)
def test_kafka_python_reads_what_flyq_writes(
    records: list[Record],
    producer: Producer,
    compression: int,
    base_offset: int,
    epoch: int,
) -> None:
    """kafka-python's reader accepts FlyQ's batches (CRC included) and sees the same fields."""
    data = encode_batch(
        base_offset,
        records,
        compression=compression,
        partition_leader_epoch=epoch,
        **producer._asdict(),
    )
    theirs = DefaultRecordBatch(data)
    assert theirs.magic == 2
    assert theirs.size_in_bytes == len(data)
    assert (theirs.base_offset, theirs.leader_epoch, theirs.compression_type) == (
        base_offset,
        epoch,
        compression,
    )
    assert (
        theirs.producer_id,
        theirs.producer_epoch,
        theirs.base_sequence,
        theirs.is_transactional,
    ) == producer
    assert not theirs.is_control_batch
    assert theirs.first_timestamp == records[0].timestamp
    assert theirs.max_timestamp == max(r.timestamp for r in records)
    assert theirs.last_offset_delta == len(records) - 1 == theirs.records_count - 1
    assert kafka_records(data) == expected_records(base_offset, records)


def test_kafka_python_gzip_vector_shape() -> None:
    """A gzip batch from kafka-python carries gzip magic bytes right after the 61-byte header."""
    records = [Record(value=b"abc" * 100, timestamp=5)]
    data = kafka_encode(records, compression=COMPRESSION_GZIP)
    assert data[61:63] == b"\x1f\x8b"
    assert decode_batch(data).records[0].value == b"abc" * 100


@settings(deadline=None)
@given(
    records=record_lists,
    producer=producers,
    compression=st.sampled_from([COMPRESSION_NONE, COMPRESSION_GZIP]),
    base_offset=st.integers(0, INT64_MAX - 50),
    append_time=st.integers(0, 1 << 45),
)
def test_kafka_python_reads_log_append_time_stamping(
    records: list[Record],
    producer: Producer,
    compression: int,
    base_offset: int,
    append_time: int,
) -> None:
    """A batch FlyQ stamped with LogAppendTime passes kafka-python's CRC and reads append_time."""
    data = encode_batch(0, records, compression=compression, **producer._asdict())
    header = decode_batch_header(data)
    stamped = log_append_time_header(data, header, base_offset=base_offset,
                                     timestamp=append_time) + data[61:]
    theirs = DefaultRecordBatch(stamped)
    assert theirs.validate_crc()
    assert theirs.timestamp_type == 1
    assert (theirs.base_offset, theirs.max_timestamp, theirs.compression_type) == (
        base_offset, append_time, compression)
    assert (theirs.producer_id, theirs.producer_epoch, theirs.base_sequence,
            theirs.is_transactional) == producer
    got = [(r.offset, r.timestamp, r.value) for r in theirs]
    assert got == [(base_offset + i, append_time, r.value) for i, r in enumerate(records)]
    ours = decode_batch(stamped).records
    assert [(r.offset, r.timestamp, r.value) for r in ours] == got
