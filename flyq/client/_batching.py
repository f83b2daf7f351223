"""The producer's pure core: where a record goes and when its batch is sent (spec/client.md
CLIENT-6..8). No I/O, no clock (time is an argument, in seconds), randomness injected.

- `Partitioner`: an explicit partition wins; a key goes where Kafka's Java client puts it
  (`flyq.codec.partition.partition_for_key`); null keys stick to one partition per topic until
  the batch they were filling there is closed, then move to another (KIP-480).
- `RecordAccumulator`: one open batch per partition, closed when the next record would take it
  past `batch_size` bytes; a batch is ready when closed, when `linger` seconds passed since its
  first record, or when flushing. Ready batches leave partition by partition, oldest first.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

import attrs

from flyq.codec.partition import check_partitions, partition_for_key
from flyq.codec.record_batch import BATCH_HEADER_SIZE
from flyq.errors import InvalidArgument
from flyq.records import Record

__all__ = ["ProducerBatch", "Partitioner", "RecordAccumulator", "RecordMetadata", "record_size"]

T = TypeVar("T")
TopicPartition = tuple[str, int]
# A record's attributes byte, and its timestamp and offset deltas taken as 3 bytes each: a
# zigzag varint of 3 bytes holds any delta below 2^20 (ms, records), far past what one batch
# spans unless its records carry their own timestamps.
_RECORD_FIXED = 1 + 3 + 3


@attrs.frozen
class RecordMetadata:
    """Where a record was stored: its offset (-1 with acks=0, which learns none) and timestamp
    (the record's own, or the broker's LogAppendTime stamp)."""

    topic: str
    partition: int
    offset: int
    timestamp: int


def _length_size(length: int) -> int:
    """Bytes of the zigzag varint of a length >= 0 (2 * length)."""
    if length < 64:
        return 1
    if length < 8192:
        return 2
    return 3 if length < 1 << 20 else (4 if length < 1 << 27 else 5)


def record_size(record: Record) -> int:
    """The bytes `record` adds to an uncompressed batch: exact for its key, value, headers and
    their lengths, the two deltas bounded (`_RECORD_FIXED`), so an upper bound within 5 bytes."""
    key, value = record.key, record.value
    size = _RECORD_FIXED
    size += 1 if key is None else len(key) + _length_size(len(key))
    size += 1 if value is None else len(value) + _length_size(len(value))
    size += _length_size(len(record.headers))
    for name, header_value in record.headers:
        encoded = len(name.encode("utf-8"))
        size += encoded + _length_size(encoded)
        size += 1 if header_value is None else len(header_value) + _length_size(
            len(header_value))
    return size + _length_size(size)


class Partitioner:
    """The partition of each record; one sticky partition per topic for null keys."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._sticky: dict[str, int] = {}

    def partition(self, topic: str, key: bytes | None, partitions: int,
                  explicit: int | None = None) -> int:
        """`explicit` if given (`InvalidArgument` outside 0..partitions-1), else the key's
        murmur2 partition, else the topic's sticky partition."""
        if type(partitions) is not int or partitions < 1:  # the common case skips the call
            check_partitions(partitions)
        if explicit is not None:
            if not 0 <= explicit < partitions:
                raise InvalidArgument("partition", explicit, f"0..{partitions - 1}")
            return explicit
        if key is not None:
            return partition_for_key(key, partitions)
        sticky = self._sticky.get(topic)
        if sticky is None or sticky >= partitions:
            sticky = self._sticky[topic] = self._rng.randrange(partitions)
        return sticky

    def batch_closed(self, topic: str, partition: int, partitions: int) -> None:
        """The batch at `partition` was closed: if null keys were sticking to it, they move to
        another partition (a different one when there are several)."""
        if self._sticky.get(topic) != partition:
            return
        if partitions > 1:
            choice = self._rng.randrange(partitions - 1)
            self._sticky[topic] = choice if choice < partition else choice + 1


@attrs.define
class ProducerBatch(Generic[T]):
    """Records bound for one partition, each with its caller's token (a future). Once sent,
    `base_sequence` and `encoded` are fixed: a retry sends the same bytes (CLIENT-9)."""

    topic: str
    partition: int
    created: float
    records: list[Record] = attrs.field(factory=list)
    tokens: list[T] = attrs.field(factory=list)
    size: int = BATCH_HEADER_SIZE
    closed: bool = False
    attempts: int = 0
    retry_at: float = 0.0
    base_sequence: int = -1
    encoded: bytes | None = None

    @property
    def key(self) -> TopicPartition:
        """The batch's (topic, partition)."""
        return (self.topic, self.partition)


