"""One-pass batch validation (spec/format.md 1.7, 1.8), bounded gzip, Kafka batch attributes (1.2).

Batches are packed here field by field from the Kafka layout, never taken from the code under test,
except where a test only needs some valid batch to damage or to append.
"""

from __future__ import annotations

import gzip
import struct
import tracemalloc
from pathlib import Path

import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flyq.codec.record_batch import (
    COMPRESSION_GZIP,
    COMPRESSION_NONE,
    CREATE_TIME,
    LOG_APPEND_TIME,
    MAX_UNCOMPRESSED_BYTES,
    decode_batch,
    decode_batch_header,
    encode_batch,
    log_append_time_header,
    validate_batch,
)
from flyq.errors import ChecksumMismatch, CorruptRecordBatch, FlyQError, InvalidConfig
from flyq.impl.config import LogConfig
from flyq.impl.log import PartitionLog
from flyq.records import Record

BOUND = MAX_UNCOMPRESSED_BYTES
TS = 1_700_000_000_000


def zigzag(value: int) -> bytes:
    """The shortest zig-zag varint of `value`, worked out here from spec/format.md 1.5."""
    z = (value << 1) ^ (value >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def rec(*fields: bytes, length: int | None = None) -> bytes:
    """A record: its fields (attributes onwards) with the length varint in front."""
    body = b"".join(fields)
    return zigzag(len(body) if length is None else length) + body


def simple(offset_delta: int, value: bytes = b"v", ts_delta: int = 0) -> bytes:
    """A record with a null key, `value` and no headers."""
    return rec(b"\x00", zigzag(ts_delta), zigzag(offset_delta), zigzag(-1),
               zigzag(len(value)), value, zigzag(0))


def batch(
    body: bytes,
    *,
    count: int = 1,
    base_offset: int = 0,
    length: int | None = None,
    magic: int = 2,
    crc: int | None = None,
    attributes: int = 0,
    base_ts: int = TS,
    max_ts: int = TS,
    producer: tuple[int, int, int] = (-1, -1, -1),
) -> bytes:
    """A batch header packed field by field before `body`; CRC-32C computed unless given."""
    covered = struct.pack(">hiqqqhii", attributes, count - 1, base_ts, max_ts, *producer,
                          count) + body
    if crc is None:
        crc = crc32c.crc32c(covered)
    if length is None:
        length = 9 + len(covered)
    return struct.pack(">qiibI", base_offset, length, -1, magic, crc) + covered


GOOD = batch(simple(0))
TWO = batch(simple(0) + simple(1, ts_delta=10), count=2, max_ts=TS + 10)
GZIP_GARBAGE = batch(simple(0), attributes=COMPRESSION_GZIP)

# (name, bytes, error class, field): one per field a failure can name (spec/format.md 1.7).
DEFECTS = [
    ("header cut short", GOOD[:40], CorruptRecordBatch, "batch header"),
    ("magic 1", batch(simple(0), magic=1), CorruptRecordBatch, "magic"),
    ("batchLength below a header", batch(simple(0), length=48), CorruptRecordBatch,
     "batchLength"),
    ("batch cut short", GOOD[:-1], CorruptRecordBatch, "batchLength"),
    ("recordsCount 2 with one record's lastOffsetDelta",
     GOOD[:23] + struct.pack(">i", 0) + GOOD[27:57] + struct.pack(">i", 2) + GOOD[61:],
     CorruptRecordBatch, "recordsCount"),
    ("negative baseOffset", batch(simple(0), base_offset=-1), CorruptRecordBatch, "baseOffset"),
    ("crc off by one", batch(simple(0), crc=crc32c.crc32c(GOOD[21:]) ^ 1), ChecksumMismatch,
     "crc"),
    ("compression lz4", batch(simple(0), attributes=3), CorruptRecordBatch, "attributes"),
    ("LogAppendTime with maxTimestamp -1", batch(simple(0), attributes=0x08, max_ts=-1),
     CorruptRecordBatch, "maxTimestamp"),
    ("gzip flag over plain records", GZIP_GARBAGE, CorruptRecordBatch, "records"),
    ("record length 0", batch(b"\x00"), CorruptRecordBatch, "record length"),
    ("record timestamp above maxTimestamp", batch(simple(0, ts_delta=1)), CorruptRecordBatch,
     "timestampDelta"),
    ("record timestamp negative", batch(simple(0, ts_delta=-1), base_ts=0, max_ts=0),
     CorruptRecordBatch, "timestampDelta"),
    ("timestampDelta overflows 64 bits",
     batch(rec(b"\x00", b"\xff" * 9 + b"\x7f", b"\x00\x01\x02v\x00")), CorruptRecordBatch,
     "timestampDelta"),
    ("offsetDelta 1 for record 0", batch(simple(1)), CorruptRecordBatch, "offsetDelta"),
    ("key length -2", batch(rec(b"\x00\x00\x00", zigzag(-2), b"\x02v\x00")), CorruptRecordBatch,
     "key"),
    ("value past the record", batch(rec(b"\x00\x00\x00\x01", zigzag(5), b"v\x00")),
     CorruptRecordBatch, "value"),
    ("headers count -1", batch(rec(b"\x00\x00\x00\x01\x02v", zigzag(-1))), CorruptRecordBatch,
     "headers count"),
    ("header key null", batch(rec(b"\x00\x00\x00\x01\x02v\x02", zigzag(-1), zigzag(-1))),
     CorruptRecordBatch, "header key"),
    ("header key not UTF-8", batch(rec(b"\x00\x00\x00\x01\x02v\x02\x02\xff", zigzag(-1))),
     CorruptRecordBatch, "header key"),
    ("header value length -2", batch(rec(b"\x00\x00\x00\x01\x02v\x02\x02h", zigzag(-2))),
     CorruptRecordBatch, "header value"),
    ("record length past its fields",
     batch(rec(b"\x00\x00\x00\x01\x02v\x00\x00", length=9)), CorruptRecordBatch,
     "record length"),
    ("record longer than its fields by one",
     batch(rec(b"\x00\x00\x00\x01\x02v\x00\x00")), CorruptRecordBatch, "record length"),
    ("a byte after the last record", batch(simple(0) + b"\x00"), CorruptRecordBatch, "records"),
    ("maxTimestamp above every record", batch(simple(0), max_ts=TS + 1), CorruptRecordBatch,
     "maxTimestamp"),
    ("second record's timestamp above maxTimestamp",
     batch(simple(0) + simple(1, ts_delta=10), count=2, max_ts=TS + 9), CorruptRecordBatch,
     "timestampDelta"),
]


@pytest.mark.parametrize(
    ("data", "error", "field"), [pytest.param(*case[1:], id=case[0]) for case in DEFECTS]
)
def test_each_defect_names_its_field_in_validate_and_decode(
    data: bytes, error: type[CorruptRecordBatch], field: str
) -> None:
    """Format 1.7: validate_batch and decode_batch raise the same class naming the same field."""
    with pytest.raises(CorruptRecordBatch) as validated:
        validate_batch(data, max_uncompressed_bytes=BOUND, source="test batch")
    with pytest.raises(CorruptRecordBatch) as decoded:
        decode_batch(data, source="test batch")
    for info in (validated, decoded):
        assert type(info.value) is error, str(info.value)
        assert info.value.field == field, str(info.value)
        assert 0 <= info.value.position <= max(len(data), 61)
        assert "test batch" in str(info.value)


def test_good_batches_pass() -> None:
    """The hand-packed batches the defects start from are valid, so each defect is the cause."""
    assert validate_batch(GOOD, max_uncompressed_bytes=BOUND).records_count == 1
    assert [r.timestamp for r in decode_batch(TWO).records] == [TS, TS + 10]
    assert validate_batch(TWO, max_uncompressed_bytes=BOUND).max_timestamp == TS + 10


def test_bytes_after_the_batch_fail_validation_only() -> None:
    """Format 1.8: validate_batch wants exactly one batch; decode_batch reads one from a buffer."""
    with pytest.raises(CorruptRecordBatch) as info:
        validate_batch(GOOD + b"\x00", max_uncompressed_bytes=BOUND)
    assert info.value.field == "batchLength"
    assert decode_batch(GOOD + b"\x00").header.size == len(GOOD)


def test_timestamps_need_not_start_at_the_smallest() -> None:
    """Format 1.7 check 13: deltas of both signs are fine while every sum lies in [0, max]."""
    body = simple(0) + simple(1, ts_delta=-5) + simple(2, ts_delta=7)
    data = batch(body, count=3, max_ts=TS + 7)
    assert validate_batch(data, max_uncompressed_bytes=BOUND).records_count == 3
    assert [r.timestamp for r in decode_batch(data).records] == [TS, TS - 5, TS + 7]


def test_overlong_varints_are_accepted_and_read_alike() -> None:
    """Format 1.5: padded (overlong) varints in every record field decode like the shortest ones."""

    def padded(value: int) -> bytes:
        shortest = bytearray(zigzag(value))
        shortest[-1] |= 0x80
        return bytes(shortest) + b"\x80\x00"

    fields = b"\x00" + padded(0) + padded(0) + padded(1) + b"k" + padded(2) + b"vv" + padded(1)
    fields += padded(1) + b"h" + padded(-1)
    data = batch(zigzag(len(fields)) + fields)
    (record,) = decode_batch(data).records
    assert (record.key, record.value, record.headers, record.timestamp) == (
        b"k", b"vv", (("h", None),), TS)
    assert validate_batch(data, max_uncompressed_bytes=BOUND).records_count == 1


# --- gzip bound -----------------------------------------------------------------------------------


def test_gzip_bound_is_exact_and_named() -> None:
    """Format 1.4: a section decompressing to N bytes passes a bound of N and fails N - 1."""
    records = simple(0, b"x" * 300)
    data = batch(gzip.compress(records, mtime=0), attributes=COMPRESSION_GZIP)
    assert validate_batch(data, max_uncompressed_bytes=len(records)).records_count == 1
    assert decode_batch(data, max_uncompressed_bytes=len(records)).records[0].value == b"x" * 300
    for check in (lambda: validate_batch(data, max_uncompressed_bytes=len(records) - 1),
                  lambda: decode_batch(data, max_uncompressed_bytes=len(records) - 1)):
        with pytest.raises(CorruptRecordBatch) as info:
            check()
        assert info.value.field == "records"
        assert f"limit of {len(records) - 1} bytes" in str(info.value)


def test_gzip_bomb_is_refused_at_the_bound() -> None:
    """Format 1.4: 64 MiB of zeros in a small batch is refused without decompressing it all."""
    bomb = gzip.compress(b"\x00" * (64 << 20), compresslevel=1, mtime=0)
    data = batch(bomb, attributes=COMPRESSION_GZIP)
    assert len(data) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(CorruptRecordBatch, match="limit of 1048576 bytes"):
            validate_batch(data, max_uncompressed_bytes=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"decompressing peaked at {peak} bytes"


def test_gzip_members_and_zero_padding_are_accepted() -> None:
    """Format 1.4: concatenated gzip members and zero bytes after one read as one section."""
    first, second = simple(0), simple(1, b"w")
    payload = gzip.compress(first, mtime=0) + gzip.compress(second, mtime=0) + b"\x00" * 3
    data = batch(payload, count=2, attributes=COMPRESSION_GZIP)
    assert [r.value for r in decode_batch(data).records] == [b"v", b"w"]
    assert validate_batch(data, max_uncompressed_bytes=BOUND).records_count == 2


def test_gzip_truncated_or_trailing_garbage_is_refused() -> None:
    """Format 1.7 check 10: a cut gzip stream or non-gzip bytes after a member name `records`."""
    payload = gzip.compress(simple(0), mtime=0)
    for bad in (payload[:-3], payload + b"junk", b""):
        data = batch(bad, attributes=COMPRESSION_GZIP)
        for check in (lambda: validate_batch(data, max_uncompressed_bytes=BOUND),  # noqa: B023
                      lambda: decode_batch(data)):  # noqa: B023
            with pytest.raises(CorruptRecordBatch) as info:
                check()
            assert info.value.field == "records"


# --- decode and validate agree on damaged batches ---------------------------------------------------

records_st = st.builds(
    Record,
    value=st.one_of(st.none(), st.binary(max_size=300)),
    key=st.one_of(st.none(), st.binary(max_size=8)),
    headers=st.lists(st.tuples(st.sampled_from(["", "h", "ключ"]),
                               st.one_of(st.none(), st.binary(max_size=4))),
                     max_size=2).map(tuple),
    timestamp=st.one_of(st.integers(0, 3), st.integers(0, 1 << 45)),
)


def _outcome(check: object) -> tuple[str, object]:
    try:
        result = check()  # type: ignore[operator]
    except FlyQError as exc:
        return type(exc).__name__, getattr(exc, "field", None)
    return "ok", result


@settings(deadline=None, max_examples=300)
@given(
    records=st.lists(records_st, min_size=1, max_size=6),
    compression=st.sampled_from([COMPRESSION_NONE, COMPRESSION_GZIP]),
    data=st.data(),
)
def test_validate_and_decode_agree_on_damaged_batches(
    records: list[Record], compression: int, data: st.DataObject
) -> None:
    """Format 1.8: on bit flips, byte changes and cuts (CRC fixed or not) both reach one verdict."""
    buf = bytearray(encode_batch(0, records, compression=compression))
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["flip", "set", "cut"]))
        if not buf:
            break
        index = data.draw(st.integers(0, len(buf) - 1))
        if kind == "flip":
            buf[index] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "set":
            buf[index] = data.draw(st.integers(0, 255))
        else:
            del buf[index:]
    if len(buf) > 61 and data.draw(st.booleans()):
        struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))
    blob = bytes(buf)
    decoded = _outcome(lambda: decode_batch(blob).header)
    validated = _outcome(lambda: validate_batch(blob, max_uncompressed_bytes=BOUND))
    framing = _outcome(lambda: decode_batch_header(blob))
    if framing[0] == "ok" and framing[1].size != len(blob):  # type: ignore[attr-defined]
        assert validated == ("CorruptRecordBatch", "batchLength")
    else:
        assert validated == decoded


