"""The partition-log interface that the model and the disk log both satisfy (spec/log.md).

A difference in behaviour between `flyq.model.ModelLog` and `flyq.impl.PartitionLog` on this
interface, including which exception type is raised, is a bug in one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from flyq.records import Record, StoredRecord

__all__ = ["AppendResult", "LogInterface"]


@attrs.frozen
class AppendResult:
    """Offsets assigned to an appended batch: `base_offset` .. `last_offset` inclusive."""

    base_offset: int
    last_offset: int


class LogInterface(Protocol):
    """What spec/log.md defines for one partition log."""

    @property
    def log_start_offset(self) -> int:
        """Offset of the first readable record (LOG-1)."""
        ...

    @property
    def log_end_offset(self) -> int:
        """Offset the next appended record gets (LOG-1)."""
        ...

    @property
    def high_watermark(self) -> int:
        """Offset below which records are committed to every in-sync replica (HW-1)."""
        ...

    def append(self, records: Sequence[Record]) -> AppendResult:
        """Append `records` as one batch; returns the offsets assigned (LOG-2, LOG-3)."""
        ...

    def read(
        self, offset: int, *, max_records: int | None = None, max_bytes: int | None = None
    ) -> list[StoredRecord]:
        """Records from `offset` upwards, oldest first (LOG-5, LOG-6, LOG-9)."""
        ...

    def read_backward(
        self, offset: int, *, max_records: int | None = None, max_bytes: int | None = None
    ) -> list[StoredRecord]:
        """Records from `offset` downwards, newest first (LOG-7, LOG-9)."""
        ...

    def offset_for_timestamp(self, timestamp: int) -> int | None:
        """First offset whose record's timestamp is >= `timestamp`, or None (LOG-8)."""
        ...

    def truncate(self, offset: int) -> None:
        """Remove every record at or above `offset`, a batch boundary (LOG-10)."""
        ...

    def delete_records_below(self, offset: int) -> None:
        """Advance the log start offset to `offset` (LOG-11)."""
        ...
