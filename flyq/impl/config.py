"""Configuration of one partition log (spec/log.md SEG-2, DUR-2, RET-1; spec/format.md section 2)."""

from __future__ import annotations

import attrs

from flyq.codec.record_batch import TIMESTAMP_TYPES
from flyq.errors import InvalidConfig
from flyq.values import is_int

__all__ = ["TEXT_FIELDS", "LogConfig"]

# The one field whose value is a word, not an integer: config files and `--config` parse by this.
TEXT_FIELDS = frozenset({"message_timestamp_type"})

_MAX_SEGMENT_BYTES = (1 << 31) - 1  # index positions are u32; Kafka's limit is int32
_MIN_INDEX_BYTES = 24  # room for two time-index entries


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not is_int(value) or value < 1:
        raise InvalidConfig(attribute.name, value, "must be an integer >= 1")


def _optional_positive(
    instance: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None and (not is_int(value) or value < 1):
        raise InvalidConfig(attribute.name, value, "must be an integer >= 1 or unset")


def _timestamp_type(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in TIMESTAMP_TYPES:
        raise InvalidConfig(attribute.name, value, f"must be one of {', '.join(TIMESTAMP_TYPES)}")


@attrs.frozen
class LogConfig:
    """Sizes, ages and flush policy of a partition log. Times are milliseconds."""

    segment_bytes: int = attrs.field(default=1 << 30, validator=_positive)
    segment_ms: int = attrs.field(default=7 * 24 * 3600 * 1000, validator=_positive)
    index_interval_bytes: int = attrs.field(default=4096, validator=_positive)
    # Preallocated size of each index file; a segment rolls when either index is full.
    index_max_bytes: int = attrs.field(default=10 * 1024 * 1024, validator=_positive)
    # Flush after this many appended records since the last flush (None: not by count).
    flush_messages: int | None = attrs.field(default=None, validator=_optional_positive)
    # Flush at an append when this long has passed since the last flush (None: not by time).
    flush_ms: int | None = attrs.field(default=None, validator=_optional_positive)
    max_batch_bytes: int = attrs.field(default=64 * 1024 * 1024, validator=_positive)
    # Retention (RET-1): sealed segments whose largest timestamp is older than this are deleted
    # (None: not by time).
    retention_ms: int | None = attrs.field(default=None, validator=_optional_positive)
    # Retention (RET-1): the oldest sealed segments are deleted while the log stays at least this
    # large without them (None: not by size).
    retention_bytes: int | None = attrs.field(default=None, validator=_optional_positive)
    # Which timestamp records keep (spec/format.md 1.2): "CreateTime", the producer's, or
    # "LogAppendTime", the log's clock at append, stamped into each batch's header.
    message_timestamp_type: str = attrs.field(default="CreateTime", validator=_timestamp_type)

    def __attrs_post_init__(self) -> None:
        if self.segment_bytes > _MAX_SEGMENT_BYTES:
            raise InvalidConfig(
                "segment_bytes", self.segment_bytes, f"must be <= {_MAX_SEGMENT_BYTES}"
            )
        if self.index_max_bytes < _MIN_INDEX_BYTES:
            raise InvalidConfig(
                "index_max_bytes", self.index_max_bytes, f"must be >= {_MIN_INDEX_BYTES}"
            )
