"""The consumer-group offsets file and the rules for what it may hold (spec/groups.md, §3 and §4).

Layout (big-endian): magic "FQGO" | version u16 | count u32 | entries_length u32 | entries |
CRC-32C u32 of every byte before it. Each entry: group (u16 length + UTF-8) | topic (u16 length +
UTF-8) | partition i32 | committed_offset i64 | metadata (u16 length + UTF-8). Entries are sorted
strictly by (group, topic, partition), so one set of offsets has exactly one encoding.

The validation functions are the single statement of GRP-2; the model and the store both call them,
so they refuse the same inputs with the same errors.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

import attrs
import crc32c as _crc32c

from flyq.codec.topic_name import MAX_TOPIC_NAME_LENGTH, validate_topic_name
from flyq.errors import (
    CorruptOffsetsFile,
    InvalidArgument,
    InvalidGroupId,
    InvalidTopicName,
    OffsetMetadataTooLarge,
)
from flyq.values import is_int

__all__ = [
    "HEADER_SIZE",
    "MAX_GROUP_ID_LENGTH",
    "MAX_METADATA_BYTES",
    "MAX_PARTITION",
    "MAX_TOPIC_NAME_LENGTH",
    "MIN_FILE_SIZE",
    "OFFSETS_MAGIC",
    "OFFSETS_VERSION",
    "CommittedOffset",
    "OffsetKey",
    "decode_offsets",
    "encode_offsets",
    "validate_commit",
    "validate_group_id",
    "validate_key",
]

OFFSETS_MAGIC = b"FQGO"
OFFSETS_VERSION = 1
# Same limit as topic names (TOPIC-2, Kafka's 249): ids stay printable in one log line and a group
# id can later name a file or an internal-topic key without a second rule (spec/groups.md §2).
MAX_GROUP_ID_LENGTH = 249
MAX_PARTITION = (1 << 31) - 1  # partitions are Kafka int32s
MAX_OFFSET = (1 << 63) - 1
MAX_METADATA_BYTES = 4096  # Kafka's offset.metadata.max.bytes default

_HEADER = struct.Struct(">4sHII")
_LENGTH = struct.Struct(">H")
_PARTITION = struct.Struct(">i")
_OFFSET = struct.Struct(">q")
_CRC = struct.Struct(">I")
HEADER_SIZE = _HEADER.size  # 14
MIN_FILE_SIZE = HEADER_SIZE + _CRC.size  # 18: an empty store
# A string field's longest encoding: 249 characters of 4 UTF-8 bytes each; metadata's own limit.
_MAX_NAME_BYTES = 4 * MAX_GROUP_ID_LENGTH

OffsetKey = tuple[str, str, int]
"""(group, topic, partition): what one committed offset is stored under (GRP-1)."""


@attrs.frozen
class CommittedOffset:
    """A committed offset and the metadata string committed with it."""

    offset: int
    metadata: str = ""


# --- validation (GRP-2) ---------------------------------------------------------------------------



def _surrogate_index(text: str) -> int | None:
    """Index of the first lone surrogate (which UTF-8 cannot encode), or None."""
    for index, character in enumerate(text):
        if 0xD800 <= ord(character) <= 0xDFFF:
            return index
    return None


def validate_group_id(group: object) -> str:
    """Return `group` if it is a valid group id, else raise `InvalidGroupId` naming the rule."""
    if not isinstance(group, str):
        raise InvalidGroupId(group, f"must be a str, got {type(group).__name__}")
    if not group:
        raise InvalidGroupId(group, "must not be empty")
    if len(group) > MAX_GROUP_ID_LENGTH:
        raise InvalidGroupId(
            group, f"is {len(group)} characters long, at most {MAX_GROUP_ID_LENGTH} are allowed"
        )
    index = _surrogate_index(group)
    if index is not None:
        raise InvalidGroupId(group, f"lone surrogate at index {index} cannot be encoded as UTF-8")
    return group


def validate_key(group: object, topic: object, partition: object) -> OffsetKey:
    """The key (group, topic, partition), or the error for its first bad part (GRP-2)."""
    group_id = validate_group_id(group)
    topic_name = validate_topic_name(topic)
    if not is_int(partition) or not 0 <= partition <= MAX_PARTITION:
        raise InvalidArgument("partition", partition, f"an int 0 <= partition <= {MAX_PARTITION}")
    return group_id, topic_name, partition


def validate_commit(
    group: object, topic: object, partition: object, offset: object, metadata: object
) -> tuple[OffsetKey, CommittedOffset]:
    """The key and value of a commit, or the error for its first bad argument (GRP-2)."""
    key = validate_key(group, topic, partition)
    if not is_int(offset) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidArgument("offset", offset, f"an int 0 <= offset <= {MAX_OFFSET}")
    if not isinstance(metadata, str):
        raise InvalidArgument("metadata", metadata, "a str")
    index = _surrogate_index(metadata)
    if index is not None:
        raise InvalidArgument("metadata", metadata,
                              f"a str UTF-8 can encode (lone surrogate at index {index})")
    size = len(metadata.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise OffsetMetadataTooLarge(size, MAX_METADATA_BYTES)
    return key, CommittedOffset(offset, metadata)


# --- encoding -------------------------------------------------------------------------------------


def _sort_key(key: OffsetKey) -> tuple[bytes, bytes, int]:
    return key[0].encode("utf-8"), key[1].encode("utf-8"), key[2]


def encode_offsets(offsets: Mapping[OffsetKey, CommittedOffset]
                   | Iterable[tuple[OffsetKey, CommittedOffset]]) -> bytes:
    """The bytes of an offsets file holding `offsets` (already validated by `validate_commit`)."""
    items = offsets.items() if isinstance(offsets, Mapping) else offsets
    parts: list[bytes] = []
    count = 0
    for (group, topic, partition), committed in sorted(items, key=lambda kv: _sort_key(kv[0])):
        group_bytes = group.encode("utf-8")
        topic_bytes = topic.encode("utf-8")
        metadata_bytes = committed.metadata.encode("utf-8")
        parts += [
            _LENGTH.pack(len(group_bytes)), group_bytes,
            _LENGTH.pack(len(topic_bytes)), topic_bytes,
            _PARTITION.pack(partition),
            _OFFSET.pack(committed.offset),
            _LENGTH.pack(len(metadata_bytes)), metadata_bytes,
        ]
        count += 1
    entries = b"".join(parts)
    body = _HEADER.pack(OFFSETS_MAGIC, OFFSETS_VERSION, count, len(entries)) + entries
    return body + _CRC.pack(int(_crc32c.crc32c(body)))


# --- decoding -------------------------------------------------------------------------------------


class _Reader:
    """Walks the entries region, turning every short read or bad value into `CorruptOffsetsFile`."""

    def __init__(self, data: bytes, position: int, end: int, source: str | None) -> None:
        self.data = data
        self.position = position
        self.end = end
        self.source = source

    def fail(self, what: str, field: str, position: int) -> CorruptOffsetsFile:
        return CorruptOffsetsFile(what, field=field, position=position, source=self.source)

    def take(self, size: int, field: str) -> bytes:
        if self.position + size > self.end:
            raise self.fail(f"needs {size} bytes, only {self.end - self.position} remain in the "
                            "entries", field, self.position)
        chunk = self.data[self.position : self.position + size]
        self.position += size
        return chunk

    def string(self, field: str, limit: int) -> str:
        length_position = self.position
        (length,) = _LENGTH.unpack(self.take(_LENGTH.size, f"{field} length"))
        if length > limit:
            raise self.fail(f"length {length}, at most {limit} allowed", f"{field} length",
                            length_position)
        text_position = self.position
        raw = self.take(length, field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"not valid UTF-8 ({exc.reason})", field,
                            text_position + exc.start) from None


def decode_offsets(data: bytes, *, source: str | None = None) -> dict[OffsetKey, CommittedOffset]:
    """The offsets an offsets file holds; `CorruptOffsetsFile` (naming field and byte) if it is
    truncated, foreign, of an unknown version, fails its CRC or holds an invalid entry."""
    def fail(what: str, field: str, position: int) -> CorruptOffsetsFile:
        return CorruptOffsetsFile(what, field=field, position=position, source=source)

    if len(data) < MIN_FILE_SIZE:
        raise fail(f"file is {len(data)} bytes, shorter than the {MIN_FILE_SIZE}-byte minimum "
                   "(truncated)", "header", 0)
    magic, version, count, entries_length = _HEADER.unpack_from(data, 0)
    if magic != OFFSETS_MAGIC:
        raise fail(f"magic {magic!r}, expected {OFFSETS_MAGIC!r}", "magic", 0)
    if version != OFFSETS_VERSION:
        raise fail(f"version {version}, expected {OFFSETS_VERSION}", "version", 4)
    expected_size = MIN_FILE_SIZE + entries_length
    if len(data) != expected_size:
        state = "truncated" if len(data) < expected_size else "trailing bytes"
        raise fail(f"file is {len(data)} bytes but entries_length {entries_length} makes it "
                   f"{expected_size} ({state})", "entries_length", 10)
    crc_position = HEADER_SIZE + entries_length
    (stored,) = _CRC.unpack_from(data, crc_position)
    actual = int(_crc32c.crc32c(data[:crc_position]))
    if stored != actual:
        raise fail(f"CRC-32C stored 0x{stored:08x}, computed 0x{actual:08x}", "crc", crc_position)

    reader = _Reader(data, HEADER_SIZE, crc_position, source)
    offsets: dict[OffsetKey, CommittedOffset] = {}
    previous: tuple[bytes, bytes, int] | None = None
    for number in range(count):
        start = reader.position
        group = reader.string("group", _MAX_NAME_BYTES)
        topic = reader.string("topic", _MAX_NAME_BYTES)
        partition_position = reader.position
        (partition,) = _PARTITION.unpack(reader.take(_PARTITION.size, "partition"))
        offset_position = reader.position
        (offset,) = _OFFSET.unpack(reader.take(_OFFSET.size, "committed_offset"))
        metadata_position = reader.position
        metadata = reader.string("metadata", MAX_METADATA_BYTES)
        try:
            key, committed = validate_commit(group, topic, partition, offset, metadata)
        except InvalidGroupId as exc:
            raise fail(f"entry {number}: {exc}", "group", start) from None
        except InvalidTopicName as exc:
            raise fail(f"entry {number}: {exc}", "topic", start) from None
        except InvalidArgument as exc:
            field, position = {
                "partition": ("partition", partition_position),
                "offset": ("committed_offset", offset_position),
            }.get(exc.name, ("metadata", metadata_position))
            raise fail(f"entry {number}: {exc}", field, position) from None
        order = _sort_key(key)
        if previous is not None and order <= previous:
            raise fail(f"entry {number} is not after entry {number - 1} in (group, topic, "
                       "partition) order", "entry", start)
        previous = order
        offsets[key] = committed
    if reader.position != crc_position:
        raise fail(f"{count} entries end at byte {reader.position}, entries_length says "
                   f"{crc_position}", "entries_length", 10)
    return offsets
