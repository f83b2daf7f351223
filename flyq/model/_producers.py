"""Idempotent producers as a fold over batches (spec/idempotence.md), over plain ints and tuples.

The model never keeps a producer table of its own: the table is always recomputed from the
batches the log holds (IDEM-1), so truncation, prefix deletion and reopening need no rule here at
all. `flyq.impl.producer_state` keeps the same table incrementally; the lockstep machine checks
that the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from flyq.errors import InvalidProducerEpoch, InvalidRecord, OutOfOrderSequence

__all__ = [
    "CACHED_BATCHES",
    "SEQUENCE_LIMIT",
    "BatchEntry",
    "ProducerBatch",
    "ProducerTable",
    "check_producer_batch",
    "last_sequence",
    "producer_table",
]

# Sequences are non-negative i32 values that wrap to 0 after 2**31 - 1 (IDEM values).
SEQUENCE_LIMIT = 1 << 31
# How many of a producer's newest batches are remembered for duplicate detection (IDEM-1).
CACHED_BATCHES = 5

# (first_seq, last_seq, base_offset, last_offset, timestamp)
BatchEntry = tuple[int, int, int, int, int]
# (producer_id, producer_epoch, first_seq, last_seq, base_offset, last_offset, timestamp)
ProducerBatch = tuple[int, int, int, int, int, int, int]
# ((producer_id, epoch, entries oldest first), ...) ascending producer id
ProducerTable = tuple[tuple[int, int, tuple[BatchEntry, ...]], ...]


def last_sequence(base_sequence: int, count: int) -> int:
    """The sequence of a batch's last record, wrapping after 2**31 - 1.

    pre: 0 <= base_sequence < SEQUENCE_LIMIT
    pre: count >= 1
    post: 0 <= __return__ < SEQUENCE_LIMIT
    post: (__return__ - base_sequence) % SEQUENCE_LIMIT == (count - 1) % SEQUENCE_LIMIT
    """
    return (base_sequence + count - 1) % SEQUENCE_LIMIT


def producer_table(batches: Iterable[ProducerBatch], log_start_offset: int) -> ProducerTable:
    """The table after recording `batches` in order, keeping what reaches `log_start_offset`
    (IDEM-1, IDEM-8, IDEM-9). Batches with a negative id, epoch or sequence leave no state."""
    table: dict[int, tuple[int, tuple[BatchEntry, ...]]] = {}
    for producer_id, epoch, first, last, base, last_offset, timestamp in batches:
        if producer_id < 0 or epoch < 0 or first < 0 or last_offset < log_start_offset:
            continue
        entry = (first, last, base, last_offset, timestamp)
        known = table.get(producer_id)
        if known is None or known[0] != epoch:
            table[producer_id] = (epoch, (entry,))
        else:
            table[producer_id] = (epoch, (*known[1], entry)[-CACHED_BATCHES:])
    return tuple((pid, epoch, entries) for pid, (epoch, entries) in sorted(table.items()))


def check_producer_batch(
    table: ProducerTable,
    producer_id: int,
    producer_epoch: int,
    base_sequence: int,
    count: int,
    control: bool,
) -> BatchEntry | None:
    """What IDEM-2..6 answer for an idempotent batch (`producer_id >= 0`): None to append it, the
    cached entry it duplicates, or an error. A control batch is not checked (IDEM-2).

    raises: InvalidRecord, InvalidProducerEpoch, OutOfOrderSequence
    """
    if control:
        return None
    if producer_epoch < 0 or base_sequence < 0:
        raise InvalidRecord(
            f"producer {producer_id}: an idempotent batch needs producerEpoch >= 0 and "
            f"baseSequence >= 0, got {producer_epoch} and {base_sequence} (IDEM-2)")
    first, last = base_sequence, last_sequence(base_sequence, count)
    known = next(((epoch, entries) for pid, epoch, entries in table if pid == producer_id), None)
    if known is not None and known[0] > producer_epoch:
        raise InvalidProducerEpoch(producer_id, producer_epoch, known[0])
    if known is None or known[0] < producer_epoch:
        if first != 0:
            raise OutOfOrderSequence(producer_id, producer_epoch, first, None)
        return None
    entries = known[1]
    for entry in entries:
        if entry[0] == first and entry[1] == last:
            return entry
    expected = (entries[-1][1] + 1) % SEQUENCE_LIMIT
    if first != expected:
        raise OutOfOrderSequence(producer_id, producer_epoch, first, expected)
    return None
