"""The partition log as a frozen value and the pure operations on it (spec/log.md).

Rules this module keeps (checked on every `LogState` it builds, see `LogState.__attrs_post_init__`):

- `0 <= log_start_offset <= log_end_offset < 2**63` (LOG-1).
- Batches are non-empty and contiguous: each starts at the offset after the previous one's last
  record (LOG-2); `log_end_offset` is the offset after the last batch, or `log_start_offset` if
  there is none.
- Batches wholly below `log_start_offset` are dropped, so the first batch, if any, holds
  `log_start_offset`; its records below `log_start_offset` are kept but never readable (LOG-11).
- The leader-epoch cache is strictly increasing in epoch and start offset, and every start is a
  readable offset (EPOCH-3); `log_start_offset <= high_watermark <= log_end_offset` (HWM-1).

Each operation validates its arguments in the order spec/log.md implies and raises the same
`FlyQError` subclass `flyq.impl.PartitionLog` must raise. Decisions about which records an operation
touches are delegated to `flyq.model._core`, whose contracts CrossHair checks; the contracts here
restate the spec in terms of whole states.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from flyq.api import AppendResult
from flyq.codec.record_batch import decode_batch
from flyq.errors import (
    DecodeError,  # noqa: F401  (named by the `raises:` contracts)
    EmptyBatch,
    FencedLeaderEpoch,
    FlyQError,  # noqa: F401  (named by the `raises:` contracts)
    InvalidArgument,
    InvalidOffset,
    InvalidRecord,
    OffsetOutOfRange,
    UnexpectedAppendOffset,
)
from flyq.model._core import (
    OFFSET_LIMIT,
    assign_offsets,
    first_at_or_after,
    fits_in_offsets,
    kept_batch_count,
    live_batch_start,
    read_count,
    read_positions,
    truncation_points,
)
from flyq.model._epochs import (
    EPOCH_LIMIT,
    NO_EPOCH,
    epochs_after_append,
    epochs_from_start,
    epochs_truncated,
)
from flyq.model._epochs import end_offset_for_epoch as _core_end_offset_for_epoch
from flyq.model._producers import (
    ProducerTable,
    check_producer_batch,
    last_sequence,
    producer_table,
)
from flyq.records import Record, StoredRecord, payload_size, validate_record
from flyq.values import is_int

__all__ = [
    "Batch",
    "LogState",
    "advance_high_watermark",
    "append",
    "append_encoded",
    "append_replicated",
    "batch_boundaries",
    "become_leader",
    "delete_records_below",
    "empty_log",
    "end_offset_for_epoch",
    "offset_for_timestamp",
    "read",
    "read_backward",
    "reopen",
    "truncate",
]


@attrs.frozen
class Batch:
    """The records of one `append` call: offsets `base_offset .. next_offset - 1` (LOG-2)."""

    base_offset: int
    records: tuple[Record, ...]
    # The partitionLeaderEpoch the batch is stored with: -1, or the epoch that appended it (EPOCH-2).
    partition_leader_epoch: int = NO_EPOCH
    # The producer fields of the stored RecordBatch and its maxTimestamp as the producer table
    # sees them (spec/idempotence.md): producer_id -1 for a batch `append` encodes and for a
    # control batch (IDEM-2).
    producer_id: int = -1
    producer_epoch: int = -1
    base_sequence: int = -1
    max_timestamp: int = -1

    def __attrs_post_init__(self) -> None:
        if self.base_offset < 0 or not self.records:
            raise ValueError(f"a batch needs base_offset >= 0 and records, got {self!r}")

    @property
    def last_offset(self) -> int:
        """Offset of the batch's last record."""
        return self.base_offset + len(self.records) - 1

    @property
    def next_offset(self) -> int:
        """Offset just after the batch's last record: the next batch's `base_offset`."""
        return self.base_offset + len(self.records)


