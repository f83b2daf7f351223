"""Zig-zag varints as Kafka's record format uses them (protobuf encoding, signed via zig-zag)."""

from __future__ import annotations

from flyq.errors import CorruptRecordBatch

__all__ = ["decode_varint", "encode_varint", "size_of_varint", "varint_bytes"]

# A zig-zag varlong needs at most 10 bytes; anything longer is corrupt.
_MAX_VARINT_BYTES = 10


def encode_varint(value: int, out: bytearray) -> None:
    """Append the zig-zag varint of the signed 64-bit `value` to `out`."""
    zigzag = ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)


def _encoded(value: int) -> bytes:
    out = bytearray()
    encode_varint(value, out)
    return bytes(out)


# The varints of 0..2047, built once (a few dozen kB): the lengths and deltas of ordinary records
# fall in this range, so the record encoder looks them up instead of looping bit by bit.
_SMALL_VARINTS = tuple(_encoded(value) for value in range(2048))


def varint_bytes(value: int) -> bytes:
    """The zig-zag varint of the signed 64-bit `value` (what `encode_varint` appends)."""
    if 0 <= value < 2048:
        return _SMALL_VARINTS[value]
    return _encoded(value)


def size_of_varint(value: int) -> int:
    """Bytes `encode_varint(value)` writes."""
    zigzag = ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF
    size = 1
    while zigzag > 0x7F:
        zigzag >>= 7
        size += 1
    return size


def decode_varint(
    buf: bytes | bytearray | memoryview,
    pos: int,
    field: str,
    source: str | None = None,
    end: int | None = None,
    base: int = 0,
) -> tuple[int, int]:
    """Decode a zig-zag varint at `pos`, ending before `end` (default: the buffer's end).

    Return (value, position after it). Errors give the position as `base + pos`, for a buffer that
    starts `base` bytes into the batch (a decompressed section).
    """
    result = 0
    shift = 0
    start = pos
    if end is None or end > len(buf):
        end = len(buf)
    while True:
        if pos >= end:
            raise CorruptRecordBatch("varint runs past the end of the batch", field=field,
                                     position=base + start, source=source)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if pos - start >= _MAX_VARINT_BYTES:
            raise CorruptRecordBatch(
                "varint longer than 10 bytes", field=field, position=base + start, source=source
            )
    if result >> 64:
        # A 10th byte above 1 sets bits past the 64th: no int64 encodes to it.
        raise CorruptRecordBatch(
            "varint overflows 64 bits", field=field, position=base + start, source=source
        )
    return (result >> 1) ^ -(result & 1), pos