def _producer_shaped_batch(kind: str) -> bytearray:
    """Records shaped as producers mostly send them (null key, no headers, short varints), plus
    one record with a key and a header.
    `log_append_time` sets that bit (record timestamps unchecked); `from_zero` starts the
    timestamps at 0 (a negative delta makes one negative); `big` adds records whose length and
    value-length varints take 3 bytes."""
    base = 0 if kind == "from_zero" else 1000
    records = [Record(value=b"v" * size, timestamp=base + delta)
               for size, delta in ((6, 0), (70, 3), (1, 1), (200, 2))]
    if kind == "big":
        records[1:1] = [Record(value=b"b" * 9000, timestamp=base), Record(value=b"c" * 9,
                                                                           timestamp=base)]
    records.append(Record(value=b"x", key=b"k", headers=(("h", b"1"),), timestamp=base + 1))
    buf = bytearray(encode_batch(0, records))
    if kind == "log_append_time":
        buf[22] |= 0x08
    return buf


@pytest.mark.parametrize("kind", ["create_time", "log_append_time", "from_zero", "big"])
def test_validate_and_decode_agree_on_every_byte_of_hot_path_records(kind: str) -> None:
    """Format 1.8, exhaustively over one batch: each records-section byte set to each of a few
    values that cross varint and sign boundaries (CRC fixed) gets one verdict from validate and
    decode."""
    original = _producer_shaped_batch(kind)
    checked = 0
    # The 9,000 value bytes of the big record are skipped: changing them changes no verdict.
    positions = [index for index in range(61, len(original))
                 if kind != "big" or not original[index - 1] == original[index] == ord("b")]
    for index in positions:
        for value in {0, 1, 2, 0x7F, 0x80, 0xFF, original[index] ^ 1, (original[index] + 2) % 256}:
            buf = bytearray(original)
            buf[index] = value
            struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))
            blob = bytes(buf)
            decoded = _outcome(lambda blob=blob: decode_batch(blob).header)
            validated = _outcome(
                lambda blob=blob: validate_batch(blob, max_uncompressed_bytes=BOUND))
            assert validated == decoded, (index, value)
            checked += 1
    assert checked > 2000