@attrs.frozen
class LogState:
    """One partition log: where it starts and the batches it holds (spec/log.md, State)."""

    log_start_offset: int
    batches: tuple[Batch, ...] = ()
    # spec/replication-log.md: the epoch appends are stamped with, the epoch cache, and the high
    # watermark of a replica (None: it follows log_end_offset, HWM-2).
    leader_epoch: int = NO_EPOCH
    epochs: tuple[tuple[int, int], ...] = ()
    explicit_high_watermark: int | None = None

    def __attrs_post_init__(self) -> None:
        # A broken state is a bug in this module, never a caller's error: fail loudly and early.
        if not 0 <= self.log_start_offset < OFFSET_LIMIT:
            raise ValueError(f"log_start_offset {self.log_start_offset} is not an offset")
        for earlier, later in zip(self.batches, self.batches[1:], strict=False):
            if later.base_offset != earlier.next_offset:
                raise ValueError(f"batch at {later.base_offset} does not follow its predecessor")
        if self.batches:
            first = self.batches[0]
            if not first.base_offset <= self.log_start_offset < first.next_offset:
                raise ValueError(
                    f"first batch {first.base_offset}..{first.last_offset} does not hold "
                    f"log_start_offset {self.log_start_offset}"
                )
        if self.log_end_offset >= OFFSET_LIMIT:
            raise ValueError(f"log_end_offset {self.log_end_offset} is not an offset")
        if not NO_EPOCH <= self.leader_epoch < EPOCH_LIMIT:
            raise ValueError(f"leader_epoch {self.leader_epoch} is not an epoch")
        for earlier_entry, later_entry in zip(self.epochs, self.epochs[1:], strict=False):
            if not (earlier_entry[0] < later_entry[0] and earlier_entry[1] < later_entry[1]):
                raise ValueError(f"epoch cache {self.epochs} is not strictly increasing")
        if not all(
            0 <= epoch < EPOCH_LIMIT and self.log_start_offset <= start < self.log_end_offset
            for epoch, start in self.epochs
        ):
            raise ValueError(f"epoch cache {self.epochs} holds an entry outside the log")
        hwm = self.explicit_high_watermark
        if hwm is not None and not self.log_start_offset <= hwm <= self.log_end_offset:
            raise ValueError(f"high watermark {hwm} is outside the log")

    @property
    def log_end_offset(self) -> int:
        """Offset the next appended record gets (LOG-1)."""
        return self.batches[-1].next_offset if self.batches else self.log_start_offset

    @property
    def high_watermark(self) -> int:
        """Offset below which records are committed to every in-sync replica (HW-1, HWM-1).

        A single node is its own only in-sync replica: unless the log is a replica with an
        explicit high watermark, this is `log_end_offset` (HWM-2).
        """
        if self.explicit_high_watermark is None:
            return self.log_end_offset
        return self.explicit_high_watermark

    def producers(self) -> ProducerTable:
        """The idempotent producers' table: the fold over the stored batches (IDEM-1)."""
        return producer_table(
            (
                (
                    b.producer_id,
                    b.producer_epoch,
                    b.base_sequence,
                    last_sequence(b.base_sequence, len(b.records)) if b.base_sequence >= 0 else -1,
                    b.base_offset,
                    b.last_offset,
                    b.max_timestamp,
                )
                for b in self.batches
            ),
            self.log_start_offset,
        )

    @property
    def latest_epoch(self) -> int:
        """The newest epoch in the cache, or -1 if it is empty."""
        return self.epochs[-1][0] if self.epochs else NO_EPOCH

    def readable(self) -> tuple[StoredRecord, ...]:
        """Every readable record, oldest first: offsets `log_start_offset .. log_end_offset - 1`."""
        return tuple(
            StoredRecord(
                offset=batch.base_offset + index,
                timestamp=record.timestamp,
                key=record.key,
                value=record.value,
                headers=record.headers,
            )
            for batch in self.batches
            for index, record in enumerate(batch.records)
            if batch.base_offset + index >= self.log_start_offset
        )


