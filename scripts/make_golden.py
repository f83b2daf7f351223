#!/usr/bin/env python3
"""Regenerate the golden vectors in tests/golden/vectors/. Run by hand; CI never runs it.

    python scripts/make_golden.py            # rewrite every vector file
    python scripts/make_golden.py --check    # exit 1 if a file would change

The expected bytes never come from FlyQ (this script does not import it):

* valid record batches are built by kafka-python's `DefaultRecordBatchBuilder` and their header
  fields read back by kafka-python's `DefaultRecordBatch`. kafka-python writes baseOffset 0 and
  partitionLeaderEpoch 0; where a vector needs another baseOffset or epoch, those bytes (0..7 and
  12..15, both outside the CRC) are overwritten here with `struct` and the vector's note says so;
* some batches are kafka-python's bytes with header fields inside the CRC changed the way a Kafka
  broker changes them (LogAppendTime stamping, a control batch) or the way a broken producer could
  (a wrong maxTimestamp), the CRC recomputed here with `crc32c` (`restamp`); the note says which;
* every other vector (bad batches, varints, index entries, checkpoints, file names) is written out
  by hand below, from the layouts in the spec, using only `struct`, `crc32c` and `gzip`.

Vector format, as in hyperframe's external test collection: a JSON list of objects with
`name`, `hex` (the bytes; for file names, the UTF-8 of the name), `decoded` (what the bytes mean, or
null for an error), `error` (the FlyQ exception class the decoder must raise, or null) and `note`
(where the expected bytes came from). Error vectors may add `field`, the field the error names;
checkpoint vectors add `params`, the decoder's arguments.
"""

from __future__ import annotations

import argparse
import gzip
import json
import struct
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import crc32c

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka
    from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
    from kafka.record.util import encode_varint as kafka_encode_varint

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "golden" / "vectors"
KAFKA = f"kafka-python {kafka.__version__} DefaultRecordBatchBuilder"
# kafka-python puts the current time in the gzip header; pin it so the output is reproducible.
GZIP_MTIME = 1_700_000_000

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

Vector = dict[str, Any]
# (key, value, headers, timestamp) as handed to kafka-python's builder.
RecordSpec = tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]], int]


