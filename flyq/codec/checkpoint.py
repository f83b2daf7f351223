"""Small checksummed files holding a few int64 values (spec/format.md, section 5).

Layout: magic "FQCP" | version u16 | count u16 | count x i64 | CRC-32C u32 of all bytes before it.
Used for the recovery point, the log start offset and the clean-shutdown marker.
"""

from __future__ import annotations

import struct

import crc32c as _crc32c

from flyq.errors import CorruptCheckpoint

__all__ = ["CHECKPOINT_MAGIC", "decode_checkpoint", "encode_checkpoint"]

CHECKPOINT_MAGIC = b"FQCP"
CHECKPOINT_VERSION = 1
_PREFIX = struct.Struct(">4sHH")
_CRC = struct.Struct(">I")
_VALUE = struct.Struct(">q")


def encode_checkpoint(values: tuple[int, ...]) -> bytes:
    """Bytes of a checkpoint file holding `values`."""
    body = _PREFIX.pack(CHECKPOINT_MAGIC, CHECKPOINT_VERSION, len(values))
    body += b"".join(_VALUE.pack(value) for value in values)
    return body + _CRC.pack(int(_crc32c.crc32c(body)))


def decode_checkpoint(data: bytes, *, expected_count: int, source: str) -> tuple[int, ...]:
    """The values of a checkpoint file; `CorruptCheckpoint` if it is torn, foreign or damaged."""
    need = _PREFIX.size + _VALUE.size * expected_count + _CRC.size
    if len(data) != need:
        raise CorruptCheckpoint(
            f"file is {len(data)} bytes, expected {need}", field="checkpoint", position=0,
            source=source,
        )
    magic, version, count = _PREFIX.unpack_from(data, 0)
    if magic != CHECKPOINT_MAGIC:
        raise CorruptCheckpoint(f"magic {magic!r}, expected {CHECKPOINT_MAGIC!r}", field="magic",
                                position=0, source=source)
    if version != CHECKPOINT_VERSION:
        raise CorruptCheckpoint(f"version {version}, expected {CHECKPOINT_VERSION}",
                                field="version", position=4, source=source)
    if count != expected_count:
        raise CorruptCheckpoint(f"holds {count} values, expected {expected_count}",
                                field="count", position=6, source=source)
    crc_position = need - _CRC.size
    (stored,) = _CRC.unpack_from(data, crc_position)
    actual = int(_crc32c.crc32c(data[:crc_position]))
    if stored != actual:
        raise CorruptCheckpoint(f"CRC-32C stored 0x{stored:08x}, computed 0x{actual:08x}",
                                field="crc", position=crc_position, source=source)
    return tuple(
        int(_VALUE.unpack_from(data, _PREFIX.size + i * _VALUE.size)[0])
        for i in range(expected_count)
    )
