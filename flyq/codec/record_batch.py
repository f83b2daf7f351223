"""Kafka RecordBatch v2 (magic 2): encode and decode, byte for byte (spec/format.md, section 1).

All integers in the batch header are big-endian; record fields are zig-zag varints. The CRC-32C
covers the bytes from `attributes` (byte 21) to the end of the batch, so the `base_offset` and
`partition_leader_epoch` fields can be rewritten without recomputing it.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator, Sequence

import attrs
import crc32c as _crc32c

from flyq.codec._varint import decode_varint, encode_varint
from flyq.errors import ChecksumMismatch, CorruptRecordBatch, InvalidRecord, RecordTooLarge
from flyq.records import Header, Record, StoredRecord

__all__ = [
    "BATCH_HEADER_SIZE",
    "COMPRESSION_GZIP",
    "COMPRESSION_NONE",
    "CRC_START",
    "LOG_OVERHEAD",
    "MAGIC",
    "BatchHeader",
    "DecodedBatch",
    "batch_crc",
    "decode_batch",
    "decode_batch_header",
    "encode_base_offset",
    "encode_batch",
    "iter_batch_headers",
    "set_base_offset",
    "whole_batches_length",
    "verify_batch_crc",
]

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


def _encode_record(
    out: bytearray, offset_delta: int, timestamp_delta: int, record: Record
) -> None:
    body = bytearray()
    body.append(0)  # record attributes: unused in v2
    encode_varint(timestamp_delta, body)
    encode_varint(offset_delta, body)
    if record.key is None:
        encode_varint(-1, body)
    else:
        encode_varint(len(record.key), body)
        body += record.key
    if record.value is None:
        encode_varint(-1, body)
    else:
        encode_varint(len(record.value), body)
        body += record.value
    encode_varint(len(record.headers), body)
    for header_key, header_value in record.headers:
        key_bytes = header_key.encode("utf-8")
        encode_varint(len(key_bytes), body)
        body += key_bytes
        if header_value is None:
            encode_varint(-1, body)
        else:
            encode_varint(len(header_value), body)
            body += header_value
    encode_varint(len(body), out)
    out += body


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
        max_timestamp = max(max_timestamp, timestamp)
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


def _decode_bytes(
    buf: Buffer, pos: int, end: int, field: str, source: str | None
) -> tuple[bytes | None, int]:
    length, pos = decode_varint(buf, pos, field, source)
    if length < 0:
        if length != -1:
            raise CorruptRecordBatch(
                f"length {length} is negative", field=field, position=pos, source=source
            )
        return None, pos
    if pos + length > end:
        raise CorruptRecordBatch(
            f"{length} bytes run past the end of the record", field=field, position=pos,
            source=source,
        )
    return bytes(buf[pos : pos + length]), pos + length


def _decode_records(
    buf: Buffer, header: BatchHeader, start: int, end: int, base: int, source: str | None
) -> tuple[StoredRecord, ...]:
    records: list[StoredRecord] = []
    pos = start
    for index in range(header.records_count):
        length, pos = decode_varint(buf, pos, "record length", source)
        record_end = pos + length
        if length < 1 or record_end > end:
            raise CorruptRecordBatch(
                f"record {index} of length {length} does not fit in the batch",
                field="record length", position=base + pos, source=source,
            )
        pos += 1  # record attributes
        timestamp_delta, pos = decode_varint(buf, pos, "timestampDelta", source)
        offset_delta, pos = decode_varint(buf, pos, "offsetDelta", source)
        if offset_delta != index:
            raise CorruptRecordBatch(
                f"record {index} has offsetDelta {offset_delta}",
                field="offsetDelta", position=base + pos, source=source,
            )
        key, pos = _decode_bytes(buf, pos, record_end, "key", source)
        value, pos = _decode_bytes(buf, pos, record_end, "value", source)
        header_count, pos = decode_varint(buf, pos, "headers count", source)
        if header_count < 0:
            raise CorruptRecordBatch(
                f"headers count {header_count} is negative",
                field="headers count", position=base + pos, source=source,
            )
        headers: list[Header] = []
        for _ in range(header_count):
            header_key, pos = _decode_bytes(buf, pos, record_end, "header key", source)
            if header_key is None:
                raise CorruptRecordBatch(
                    "header key is null", field="header key", position=base + pos,
                    source=source,
                )
            header_value, pos = _decode_bytes(buf, pos, record_end, "header value", source)
            try:
                headers.append((header_key.decode("utf-8"), header_value))
            except UnicodeDecodeError as exc:
                raise CorruptRecordBatch(
                    "header key is not UTF-8", field="header key", position=base + pos,
                    source=source,
                ) from exc
        if pos != record_end:
            raise CorruptRecordBatch(
                f"record {index} ends at {pos}, its length says {record_end}",
                field="record length", position=base + pos, source=source,
            )
        records.append(
            StoredRecord(
                offset=header.base_offset + offset_delta,
                timestamp=header.base_timestamp + timestamp_delta,
                key=key,
                value=value,
                headers=tuple(headers),
            )
        )
    if pos != end:
        raise CorruptRecordBatch(
            f"{end - pos} bytes left after the last record",
            field="records", position=base + pos, source=source,
        )
    return tuple(records)


def decode_batch(
    buf: Buffer, position: int = 0, *, verify_crc: bool = True, source: str | None = None
) -> DecodedBatch:
    """Decode the whole batch at `position` of `buf`, checking its CRC unless told not to."""
    header = decode_batch_header(buf, position, source=source)
    if verify_crc:
        verify_batch_crc(buf, position, header, source=source)
    compression = header.compression
    if compression not in _SUPPORTED_COMPRESSION:
        raise CorruptRecordBatch(
            f"compression codec {compression} is not supported",
            field="attributes", position=position + CRC_START, source=source,
        )
    start = position + BATCH_HEADER_SIZE
    end = position + header.size
    if compression == COMPRESSION_GZIP:
        try:
            body: Buffer = gzip.decompress(bytes(buf[start:end]))
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptRecordBatch(
                "gzip payload does not decompress", field="records", position=start,
                source=source,
            ) from exc
        records = _decode_records(body, header, 0, len(body), start, source)
    else:
        records = _decode_records(buf, header, start, end, 0, source)
    return DecodedBatch(header=header, records=records)



_BATCH_START = struct.Struct(">qii")


def encode_batch_start(base_offset: int, batch_length: int, partition_leader_epoch: int) -> bytes:
    """The first 16 bytes of a batch: baseOffset, batchLength, partitionLeaderEpoch (§1.1).

    None of them is covered by the CRC, so a leader stamps its epoch without re-encoding.
    """
    return _BATCH_START.pack(base_offset, batch_length, partition_leader_epoch)
