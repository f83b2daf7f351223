"""Offset-index and time-index entries (spec/format.md, sections 2 and 3). Big-endian.

Offset index entry: relative offset (u32) -> byte position of a batch in the segment (u32).
Time index entry: max timestamp of the segment's records before the entry (i64) -> relative
offset (u32) of the first batch after them.
"""

from __future__ import annotations

import struct

from flyq.errors import CorruptIndex

__all__ = [
    "OFFSET_ENTRY_SIZE",
    "TIME_ENTRY_SIZE",
    "decode_offset_entry",
    "decode_time_entry",
    "encode_offset_entry",
    "encode_time_entry",
]

_OFFSET_ENTRY = struct.Struct(">II")
_TIME_ENTRY = struct.Struct(">qI")
OFFSET_ENTRY_SIZE = _OFFSET_ENTRY.size  # 8
TIME_ENTRY_SIZE = _TIME_ENTRY.size  # 12
_U32_MAX = (1 << 32) - 1

Buffer = bytes | bytearray | memoryview


def encode_offset_entry(relative_offset: int, position: int) -> bytes:
    """The 8 bytes of an offset-index entry."""
    if not (0 <= relative_offset <= _U32_MAX and 0 <= position <= _U32_MAX):
        raise CorruptIndex(
            f"entry ({relative_offset}, {position}) does not fit in two u32",
            field="offset entry", position=0,
        )
    return _OFFSET_ENTRY.pack(relative_offset, position)


def decode_offset_entry(buf: Buffer, position: int = 0) -> tuple[int, int]:
    """(relative_offset, byte position) of the offset-index entry at `position` of `buf`."""
    if len(buf) - position < OFFSET_ENTRY_SIZE:
        raise CorruptIndex(
            f"{len(buf) - position} bytes left, an offset entry needs {OFFSET_ENTRY_SIZE}",
            field="offset entry", position=position,
        )
    relative_offset, byte_position = _OFFSET_ENTRY.unpack_from(buf, position)
    return int(relative_offset), int(byte_position)


def encode_time_entry(timestamp: int, relative_offset: int) -> bytes:
    """The 12 bytes of a time-index entry."""
    if not 0 <= relative_offset <= _U32_MAX:
        raise CorruptIndex(
            f"relative offset {relative_offset} does not fit in a u32",
            field="time entry", position=0,
        )
    return _TIME_ENTRY.pack(timestamp, relative_offset)


def decode_time_entry(buf: Buffer, position: int = 0) -> tuple[int, int]:
    """(timestamp, relative_offset) of the time-index entry at `position` of `buf`."""
    if len(buf) - position < TIME_ENTRY_SIZE:
        raise CorruptIndex(
            f"{len(buf) - position} bytes left, a time entry needs {TIME_ENTRY_SIZE}",
            field="time entry", position=position,
        )
    timestamp, relative_offset = _TIME_ENTRY.unpack_from(buf, position)
    return int(timestamp), int(relative_offset)
