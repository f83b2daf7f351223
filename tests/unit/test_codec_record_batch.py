"""RecordBatch v2 codec (flyq.codec.record_batch): layout, every CorruptRecordBatch path, CRC rules.

Expected bytes are built here field by field from the Kafka layout (big-endian header, CRC-32C over
byte 21 to the end, zig-zag varint record fields), never taken from the encoder under test.
"""

from __future__ import annotations

import gzip
import struct
from typing import Any

import attrs
import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flyq.codec.record_batch import (
    COMPRESSION_GZIP,
    COMPRESSION_NONE,
    BatchHeader,
    batch_crc,
    decode_batch,
    decode_batch_header,
    encode_batch,
    iter_batch_headers,
    set_base_offset,
    verify_batch_crc,
)
from flyq.errors import ChecksumMismatch, CorruptRecordBatch, FlyQError, InvalidRecord
from flyq.records import Record, StoredRecord

INT64_MAX = (1 << 63) - 1

# length 7 | attributes 0 | timestampDelta 0 | offsetDelta 0 | key null | value "a" | 0 headers
RECORD_A = bytes.fromhex("0e 00 00 00 01 02 61 00")
# The same with offsetDelta 1 (zig-zag 2).
RECORD_A1 = bytes.fromhex("0e 00 00 02 01 02 61 00")


def hand_batch(
    body: bytes,
    *,
    count: int = 1,
    last_offset_delta: int | None = None,
    base_offset: int = 0,
    length: int | None = None,
    epoch: int = 0,
    magic: int = 2,
    crc: int | None = None,
    attributes: int = 0,
    base_ts: int = 0,
    max_ts: int = 0,
    producer: tuple[int, int, int] = (-1, -1, -1),
) -> bytes:
    """The 61-byte header packed field by field before `body`; CRC-32C computed unless given."""
    if last_offset_delta is None:
        last_offset_delta = count - 1
    covered = (
        struct.pack(">hiqqqhii", attributes, last_offset_delta, base_ts, max_ts, *producer, count)
        + body
    )
    if crc is None:
        crc = crc32c.crc32c(covered)
    if length is None:
        length = 4 + 1 + 4 + len(covered)  # epoch, magic, crc, then everything the CRC covers
    return struct.pack(">qiibI", base_offset, length, epoch, magic, crc) + covered


def record(fields: str) -> bytes:
    """A record from the hex of its fields, with its (one-byte) length varint in front."""
    body = bytes.fromhex(fields)
    assert len(body) < 64
    return bytes([len(body) << 1]) + body


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def stored(records: list[Record], base_offset: int) -> list[StoredRecord]:
    return [
        StoredRecord(
            offset=base_offset + i,
            timestamp=r.timestamp,
            key=r.key,
            value=r.value,
            headers=r.headers,
        )
        for i, r in enumerate(records)
    ]


GOOD = hand_batch(RECORD_A)

# --- strategies -----------------------------------------------------------------------------------

blobs = st.one_of(st.none(), st.binary(max_size=64))
header_keys = st.one_of(
    st.sampled_from(["", "k"]), st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
)
records_st = st.builds(
    Record,
    value=blobs,
    key=blobs,
    headers=st.lists(st.tuples(header_keys, blobs), max_size=3).map(tuple),
    timestamp=st.integers(0, 1 << 50),
)
record_lists = st.lists(records_st, min_size=1, max_size=20)
offsets = st.integers(0, INT64_MAX - 100)
compressions = st.sampled_from([COMPRESSION_NONE, COMPRESSION_GZIP])


# --- layout ---------------------------------------------------------------------------------------


def test_crc_is_castagnoli() -> None:
    """batch_crc is CRC-32C: the check value of b"123456789" is 0xE3069283 (IEEE would differ)."""
    assert batch_crc(b"123456789") == 0xE3069283


def test_single_record_layout() -> None:
    """One record encodes to the hand-built header plus the hand-built record bytes."""
    got = encode_batch(5, [Record(value=b"a", timestamp=7)], partition_leader_epoch=0)
    assert got == hand_batch(RECORD_A, base_offset=5, base_ts=7, max_ts=7)
    assert len(got) == 61 + len(RECORD_A)