def test_a_two_byte_reading_of_a_longer_length_varint_is_not_taken() -> None:
    """Format 1.8: a record length whose second byte continues ([0x80, 0x80, 0x00, ...]) is a
    3-byte varint (length 0: corrupt), though its first two bytes alone would read as a length
    that exactly fits a well-formed record; validate and decode both refuse it."""
    value = b"v" * 8185  # record length 8192: a 3-byte varint [0x80, 0x80, 0x01]
    buf = bytearray(encode_batch(0, [Record(value=value, timestamp=5)]))
    assert buf[61:64] == b"\x80\x80\x01"
    del buf[63]  # the 0x01 byte: now [0x80, 0x80] is followed by the attributes byte 0x00
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))
    blob = bytes(buf)
    assert _outcome(lambda: decode_batch(blob)) == ("CorruptRecordBatch", "record length")
    assert _outcome(lambda: validate_batch(blob, max_uncompressed_bytes=BOUND)) == (
        "CorruptRecordBatch", "record length")


# --- Kafka attributes -----------------------------------------------------------------------------


def test_attribute_accessors_read_the_bits() -> None:
    """Format 1.2: bit 3 is the timestamp type, bit 4 transactional, bit 5 control."""
    for attributes, expected in ((0x00, (CREATE_TIME, False, False)),
                                 (0x08, (LOG_APPEND_TIME, False, False)),
                                 (0x10, (CREATE_TIME, True, False)),
                                 (0x38, (LOG_APPEND_TIME, True, True))):
        header = decode_batch(batch(simple(0), attributes=attributes)).header
        assert (header.timestamp_type, header.is_transactional, header.is_control) == expected


