"""The idempotent-producer table of one partition log, kept incrementally (spec/idempotence.md).

Pure: no I/O. `PartitionLog` asks `check(header)` before writing an idempotent batch (IDEM-2..6),
calls `record(header)` after writing one (IDEM-8), `drop_below(log_start_offset)` when the log
start moves (IDEM-9), and writes and loads `snapshot()` / `from_snapshot()` (IDEM-10, IDEM-11).
Truncation has no incremental form (5 cached entries cannot be un-appended): the log rebuilds the
table from a snapshot and the batch headers (IDEM-12). The model computes the same table as a
fold over its batches (`flyq.model._producers`); the lockstep machine checks they agree.
"""

from __future__ import annotations

from collections import deque

import attrs

from flyq.codec.producer_snapshot import (
    SnapshotEntries,
    decode_producer_snapshot,
    encode_producer_snapshot,
)
from flyq.codec.record_batch import BatchHeader
from flyq.errors import InvalidProducerEpoch, InvalidRecord, OutOfOrderSequence

__all__ = [
    "APPEND",
    "CACHED_BATCHES",
    "SEQUENCE_LIMIT",
    "Append",
    "BatchMetadata",
    "Duplicate",
    "ProducerStateTable",
    "last_sequence",
]

SEQUENCE_LIMIT = 1 << 31
CACHED_BATCHES = 5


def last_sequence(base_sequence: int, records_count: int) -> int:
    """Sequence of a batch's last record: int32 wrap-around, 0 follows 2**31 - 1."""
    return (base_sequence + records_count - 1) % SEQUENCE_LIMIT


@attrs.frozen
class BatchMetadata:
    """One cached batch of a producer (IDEM-1)."""

    first_seq: int
    last_seq: int
    base_offset: int
    last_offset: int
    timestamp: int


@attrs.frozen
class Duplicate:
    """The batch repeats a cached one: answer its offsets, write nothing (IDEM-5)."""

    base_offset: int
    last_offset: int
    timestamp: int


@attrs.frozen
class Append:
    """The batch is new and in order: write it, then `record` it."""


APPEND = Append()


@attrs.define
class _Producer:
    epoch: int
    batches: deque[BatchMetadata]


class ProducerStateTable:
    """producer_id -> (epoch, last 5 batches of that epoch)."""

    def __init__(self) -> None:
        self._producers: dict[int, _Producer] = {}

    def __len__(self) -> int:
        return len(self._producers)

    def check(self, header: BatchHeader) -> Duplicate | Append:
        """What appending `header`'s batch (producer_id >= 0) means (IDEM-2..6): a control batch
        is not checked, a transactional one is checked as any idempotent batch; raises
        `InvalidRecord`, `InvalidProducerEpoch` or `OutOfOrderSequence` to refuse it."""
        producer_id, epoch, first = header.producer_id, header.producer_epoch, header.base_sequence
        if header.is_control:
            return APPEND
        if epoch < 0 or first < 0:
            raise InvalidRecord(
                f"producer {producer_id}: an idempotent batch needs producerEpoch >= 0 and "
                f"baseSequence >= 0, got {epoch} and {first} (IDEM-2)")
        known = self._producers.get(producer_id)
        if known is not None and known.epoch > epoch:
            raise InvalidProducerEpoch(producer_id, epoch, known.epoch)
        if known is None or known.epoch < epoch:
            if first != 0:
                raise OutOfOrderSequence(producer_id, epoch, first, None)
            return APPEND
        last = last_sequence(first, header.records_count)
        for cached in known.batches:
            if cached.first_seq == first and cached.last_seq == last:
                return Duplicate(cached.base_offset, cached.last_offset, cached.timestamp)
        expected = (known.batches[-1].last_seq + 1) % SEQUENCE_LIMIT
        if first != expected:
            raise OutOfOrderSequence(producer_id, epoch, first, expected)
        return APPEND

    def record(self, header: BatchHeader) -> None:
        """Remember a written batch (IDEM-8); batches without a valid epoch or sequence leave no
        state."""
        epoch, first = header.producer_epoch, header.base_sequence
        if header.producer_id < 0 or epoch < 0 or first < 0 or header.is_control:
            return
        entry = BatchMetadata(first, last_sequence(first, header.records_count),
                              header.base_offset, header.last_offset, header.max_timestamp)
        known = self._producers.get(header.producer_id)
        if known is None or known.epoch != epoch:
            self._producers[header.producer_id] = _Producer(
                epoch, deque((entry,), maxlen=CACHED_BATCHES))
        else:
            known.batches.append(entry)

    def drop_below(self, log_start_offset: int) -> None:
        """Forget entries whose batch ends below `log_start_offset`, and producers left with none
        (IDEM-9)."""
        for producer_id in list(self._producers):
            batches = self._producers[producer_id].batches
            while batches and batches[0].last_offset < log_start_offset:
                batches.popleft()
            if not batches:
                del self._producers[producer_id]

    def clear(self) -> None:
        """Forget every producer."""
        self._producers.clear()

    def entries(self) -> SnapshotEntries:
        """The table as plain tuples, ascending producer id (`LogInterface.producer_entries`)."""
        return tuple(
            (producer_id, producer.epoch, tuple(
                (b.first_seq, b.last_seq, b.base_offset, b.last_offset, b.timestamp)
                for b in producer.batches))
            for producer_id, producer in sorted(self._producers.items())
        )

    def snapshot(self, offset: int) -> bytes:
        """The snapshot file's bytes for the table describing the log up to `offset` (IDEM-10)."""
        return encode_producer_snapshot(offset, self.entries())

    @classmethod
    def from_snapshot(cls, data: bytes, *, source: str) -> tuple[int, ProducerStateTable]:
        """`(offset, table)` of a snapshot file; `CorruptCheckpoint` if it is damaged."""
        offset, producers = decode_producer_snapshot(data, source=source)
        table = cls()
        for producer_id, epoch, entries in producers:
            table._producers[producer_id] = _Producer(
                epoch, deque((BatchMetadata(*entry) for entry in entries), maxlen=CACHED_BATCHES))
        return offset, table
