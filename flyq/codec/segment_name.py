"""Segment file names: the 20-digit, zero-padded base offset plus a suffix (spec/format.md, 4)."""

from __future__ import annotations

from flyq.errors import DecodeError

__all__ = ["SEGMENT_SUFFIXES", "parse_segment_name", "segment_name"]

LOG_SUFFIX = ".log"
OFFSET_INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
SEGMENT_SUFFIXES = (LOG_SUFFIX, OFFSET_INDEX_SUFFIX, TIME_INDEX_SUFFIX)
_DIGITS = 20
_MAX_OFFSET = (1 << 63) - 1


def segment_name(base_offset: int, suffix: str) -> str:
    """File name of the segment starting at `base_offset`, e.g. 00000000000000000042.log."""
    if not 0 <= base_offset <= _MAX_OFFSET:
        raise DecodeError(f"base offset {base_offset} out of range", field="base offset",
                          position=0)
    if suffix not in SEGMENT_SUFFIXES:
        raise DecodeError(f"unknown suffix {suffix!r}", field="suffix", position=_DIGITS)
    return f"{base_offset:0{_DIGITS}d}{suffix}"


def parse_segment_name(name: str) -> tuple[int, str]:
    """(base_offset, suffix) of a segment file name; `DecodeError` if it is not one."""
    digits, dot, rest = name.partition(".")
    suffix = dot + rest
    if len(digits) != _DIGITS or not digits.isascii() or not digits.isdigit():
        raise DecodeError(f"{name!r} does not start with {_DIGITS} digits", field="base offset",
                          position=0, source=name)
    if suffix not in SEGMENT_SUFFIXES:
        raise DecodeError(f"{name!r} has unknown suffix {suffix!r}", field="suffix",
                          position=_DIGITS, source=name)
    base_offset = int(digits)
    if base_offset > _MAX_OFFSET:
        raise DecodeError(f"{name!r} base offset exceeds int64", field="base offset",
                          position=0, source=name)
    return base_offset, suffix