def test_default_epoch_and_producer_fields_are_minus_one() -> None:
    """By default partitionLeaderEpoch, producerId, producerEpoch and baseSequence are all -1."""
    got = encode_batch(0, [Record(value=b"a")])
    assert got == hand_batch(RECORD_A, epoch=-1)
    assert got[12:16] == b"\xff\xff\xff\xff"
    assert got[43:57] == b"\xff" * 14


def test_negative_timestamp_delta_layout() -> None:
    """A later record with an earlier timestamp stores a negative delta; maxTimestamp is the max."""
    got = encode_batch(
        0,
        [
            Record(value=b"a", timestamp=10),
            Record(value=b"b", timestamp=7),
            Record(value=b"c", timestamp=12),
        ],
        partition_leader_epoch=0,
    )
    second = bytes.fromhex("0e 00 05 02 01 02 62 00")  # tsDelta -3 -> zig-zag 5
    third = bytes.fromhex("0e 00 04 04 01 02 63 00")  # tsDelta +2 -> zig-zag 4
    body = RECORD_A + second + third
    assert got == hand_batch(body, count=3, base_ts=10, max_ts=12)


def test_key_value_and_headers_layout() -> None:
    """Empty key, null value and headers (repeated key, null value) encode field by field."""
    r = Record(value=None, key=b"", headers=(("h", b"x"), ("h", None)))
    got = encode_batch(0, [r], partition_leader_epoch=0)
    # attrs | ts 0 | off 0 | key len 0 | value null | 2 headers | "h" "x" | "h" null
    assert got == hand_batch(record("00 00 00 00 01 04 02 68 02 78 02 68 01"))


def test_producer_and_transactional_fields_layout() -> None:
    """producerId/epoch/baseSequence land in the header and transactional sets attribute bit 4."""
    got = encode_batch(
        0,
        [Record(value=b"a")],
        partition_leader_epoch=0,
        producer_id=9,
        producer_epoch=3,
        base_sequence=11,
        is_transactional=True,
    )
    assert got == hand_batch(RECORD_A, attributes=0x10, producer=(9, 3, 11))
    header = decode_batch(got).header
    assert header.is_transactional
    assert not header.is_control


def test_gzip_payload_is_the_gzipped_records() -> None:
    """With gzip the bytes after the header gunzip to the uncompressed records; attributes are 1."""
    got = encode_batch(0, [Record(value=b"a")], compression=COMPRESSION_GZIP)
    assert struct.unpack_from(">h", got, 21)[0] == COMPRESSION_GZIP
    assert gzip.decompress(got[61:]) == RECORD_A


def test_header_properties() -> None:
    """BatchHeader derives size, last/next offset and attribute flags from the stored fields."""
    header = decode_batch_header(
        hand_batch(RECORD_A + RECORD_A1, count=2, base_offset=100, attributes=0x31)
    )
    assert header.size == 61 + 16
    assert (header.last_offset, header.next_offset) == (101, 102)
    assert header.compression == 1
    assert header.is_transactional
    assert header.is_control


def test_encode_rejects_empty_batch_and_unknown_codec() -> None:
    """encode_batch refuses no records and compression codecs other than none and gzip."""
    with pytest.raises(InvalidRecord):
        encode_batch(0, [])
    with pytest.raises(InvalidRecord):
        encode_batch(0, [Record(value=b"a")], compression=2)


# --- round trips ----------------------------------------------------------------------------------


@settings(deadline=None)
@given(record_lists, offsets, compressions)
def test_round_trip(records: list[Record], base_offset: int, compression: int) -> None:
    """decode_batch(encode_batch(records)) gives the records back at consecutive offsets."""
    data = encode_batch(base_offset, records, compression=compression)
    batch = decode_batch(data)
    assert list(batch.records) == stored(records, base_offset)
    assert [r.record for r in batch.records] == records
    h = batch.header
    assert (h.base_offset, h.records_count, h.last_offset_delta) == (
        base_offset,
        len(records),
        len(records) - 1,
    )
    assert h.base_timestamp == records[0].timestamp
    assert h.max_timestamp == max(r.timestamp for r in records)
    assert h.compression == compression
    assert h.size == len(data)


