"""The one rule that decides a segment's index entries (spec/format.md section 2, IDX-1..IDX-3).

Pure: fed the segment's batches in order, it says which offset-index and time-index entries to
write. The append path and the rebuild from a `.log` both run this same state machine, which is why
an index written by appends is byte-identical to a fresh rebuild.
"""

from __future__ import annotations

import attrs

__all__ = ["IndexPoint", "IndexPolicy", "NO_TIMESTAMP"]

# Time-index timestamps are >= 0 (records reject negative timestamps), so -1 means "none yet".
NO_TIMESTAMP = -1


@attrs.frozen
class IndexPoint:
    """Entries to write before a batch: always an offset entry, a time entry when `time_entry`."""

    relative_offset: int
    position: int
    time_entry: tuple[int, int] | None


@attrs.define
class IndexPolicy:
    """Index state of one segment.

    `bytes_since_entry` counts bytes appended since the last offset entry; when it reaches the
    interval, the next batch gets an entry. `max_timestamp` is the largest record timestamp in the
    segment so far; a time entry is written at an index point only when it grew past
    `last_time_entry_timestamp`, so time entries strictly increase in timestamp.
    """

    base_offset: int
    index_interval_bytes: int
    size: int = 0
    bytes_since_entry: int = 0
    max_timestamp: int = NO_TIMESTAMP
    last_time_entry_timestamp: int = NO_TIMESTAMP
    next_offset: int = -1

    def __attrs_post_init__(self) -> None:
        if self.next_offset < 0:
            self.next_offset = self.base_offset

    def on_batch(self, base_offset: int, next_offset: int, max_timestamp: int,
                 size: int) -> IndexPoint | None:
        """Account for a batch appended at `self.size`; return the entries due before it."""
        point: IndexPoint | None = None
        if self.bytes_since_entry >= self.index_interval_bytes:
            relative = base_offset - self.base_offset
            time_entry: tuple[int, int] | None = None
            if self.max_timestamp > self.last_time_entry_timestamp:
                time_entry = (self.max_timestamp, relative)
                self.last_time_entry_timestamp = self.max_timestamp
            point = IndexPoint(relative, self.size, time_entry)
            self.bytes_since_entry = 0
        self.bytes_since_entry += size
        self.size += size
        self.max_timestamp = max(self.max_timestamp, max_timestamp)
        self.next_offset = next_offset
        return point

    def seal_entry(self) -> tuple[int, int] | None:
        """The time entry that makes a sealed segment's last entry hold its largest timestamp."""
        if self.max_timestamp > self.last_time_entry_timestamp:
            self.last_time_entry_timestamp = self.max_timestamp
            return (self.max_timestamp, self.next_offset - self.base_offset)
        return None