class RecordAccumulator(Generic[T]):
    """Open and closed batches per partition, in order; `ready` hands out the ones to send."""

    def __init__(self, batch_size: int, linger: float) -> None:
        if batch_size < 1:
            raise InvalidArgument("batch_size", batch_size, "an integer >= 1")
        if linger < 0:
            raise InvalidArgument("linger", linger, ">= 0")
        self.batch_size = batch_size
        self.linger = linger
        self._queues: dict[TopicPartition, deque[ProducerBatch[T]]] = {}
        self._flushing = False
        # The estimated bytes of the waiting batches (not those handed out by `ready`): what a
        # producer's buffer limit is checked against.
        self.waiting_bytes = 0

    def append(self, topic: str, partition: int, record: Record, token: T,
               now: float) -> bool:
        """Add `record` to the partition's open batch; True if that closed the batch before it
        (the record did not fit, so it opened a new one) or if the record filled its batch."""
        queue = self._queues.get((topic, partition))
        if queue is None:
            queue = self._queues[(topic, partition)] = deque()
        size = record_size(record)
        closed_one = False
        batch = queue[-1] if queue and not queue[-1].closed else None
        if batch is not None and batch.records and batch.size + size > self.batch_size:
            batch.closed = closed_one = True
            batch = None
        if batch is None:
            batch = ProducerBatch(topic, partition, now)
            queue.append(batch)
            self.waiting_bytes += batch.size
        batch.records.append(record)
        batch.tokens.append(token)
        batch.size += size
        self.waiting_bytes += size
        if batch.size >= self.batch_size:
            batch.closed = closed_one = True
        return closed_one

    def requeue(self, batch: ProducerBatch[T]) -> None:
        """Put a sent batch back at the head of its partition, to be sent again (in order)."""
        batch.closed = True
        self._queues.setdefault(batch.key, deque()).appendleft(batch)
        self.waiting_bytes += batch.size

    def flush(self) -> None:
        """Make every batch ready now, until `flush_done`."""
        self._flushing = True

    def flush_done(self) -> None:
        """Back to lingering."""
        self._flushing = False

    def _is_ready(self, batch: ProducerBatch[T], now: float) -> bool:
        if batch.attempts:
            return now >= batch.retry_at
        return batch.closed or self._flushing or now >= batch.created + self.linger

    def ready(self, now: float, busy: frozenset[TopicPartition] | set[TopicPartition]
              ) -> list[ProducerBatch[T]]:
        """The first batch of each partition not in `busy` that is ready, taken out; each is
        closed (later records open a new batch)."""
        taken = []
        for key, queue in self._queues.items():
            if queue and key not in busy and self._is_ready(queue[0], now):
                batch = queue.popleft()
                batch.closed = True
                taken.append(batch)
                self.waiting_bytes -= batch.size
        for key in [key for key, queue in self._queues.items() if not queue]:
            del self._queues[key]
        return taken

    def next_ready_time(self, busy: frozenset[TopicPartition] | set[TopicPartition]
                        ) -> float | None:
        """The earliest time a batch of a partition not in `busy` becomes ready (None: none)."""
        times = [queue[0].retry_at if queue[0].attempts
                 else (queue[0].created if queue[0].closed or self._flushing
                       else queue[0].created + self.linger)
                 for key, queue in self._queues.items() if queue and key not in busy]
        return min(times, default=None)

    def __len__(self) -> int:
        """Batches waiting (not in flight)."""
        return sum(len(queue) for queue in self._queues.values())

    def take_created_before(self, deadline: float) -> list[ProducerBatch[T]]:
        """Every waiting batch opened before `deadline`, taken out (expired ones, to fail)."""
        taken = []
        for key, queue in list(self._queues.items()):
            kept = deque(batch for batch in queue if batch.created >= deadline)
            taken += [batch for batch in queue if batch.created < deadline]
            self.waiting_bytes -= sum(batch.size for batch in queue if batch.created < deadline)
            if kept:
                self._queues[key] = kept
            else:
                del self._queues[key]
        return taken

    def batches(self) -> Iterator[ProducerBatch[T]]:
        """Every waiting batch."""
        for queue in self._queues.values():
            yield from queue

    def clear(self) -> None:
        """Drop every waiting batch (their tokens are the caller's to settle)."""
        self._queues.clear()
        self.waiting_bytes = 0