@settings(deadline=None)
@given(record_lists, offsets)
def test_decode_accepts_any_buffer_type_at_any_position(
    records: list[Record], base_offset: int
) -> None:
    """A batch decodes the same from bytes, bytearray or memoryview, alone or inside a buffer."""
    data = encode_batch(base_offset, records)
    want = decode_batch(data)
    padded = b"\x07" * 13 + data + GOOD
    for buf in (bytearray(data), memoryview(data)):
        assert decode_batch(buf) == want
    assert decode_batch(padded, 13) == want
    assert decode_batch(memoryview(padded), 13) == want


@settings(deadline=None)
@given(record_lists, offsets, offsets)
def test_set_base_offset_keeps_crc_valid(records: list[Record], first: int, second: int) -> None:
    """set_base_offset rewrites bytes 0..7 only; the CRC still verifies and offsets move with it."""
    data = encode_batch(first, records)
    moved = set_base_offset(data, second)
    assert moved[8:] == data[8:]
    assert moved[:8] == struct.pack(">q", second)
    batch = decode_batch(moved)  # verifies the CRC
    assert list(batch.records) == stored(records, second)
    assert moved == encode_batch(second, records)


def test_set_base_offset_returns_a_copy() -> None:
    """set_base_offset leaves its input untouched."""
    original = bytearray(GOOD)
    set_base_offset(original, 99)
    assert original == GOOD


# --- CRC ------------------------------------------------------------------------------------------


def _bit_flips(data: bytes, start: int, stop: int) -> list[tuple[int, int, bytes]]:
    flips = []
    for byte in range(start, stop):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[byte] ^= 1 << bit
            flips.append((byte, bit, bytes(flipped)))
    return flips


SAMPLE = encode_batch(
    3,
    [
        Record(value=b"v", key=b"k", headers=(("h", None),), timestamp=5),
        Record(value=None, timestamp=4),
    ],
    producer_id=1,
    producer_epoch=0,
    base_sequence=0,
)


def test_every_single_bit_flip_in_crc_range_is_detected() -> None:
    """Flipping any one bit from the CRC field (byte 17) to the end fails the CRC check."""
    header = decode_batch_header(SAMPLE)
    for byte, bit, flipped in _bit_flips(SAMPLE, 17, len(SAMPLE)):
        # The header as read from the damaged bytes, but with the original framing.
        seen = attrs.evolve(header, crc=struct.unpack_from(">I", flipped, 17)[0])
        with pytest.raises(ChecksumMismatch) as info:
            verify_batch_crc(flipped, 0, seen)
        assert info.value.field == "crc", (byte, bit)
        # decode_batch may trip on framing first, but never accepts the damaged batch.
        with pytest.raises(CorruptRecordBatch):
            decode_batch(flipped)


def test_bit_flip_in_records_raises_checksum_mismatch() -> None:
    """A flipped bit in the records (past the header) is reported as ChecksumMismatch exactly."""
    stored_crc = struct.unpack_from(">I", SAMPLE, 17)[0]
    for byte, bit, flipped in _bit_flips(SAMPLE, 61, len(SAMPLE)):
        with pytest.raises(ChecksumMismatch) as info:
            decode_batch(flipped, source="seg.log")
        assert type(info.value) is ChecksumMismatch, (byte, bit)
        assert info.value.expected == stored_crc
        assert info.value.actual == crc32c.crc32c(flipped[21:])
        assert (info.value.position, info.value.source) == (0, "seg.log")


def test_base_offset_and_epoch_are_outside_the_crc() -> None:
    """Flipping bits of baseOffset (bytes 0..7) or partitionLeaderEpoch (12..15) keeps the CRC."""
    header = decode_batch_header(SAMPLE)
    for _, _, flipped in _bit_flips(SAMPLE, 0, 8) + _bit_flips(SAMPLE, 12, 16):
        verify_batch_crc(flipped, 0, header)


def test_verify_crc_false_skips_the_check() -> None:
    """decode_batch(verify_crc=False) decodes a batch whose CRC field is wrong."""
    bad = hand_batch(RECORD_A, crc=0)
    with pytest.raises(ChecksumMismatch):
        decode_batch(bad)
    assert decode_batch(bad, verify_crc=False).records[0].value == b"a"


# --- every CorruptRecordBatch path ----------------------------------------------------------------

BAD_DEFLATE = bytes.fromhex("1f8b 08 00 00000000 00 ff") + b"\x07" + bytes(12)  # BTYPE 3
GZ_BAD_TRAILER = bytearray(gz(RECORD_A))
GZ_BAD_TRAILER[-8] ^= 1

