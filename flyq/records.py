"""Record values shared by the model, the codecs and the disk log.

A `Record` is what a producer hands to `append`; a `StoredRecord` is what a read hands back: the same
fields plus the offset the log assigned. Both are immutable values.
"""

from __future__ import annotations

import attrs

from flyq.errors import InvalidRecord
from flyq.values import is_int

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "Header",
    "Record",
    "StoredRecord",
    "payload_size",
    "validate_record",
]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

Header = tuple[str, bytes | None]


@attrs.frozen
class Record:
    """One record as appended: timestamps are milliseconds and need not be monotonic."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[Header, ...] = ()
    timestamp: int = 0


@attrs.frozen
class StoredRecord:
    """One record as read back, with the offset the log assigned to it.

    `is_control` marks a record of a control batch (transaction markers, spec/format.md 1.2): it
    is stored and read back, but is not a record any producer appended.
    """

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    is_control: bool = attrs.field(default=False, kw_only=True)

    @property
    def record(self) -> Record:
        """The record as it was appended."""
        return Record(value=self.value, key=self.key, headers=self.headers, timestamp=self.timestamp)


def payload_size(key: bytes | None, value: bytes | None, headers: tuple[Header, ...]) -> int:
    """Bytes a record counts against a read's `max_bytes` (spec/log.md LOG-9).

    Defined on the record's fields, not its encoding, so that the model needs no codec.
    """
    size = (len(key) if key is not None else 0) + (len(value) if value is not None else 0)
    for header_key, header_value in headers:
        size += len(header_key.encode("utf-8"))
        size += len(header_value) if header_value is not None else 0
    return size


def validate_record(record: Record) -> None:
    """Raise `InvalidRecord` naming the field if `record` cannot be stored."""
    if not isinstance(record, Record):
        raise InvalidRecord(f"expected a Record, got {type(record).__name__}")
    if record.key is not None and not isinstance(record.key, bytes):
        raise InvalidRecord(f"record key must be bytes or None, got {type(record.key).__name__}")
    if record.value is not None and not isinstance(record.value, bytes):
        raise InvalidRecord(
            f"record value must be bytes or None, got {type(record.value).__name__}"
        )
    if (not is_int(record.timestamp)
            or not INT64_MIN <= record.timestamp <= INT64_MAX):
        raise InvalidRecord(f"record timestamp {record.timestamp!r} is not a 64-bit integer")
    if record.timestamp < 0:
        raise InvalidRecord(
            f"record timestamp {record.timestamp} is negative: timestamps are milliseconds "
            "since the epoch"
        )
    if not isinstance(record.headers, tuple | list):
        raise InvalidRecord(
            f"record headers must be a sequence of pairs, got {type(record.headers).__name__}"
        )
    for index, header in enumerate(record.headers):
        if not (isinstance(header, tuple) and len(header) == 2):
            raise InvalidRecord(f"header {index} must be a (str, bytes | None) pair")
        header_key, header_value = header
        if not isinstance(header_key, str):
            raise InvalidRecord(f"header {index} key must be str, got {type(header_key).__name__}")
        try:
            header_key.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidRecord(f"header {index} key {header_key!r} is not valid UTF-8") from exc
        if header_value is not None and not isinstance(header_value, bytes):
            raise InvalidRecord(
                f"header {index} value must be bytes or None, got {type(header_value).__name__}"
            )