def test_log_append_time_header_restamps_and_keeps_the_rest() -> None:
    """Format 1.8: bit 3 set, new maxTimestamp and baseOffset, CRC over new header + same records."""
    original = batch(simple(0) + simple(1, ts_delta=10), count=2, max_ts=TS + 10,
                     attributes=0x10, producer=(77, 3, 9))
    header = decode_batch_header(original)
    stamped = log_append_time_header(original, header, base_offset=500, timestamp=42)
    assert len(stamped) == 61
    expected = bytearray(original[:61])
    struct.pack_into(">q", expected, 0, 500)
    struct.pack_into(">h", expected, 21, 0x18)
    struct.pack_into(">q", expected, 35, 42)
    struct.pack_into(">I", expected, 17, crc32c.crc32c(bytes(expected[21:]) + original[61:]))
    assert stamped == bytes(expected)
    read = decode_batch(stamped + original[61:])
    assert [(r.offset, r.timestamp) for r in read.records] == [(500, 42), (501, 42)]
    assert (read.header.producer_id, read.header.producer_epoch, read.header.base_sequence) == (
        77, 3, 9)


def test_log_append_time_batch_ignores_record_timestamp_deltas() -> None:
    """Format 1.2: a LogAppendTime batch's deltas are not range-checked; records read maxTimestamp."""
    data = batch(simple(0, ts_delta=-TS - 5), attributes=0x08, max_ts=7)
    assert validate_batch(data, max_uncompressed_bytes=BOUND).timestamp_type == LOG_APPEND_TIME
    assert [r.timestamp for r in decode_batch(data).records] == [7]