# (id, bytes, field, position of the error or None where the spec fixes none)
HEADER_CASES: list[tuple[str, bytes, str, int | None]] = [
    ("empty", b"", "batch header", 0),
    ("30_of_61_header_bytes", GOOD[:30], "batch header", 0),
    ("60_of_61_header_bytes", GOOD[:60], "batch header", 0),
    ("magic_0", hand_batch(RECORD_A, magic=0), "magic", 16),
    ("magic_1", hand_batch(RECORD_A, magic=1), "magic", 16),
    ("magic_3", hand_batch(RECORD_A, magic=3), "magic", 16),
    ("batch_length_48", hand_batch(RECORD_A, length=48), "batchLength", 8),
    ("batch_length_negative", hand_batch(RECORD_A, length=-5), "batchLength", 8),
    ("batch_cut_one_byte_short", GOOD[:-1], "batchLength", 8),
    ("batch_length_too_long", hand_batch(RECORD_A, length=58), "batchLength", 8),
    (
        "count_2_last_delta_0",
        hand_batch(RECORD_A, count=2, last_offset_delta=0),
        "recordsCount",
        57,
    ),
    (
        "count_1_last_delta_5",
        hand_batch(RECORD_A, count=1, last_offset_delta=5),
        "recordsCount",
        57,
    ),
    ("count_0", hand_batch(b"", count=0), "recordsCount", 57),
    ("count_negative", hand_batch(RECORD_A, count=-3), "recordsCount", 57),
    ("base_offset_negative", hand_batch(RECORD_A, base_offset=-1), "baseOffset", 0),
    ("base_offset_int64_min", hand_batch(RECORD_A, base_offset=-(1 << 63)), "baseOffset", 0),
    ("compression_2", hand_batch(RECORD_A, attributes=2), "attributes", 21),
    ("compression_7", hand_batch(RECORD_A, attributes=7), "attributes", 21),
]

RECORD_CASES: list[tuple[str, bytes, str]] = [
    ("record_length_varint_runs_off_end", hand_batch(RECORD_A, count=2), "record length"),
    ("record_length_varint_truncated", hand_batch(b"\x80"), "record length"),
    (
        "record_length_varint_11_bytes",
        hand_batch(b"\xff" * 10 + b"\x01" + RECORD_A[1:]),
        "record length",
    ),
    ("record_length_0", hand_batch(b"\x00"), "record length"),
    ("record_length_negative", hand_batch(b"\x01" + RECORD_A[1:]), "record length"),
    ("record_length_past_batch", hand_batch(b"\x10" + RECORD_A[1:]), "record length"),
    (
        "record_longer_than_fields",
        hand_batch(bytes.fromhex("10 00 00 00 01 02 61 00 00")),
        "record length",
    ),
    (
        "fields_run_past_record_length",
        hand_batch(bytes.fromhex("0c 00 00 00 01 02 61 00")),
        "record length",
    ),
    ("timestamp_delta_missing", hand_batch(record("00")), "timestampDelta"),
    (
        "timestamp_delta_overflows_int64",
        hand_batch(record("00" + "ff" * 9 + "7f" + "00010261 00")),
        "timestampDelta",
    ),
    ("offset_delta_missing", hand_batch(record("00 00")), "offsetDelta"),
    ("offset_delta_1_for_first_record", hand_batch(RECORD_A1), "offsetDelta"),
    ("offset_delta_0_for_second_record", hand_batch(RECORD_A + RECORD_A, count=2), "offsetDelta"),
    ("key_length_minus_2", hand_batch(record("00 00 00 03 02 61 00")), "key"),
    ("key_past_record", hand_batch(record("00 00 00 0a 6b 02 61 00")), "key"),
    ("value_length_minus_2", hand_batch(record("00 00 00 01 03 00")), "value"),
    ("value_past_record", hand_batch(record("00 00 00 01 7e 61 00")), "value"),
    ("headers_count_negative", hand_batch(record("00 00 00 01 02 61 01")), "headers count"),
    ("header_key_null", hand_batch(record("00 00 00 01 02 61 02 01 01")), "header key"),
    ("header_key_length_minus_2", hand_batch(record("00 00 00 01 02 61 02 03 01")), "header key"),
    ("header_key_not_utf8", hand_batch(record("00 00 00 01 02 61 02 02 ff 01")), "header key"),
    ("header_key_past_record", hand_batch(record("00 00 00 01 02 61 02 0a 68")), "header key"),
    ("second_header_missing", hand_batch(record("00 00 00 01 02 61 04 02 68 01")), "header key"),
    (
        "header_value_length_minus_2",
        hand_batch(record("00 00 00 01 02 61 02 02 68 03")),
        "header value",
    ),
    (
        "header_value_past_record",
        hand_batch(record("00 00 00 01 02 61 02 02 68 08 78")),
        "header value",
    ),
    ("bytes_after_last_record", hand_batch(RECORD_A + RECORD_A1), "records"),
    ("gzip_not_gzip", hand_batch(RECORD_A, attributes=1), "records"),
    ("gzip_invalid_deflate_block", hand_batch(BAD_DEFLATE, attributes=1), "records"),
    ("gzip_truncated", hand_batch(gz(RECORD_A)[:-5], attributes=1), "records"),
    ("gzip_bad_trailer_crc", hand_batch(bytes(GZ_BAD_TRAILER), attributes=1), "records"),
    ("gzip_bytes_after_last_record", hand_batch(gz(RECORD_A + b"\x00"), attributes=1), "records"),
    (
        "gzip_record_length_runs_off_end",
        hand_batch(gz(RECORD_A), count=2, attributes=1),
        "record length",
    ),
    ("gzip_offset_delta_wrong", hand_batch(gz(RECORD_A1), attributes=1), "offsetDelta"),
]