def empty_log(log_start_offset: int = 0, *, high_watermark_follows_end: bool = True) -> LogState:
    """A log holding no records whose first record will get `log_start_offset` (LOG-2).

    A `log_start_offset` that is not an int in `0 .. 2**63 - 1` raises `InvalidArgument`. With
    `high_watermark_follows_end=False` the log is a replica with an explicit high watermark,
    starting at `log_start_offset` (HWM-3).

    raises: InvalidArgument
    post: __return__.log_start_offset == __return__.log_end_offset == log_start_offset
    post: __return__.batches == ()
    post: __return__.high_watermark == log_start_offset
    """
    start = _check_int("log_start_offset", log_start_offset)
    if not 0 <= start < OFFSET_LIMIT:
        raise InvalidArgument("log_start_offset", start, "an offset: 0 <= offset < 2**63")
    return LogState(
        log_start_offset=start,
        explicit_high_watermark=None if high_watermark_follows_end else start,
    )


# --- argument checks ------------------------------------------------------------------------------



def _check_limit(name: str, value: object) -> int | None:
    """Return the limit if it is absent or an int >= 1; raise `InvalidArgument` otherwise."""
    if value is None:
        return None
    if is_int(value) and value >= 1:
        return value
    raise InvalidArgument(name, value, "None or an int >= 1")


def _check_int(name: str, value: object) -> int:
    """Return `value` if it is an int (not a bool); raise `InvalidArgument` otherwise."""
    if is_int(value):
        return value
    raise InvalidArgument(name, value, "an int")


def _out_of_range(state: LogState, offset: int, valid: str) -> OffsetOutOfRange:
    return OffsetOutOfRange(
        offset,
        log_start_offset=state.log_start_offset,
        log_end_offset=state.log_end_offset,
        valid=valid,
    )


def _snapshot(record: Record) -> Record:
    # Headers may arrive as a list (attrs does not convert); store an immutable copy so that the
    # caller cannot change the log afterwards and reads return the type `StoredRecord` declares.
    return attrs.evolve(record, headers=tuple(record.headers))


# --- operations -----------------------------------------------------------------------------------


def append(state: LogState, records: Sequence[Record]) -> tuple[LogState, AppendResult]:
    """Append `records` as one batch at `log_end_offset` (LOG-2, LOG-3, LOG-4).

    Raises `EmptyBatch` for no records and `InvalidRecord` (naming the field) for a bad one, having
    checked every record before changing anything. A batch whose last offset would leave no valid
    `log_end_offset` (2**63 - 1 at most) raises `OffsetOutOfRange`.

    Then, if a follower append brought a newer epoch than `leader_epoch`, it raises
    `FencedLeaderEpoch` (EPOCH-2). The batch is stamped with `leader_epoch`, and the epoch cache
    learns it if it is new (EPOCH-4).

    raises: InvalidArgument, EmptyBatch, InvalidRecord, OffsetOutOfRange, FencedLeaderEpoch
    post: __return__[0].log_start_offset == state.log_start_offset
    post: __return__[0].log_end_offset == state.log_end_offset + len(records)
    post: __return__[1].base_offset == state.log_end_offset
    post: __return__[1].last_offset == __return__[0].log_end_offset - 1
    post: __return__[0].batches[:-1] == state.batches
    post: [r.record for r in __return__[0].readable()[-len(records) :]] == list(records)
    """
    batch = _as_tuple(records)
    if not batch:
        raise EmptyBatch()
    for record in batch:
        validate_record(record)
    _check_fits(state, len(batch))
    if state.latest_epoch > state.leader_epoch:
        raise FencedLeaderEpoch(
            state.leader_epoch,
            state.latest_epoch,
            "append: the log holds batches of a newer leader epoch",
        )
    base_offset, last_offset = assign_offsets(state.log_end_offset, len(batch))
    new_batch = Batch(
        base_offset=base_offset,
        records=tuple(_snapshot(r) for r in batch),
        partition_leader_epoch=state.leader_epoch,
    )
    return _with_batch(state, new_batch), AppendResult(base_offset, last_offset)


