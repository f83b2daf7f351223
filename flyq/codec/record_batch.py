"""Kafka RecordBatch v2 (magic 2): encode and decode, byte for byte (spec/format.md, section 1).

All integers in the batch header are big-endian; record fields are zig-zag varints. The CRC-32C
covers the bytes from `attributes` (byte 21) to the end of the batch, so the `base_offset` and
`partition_leader_epoch` fields can be rewritten without recomputing it.
"""

from __future__ import annotations

import functools
import gzip
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import attrs
import crc32c as _crc32c

from flyq.codec._varint import decode_varint, varint_bytes
from flyq.errors import ChecksumMismatch, CorruptRecordBatch, InvalidRecord, RecordTooLarge
from flyq.records import Header, Record, StoredRecord

__all__ = [
    "BATCH_HEADER_SIZE",
    "COMPRESSION_GZIP",
    "COMPRESSION_NONE",
    "CREATE_TIME",
    "CRC_START",
    "LOG_APPEND_TIME",
    "LOG_OVERHEAD",
    "MAGIC",
    "MAX_UNCOMPRESSED_BYTES",
    "TIMESTAMP_TYPES",
    "BatchHeader",
    "DecodedBatch",
    "batch_crc",
    "RecordMaker",
    "decode_batch",
    "decode_batch_header",
    "decode_batch_into",
    "encode_base_offset",
    "encode_batch",
    "iter_batch_headers",
    "log_append_time_header",
    "set_base_offset",
    "validate_batch",
    "whole_batches_length",
    "verify_batch_crc",
]

# What `decode_batch_into` builds each record with: (offset, timestamp, key, value, headers).
RecordMaker = Callable[[int, int, bytes | None, bytes | None, tuple[Header, ...]], Any]

# baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta,
# baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence, recordsCount
_BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")
_BASE_OFFSET = struct.Struct(">q")
_LENGTH_PREFIX = struct.Struct(">qi")

BATCH_HEADER_SIZE = _BATCH_HEADER.size  # 61
# baseOffset (8) + batchLength (4): the bytes not counted by batchLength.
LOG_OVERHEAD = _LENGTH_PREFIX.size  # 12
CRC_START = 21
_MAGIC_POSITION = 16
MAGIC = 2

COMPRESSION_NONE = 0
COMPRESSION_GZIP = 1
_COMPRESSION_MASK = 0x07
_TIMESTAMP_TYPE_BIT = 0x08
_TRANSACTIONAL_BIT = 0x10
_CONTROL_BIT = 0x20
_SUPPORTED_COMPRESSION = {COMPRESSION_NONE: "none", COMPRESSION_GZIP: "gzip"}
_MAX_TIMESTAMP_POSITION = 35

# The timestamp type (attribute bit 3), named as Kafka's `message.timestamp.type` names it.
CREATE_TIME: Final = "CreateTime"
LOG_APPEND_TIME: Final = "LogAppendTime"
TIMESTAMP_TYPES = (CREATE_TIME, LOG_APPEND_TIME)

# Default bound on the decompressed size of a gzip records section (spec/format.md section 1.4):
# a small batch must not make the decoder allocate without limit.
MAX_UNCOMPRESSED_BYTES = 128 * 1024 * 1024

_INT32_MAX = (1 << 31) - 1
# batchLength is an int32, so a whole batch is at most this many bytes.
MAX_BATCH_SIZE = _INT32_MAX + LOG_OVERHEAD

Buffer = bytes | bytearray | memoryview