def _params(cases: list[Any]) -> list[Any]:
    return [pytest.param(*case[1:], id=case[0]) for case in cases]


def test_good_batch_is_good() -> None:
    """The hand-built batch the corrupt cases start from decodes, so each case tests one defect."""
    (only,) = decode_batch(GOOD).records
    assert only == StoredRecord(offset=0, timestamp=0, key=None, value=b"a")
    gzipped = decode_batch(hand_batch(gz(RECORD_A), attributes=1))
    assert gzipped.records == (only,)


@pytest.mark.parametrize(("data", "field", "position"), _params(HEADER_CASES))
def test_header_defects(data: bytes, field: str, position: int) -> None:
    """A bad header raises CorruptRecordBatch (not a subclass) naming the field and its byte."""
    with pytest.raises(FlyQError) as info:
        decode_batch(data, source="s.log")
    assert type(info.value) is CorruptRecordBatch
    assert (info.value.field, info.value.position, info.value.source) == (field, position, "s.log")


@pytest.mark.parametrize(("data", "field", "position"), _params(HEADER_CASES))
def test_header_defects_at_an_offset(data: bytes, field: str, position: int) -> None:
    """Inside a larger buffer the same defects report the absolute byte position."""
    with pytest.raises(FlyQError) as info:
        decode_batch(b"\x00" * 9 + data, 9)
    assert type(info.value) is CorruptRecordBatch
    assert (info.value.field, info.value.position) == (field, 9 + position)


@pytest.mark.parametrize(("data", "field"), _params(RECORD_CASES))
def test_record_defects(data: bytes, field: str) -> None:
    """A bad record raises CorruptRecordBatch naming the field, with a valid CRC over the damage."""
    verify_batch_crc(data, 0, decode_batch_header(data))
    with pytest.raises(FlyQError) as info:
        decode_batch(data)
    assert type(info.value) is CorruptRecordBatch
    assert info.value.field == field


SOURCE_CASES = [pytest.param(data, id=name) for name, data, _ in RECORD_CASES]


@pytest.mark.parametrize("data", SOURCE_CASES)
def test_record_defects_name_their_source(data: bytes) -> None:
    """Every record-level error carries the `source` the caller named."""
    with pytest.raises(CorruptRecordBatch) as info:
        decode_batch(data, source="seg.log")
    assert info.value.source == "seg.log"


@pytest.mark.parametrize(("data", "field"), _params(RECORD_CASES))
def test_record_defects_followed_by_more_bytes(data: bytes, field: str) -> None:
    """A bad record is caught even when another batch follows it in the buffer."""
    with pytest.raises(FlyQError) as info:
        decode_batch(data + GOOD)
    assert type(info.value) is CorruptRecordBatch


