"""`ModelLog`: a mutable handle on a `LogState`, shaped like `flyq.api.LogInterface`.

The handle only swaps one frozen `LogState` for the next; every rule lives in `flyq.model._state`.
An operation that raises leaves the handle on the state it had (LOG-3, LOG-12).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flyq.api import AppendResult, ProducerEntries
from flyq.model import _state
from flyq.model._state import LogState
from flyq.records import Record, StoredRecord

if TYPE_CHECKING:
    from flyq.api import LogInterface

__all__ = ["ModelLog"]


class ModelLog:
    """The reference partition log: what `flyq.impl.PartitionLog` must agree with."""

    def __init__(self, state: LogState | None = None) -> None:
        self._state = state if state is not None else _state.empty_log()

    def __repr__(self) -> str:
        return f"ModelLog({self._state!r})"

    @property
    def state(self) -> LogState:
        """The current frozen state; later operations do not change it."""
        return self._state

    @property
    def log_start_offset(self) -> int:
        """Offset of the first readable record (LOG-1)."""
        return self._state.log_start_offset

    @property
    def log_end_offset(self) -> int:
        """Offset the next appended record gets (LOG-1)."""
        return self._state.log_end_offset

    @property
    def high_watermark(self) -> int:
        """Offset below which records are committed to every in-sync replica (HW-1)."""
        return self._state.high_watermark

    @property
    def leader_epoch(self) -> int:
        """The epoch appends are stamped with; -1 before any `become_leader` (EPOCH-1)."""
        return self._state.leader_epoch

    def append(self, records: Sequence[Record]) -> AppendResult:
        """Append `records` as one batch; returns the offsets assigned (LOG-2, LOG-3, EPOCH-2)."""
        self._state, result = _state.append(self._state, records)
        return result

    def append_replicated(self, batch: bytes | bytearray | memoryview) -> AppendResult:
        """Append a leader's encoded batch, keeping its offsets and epoch (FOLLOW-1, FOLLOW-2)."""
        self._state, result = _state.append_replicated(self._state, batch)
        return result

    def append_encoded(self, batch: bytes | bytearray | memoryview) -> AppendResult:
        """Append one encoded batch; idempotent producers are checked and deduplicated (IDEM-2..7)."""
        self._state, result = _state.append_encoded(self._state, batch)
        return result

    def producer_entries(self) -> ProducerEntries:
        """The producer table, by ascending producer id (IDEM-1)."""
        return self._state.producers()

    def become_leader(self, epoch: int) -> None:
        """Stamp later appends with `epoch`; a lower epoch is fenced (EPOCH-1)."""
        self._state = _state.become_leader(self._state, epoch)

    def epoch_entries(self) -> tuple[tuple[int, int], ...]:
        """The epoch cache: (epoch, start_offset) pairs, oldest first (EPOCH-7)."""
        return self._state.epochs

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """Kafka's OffsetsForLeaderEpoch answer: (epoch, end offset) or (-1, -1) (EPOCH-8)."""
        return _state.end_offset_for_epoch(self._state, epoch)

    def advance_high_watermark(self, offset: int) -> None:
        """Move a replica's high watermark up to `offset` (HWM-3)."""
        self._state = _state.advance_high_watermark(self._state, offset)

    def reopen(self) -> None:
        """What a close and open do to the state (EPOCH-11): a model has no disk to lose."""
        self._state = _state.reopen(self._state)

    def read(
        self,
        offset: int,
        *,
        max_records: int | None = None,
        max_bytes: int | None = None,
        up_to_high_watermark: bool = False,
    ) -> list[StoredRecord]:
        """Records from `offset` upwards, oldest first (LOG-5, LOG-6, LOG-9, HWM-5)."""
        return list(
            _state.read(self._state, offset, max_records, max_bytes, up_to_high_watermark)
        )

    def read_backward(
        self, offset: int, *, max_records: int | None = None, max_bytes: int | None = None
    ) -> list[StoredRecord]:
        """Records from `offset` downwards, newest first (LOG-7, LOG-9)."""
        return list(_state.read_backward(self._state, offset, max_records, max_bytes))

    def offset_for_timestamp(self, timestamp: int) -> int | None:
        """First offset whose record's timestamp is >= `timestamp`, or None (LOG-8)."""
        return _state.offset_for_timestamp(self._state, timestamp)

    def truncate(self, offset: int) -> None:
        """Remove every record at or above `offset`, a batch boundary (LOG-10)."""
        self._state = _state.truncate(self._state, offset)

    def delete_records_below(self, offset: int) -> None:
        """Advance the log start offset to `offset` (LOG-11)."""
        self._state = _state.delete_records_below(self._state, offset)

    def batch_boundaries(self) -> tuple[int, ...]:
        """The offsets `truncate` accepts, ascending (LOG-10)."""
        return _state.batch_boundaries(self._state)


if TYPE_CHECKING:
    # mypy proves ModelLog satisfies the Protocol structurally; nothing runs.
    _conforms: LogInterface = ModelLog()