@attrs.frozen
class BatchHeader:
    """The fixed 61-byte header of a record batch, as stored."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies on disk."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        """Offset of the batch's last record."""
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        """Offset the record after this batch gets."""
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        """Compression codec id (0 none, 1 gzip, ...)."""
        return self.attributes & _COMPRESSION_MASK

    @property
    def timestamp_type(self) -> str:
        """`CREATE_TIME` or `LOG_APPEND_TIME` (attribute bit 3)."""
        return LOG_APPEND_TIME if self.attributes & _TIMESTAMP_TYPE_BIT else CREATE_TIME

    @property
    def is_transactional(self) -> bool:
        """Whether the transactional attribute bit is set."""
        return bool(self.attributes & _TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        """Whether the control attribute bit is set."""
        return bool(self.attributes & _CONTROL_BIT)


@attrs.frozen
class DecodedBatch:
    """A batch's header and its records with absolute offsets."""

    header: BatchHeader
    records: tuple[StoredRecord, ...]


def batch_crc(data: Buffer) -> int:
    """CRC-32C (Castagnoli) of `data`."""
    return int(_crc32c.crc32c(data))


_NULL_LENGTH = varint_bytes(-1)
_NO_HEADERS = varint_bytes(0)


def _encode_headers(headers: Sequence[Header]) -> bytes:
    body = bytearray(varint_bytes(len(headers)))
    for header_key, header_value in headers:
        key_bytes = header_key.encode("utf-8")
        body += varint_bytes(len(key_bytes))
        body += key_bytes
        if header_value is None:
            body += _NULL_LENGTH
        else:
            body += varint_bytes(len(header_value))
            body += header_value
    return bytes(body)


def _encode_record(
    out: bytearray, offset_delta: int, timestamp_delta: int, record: Record
) -> None:
    # The length prefix comes first, so the parts are made (small varints are looked up, not
    # built: this is the producer's hot path), summed, then appended.
    key = record.key
    value = record.value
    timestamp_part = varint_bytes(timestamp_delta)
    offset_part = varint_bytes(offset_delta)
    key_length = _NULL_LENGTH if key is None else varint_bytes(len(key))
    value_length = _NULL_LENGTH if value is None else varint_bytes(len(value))
    headers = _encode_headers(record.headers) if record.headers else _NO_HEADERS
    length = (1 + len(timestamp_part) + len(offset_part) + len(key_length) + len(value_length)
              + len(headers) + (0 if key is None else len(key))
              + (0 if value is None else len(value)))
    out += varint_bytes(length)
    out.append(0)  # record attributes: unused in v2
    out += timestamp_part
    out += offset_part
    out += key_length
    if key is not None:
        out += key
    out += value_length
    if value is not None:
        out += value
    out += headers


def encode_batch(
    base_offset: int,
    records: Sequence[Record],
    *,
    compression: int = COMPRESSION_NONE,
    partition_leader_epoch: int = -1,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    is_transactional: bool = False,
) -> bytes:
    """Encode `records` as one RecordBatch v2 whose first record has `base_offset`.

    `baseTimestamp` is the first record's timestamp and every record stores its timestamp as a delta
    from it (deltas may be negative: timestamps need not be monotonic); `maxTimestamp` is the largest.
    """
    if not records:
        raise InvalidRecord("a batch must hold at least one record")
    if compression not in _SUPPORTED_COMPRESSION:
        raise InvalidRecord(f"unsupported compression codec {compression}")
    base_timestamp = records[0].timestamp
    max_timestamp = base_timestamp
    body = bytearray()
    for offset_delta, record in enumerate(records):
        timestamp = record.timestamp
        if timestamp > max_timestamp:  # noqa: PLR1730 - no call on the hot path
            max_timestamp = timestamp
        _encode_record(body, offset_delta, timestamp - base_timestamp, record)
    payload: bytes | bytearray = body
    if compression == COMPRESSION_GZIP:
        payload = gzip.compress(bytes(body), mtime=0)
    attributes = compression | (_TRANSACTIONAL_BIT if is_transactional else 0)
    size = BATCH_HEADER_SIZE + len(payload)
    if size > MAX_BATCH_SIZE:
        raise RecordTooLarge(size, MAX_BATCH_SIZE)
    out = bytearray(BATCH_HEADER_SIZE)
    out += payload
    _BATCH_HEADER.pack_into(
        out,
        0,
        base_offset,
        size - LOG_OVERHEAD,
        partition_leader_epoch,
        MAGIC,
        0,
        attributes,
        len(records) - 1,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        len(records),
    )
    struct.pack_into(">I", out, 17, batch_crc(memoryview(out)[CRC_START:]))
    return bytes(out)


def decode_batch_header(
    buf: Buffer, position: int = 0, *, source: str | None = None, limit: int | None = None
) -> BatchHeader:
    """Decode and check the framing of the batch header at `position` of `buf`.

    Checks that the header is complete, the magic is 2, the length covers at least a header, the
    record count and last offset delta agree, and the whole batch lies within `buf` (or within
    `limit` bytes of it when only the header was read). Does not check the CRC.
    """
    end = len(buf) if limit is None else limit
    if end - position < BATCH_HEADER_SIZE:
        raise CorruptRecordBatch(
            f"{end - position} bytes left, a batch header needs {BATCH_HEADER_SIZE}",
            field="batch header",
            position=position,
            source=source,
        )
    if len(buf) - position < BATCH_HEADER_SIZE:
        raise CorruptRecordBatch(
            "buffer holds less than one batch header",
            field="batch header",
            position=position,
            source=source,
        )
    fields = _BATCH_HEADER.unpack_from(buf, position)
    header = BatchHeader(*fields)
    if header.magic != MAGIC:
        raise CorruptRecordBatch(
            f"magic is {header.magic}, expected {MAGIC}",
            field="magic",
            position=position + _MAGIC_POSITION,
            source=source,
        )
    if header.batch_length < BATCH_HEADER_SIZE - LOG_OVERHEAD:
        raise CorruptRecordBatch(
            f"batchLength {header.batch_length} is shorter than a batch header",
            field="batchLength",
            position=position + 8,
            source=source,
        )
    if header.records_count < 1 or header.last_offset_delta != header.records_count - 1:
        raise CorruptRecordBatch(
            f"recordsCount {header.records_count} does not match lastOffsetDelta "
            f"{header.last_offset_delta}",
            field="recordsCount",
            position=position + 57,
            source=source,
        )
    if header.base_offset < 0:
        raise CorruptRecordBatch(
            f"baseOffset {header.base_offset} is negative",
            field="baseOffset",
            position=position,
            source=source,
        )
    if header.size > end - position:
        raise CorruptRecordBatch(
            f"batch of {header.size} bytes runs past the end ({end - position} bytes left)",
            field="batchLength",
            position=position + 8,
            source=source,
        )
    return header


def verify_batch_crc(
    buf: Buffer, position: int, header: BatchHeader, *, source: str | None = None
) -> None:
    """Raise `ChecksumMismatch` unless the batch at `position` hashes to its stored CRC."""
    view = memoryview(buf)[position + CRC_START : position + header.size]
    actual = batch_crc(view)
    if actual != header.crc:
        raise ChecksumMismatch(
            expected=header.crc, actual=actual, position=position, source=source
        )


def iter_batch_headers(
    buf: Buffer, position: int = 0, *, verify_crc: bool = False, source: str | None = None
) -> Iterator[tuple[int, BatchHeader]]:
    """Yield (position, header) for each complete batch in `buf`, in order.

    Stops silently at a clean end; raises `CorruptRecordBatch` at the first bad or torn batch.
    """
    end = len(buf)
    while position < end:
        header = decode_batch_header(buf, position, source=source)
        if verify_crc:
            verify_batch_crc(buf, position, header, source=source)
        yield position, header
        position += header.size


def encode_base_offset(base_offset: int) -> bytes:
    """The 8 bytes of a batch's baseOffset field (bytes 0..7)."""
    return _BASE_OFFSET.pack(base_offset)


def whole_batches_length(buf: Buffer) -> int:
    """Length of the longest prefix of `buf` made of whole batches (by their length fields)."""
    position = 0
    end = len(buf)
    while end - position >= LOG_OVERHEAD:
        (_, batch_length) = _LENGTH_PREFIX.unpack_from(buf, position)
        size = batch_length + LOG_OVERHEAD
        if batch_length < BATCH_HEADER_SIZE - LOG_OVERHEAD or position + size > end:
            break
        position += size
    return position


def set_base_offset(batch: Buffer, base_offset: int) -> bytearray:
    """A copy of `batch` with its baseOffset replaced (the CRC does not cover it)."""
    out = bytearray(batch)
    _BASE_OFFSET.pack_into(out, 0, base_offset)
    return out


def log_append_time_header(
    batch: Buffer, header: BatchHeader, *, base_offset: int, timestamp: int
) -> bytes:
    """The 61-byte header of `batch` stamped as appended at `timestamp` (spec/format.md 1.2).

    Sets the LogAppendTime attribute bit and `maxTimestamp = timestamp`, writes `base_offset`, and
    recomputes the CRC over the new covered header bytes followed by the unchanged records, so the
    caller writes this header and then `batch[61:]` as they are: the records are not copied.
    """
    out = bytearray(BATCH_HEADER_SIZE)
    _BATCH_HEADER.pack_into(
        out,
        0,
        base_offset,
        header.batch_length,
        header.partition_leader_epoch,
        MAGIC,
        0,
        header.attributes | _TIMESTAMP_TYPE_BIT,
        header.last_offset_delta,
        header.base_timestamp,
        timestamp,
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
        header.records_count,
    )
    records = memoryview(batch)[BATCH_HEADER_SIZE : header.size]
    crc = _crc32c.crc32c(records, _crc32c.crc32c(memoryview(out)[CRC_START:]))
    struct.pack_into(">I", out, 17, crc)
    return bytes(out)


def _corrupt(what: str, field: str, position: int, source: str | None) -> CorruptRecordBatch:
    return CorruptRecordBatch(what, field=field, position=position, source=source)


def _walk_records(
    data: Buffer,
    start: int,
    end: int,
    base: int,
    header: BatchHeader,
    header_position: int,
    source: str | None,
    records: list[Any] | None,
    make: RecordMaker | None = None,
) -> None:
    """Check every record of the section `data[start:end]` (checks 11-22 of spec/format.md 1.7).

    The one home of the per-record rules: `validate_batch` runs it with `records=None` (nothing is
    built), `decode_batch` with a list it fills with `StoredRecord`s, `decode_batch_into` with
    what `make(offset, timestamp, key, value, headers)` builds. `base` is added to positions in
    `data` to make them batch-relative for errors (the compressed section's start for gzip,
    else 0).

    Varints are inlined with one- and two-byte fast paths because this is the produce hot path;
    every other form goes through `decode_varint`, which rejects the malformed ones.
    """
    if records is not None and make is None:
        make = functools.partial(StoredRecord, is_control=header.is_control)
    pos = start
    base_offset = header.base_offset
    base_timestamp = header.base_timestamp
    max_timestamp = header.max_timestamp
    create_time = not header.attributes & _TIMESTAMP_TYPE_BIT
    largest_timestamp = -1
    for index in range(header.records_count):
        # length
        if pos < end and (z := data[pos]) < 0x80:
            pos += 1
            length = (z >> 1) ^ -(z & 1)
        elif pos + 1 < end and (high := data[pos + 1]) < 0x80:
            z = (z & 0x7F) | (high << 7)
            pos += 2
            length = (z >> 1) ^ -(z & 1)
        else:
            length, pos = decode_varint(data, pos, "record length", source, end, base)
        record_end = pos + length
        if length < 1 or record_end > end:
            raise _corrupt(
                f"record {index} of length {length} does not fit in the {end - pos} bytes left",
                "record length", base + pos, source,
            )
        pos += 1  # record attributes: unused, any value accepted
        # timestampDelta
        if pos < end and (z := data[pos]) < 0x80:
            pos += 1
            timestamp_delta = (z >> 1) ^ -(z & 1)
        else:
            timestamp_delta, pos = decode_varint(data, pos, "timestampDelta", source, end, base)
        if create_time:
            timestamp = base_timestamp + timestamp_delta
            if timestamp > max_timestamp or timestamp < 0:
                raise _corrupt(
                    f"record {index} has timestamp {timestamp}, expected 0 <= timestamp <= "
                    f"maxTimestamp {max_timestamp}",
                    "timestampDelta", base + pos, source,
                )
            if timestamp > largest_timestamp:  # noqa: PLR1730 - no call on the hot path
                largest_timestamp = timestamp
        else:
            timestamp = max_timestamp
        # offsetDelta
        if pos < end and (z := data[pos]) < 0x80:
            pos += 1
            offset_delta = (z >> 1) ^ -(z & 1)
        elif pos + 1 < end and (high := data[pos + 1]) < 0x80:
            z = (z & 0x7F) | (high << 7)
            pos += 2
            offset_delta = (z >> 1) ^ -(z & 1)
        else:
            offset_delta, pos = decode_varint(data, pos, "offsetDelta", source, end, base)
        if offset_delta != index:
            raise _corrupt(
                f"record {index} has offsetDelta {offset_delta}, expected {index}",
                "offsetDelta", base + pos, source,
            )
        # key (null, 01, is the common case)
        if pos < end and data[pos] == 1:
            pos += 1
            key_length = -1
        elif pos < end and (z := data[pos]) < 0x80:
            pos += 1
            key_length = (z >> 1) ^ -(z & 1)
        else:
            key_length, pos = decode_varint(data, pos, "key", source, end, base)
        key_start = pos
        if key_length >= 0:
            pos += key_length
            if pos > record_end:
                raise _corrupt(
                    f"key of {key_length} bytes runs past the end of record {index}",
                    "key", base + key_start, source,
                )
        elif key_length != -1:
            raise _corrupt(f"key length {key_length}, expected -1 or >= 0", "key",
                           base + pos, source)
        # value
        if pos < end and (z := data[pos]) < 0x80:
            pos += 1
            value_length = (z >> 1) ^ -(z & 1)
        elif pos + 1 < end and (high := data[pos + 1]) < 0x80:
            z = (z & 0x7F) | (high << 7)
            pos += 2
            value_length = (z >> 1) ^ -(z & 1)
        else:
            value_length, pos = decode_varint(data, pos, "value", source, end, base)
        value_start = pos
        if value_length >= 0:
            pos += value_length
            if pos > record_end:
                raise _corrupt(
                    f"value of {value_length} bytes runs past the end of record {index}",
                    "value", base + value_start, source,
                )
        elif value_length != -1:
            raise _corrupt(f"value length {value_length}, expected -1 or >= 0", "value",
                           base + pos, source)
        # headers
        if pos < end and data[pos] == 0:
            pos += 1
            headers: tuple[Header, ...] = ()
        else:
            headers, pos = _walk_headers(data, pos, end, record_end, base, source)
        if pos != record_end:
            raise _corrupt(
                f"record {index} ends at byte {base + pos}, its length says {base + record_end}",
                "record length", base + pos, source,
            )
        if records is not None:
            # Positional arguments: a record is built per record read, and keywords cost.
            records.append(
                make(  # type: ignore[misc]  # set below whenever records is
                    base_offset + offset_delta,
                    timestamp,
                    bytes(data[key_start : key_start + key_length]) if key_length >= 0
                    else None,
                    bytes(data[value_start : value_start + value_length])
                    if value_length >= 0 else None,
                    headers,
                )
            )
    if pos != end:
        raise _corrupt(f"{end - pos} bytes left after the last record, expected none",
                       "records", base + pos, source)
    if create_time and largest_timestamp != max_timestamp:
        raise _corrupt(
            f"maxTimestamp is {max_timestamp} but the largest record timestamp is "
            f"{largest_timestamp}",
            "maxTimestamp", header_position + _MAX_TIMESTAMP_POSITION, source,
        )


def _walk_headers(
    data: Buffer, pos: int, end: int, record_end: int, base: int, source: str | None
) -> tuple[tuple[Header, ...], int]:
    """Decode the headers count and the headers of one record (checks 16-19)."""
    count, pos = decode_varint(data, pos, "headers count", source, end, base)
    if count < 0:
        raise _corrupt(f"headers count {count}, expected >= 0", "headers count", base + pos,
                       source)
    headers: list[Header] = []
    for _ in range(count):
        key_length, pos = decode_varint(data, pos, "header key", source, end, base)
        if key_length < 0:
            raise _corrupt(f"header key length {key_length}, expected >= 0 (a key is not null)",
                           "header key", base + pos, source)
        key_start = pos
        pos += key_length
        if pos > record_end:
            raise _corrupt(f"header key of {key_length} bytes runs past the end of the record",
                           "header key", base + key_start, source)
        value_length, pos = decode_varint(data, pos, "header value", source, end, base)
        value: bytes | None = None
        if value_length >= 0:
            value_start = pos
            pos += value_length
            if pos > record_end:
                raise _corrupt(
                    f"header value of {value_length} bytes runs past the end of the record",
                    "header value", base + value_start, source,
                )
            value = bytes(data[value_start:pos])
        elif value_length != -1:
            raise _corrupt(f"header value length {value_length}, expected -1 or >= 0",
                           "header value", base + pos, source)
        try:
            key = str(data[key_start : key_start + key_length], "utf-8")
        except UnicodeDecodeError as exc:
            raise _corrupt(f"header key is not UTF-8 ({exc.reason})", "header key",
                           base + key_start + exc.start, source) from exc
        headers.append((key, value))
    return tuple(headers), pos


def _gunzip(
    payload: memoryview, limit: int, position: int, source: str | None
) -> bytes:
    """Decompress a gzip records section (one or more members) to at most `limit` bytes."""
    chunks: list[bytes] = []
    total = 0
    remaining: bytes | memoryview = payload
    while True:
        member = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            chunk = member.decompress(remaining, limit - total + 1)
        except zlib.error as exc:
            raise _corrupt(f"gzip payload does not decompress: {exc}", "records", position,
                           source) from exc
        total += len(chunk)
        if total > limit:
            raise _corrupt(
                f"gzip payload decompresses to more than the limit of {limit} bytes",
                "records", position, source,
            )
        if not member.eof:
            raise _corrupt("gzip payload is truncated", "records", position, source)
        chunks.append(chunk)
        # As gzip.decompress: zero bytes after a member are padding; anything else is a member.
        remaining = member.unused_data.lstrip(b"\0")
        if not remaining:
            return b"".join(chunks)


def _check_records(
    buf: Buffer,
    position: int,
    header: BatchHeader,
    max_uncompressed_bytes: int,
    source: str | None,
    records: list[Any] | None,
    make: RecordMaker | None = None,
) -> None:
    """Checks 8-22 of spec/format.md 1.7 on a batch whose framing and CRC were checked."""
    compression = header.attributes & _COMPRESSION_MASK
    if compression not in _SUPPORTED_COMPRESSION:
        raise _corrupt(
            f"compression codec {compression}, expected 0 (none) or 1 (gzip)",
            "attributes", position + CRC_START, source,
        )
    if header.attributes & _TIMESTAMP_TYPE_BIT and header.max_timestamp < 0:
        raise _corrupt(
            f"LogAppendTime batch has maxTimestamp {header.max_timestamp}, expected >= 0",
            "maxTimestamp", position + _MAX_TIMESTAMP_POSITION, source,
        )
    start = position + BATCH_HEADER_SIZE
    end = position + header.size
    if compression == COMPRESSION_GZIP:
        body = _gunzip(memoryview(buf)[start:end], max_uncompressed_bytes, start, source)
        _walk_records(body, 0, len(body), start, header, position, source, records, make)
    elif records is not None and not isinstance(buf, bytes):
        # Decoding from a view (a fetch answer): one copy of the section, so that each key and
        # value is one slice of bytes, not a view sliced and then copied.
        body = bytes(memoryview(buf)[start:end])
        _walk_records(body, 0, len(body), start, header, position, source, records, make)
    else:
        _walk_records(buf, start, end, 0, header, position, source, records, make)


def validate_batch(
    buffer: Buffer, *, max_uncompressed_bytes: int, source: str | None = None
) -> BatchHeader:
    """Check that `buffer` is exactly one well-formed batch, in one pass; return its header.

    Runs every check `decode_batch` runs (spec/format.md 1.7) plus `batchLength + 12 ==
    len(buffer)`, without building records: a batch passes iff `decode_batch` of it succeeds.
    gzip sections may decompress to at most `max_uncompressed_bytes`.
    """
    header = decode_batch_header(buffer, source=source)
    if header.size != len(buffer):
        raise _corrupt(
            f"batch of {header.size} bytes, expected the {len(buffer)} bytes given",
            "batchLength", 8, source,
        )
    verify_batch_crc(buffer, 0, header, source=source)
    _check_records(buffer, 0, header, max_uncompressed_bytes, source, None)
    return header


def decode_batch(
    buf: Buffer,
    position: int = 0,
    *,
    verify_crc: bool = True,
    source: str | None = None,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> DecodedBatch:
    """Decode the whole batch at `position` of `buf`, checking its CRC unless told not to.

    A LogAppendTime batch gives every record the batch's `maxTimestamp`; the records of a control
    batch have `is_control` set (spec/format.md 1.2).
    """
    header = decode_batch_header(buf, position, source=source)
    if verify_crc:
        verify_batch_crc(buf, position, header, source=source)
    records: list[StoredRecord] = []
    _check_records(buf, position, header, max_uncompressed_bytes, source, records)
    return DecodedBatch(header=header, records=tuple(records))


def decode_batch_into(
    buf: Buffer,
    position: int,
    header: BatchHeader,
    make: RecordMaker,
    records: list[Any],
    *,
    source: str | None = None,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> None:
    """Check the batch at `position` of `buf`, whose `header` the caller decoded, as
    `decode_batch` does (CRC included), appending `make(offset, timestamp, key, value,
    headers)` for each of its records to `records`: a reader that wants its own record type
    builds each record once (a LogAppendTime batch's records get its `maxTimestamp`)."""
    verify_batch_crc(buf, position, header, source=source)
    _check_records(buf, position, header, max_uncompressed_bytes, source, records, make)



_BATCH_START = struct.Struct(">qii")


def encode_batch_start(base_offset: int, batch_length: int, partition_leader_epoch: int) -> bytes:
    """The first 16 bytes of a batch: baseOffset, batchLength, partitionLeaderEpoch (§1.1).

    None of them is covered by the CRC, so a leader stamps its epoch without re-encoding.
    """
    return _BATCH_START.pack(base_offset, batch_length, partition_leader_epoch)