def test_decode_header_with_limit() -> None:
    """With `limit`, a lone header is accepted when the whole batch fits under the limit."""
    header = decode_batch_header(GOOD[:61], limit=len(GOOD))
    assert header.size == len(GOOD)
    with pytest.raises(CorruptRecordBatch) as info:
        decode_batch_header(GOOD[:61], limit=len(GOOD) - 1)
    assert info.value.field == "batchLength"
    with pytest.raises(CorruptRecordBatch) as info:
        decode_batch_header(GOOD, limit=60)
    assert info.value.field == "batch header"


def test_decode_header_buffer_shorter_than_limit() -> None:
    """A limit larger than the buffer does not let the header be read past the buffer's end."""
    with pytest.raises(CorruptRecordBatch) as info:
        decode_batch_header(GOOD[:40], limit=1000)
    assert info.value.field == "batch header"


# --- iter_batch_headers ---------------------------------------------------------------------------

THREE = [
    encode_batch(0, [Record(value=b"a")]),
    encode_batch(1, [Record(value=b"b"), Record(value=b"c", key=b"k")]),
    encode_batch(3, [Record(value=None, headers=(("h", b"v"),))]),
]
LOG = b"".join(THREE)
STARTS = [0, len(THREE[0]), len(THREE[0]) + len(THREE[1])]


def test_iter_batch_headers_walks_every_batch() -> None:
    """iter_batch_headers yields each batch's position and header, and stops at a clean end."""
    got = list(iter_batch_headers(LOG, verify_crc=True))
    assert [pos for pos, _ in got] == STARTS
    assert [h.base_offset for _, h in got] == [0, 1, 3]
    assert [h.size for _, h in got] == [len(b) for b in THREE]
    assert list(iter_batch_headers(b"")) == []
    assert [pos for pos, _ in iter_batch_headers(LOG, STARTS[1])] == STARTS[1:]


@pytest.mark.parametrize("cut", range(STARTS[2] + 1, len(LOG)))
def test_iter_batch_headers_raises_at_torn_tail(cut: int) -> None:
    """A log cut inside its last batch yields the complete batches, then raises at the torn one."""
    it = iter_batch_headers(LOG[:cut], source="t.log")
    assert [pos for pos, _ in (next(it), next(it))] == STARTS[:2]
    with pytest.raises(CorruptRecordBatch) as info:
        next(it)
    assert info.value.position >= STARTS[2]
    assert info.value.source == "t.log"


@pytest.mark.parametrize("cut", STARTS)
def test_iter_batch_headers_cut_on_a_boundary_is_clean(cut: int) -> None:
    """A log cut exactly between batches yields the batches before the cut and stops silently."""
    assert [pos for pos, _ in iter_batch_headers(LOG[:cut])] == [p for p in STARTS if p < cut]


def test_iter_batch_headers_checks_crc_only_when_asked() -> None:
    """A damaged record in the middle batch passes framing, and fails only with verify_crc."""
    damaged = bytearray(LOG)
    damaged[STARTS[2] - 1] ^= 0x40
    assert len(list(iter_batch_headers(damaged))) == 3
    it = iter_batch_headers(damaged, verify_crc=True)
    next(it)
    with pytest.raises(ChecksumMismatch) as info:
        next(it)
    assert info.value.position == STARTS[1]


# --- arbitrary damage -----------------------------------------------------------------------------


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_leak_builtin_errors(data: bytes) -> None:
    """On arbitrary bytes decode_batch raises a CorruptRecordBatch or returns, nothing else."""
    try:
        decode_batch(data, verify_crc=False)
    except FlyQError as exc:
        assert isinstance(exc, CorruptRecordBatch)


@settings(deadline=None)
@given(record_lists, compressions, st.data())
def test_damaged_batches_with_fixed_crc_never_leak_builtin_errors(
    records: list[Record], compression: int, data: st.DataObject
) -> None:
    """Overwriting bytes past the header (CRC recomputed) yields a batch or a CorruptRecordBatch."""
    batch = bytearray(encode_batch(0, records, compression=compression))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(61, len(batch) - 1))
        batch[at] = data.draw(st.integers(0, 255))
    struct.pack_into(">I", batch, 17, crc32c.crc32c(bytes(batch[21:])))
    try:
        decoded = decode_batch(bytes(batch))
    except FlyQError as exc:
        assert isinstance(exc, CorruptRecordBatch)
    else:
        assert isinstance(decoded.header, BatchHeader)
        assert len(decoded.records) == len(records)