def test_control_batch_records_are_marked() -> None:
    """Format 1.2: the records of a control batch read back with is_control, data ones without."""
    marker = rec(b"\x00\x00\x00", zigzag(4), b"\x00\x00\x00\x01", zigzag(6), b"\x00" * 6,
                 zigzag(0))
    control = decode_batch(batch(marker, attributes=0x30)).records
    assert [r.is_control for r in control] == [True]
    assert control[0].key == b"\x00\x00\x00\x01"
    assert [r.is_control for r in decode_batch(GOOD).records] == [False]


# --- the log --------------------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _open(path: Path, clock: Clock, **config: object) -> PartitionLog:
    return PartitionLog.open(str(path), LogConfig(**config), clock=clock)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data", [pytest.param(case[1], id=case[0]) for case in DEFECTS]
    + [pytest.param(GOOD + b"\x00", id="one byte too many")]
)
def test_append_encoded_stores_nothing_on_failure(tmp_path: Path, data: bytes) -> None:
    """LOG-3, format 1.8: a refused batch leaves the log and its .log file unchanged."""
    with _open(tmp_path, Clock(1)) as log:
        log.append([Record(b"first", timestamp=1)])
        size = log.segments[-1].size
        with pytest.raises(CorruptRecordBatch):
            log.append_encoded(data)
        assert (log.log_end_offset, log.segments[-1].size) == (1, size)
        assert [r.value for r in log.read(0)] == [b"first"]