def append_encoded(
    state: LogState, batch: bytes | bytearray | memoryview
) -> tuple[LogState, AppendResult]:
    """Append one encoded batch at `log_end_offset`: `append` of its records, plus the idempotent
    producer checks of spec/idempotence.md after LOG-3, LOG-13 and EPOCH-2's (IDEM-2..7).

    A duplicate (IDEM-5) leaves the state as it was and answers the original offsets.

    raises: FlyQError
    post: __return__[1].duplicate or __return__[1].base_offset == state.log_end_offset
    post: not __return__[1].duplicate or __return__[0] == state
    """
    if not isinstance(batch, bytes | bytearray | memoryview):
        raise InvalidArgument("batch", batch, "the bytes of one encoded record batch")
    decoded = decode_batch(batch, source="appended batch")
    header = decoded.header
    if header.size != len(batch):
        raise InvalidRecord(f"appended batch is {len(batch)} bytes but its header says {header.size}")
    records = tuple(stored.record for stored in decoded.records)
    appended, result = append(state, records)
    if header.producer_id < 0:
        return appended, result
    duplicate = check_producer_batch(
        state.producers(),
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
        len(records),
        header.is_control,
    )
    if duplicate is not None:
        return state, AppendResult(duplicate[2], duplicate[3], duplicate=True)
    if header.is_control:
        return appended, result
    last = appended.batches[-1]
    stored = attrs.evolve(
        last,
        producer_id=header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        max_timestamp=header.max_timestamp,
    )
    return attrs.evolve(appended, batches=(*state.batches, stored)), result


def _check_fits(state: LogState, count: int) -> None:
    """LOG-13: the batch's last offset must leave a valid `log_end_offset`."""
    end = state.log_end_offset
    if not fits_in_offsets(end, count):
        raise _out_of_range(
            state, end + count - 1, "a batch's last offset must leave log_end_offset < 2**63"
        )


def _with_batch(state: LogState, batch: Batch) -> LogState:
    """`state` with `batch` appended and the epoch cache told of it (EPOCH-4)."""
    return attrs.evolve(
        state,
        batches=(*state.batches, batch),
        epochs=epochs_after_append(state.epochs, batch.partition_leader_epoch, batch.base_offset),
    )


def append_replicated(
    state: LogState, batch: bytes | bytearray | memoryview
) -> tuple[LogState, AppendResult]:
    """Append a leader's encoded batch keeping its base offset and epoch (FOLLOW-1, FOLLOW-2).

    raises: InvalidArgument, DecodeError, InvalidRecord, UnexpectedAppendOffset, OffsetOutOfRange
    post: __return__[0].log_end_offset == __return__[1].last_offset + 1
    post: __return__[1].base_offset == state.log_end_offset
    post: __return__[0].batches[:-1] == state.batches
    post: __return__[0].leader_epoch == state.leader_epoch
    """
    if not isinstance(batch, bytes | bytearray | memoryview):
        raise InvalidArgument("batch", batch, "the bytes of one encoded record batch")
    decoded = decode_batch(batch, source="replicated batch")
    header = decoded.header
    if header.size != len(batch):
        raise InvalidRecord(
            f"replicated batch is {len(batch)} bytes but its header says {header.size}"
        )
    records = tuple(stored.record for stored in decoded.records)
    for record in records:
        validate_record(record)
    if header.base_offset != state.log_end_offset:
        raise UnexpectedAppendOffset(header.base_offset, state.log_end_offset)
    _check_fits(state, len(records))
    epoch = header.partition_leader_epoch
    if epoch != NO_EPOCH and epoch < state.latest_epoch:
        raise InvalidRecord(
            f"replicated batch at {header.base_offset} has partitionLeaderEpoch {epoch}, below "
            f"the log's latest epoch {state.latest_epoch}"
        )
    if epoch < NO_EPOCH:
        raise InvalidRecord(f"replicated batch has partitionLeaderEpoch {epoch}")
    new_batch = Batch(
        base_offset=header.base_offset,
        records=records,
        partition_leader_epoch=epoch,
        producer_id=-1 if header.is_control else header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        max_timestamp=header.max_timestamp,
    )
    return _with_batch(state, new_batch), AppendResult(header.base_offset, new_batch.last_offset)