def _hex(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def vector(name: str, data: bytes, decoded: Any, note: str, **extra: Any) -> Vector:
    """A vector the decoder must accept."""
    return {
        "name": name,
        "hex": data.hex(),
        "decoded": decoded,
        "error": None,
        "note": note,
        **extra,
    }


def error(name: str, data: bytes, error_class: str, note: str, **extra: Any) -> Vector:
    """A vector the decoder must reject with `error_class`."""
    return {
        "name": name,
        "hex": data.hex(),
        "decoded": None,
        "error": error_class,
        "note": note,
        **extra,
    }


# --- record batches from kafka-python ------------------------------------------------------------


@contextmanager
def _frozen_clock() -> Iterator[None]:
    real = time.time
    time.time = lambda: float(GZIP_MTIME)
    try:
        yield
    finally:
        time.time = real


def kafka_batch(
    records: Sequence[RecordSpec],
    *,
    compression: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    transactional: bool = False,
) -> bytes:
    """The batch kafka-python's producer builds for `records` (baseOffset 0, epoch 0)."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=transactional,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        batch_size=1 << 30,
    )
    for offset_delta, (key, value, headers, timestamp) in enumerate(records):
        assert builder.append(offset_delta, timestamp, key, value, headers) is not None
    with _frozen_clock():
        built = bytes(builder.build())
    assert DefaultRecordBatch(built).compression_type == compression, "did not compress"
    return built


def patch_header(
    batch: bytes, *, base_offset: int | None = None, epoch: int | None = None
) -> bytes:
    """`batch` with baseOffset and/or partitionLeaderEpoch overwritten (the CRC covers neither)."""
    out = bytearray(batch)
    if base_offset is not None:
        struct.pack_into(">q", out, 0, base_offset)
    if epoch is not None:
        struct.pack_into(">i", out, 12, epoch)
    return bytes(out)


def restamp(
    batch: bytes,
    *,
    set_attributes: int = 0,
    base_timestamp: int | None = None,
    max_timestamp: int | None = None,
) -> bytes:
    """`batch` with attribute bits set and/or timestamps overwritten, its CRC-32C recomputed."""
    out = bytearray(batch)
    (attributes,) = struct.unpack_from(">h", out, 21)
    struct.pack_into(">h", out, 21, attributes | set_attributes)
    if base_timestamp is not None:
        struct.pack_into(">q", out, 27, base_timestamp)
    if max_timestamp is not None:
        struct.pack_into(">q", out, 35, max_timestamp)
    struct.pack_into(">I", out, 17, crc32c.crc32c(bytes(out[21:])))
    return bytes(out)


def kafka_read(batch: bytes) -> dict[str, Any]:
    """The batch as kafka-python reads it (LogAppendTime: every record has maxTimestamp)."""
    read = DefaultRecordBatch(batch)
    assert read.validate_crc()
    header = {
        "base_offset": read.base_offset,
        "batch_length": read.size_in_bytes - 12,
        "partition_leader_epoch": read.leader_epoch,
        "magic": read.magic,
        "crc": read.crc,
        "attributes": read.attributes,
        "last_offset_delta": read.last_offset_delta,
        "base_timestamp": read.first_timestamp,
        "max_timestamp": read.max_timestamp,
        "producer_id": read.producer_id,
        "producer_epoch": read.producer_epoch,
        "base_sequence": read.base_sequence,
        "records_count": read.records_count,
    }
    records = [
        {
            "offset": record.offset,
            "timestamp": record.timestamp,
            "key": _hex(record.key),
            "value": _hex(record.value),
            "headers": [[h_key, _hex(h_value)] for h_key, h_value in record.headers],
        }
        for record in read
    ]
    return {"header": header, "records": records, "is_control": read.is_control_batch}


def kafka_decoded(batch: bytes, records: Sequence[RecordSpec]) -> dict[str, Any]:
    """The batch as kafka-python reads it, checked against the records it was built from."""
    read = DefaultRecordBatch(batch)
    assert read.validate_crc()
    header = {
        "base_offset": read.base_offset,
        "batch_length": read.size_in_bytes - 12,
        "partition_leader_epoch": read.leader_epoch,
        "magic": read.magic,
        "crc": read.crc,
        "attributes": read.attributes,
        "last_offset_delta": read.last_offset_delta,
        "base_timestamp": read.first_timestamp,
        "max_timestamp": read.max_timestamp,
        "producer_id": read.producer_id,
        "producer_epoch": read.producer_epoch,
        "base_sequence": read.base_sequence,
        "records_count": read.records_count,
    }
    assert read.size_in_bytes == len(batch)
    decoded = []
    for index, (record, (key, value, headers, timestamp)) in enumerate(
        zip(list(read), records, strict=True)
    ):
        assert record.offset == read.base_offset + index
        assert (record.key, record.value, record.timestamp) == (key, value, timestamp)
        assert [tuple(h) for h in record.headers] == headers
        decoded.append(
            {
                "offset": record.offset,
                "timestamp": record.timestamp,
                "key": _hex(record.key),
                "value": _hex(record.value),
                "headers": [[h_key, _hex(h_value)] for h_key, h_value in record.headers],
            }
        )
    return {"header": header, "records": decoded}


def batch_vector(
    name: str,
    records: Sequence[RecordSpec],
    *,
    base_offset: int | None = None,
    epoch: int | None = None,
    **builder_args: Any,
) -> Vector:
    """A valid batch: kafka-python's bytes, optionally with baseOffset/epoch patched in."""
    built = kafka_batch(records, **builder_args)
    data = patch_header(built, base_offset=base_offset, epoch=epoch)
    how = KAFKA
    if base_offset is not None or epoch is not None:
        patched = [
            f"{field}={value}"
            for field, value in (("baseOffset", base_offset), ("partitionLeaderEpoch", epoch))
            if value is not None
        ]
        how += f", then {' and '.join(patched)} written by hand (outside the CRC)"
    used_epoch = 0 if epoch is None else epoch
    note = f"{how}; partitionLeaderEpoch={used_epoch}"
    if builder_args.get("compression"):
        note += "; gzip: decode direction only (gzip output is not canonical)"
    return vector(name, data, kafka_decoded(data, records), note)


def record_batch_vectors() -> list[Vector]:
    ts = 1_700_000_000_000
    big = bytes(range(256)) * 2
    text = b"the quick brown fox jumps over the lazy dog " * 8
    vectors = [
        batch_vector("single_record", [(b"key", b"value", [], ts)]),
        batch_vector("null_key_and_value", [(None, None, [], ts)]),
        batch_vector("empty_key_and_value", [(b"", b"", [], ts)]),
        batch_vector("null_key_empty_value", [(None, b"", [], 0)]),
        batch_vector("timestamp_zero", [(None, b"v", [], 0)]),
        batch_vector("value_needs_two_byte_length", [(None, big, [], ts)]),
        batch_vector(
            "headers_repeated_keys_and_null_values",
            [(b"k", b"v", [("h", b"1"), ("h", b"2"), ("n", None), ("e", b""), ("h", None)], ts)],
        ),
        batch_vector(
            "header_empty_and_unicode_keys",
            [(None, b"v", [("", b"x"), ("ключ", b"\xff\x00"), ("日本", None)], ts)],
        ),
        batch_vector(
            "negative_timestamp_deltas",
            [
                (None, b"a", [], ts),
                (None, b"b", [], ts - 1),
                (None, b"c", [], ts - 100_000),
                (None, b"d", [], ts + 5),
            ],
        ),
        batch_vector(
            "all_timestamps_before_first",
            [(None, b"a", [], ts), (None, b"b", [], ts - 1), (None, b"c", [], 0)],
        ),
        batch_vector(
            "multi_record_mixed",
            [
                (
                    b"k%d" % i,
                    None if i % 3 == 0 else b"v" * i,
                    [("i", bytes([i]))] * (i % 2),
                    ts + i,
                )
                for i in range(10)
            ],
        ),
        batch_vector(
            "two_hundred_records",
            [(None, b"%d" % i, [], ts + i) for i in range(200)],
        ),
        batch_vector(
            "large_base_offset",
            [(b"k", b"v", [], ts), (None, b"w", [], ts + 1)],
            base_offset=(1 << 40) + 7,
        ),
        batch_vector(
            "base_offset_int64_max_minus_one",
            [(None, b"v", [], ts)],
            base_offset=INT64_MAX - 1,
        ),
        batch_vector(
            "java_producer_epoch_minus_one",
            [(b"k", b"v", [], ts)],
            epoch=-1,
        ),
        batch_vector(
            "leader_epoch_and_base_offset",
            [(None, b"v", [], ts)],
            base_offset=12345,
            epoch=17,
        ),
        batch_vector(
            "idempotent_producer_fields",
            [(b"k", b"v", [], ts), (b"k", b"w", [], ts)],
            producer_id=123_456_789,
            producer_epoch=7,
            base_sequence=42,
        ),
        batch_vector(
            "transactional_producer",
            [(b"k", b"v", [], ts)],
            producer_id=INT64_MAX,
            producer_epoch=32767,
            base_sequence=INT32_MAX,
            transactional=True,
        ),
        batch_vector("gzip_single_record", [(b"key", text, [], ts)], compression=1),
        batch_vector(
            "gzip_multi_record_headers",
            [(None, text[: 50 + i], [("h", b"x"), ("h", None)], ts - i) for i in range(8)],
            compression=1,
            base_offset=1_000_000,
            epoch=3,
        ),
    ]
    # The simplest batch written out byte by byte must agree with kafka-python's.
    assert bytes.fromhex(vectors[0]["hex"]) == hand_batch(
        bytes.fromhex("1c 00 00 00 06 6b6579 0a 76616c7565 00"),
        count=1,
        base_ts=ts,
        max_ts=ts,
    )
    three = kafka_batch([(b"k", b"a", [], ts), (None, b"b", [], ts - 7), (b"k", None, [], ts + 3)])
    stamped = restamp(three, set_attributes=0x08, max_timestamp=ts + 60_000)
    vectors.append(
        vector(
            "log_append_time",
            stamped,
            kafka_read(stamped),
            f"{KAFKA}, then stamped as a broker stamps LogAppendTime: attribute bit 3 set, "
            "maxTimestamp = append time, CRC recomputed; read back by kafka-python: every record "
            "has maxTimestamp as its timestamp",
        )
    )
    # A transaction marker as a Kafka broker writes one: key = version 0, type 1 (COMMIT); value =
    # version 0, coordinator epoch 5.
    marker = kafka_batch(
        [(bytes.fromhex("0000 0001"), bytes.fromhex("0000 00000005"), [], ts)],
        producer_id=42,
        producer_epoch=3,
        transactional=True,
    )
    control = restamp(marker, set_attributes=0x20)
    vectors.append(
        vector(
            "control_batch_commit_marker",
            control,
            kafka_read(control),
            f"{KAFKA} (transactional), then the control attribute bit 5 set and the CRC "
            "recomputed; read back by kafka-python",
        )
    )
    return vectors


# --- record batches written by hand --------------------------------------------------------------

# length 7 | attributes 0 | timestampDelta 0 | offsetDelta 0 | key null | value "a" | 0 headers
RECORD_A = bytes.fromhex("0e 00 00 00 01 02 61 00")
# The same record with offsetDelta 1.
RECORD_A1 = bytes.fromhex("0e 00 00 02 01 02 61 00")


def hand_batch(
    body: bytes,
    *,
    count: int,
    last_offset_delta: int | None = None,
    base_offset: int = 0,
    length: int | None = None,
    epoch: int = 0,
    magic: int = 2,
    crc: int | None = None,
    attributes: int = 0,
    base_ts: int = 0,
    max_ts: int = 0,
) -> bytes:
    """A batch header packed field by field in front of `body`, CRC-32C computed unless given."""
    if last_offset_delta is None:
        last_offset_delta = count - 1
    covered = (
        struct.pack(">hiqqqhii", attributes, last_offset_delta, base_ts, max_ts, -1, -1, -1, count)
        + body
    )
    if crc is None:
        crc = crc32c.crc32c(covered)
    if length is None:
        length = 4 + 1 + 4 + len(covered)  # epoch, magic, crc, then the covered bytes
    return struct.pack(">qiibI", base_offset, length, epoch, magic, crc) + covered


def _record(fields: str) -> bytes:
    """A record from the hex of its fields, with its length varint in front."""
    body = bytes.fromhex(fields)
    assert len(body) < 64
    return bytes([len(body) << 1]) + body


def _gzip_body(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def record_batch_error_vectors() -> list[Vector]:
    good = hand_batch(RECORD_A, count=1)
    crc_at = 17
    flipped_value = bytearray(good)
    flipped_value[-2] ^= 0x01
    flipped_crc = bytearray(good)
    flipped_crc[crc_at + 3] ^= 0x80
    flipped_epoch_only = bytearray(good)
    flipped_epoch_only[12] ^= 0xFF  # not covered: must still decode, see the valid vectors
    bad_deflate = bytes.fromhex("1f8b 08 00 00000000 00 ff") + b"\x07" + b"\x00" * 12
    gz = _gzip_body(RECORD_A)
    bad_gzip_crc = bytearray(gz)
    bad_gzip_crc[-8] ^= 0x01
    two_records = RECORD_A + RECORD_A1
    h = "by hand"

    def rb(name: str, data: bytes, field: str, why: str, cls: str = "CorruptRecordBatch") -> Vector:
        return error(name, data, cls, f"{h}: {why}", field=field)

    ts = 1_700_000_000_000
    kafka_two = kafka_batch([(None, b"a", [], ts), (None, b"b", [], ts + 10)])
    mutated = f"{KAFKA}, then"
    return [
        rb(
            "kafka_max_timestamp_below_a_record",
            restamp(kafka_two, max_timestamp=ts + 9),
            "timestampDelta",
            f"{mutated} maxTimestamp lowered by 1 below the second record's, CRC recomputed",
        ),
        rb(
            "kafka_max_timestamp_above_every_record",
            restamp(kafka_two, max_timestamp=ts + 11),
            "maxTimestamp",
            f"{mutated} maxTimestamp raised by 1 above every record's, CRC recomputed",
        ),
        rb(
            "kafka_negative_record_timestamp",
            restamp(kafka_two, base_timestamp=-1, max_timestamp=9),
            "timestampDelta",
            f"{mutated} baseTimestamp -1 (first record at -1), maxTimestamp 9, CRC recomputed",
        ),
        rb(
            "kafka_log_append_time_negative_max_timestamp",
            restamp(kafka_two, set_attributes=0x08, max_timestamp=-1),
            "maxTimestamp",
            f"{mutated} LogAppendTime bit set with maxTimestamp -1, CRC recomputed",
        ),
        rb("empty_input", b"", "batch header", "no bytes at all"),
        rb("truncated_header", good[:30], "batch header", "30 of the 61 header bytes"),
        rb("header_one_byte_short", good[:60], "batch header", "60 of the 61 header bytes"),
        rb("bad_magic_1", hand_batch(RECORD_A, count=1, magic=1), "magic", "magic byte 1 (v1)"),
        rb("bad_magic_0", hand_batch(RECORD_A, count=1, magic=0), "magic", "magic byte 0"),
        rb("bad_magic_minus_1", hand_batch(RECORD_A, count=1, magic=-1), "magic", "magic 0xff"),
        rb("batch_length_past_end", good[:-1], "batchLength", "batch cut one byte short"),
        rb(
            "batch_length_past_end_by_a_lot",
            hand_batch(RECORD_A, count=1, length=1 << 20),
            "batchLength",
            "batchLength 1 MiB, 8 bytes of records",
        ),
        rb(
            "batch_length_shorter_than_header",
            hand_batch(RECORD_A, count=1, length=48),
            "batchLength",
            "batchLength 48 < 49",
        ),
        rb(
            "batch_length_negative",
            hand_batch(RECORD_A, count=1, length=-1),
            "batchLength",
            "batchLength -1",
        ),
        rb(
            "records_count_mismatch",
            hand_batch(RECORD_A, count=2, last_offset_delta=0),
            "recordsCount",
            "recordsCount 2, lastOffsetDelta 0",
        ),
        rb(
            "records_count_zero",
            hand_batch(b"", count=0),
            "recordsCount",
            "recordsCount 0 (a batch holds at least one record)",
        ),
        rb(
            "records_count_negative",
            hand_batch(RECORD_A, count=-1),
            "recordsCount",
            "recordsCount -1, lastOffsetDelta -2",
        ),
        rb(
            "negative_base_offset",
            hand_batch(RECORD_A, count=1, base_offset=-1),
            "baseOffset",
            "baseOffset -1",
        ),
        rb(
            "crc_mismatch_value_bit",
            bytes(flipped_value),
            "crc",
            "one bit of the value flipped after the CRC was computed",
            "ChecksumMismatch",
        ),
        rb(
            "crc_mismatch_crc_bit",
            bytes(flipped_crc),
            "crc",
            "one bit of the CRC flipped",
            "ChecksumMismatch",
        ),
        rb(
            "crc_zero",
            hand_batch(RECORD_A, count=1, crc=0),
            "crc",
            "CRC field 0",
            "ChecksumMismatch",
        ),
        rb(
            "fewer_records_than_count",
            hand_batch(RECORD_A, count=2),
            "record length",
            "recordsCount 2, one record: the second length varint runs off the end",
        ),
        rb(
            "more_records_than_count",
            hand_batch(two_records, count=1),
            "records",
            "recordsCount 1, two records: bytes left over",
        ),
        rb(
            "varint_too_long",
            hand_batch(b"\xff" * 10 + b"\x01" + RECORD_A[1:], count=1),
            "record length",
            "record length varint of 11 bytes",
        ),
        rb(
            "varint_overflows_int64",
            hand_batch(_record("00" + "ff" * 9 + "7f" + "00 01 02 61 00"), count=1),
            "timestampDelta",
            "10-byte timestampDelta whose 10th byte sets bits past 64",
        ),
        rb(
            "varint_truncated_at_batch_end",
            hand_batch(b"\x80", count=1),
            "record length",
            "record length varint with its continuation bit set on the last byte",
        ),
        rb("record_length_zero", hand_batch(b"\x00", count=1), "record length", "record length 0"),
        rb(
            "record_length_negative",
            hand_batch(b"\x01" + RECORD_A[1:], count=1),
            "record length",
            "record length -1",
        ),
        rb(
            "record_length_past_batch",
            hand_batch(b"\x10" + RECORD_A[1:], count=1),
            "record length",
            "record length 8, 7 bytes follow",
        ),
        rb(
            "record_longer_than_its_fields",
            hand_batch(bytes.fromhex("10 00 00 00 01 02 61 00 00"), count=1),
            "record length",
            "record length 8, its fields end after 7",
        ),
        rb(
            "offset_delta_wrong",
            hand_batch(RECORD_A1, count=1),
            "offsetDelta",
            "first record has offsetDelta 1",
        ),
        rb(
            "key_length_past_record",
            hand_batch(_record("00 00 00 0a 6b 02 61 00"), count=1),
            "key",
            "key length 5, the record has 4 bytes left",
        ),
        rb(
            "key_length_minus_two",
            hand_batch(_record("00 00 00 03 02 61 00"), count=1),
            "key",
            "key length -2 (only -1 means null)",
        ),
        rb(
            "value_length_minus_two",
            hand_batch(_record("00 00 00 01 03 00"), count=1),
            "value",
            "value length -2",
        ),
        rb(
            "value_length_past_record",
            hand_batch(_record("00 00 00 01 7e 61 00"), count=1),
            "value",
            "value length 63",
        ),
        rb(
            "headers_count_negative",
            hand_batch(_record("00 00 00 01 02 61 01"), count=1),
            "headers count",
            "headers count -1",
        ),
        rb(
            "headers_count_past_record",
            hand_batch(_record("00 00 00 01 02 61 04 02 68 01"), count=1),
            "header key",
            "2 headers announced, 1 present",
        ),
        rb(
            "header_key_null",
            hand_batch(_record("00 00 00 01 02 61 02 01 01"), count=1),
            "header key",
            "header key length -1",
        ),
        rb(
            "header_key_not_utf8",
            hand_batch(_record("00 00 00 01 02 61 02 02 ff 01"), count=1),
            "header key",
            "header key byte 0xff",
        ),
        rb(
            "header_value_length_minus_two",
            hand_batch(_record("00 00 00 01 02 61 02 02 68 03"), count=1),
            "header value",
            "header value length -2",
        ),
        rb(
            "header_value_past_record",
            hand_batch(_record("00 00 00 01 02 61 02 02 68 08 78"), count=1),
            "header value",
            "header value length 4, 1 byte left",
        ),
        rb(
            "compression_snappy_unsupported",
            hand_batch(RECORD_A, count=1, attributes=2),
            "attributes",
            "compression codec 2 (snappy)",
        ),
        rb(
            "compression_7_unknown",
            hand_batch(RECORD_A, count=1, attributes=7),
            "attributes",
            "compression codec 7",
        ),
        rb(
            "gzip_payload_not_gzip",
            hand_batch(RECORD_A, count=1, attributes=1),
            "records",
            "gzip attribute over plain records",
        ),
        rb(
            "gzip_invalid_deflate_block",
            hand_batch(bad_deflate, count=1, attributes=1),
            "records",
            "gzip header then a deflate block of reserved type 3",
        ),
        rb(
            "gzip_truncated",
            hand_batch(gz[:-5], count=1, attributes=1),
            "records",
            "gzip stream cut 5 bytes short",
        ),
        rb(
            "gzip_bad_trailer_crc",
            hand_batch(bytes(bad_gzip_crc), count=1, attributes=1),
            "records",
            "gzip trailer CRC-32 flipped",
        ),
        rb(
            "gzip_records_with_trailing_byte",
            hand_batch(_gzip_body(RECORD_A + b"\x00"), count=1, attributes=1),
            "records",
            "the decompressed records have a byte left over",
        ),
        rb(
            "gzip_fewer_records_than_count",
            hand_batch(_gzip_body(RECORD_A), count=2, attributes=1),
            "record length",
            "recordsCount 2, one record inside the gzip payload",
        ),
    ]


# --- varints --------------------------------------------------------------------------------------

# Zig-zag varints worked out by hand: zigzag(n) = 2n for n >= 0, -2n - 1 for n < 0, then base-128
# little-endian groups with the high bit meaning "more".
VARINTS = [
    ("zero", 0, "00"),
    ("minus_one", -1, "01"),
    ("one", 1, "02"),
    ("sixty_three", 63, "7e"),
    ("minus_sixty_four", -64, "7f"),
    ("sixty_four", 64, "8001"),
    ("minus_sixty_five", -65, "8101"),
    ("three_hundred", 300, "d804"),
    ("int32_max", INT32_MAX, "feffffff0f"),
    ("int32_min", INT32_MIN, "ffffffff0f"),
    ("int32_max_plus_one", INT32_MAX + 1, "8080808010"),
    ("int64_max", INT64_MAX, "feffffffffffffffff01"),
    ("int64_min", INT64_MIN, "ffffffffffffffffff01"),
]


def varint_vectors() -> list[Vector]:
    out = []
    for name, value, data in VARINTS:
        written = bytearray()
        kafka_encode_varint(value, written.append)
        assert written.hex() == data, (name, written.hex())
        out.append(
            vector(
                name,
                bytes.fromhex(data),
                {"value": value},
                "by hand; agrees with kafka-python's encode_varint",
            )
        )
    h = "by hand"
    out += [
        error("empty", b"", "CorruptRecordBatch", f"{h}: no bytes"),
        error(
            "continuation_then_end",
            b"\x80",
            "CorruptRecordBatch",
            f"{h}: continuation bit on the last byte",
        ),
        error(
            "nine_continuations_then_end",
            b"\xff" * 9,
            "CorruptRecordBatch",
            f"{h}: 9 bytes, all continued",
        ),
        error(
            "eleven_bytes",
            b"\xff" * 10 + b"\x01",
            "CorruptRecordBatch",
            f"{h}: 11 bytes, longer than any varlong",
        ),
        error(
            "ten_bytes_then_more",
            b"\x80" * 10 + b"\x00",
            "CorruptRecordBatch",
            f"{h}: 10th byte still has the continuation bit",
        ),
        error(
            "tenth_byte_overflows",
            b"\xff" * 9 + b"\x7f",
            "CorruptRecordBatch",
            f"{h}: 10th byte 0x7f sets bits 64..69",
        ),
        error(
            "tenth_byte_two",
            b"\x80" * 9 + b"\x02",
            "CorruptRecordBatch",
            f"{h}: 10th byte 0x02 sets bit 64",
        ),
    ]
    return out


# --- index entries --------------------------------------------------------------------------------


def offset_entry_vectors() -> list[Vector]:
    h = "by hand: relative offset u32 BE | position u32 BE"
    out = [
        vector("zero", bytes(8), {"relative_offset": 0, "position": 0}, h),
        vector(
            "one_at_4096",
            bytes.fromhex("00000001 00001000"),
            {"relative_offset": 1, "position": 4096},
            h,
        ),
        vector(
            "distinct_bytes",
            bytes.fromhex("01020304 0a0b0c0d"),
            {"relative_offset": 0x01020304, "position": 0x0A0B0C0D},
            h,
        ),
        vector(
            "u32_max", b"\xff" * 8, {"relative_offset": (1 << 32) - 1, "position": (1 << 32) - 1}, h
        ),
    ]
    for v in out:
        d = v["decoded"]
        assert v["hex"] == struct.pack(">II", d["relative_offset"], d["position"]).hex()
    out += [
        error("empty", b"", "CorruptIndex", "by hand: no bytes"),
        error(
            "seven_bytes",
            bytes.fromhex("00000001 000010"),
            "CorruptIndex",
            "by hand: a torn 8-byte entry",
        ),
    ]
    return out


def time_entry_vectors() -> list[Vector]:
    h = "by hand: timestamp i64 BE | relative offset u32 BE"
    out = [
        vector("zero", bytes(12), {"timestamp": 0, "relative_offset": 0}, h),
        vector(
            "typical",
            bytes.fromhex("0000018bcfe56800 00000005"),
            {"timestamp": 1_700_000_000_000, "relative_offset": 5},
            h,
        ),
        vector(
            "negative_timestamp",
            bytes.fromhex("ffffffffffffffff 00000000"),
            {"timestamp": -1, "relative_offset": 0},
            h,
        ),
        vector(
            "extremes",
            bytes.fromhex("7fffffffffffffff ffffffff"),
            {"timestamp": INT64_MAX, "relative_offset": (1 << 32) - 1},
            h,
        ),
        vector(
            "int64_min",
            bytes.fromhex("8000000000000000 00000001"),
            {"timestamp": INT64_MIN, "relative_offset": 1},
            h,
        ),
    ]
    for v in out:
        d = v["decoded"]
        assert v["hex"] == struct.pack(">qI", d["timestamp"], d["relative_offset"]).hex()
    return [
        *out,
        error("empty", b"", "CorruptIndex", "by hand: no bytes"),
        error(
            "eleven_bytes",
            bytes.fromhex("0000018bcfe56800 000000"),
            "CorruptIndex",
            "by hand: a torn 12-byte entry",
        ),
        error(
            "offset_entry_size",
            bytes(8),
            "CorruptIndex",
            "by hand: 8 bytes is an offset entry, not a time entry",
        ),
    ]


# --- checkpoints ----------------------------------------------------------------------------------


def _checkpoint(
    values: Sequence[int], *, magic: bytes = b"FQCP", version: int = 1, count: int | None = None
) -> bytes:
    body = magic + struct.pack(">HH", version, len(values) if count is None else count)
    body += b"".join(struct.pack(">q", value) for value in values)
    return body + struct.pack(">I", crc32c.crc32c(body))


def checkpoint_vectors() -> list[Vector]:
    h = 'by hand: "FQCP" | version u16 1 | count u16 | count x i64 | CRC-32C of the rest'
    cases: list[tuple[str, list[int]]] = [
        ("no_values", []),
        ("recovery_point", [42]),
        ("zero", [0]),
        ("three_values", [1, -1, 1 << 40]),
        ("int64_extremes", [INT64_MIN, INT64_MAX]),
    ]
    out = [
        vector(
            name, _checkpoint(values), {"values": values}, h, params={"expected_count": len(values)}
        )
        for name, values in cases
    ]
    good = _checkpoint([42])
    bad_value = bytearray(good)
    bad_value[15] ^= 0x01
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 0x01

    def cp(name: str, data: bytes, field: str, why: str, count: int = 1) -> Vector:
        return error(
            name,
            data,
            "CorruptCheckpoint",
            f"by hand: {why}",
            field=field,
            params={"expected_count": count},
        )

    return [
        *out,
        cp("empty_file", b"", "checkpoint", "zero bytes"),
        cp("torn_one_byte_short", good[:-1], "checkpoint", "last byte missing"),
        cp("torn_prefix_only", good[:8], "checkpoint", "only magic, version and count"),
        cp("trailing_byte", good + b"\x00", "checkpoint", "one byte too many"),
        cp(
            "holds_two_values_expected_one",
            _checkpoint([1, 2]),
            "checkpoint",
            "a valid file with 2 values read as 1",
        ),
        cp("wrong_magic", _checkpoint([42], magic=b"FQCQ"), "magic", 'magic "FQCQ"'),
        cp("magic_of_nothing", bytes(len(good)), "magic", "all zero bytes"),
        cp("version_zero", _checkpoint([42], version=0), "version", "version 0"),
        cp("version_two", _checkpoint([42], version=2), "version", "version 2"),
        cp(
            "count_field_two",
            _checkpoint([42], count=2),
            "count",
            "count field 2 in front of 1 value",
        ),
        cp("bad_crc_value_bit", bytes(bad_value), "crc", "one bit of the value flipped"),
        cp("bad_crc_crc_bit", bytes(bad_crc), "crc", "one bit of the CRC flipped"),
    ]


# --- segment names --------------------------------------------------------------------------------


def segment_name_vectors() -> list[Vector]:
    def ok(name: str, base_offset: int, suffix: str) -> Vector:
        return vector(
            name,
            name.encode(),
            {"base_offset": base_offset, "suffix": suffix},
            "by hand: 20 zero-padded digits then the suffix",
        )

    def bad(name: str, why: str) -> Vector:
        return error(name, name.encode(), "DecodeError", f"by hand: {why}")

    return [
        ok("00000000000000000000.log", 0, ".log"),
        ok("00000000000000000042.index", 42, ".index"),
        ok("00000000000001000000.timeindex", 1_000_000, ".timeindex"),
        ok("09223372036854775807.log", INT64_MAX, ".log"),
        bad("0000.log", "4 digits"),
        bad("abcdefghijklmnopqrst.log", "letters"),
        bad("0000000000000000000a.log", "a letter among 19 digits"),
        bad("-0000000000000000001.log", "a sign"),
        bad("000000000000000000000.log", "21 digits"),
        bad("0000000000000000000.log", "19 digits"),
        bad("00000000000000000000.txt", "unknown suffix"),
        bad("00000000000000000000.LOG", "suffix in the wrong case"),
        bad("00000000000000000000.log.deleted", "a suffix after .log"),
        bad("00000000000000000000", "no suffix"),
        bad("00000000000000000000.", "a bare dot"),
        bad(".log", "no digits"),
        bad("", "empty"),
        bad("09223372036854775808.log", "base offset int64 max + 1"),
        bad("99999999999999999999.log", "base offset beyond int64"),
        bad("\uff10" * 20 + ".log", "20 full-width (non-ASCII) digits"),
        bad("0000000000000000000\u0661.log", "an Arabic-Indic digit"),
    ]


# --- driver ---------------------------------------------------------------------------------------


def all_vectors() -> dict[str, list[Vector]]:
    return {
        "record_batch.json": record_batch_vectors(),
        "record_batch_errors.json": record_batch_error_vectors(),
        "varint.json": varint_vectors(),
        "offset_index_entry.json": offset_entry_vectors(),
        "time_index_entry.json": time_entry_vectors(),
        "checkpoint.json": checkpoint_vectors(),
        "segment_name.json": segment_name_vectors(),
    }


def render(vectors: list[Vector]) -> str:
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), "vector names must be unique"
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    VECTORS.mkdir(parents=True, exist_ok=True)
    stale = []
    for file_name, vectors in all_vectors().items():
        path = VECTORS / file_name
        text = render(vectors)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(file_name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{path}: {len(vectors)} vectors")
    for file_name in stale:
        print(f"{file_name} differs from what this script generates", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
