"""The producer-state snapshot file `<20-digit offset>.snapshot` (spec/idempotence.md, layout).

Layout, big-endian: magic "FQPS" | version u16 | offset i64 | producers u32 | per producer:
producer_id i64, epoch i16, entries u8 (1..5), entries x (first_seq i32, last_seq i32,
base_offset i64, last_offset i64, timestamp i64) | CRC-32C u32 of every byte before it.
Producers ascend by id, so equal tables encode to equal bytes.
"""

from __future__ import annotations

import struct

import crc32c as _crc32c

from flyq.errors import CorruptCheckpoint, DecodeError

__all__ = [
    "SNAPSHOT_MAGIC",
    "SNAPSHOT_SUFFIX",
    "SNAPSHOT_VERSION",
    "SnapshotEntries",
    "decode_producer_snapshot",
    "encode_producer_snapshot",
    "parse_snapshot_name",
    "snapshot_name",
]

SNAPSHOT_MAGIC = b"FQPS"
SNAPSHOT_VERSION = 1
SNAPSHOT_SUFFIX = ".snapshot"
_MAX_ENTRIES = 5
_SEQUENCE_LIMIT = 1 << 31
_OFFSET_LIMIT = 1 << 63
_DIGITS = 20
_PREFIX = struct.Struct(">4sHqI")
_PRODUCER = struct.Struct(">qhB")
_ENTRY = struct.Struct(">iiqqq")
_CRC = struct.Struct(">I")

# ((producer_id, epoch, ((first_seq, last_seq, base_offset, last_offset, timestamp), ...)), ...)
SnapshotEntries = tuple[tuple[int, int, tuple[tuple[int, int, int, int, int], ...]], ...]


def snapshot_name(offset: int) -> str:
    """File name of the snapshot describing the log up to `offset`, e.g. 000...042.snapshot."""
    if not 0 <= offset < _OFFSET_LIMIT:
        raise DecodeError(f"offset {offset} out of range", field="offset", position=0)
    return f"{offset:0{_DIGITS}d}{SNAPSHOT_SUFFIX}"


def parse_snapshot_name(name: str) -> int | None:
    """The offset of a snapshot file name, or None if `name` is not one."""
    digits, suffix = name[:_DIGITS], name[_DIGITS:]
    if suffix != SNAPSHOT_SUFFIX or not (digits.isascii() and digits.isdigit()):
        return None
    offset = int(digits)
    return offset if offset < _OFFSET_LIMIT else None


def encode_producer_snapshot(offset: int, producers: SnapshotEntries) -> bytes:
    """The bytes of a snapshot of `producers` (ascending id) at `offset`."""
    out = bytearray(_PREFIX.pack(SNAPSHOT_MAGIC, SNAPSHOT_VERSION, offset, len(producers)))
    for producer_id, epoch, entries in producers:
        out += _PRODUCER.pack(producer_id, epoch, len(entries))
        for entry in entries:
            out += _ENTRY.pack(*entry)
    out += _CRC.pack(int(_crc32c.crc32c(out)))
    return bytes(out)


def _corrupt(message: str, field: str, position: int, source: str) -> CorruptCheckpoint:
    return CorruptCheckpoint(message, field=field, position=position, source=source)


def decode_producer_snapshot(data: bytes, *, source: str) -> tuple[int, SnapshotEntries]:
    """`(offset, producers)` of a snapshot; `CorruptCheckpoint` naming the field if it is torn,
    foreign or damaged. The CRC is checked before any field is trusted."""
    if len(data) < _PREFIX.size + _CRC.size:
        raise _corrupt(f"file is {len(data)} bytes, at least {_PREFIX.size + _CRC.size} expected",
                       "length", 0, source)
    crc_position = len(data) - _CRC.size
    (stored,) = _CRC.unpack_from(data, crc_position)
    actual = int(_crc32c.crc32c(data[:crc_position]))
    if stored != actual:
        raise _corrupt(f"CRC-32C stored 0x{stored:08x}, computed 0x{actual:08x}", "crc",
                       crc_position, source)
    magic, version, offset, count = _PREFIX.unpack_from(data, 0)
    if magic != SNAPSHOT_MAGIC:
        raise _corrupt(f"magic {magic!r}, expected {SNAPSHOT_MAGIC!r}", "magic", 0, source)
    if version != SNAPSHOT_VERSION:
        raise _corrupt(f"version {version}, expected {SNAPSHOT_VERSION}", "version", 4, source)
    if not 0 <= offset < _OFFSET_LIMIT:
        raise _corrupt(f"offset {offset} is negative", "offset", 6, source)
    position = _PREFIX.size
    producers: list[tuple[int, int, tuple[tuple[int, int, int, int, int], ...]]] = []
    previous_id = -1
    for _ in range(count):
        if position + _PRODUCER.size > crc_position:
            raise _corrupt("producer record runs past the end", "producer", position, source)
        producer_id, epoch, n = _PRODUCER.unpack_from(data, position)
        if producer_id <= previous_id:
            raise _corrupt(f"producer id {producer_id} is not above {previous_id}",
                           "producer_id", position, source)
        if epoch < 0:
            raise _corrupt(f"epoch {epoch} is negative", "epoch", position + 8, source)
        if not 1 <= n <= _MAX_ENTRIES:
            raise _corrupt(f"{n} entries, expected 1..{_MAX_ENTRIES}", "entries", position + 10,
                           source)
        position += _PRODUCER.size
        entries = []
        previous_last = -1
        for _ in range(n):
            if position + _ENTRY.size > crc_position:
                raise _corrupt("entry runs past the end", "entry", position, source)
            entry = _ENTRY.unpack_from(data, position)
            first, last, base, last_offset, _timestamp = entry
            if not (0 <= first < _SEQUENCE_LIMIT and 0 <= last < _SEQUENCE_LIMIT):
                raise _corrupt(f"sequences {first}..{last} out of range", "sequence", position,
                               source)
            if not previous_last < base <= last_offset:
                raise _corrupt(f"offsets {base}..{last_offset} out of order", "base_offset",
                               position + 8, source)
            previous_last = last_offset
            entries.append(entry)
            position += _ENTRY.size
        producers.append((producer_id, epoch, tuple(entries)))
        previous_id = producer_id
    if position != crc_position:
        raise _corrupt(f"{crc_position - position} bytes after the last producer", "length",
                       position, source)
    return offset, tuple(producers)