def _check_epoch(value: object) -> int:
    if is_int(value) and 0 <= value < EPOCH_LIMIT:
        return value
    raise InvalidArgument("epoch", value, "a leader epoch: 0 <= epoch < 2**31")


def become_leader(state: LogState, epoch: int) -> LogState:
    """Make `epoch` the epoch later appends are stamped with (EPOCH-1).

    raises: InvalidArgument, FencedLeaderEpoch
    post: __return__.leader_epoch == epoch
    post: __return__.batches == state.batches and __return__.epochs == state.epochs
    """
    epoch = _check_epoch(epoch)
    newest = max(state.leader_epoch, state.latest_epoch)
    if epoch < newest:
        raise FencedLeaderEpoch(epoch, newest, "become_leader: epochs never go back")
    return attrs.evolve(state, leader_epoch=epoch)


def end_offset_for_epoch(state: LogState, epoch: int) -> tuple[int, int]:
    """Kafka's OffsetsForLeaderEpoch answer for `epoch` (EPOCH-8).

    raises: InvalidArgument
    post: __return__ == (-1, -1) or __return__[1] in batch_boundaries(state)
    """
    epoch = _check_int("epoch", epoch)
    return _core_end_offset_for_epoch(state.epochs, state.log_end_offset, epoch)


def advance_high_watermark(state: LogState, offset: int) -> LogState:
    """Move a replica's high watermark up to `offset` (HWM-2, HWM-3).

    raises: InvalidArgument, OffsetOutOfRange
    post: __return__.high_watermark == offset
    post: __return__.batches == state.batches
    """
    offset = _check_int("offset", offset)
    current = state.explicit_high_watermark
    if current is None:
        raise InvalidArgument(
            "advance_high_watermark", offset, "a log opened with an explicit high watermark"
        )
    if not current <= offset <= state.log_end_offset:
        raise _out_of_range(
            state, offset, f"the high watermark moves from {current} up to log_end_offset at most"
        )
    return attrs.evolve(state, explicit_high_watermark=offset)


def reopen(state: LogState) -> LogState:
    """The state a log reopens in: `leader_epoch` is the latest cached epoch (EPOCH-11).

    post: __return__.leader_epoch == (state.epochs[-1][0] if state.epochs else -1)
    post: __return__.batches == state.batches and __return__.epochs == state.epochs
    """
    return attrs.evolve(state, leader_epoch=state.latest_epoch)


def _as_tuple(records: Iterable[Record]) -> tuple[Record, ...]:
    try:
        return tuple(records)
    except TypeError as exc:
        raise InvalidArgument("records", records, "a sequence of Record") from exc