def test_append_encoded_bounds_gzip_by_the_logs_max_batch_bytes(tmp_path: Path) -> None:
    """Format 1.4, 1.8 (recovery.md gap 5): a gzip batch that is small on the wire but inflates
    past the log's `max_batch_bytes` is refused naming the limit; one that fits is stored."""
    records = simple(0, b"x" * 5000)
    data = batch(gzip.compress(records, mtime=0), attributes=COMPRESSION_GZIP)
    assert len(data) < 1000 < len(records)
    with _open(tmp_path / "small", Clock(1), max_batch_bytes=1000) as log:
        with pytest.raises(CorruptRecordBatch, match="limit of 1000 bytes"):
            log.append_encoded(data)
        assert log.log_end_offset == 0
    with _open(tmp_path / "large", Clock(1), max_batch_bytes=len(records)) as log:
        assert log.append_encoded(data).base_offset == 0


def test_log_append_time_log_stamps_both_append_paths(tmp_path: Path) -> None:
    """Format 1.8, 1.6: a LogAppendTime log gives every record the clock at its append."""
    clock = Clock(1_000)
    with _open(tmp_path, clock, message_timestamp_type=LOG_APPEND_TIME) as log:
        log.append_encoded(batch(simple(0) + simple(1, ts_delta=10), count=2, max_ts=TS + 10,
                                 producer=(5, 1, 0), attributes=0x10))
        clock.now = 2_000
        log.append([Record(b"x", timestamp=TS), Record(b"y", timestamp=3)])
        assert [(r.offset, r.timestamp) for r in log.read(0)] == [
            (0, 1_000), (1, 1_000), (2, 2_000), (3, 2_000)]
        assert log.offset_for_timestamp(1_001) == 2
        assert log.offset_for_timestamp(2_001) is None
        raw = log.read_raw(0, 1 << 20)
        first = decode_batch(raw)
        assert first.header.timestamp_type == LOG_APPEND_TIME
        assert first.header.is_transactional
        assert (first.header.producer_id, first.header.producer_epoch) == (5, 1)
        assert validate_batch(raw[: first.header.size], max_uncompressed_bytes=BOUND)
    # An unclean reopen rebuilds the indexes from the stamped headers: same answers.
    with _open(tmp_path, clock, message_timestamp_type=LOG_APPEND_TIME) as log:
        assert [r.timestamp for r in log.read(0)] == [1_000, 1_000, 2_000, 2_000]
        assert log.offset_for_timestamp(1_500) == 2


def test_create_time_log_keeps_producer_timestamps_and_control_bits(tmp_path: Path) -> None:
    """Format 1.8: by default batches keep their timestamps, producer fields and attribute bits."""
    marker = rec(b"\x00\x00\x00", zigzag(4), b"\x00\x00\x00\x01", zigzag(6), b"\x00" * 6,
                 zigzag(0))
    with _open(tmp_path, Clock(1)) as log:
        log.append_encoded(TWO)
        log.append_encoded(batch(marker, attributes=0x30, producer=(9, 2, -1)))
        records = log.read(0)
        assert [(r.timestamp, r.is_control) for r in records] == [
            (TS, False), (TS + 10, False), (TS, True)]
        headers = decode_batch(log.read_raw(2, 1 << 20)).header
        assert (headers.is_control, headers.is_transactional, headers.producer_id) == (
            True, True, 9)


def test_message_timestamp_type_is_validated() -> None:
    """Format 6: message_timestamp_type is CreateTime or LogAppendTime, else InvalidConfig."""
    assert LogConfig().message_timestamp_type == "CreateTime"
    assert LogConfig(message_timestamp_type="LogAppendTime").message_timestamp_type == (
        "LogAppendTime")
    for bad in ("logappendtime", "", 1, None):
        with pytest.raises(InvalidConfig) as info:
            LogConfig(message_timestamp_type=bad)  # type: ignore[arg-type]
        assert info.value.key == "message_timestamp_type"


def test_varints_stop_at_the_batch_end_not_the_buffer_end() -> None:
    """Format 1.7: a varint cut by the batch's end names its field even if bytes follow the batch."""
    data = batch(rec(b"\x00\x00\x00\x01\x02v\x80"))
    for check in (lambda: validate_batch(data, max_uncompressed_bytes=BOUND),
                  lambda: decode_batch(data + b"\x00")):
        with pytest.raises(CorruptRecordBatch) as info:
            check()
        assert info.value.field == "headers count", str(info.value)
