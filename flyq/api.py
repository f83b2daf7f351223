"""The partition-log interface that the model and the disk log both satisfy (spec/log.md).

A difference in behaviour between `flyq.model.ModelLog` and `flyq.impl.PartitionLog` on this
interface, including which exception type is raised, is a bug in one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from flyq.records import Record, StoredRecord

__all__ = ["AppendResult", "LogInterface", "ProducerEntries"]

# The producer table (IDEM-1): (producer_id, epoch, entries oldest first) by ascending id, each
# entry (first_seq, last_seq, base_offset, last_offset, timestamp).
ProducerEntries = tuple[tuple[int, int, tuple[tuple[int, int, int, int, int], ...]], ...]


@attrs.frozen
class AppendResult:
    """Offsets assigned to an appended batch: `base_offset` .. `last_offset` inclusive.

    `duplicate`: the batch was an idempotent producer's retry of a batch the log holds; nothing
    was written and the offsets are the original's (IDEM-5). `log_append_time`: the timestamp a
    LogAppendTime log stamped, -1 on a CreateTime log (IDEM-7), as Kafka's Produce response has.
    """

    base_offset: int
    last_offset: int
    log_append_time: int = -1
    duplicate: bool = False


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
        """Offset below which records are committed to every in-sync replica (HW-1, HWM-1)."""
        ...

    @property
    def leader_epoch(self) -> int:
        """The epoch appends are stamped with; -1 before any `become_leader` (EPOCH-1)."""
        ...

    def append(self, records: Sequence[Record]) -> AppendResult:
        """Append `records` as one batch; returns the offsets assigned (LOG-2, LOG-3, EPOCH-2)."""
        ...

    def append_replicated(self, batch: bytes | bytearray | memoryview) -> AppendResult:
        """Append a leader's encoded batch, keeping its offsets and epoch (FOLLOW-1, FOLLOW-2)."""
        ...

    def append_encoded(self, batch: bytes | bytearray | memoryview) -> AppendResult:
        """Append one encoded RecordBatch v2 at the log end; an idempotent producer's batch is
        checked and deduplicated (IDEM-2..7)."""
        ...

    def producer_entries(self) -> ProducerEntries:
        """The producer table: (producer_id, epoch, entries oldest first) by ascending id, each
        entry (first_seq, last_seq, base_offset, last_offset, timestamp) (IDEM-1)."""
        ...

    def become_leader(self, epoch: int) -> None:
        """Stamp later appends with `epoch`; a lower epoch is fenced (EPOCH-1)."""
        ...

    def epoch_entries(self) -> tuple[tuple[int, int], ...]:
        """The epoch cache: (epoch, start_offset) pairs, oldest first (EPOCH-7)."""
        ...

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """Kafka's OffsetsForLeaderEpoch answer: (epoch, end offset) or (-1, -1) (EPOCH-8)."""
        ...

    def advance_high_watermark(self, offset: int) -> None:
        """Move a replica's high watermark up to `offset` (HWM-3)."""
        ...

    def read(
        self,
        offset: int,
        *,
        max_records: int | None = None,
        max_bytes: int | None = None,
        up_to_high_watermark: bool = False,
    ) -> list[StoredRecord]:
        """Records from `offset` upwards, oldest first (LOG-5, LOG-6, LOG-9, HWM-5)."""
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