def read(
    state: LogState,
    offset: int,
    max_records: int | None = None,
    max_bytes: int | None = None,
    up_to_high_watermark: bool = False,
) -> tuple[StoredRecord, ...]:
    """Records from `offset` upwards, oldest first, within the limits (LOG-5, LOG-6, LOG-9).

    Limits are checked before the log is looked at (`InvalidArgument`); then `offset` must satisfy
    `log_start_offset <= offset <= log_end_offset` (`OffsetOutOfRange`). With
    `up_to_high_watermark` only records below `high_watermark` are returned (HWM-5).

    raises: InvalidArgument, OffsetOutOfRange
    post: all(r.offset == offset + i for i, r in enumerate(__return__))
    post: offset + len(__return__) <= state.log_end_offset
    post: (len(__return__) >= 1) == (offset < state.log_end_offset)
    post: all(r == state.readable()[r.offset - state.log_start_offset] for r in __return__)
    post: max_records is None or len(__return__) <= max_records
    post: max_bytes is None or len(__return__) <= 1 or sum(_sizes(__return__)) <= max_bytes
    post: not up_to_high_watermark or all(r.offset < state.high_watermark for r in __return__)
    """
    limit_records = _check_limit("max_records", max_records)
    limit_bytes = _check_limit("max_bytes", max_bytes)
    offset = _check_int("offset", offset)
    if not state.log_start_offset <= offset <= state.log_end_offset:
        raise _out_of_range(state, offset, "read needs log_start_offset <= offset <= log_end_offset")
    if up_to_high_watermark:
        if offset >= state.high_watermark:
            return ()
        # The same read of the log cut at the high watermark (a cut at a batch boundary or not).
        visible = LogState(
            log_start_offset=state.log_start_offset,
            batches=_cut_batches(state.batches, state.high_watermark),
        )
        offset_in_view = min(offset, visible.log_end_offset)
        return _limited(visible, offset_in_view, False, limit_records, limit_bytes)
    return _limited(state, offset, False, limit_records, limit_bytes)


def _cut_batches(batches: tuple[Batch, ...], end: int) -> tuple[Batch, ...]:
    """The batches holding offsets below `end`, the last one cut short at `end`."""
    return tuple(
        attrs.evolve(batch, records=batch.records[: end - batch.base_offset])
        for batch in batches
        if batch.base_offset < end
    )


def read_backward(
    state: LogState,
    offset: int,
    max_records: int | None = None,
    max_bytes: int | None = None,
) -> tuple[StoredRecord, ...]:
    """Records from `offset` downwards, newest first, within the limits (LOG-7, LOG-9).

    Limits are checked first (`InvalidArgument`); then `offset` must satisfy
    `log_start_offset <= offset < log_end_offset` (`OffsetOutOfRange`, always on an empty log).

    raises: InvalidArgument, OffsetOutOfRange
    post: all(r.offset == offset - i for i, r in enumerate(__return__))
    post: offset - len(__return__) + 1 >= state.log_start_offset
    post: len(__return__) >= 1
    post: all(r == state.readable()[r.offset - state.log_start_offset] for r in __return__)
    post: max_records is None or len(__return__) <= max_records
    post: max_bytes is None or len(__return__) <= 1 or sum(_sizes(__return__)) <= max_bytes
    """
    limit_records = _check_limit("max_records", max_records)
    limit_bytes = _check_limit("max_bytes", max_bytes)
    offset = _check_int("offset", offset)
    if not state.log_start_offset <= offset < state.log_end_offset:
        raise _out_of_range(
            state, offset, "read_backward needs log_start_offset <= offset < log_end_offset"
        )
    return _limited(state, offset, True, limit_records, limit_bytes)


def _limited(
    state: LogState, offset: int, backward: bool, max_records: int | None, max_bytes: int | None
) -> tuple[StoredRecord, ...]:
    """The records a read from `offset` returns, its arguments already checked."""
    readable = state.readable()
    positions = read_positions(state.log_start_offset, state.log_end_offset, offset, backward)
    candidates = tuple(readable[p] for p in positions)
    return candidates[: read_count(_sizes(candidates), max_records, max_bytes)]


def _sizes(records: tuple[StoredRecord, ...]) -> tuple[int, ...]:
    """Payload sizes, the only thing `max_bytes` counts (LOG-9)."""
    return tuple(payload_size(r.key, r.value, r.headers) for r in records)


def offset_for_timestamp(state: LogState, timestamp: int) -> int | None:
    """The smallest readable offset whose record's timestamp is `>= timestamp`, or None (LOG-8).

    Any int is accepted: below every timestamp it finds the first readable record, above every one
    it finds none. A non-int raises `InvalidArgument`.

    raises: InvalidArgument
    post: __return__ is None or state.log_start_offset <= __return__ < state.log_end_offset
    post: __return__ == next((r.offset for r in state.readable() if r.timestamp >= timestamp), None)
    """
    timestamp = _check_int("timestamp", timestamp)
    readable = state.readable()
    index = first_at_or_after(tuple(r.timestamp for r in readable), timestamp)
    return None if index is None else state.log_start_offset + index


