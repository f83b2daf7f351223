"""`ModelLog`: a mutable handle on a `LogState`, shaped like `flyq.api.LogInterface`.

The handle only swaps one frozen `LogState` for the next; every rule lives in `flyq.model._state`.
An operation that raises leaves the handle on the state it had (LOG-3, LOG-12).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flyq.api import AppendResult
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

    def append(self, records: Sequence[Record]) -> AppendResult:
        """Append `records` as one batch; returns the offsets assigned (LOG-2, LOG-3)."""
        self._state, result = _state.append(self._state, records)
        return result

    def read(
        self, offset: int, *, max_records: int | None = None, max_bytes: int | None = None
    ) -> list[StoredRecord]:
        """Records from `offset` upwards, oldest first (LOG-5, LOG-6, LOG-9)."""
        return list(_state.read(self._state, offset, max_records, max_bytes))

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