def batch_boundaries(state: LogState) -> tuple[int, ...]:
    """The offsets `truncate` accepts, ascending (LOG-10).

    They are `log_start_offset`, `log_end_offset` and the `base_offset` of each batch that starts at
    or above `log_start_offset`.

    post: __return__[0] == state.log_start_offset
    post: __return__[-1] == state.log_end_offset
    post: list(__return__) == sorted(set(__return__))
    post: all(b.base_offset in __return__ for b in state.batches[1:])
    """
    return truncation_points(
        state.log_start_offset,
        state.log_end_offset,
        tuple(batch.base_offset for batch in state.batches),
    )


def truncate(state: LogState, offset: int) -> LogState:
    """Remove every record at or above `offset` (LOG-10).

    Raises `OffsetOutOfRange` unless `log_start_offset <= offset <= log_end_offset`, then
    `InvalidOffset` unless `offset` is one of `batch_boundaries(state)`. Truncating to
    `log_start_offset` empties the log and keeps `log_start_offset`.

    raises: InvalidArgument, OffsetOutOfRange, InvalidOffset
    post: __return__.log_end_offset == offset
    post: __return__.log_start_offset == state.log_start_offset
    post: __return__.batches == state.batches[: len(__return__.batches)]
    post: __return__.readable() == state.readable()[: offset - state.log_start_offset]
    post: all(e[1] < offset for e in __return__.epochs)
    post: __return__.high_watermark == min(state.high_watermark, offset)
    """
    offset = _check_int("offset", offset)
    if not state.log_start_offset <= offset <= state.log_end_offset:
        raise _out_of_range(
            state, offset, "truncate needs log_start_offset <= offset <= log_end_offset"
        )
    if offset not in batch_boundaries(state):
        raise InvalidOffset(
            offset,
            "truncate needs a batch boundary: log_start_offset, log_end_offset or a batch's "
            "base_offset",
        )
    kept = kept_batch_count(
        state.log_start_offset,
        tuple(batch.base_offset for batch in state.batches),
        state.log_end_offset,
        offset,
    )
    hwm = state.explicit_high_watermark
    return attrs.evolve(
        state,
        batches=state.batches[:kept],
        epochs=epochs_truncated(state.epochs, offset),
        explicit_high_watermark=None if hwm is None else min(hwm, offset),
    )


def delete_records_below(state: LogState, offset: int) -> LogState:
    """Make `offset` the new `log_start_offset` if it is above the current one (LOG-11).

    Raises `OffsetOutOfRange` if `offset` is negative or above `log_end_offset`, or above the
    high watermark (HWM-4; on a single node that is `log_end_offset`). `offset` need not be a batch
    boundary; `log_end_offset` does not change. The epoch cache is cut from the start (EPOCH-6).

    raises: InvalidArgument, OffsetOutOfRange
    post: __return__.log_start_offset == max(state.log_start_offset, offset)
    post: __return__.log_end_offset == state.log_end_offset
    post: __return__.readable() == tuple(r for r in state.readable() if r.offset >= offset)
    """
    offset = _check_int("offset", offset)
    if not 0 <= offset <= state.log_end_offset:
        raise _out_of_range(state, offset, "delete_records_below needs 0 <= offset <= log_end_offset")
    if offset > state.high_watermark:
        raise _out_of_range(
            state, offset, f"delete_records_below needs offset <= high_watermark {state.high_watermark}"
        )
    if offset <= state.log_start_offset:
        return state
    first_live = live_batch_start(tuple(batch.next_offset for batch in state.batches), offset)
    return attrs.evolve(
        state,
        log_start_offset=offset,
        batches=state.batches[first_live:],
        epochs=epochs_from_start(state.epochs, offset, state.log_end_offset),
    )
