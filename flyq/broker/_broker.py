"""The synchronous Broker: one object owning a data directory (spec/broker.md).

Operations are shaped after Kafka's APIs (CreateTopics, Produce, Fetch, ListOffsets, OffsetCommit,
OffsetFetch, DescribeGroups, ...) and return `attrs.frozen` results. Every error is a `FlyQError`
naming the topic and partition it concerns.

Threads: the registry of open logs is guarded by one lock; each partition log itself is not
thread-safe, so one caller at a time may use a partition (`AsyncBroker` runs every call for a
partition on that partition's one executor thread, BRK-2).
"""

from __future__ import annotations

import base64
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

import attrs

from flyq.broker import layout
from flyq.broker._producer_ids import ProducerIdAllocator
from flyq.broker._schedule import Duty, PartitionClock, ScheduleSettings, plan_duties
from flyq.clock import wall_clock_ms
from flyq.codec.offsets import CommittedOffset, validate_commit, validate_key
from flyq.errors import (
    CorruptCheckpoint,
    EmptyBatch,
    FlyQError,
    InvalidArgument,
    InvalidConfig,
    InvalidPartition,
    LogClosed,
    OffsetOutOfRange,
    UnknownGroup,
    UnknownTopic,
    UnknownTopicId,
)
from flyq.impl.broker_config import load_broker_config
from flyq.impl.checkpoint_file import read_whole_file, replace_file
from flyq.impl.config import LogConfig
from flyq.impl.filelayer import FileLayer, OsFileLayer
from flyq.impl.groups import OffsetStore
from flyq.impl.log import PartitionHealth, PartitionLog, RetentionResult
from flyq.impl.partitioner import RoundRobinPartitioner, partition_for_key
from flyq.impl.topic import PartitionDescription, TopicDescription, TopicMetadata, TopicStore
from flyq.records import Record, StoredRecord, validate_record
from flyq.values import is_int

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_BATCH_RECORDS",
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "MAX_TIMESTAMP",
    "Broker",
    "DataDirectoryNotFound",
    "FetchResult",
    "GroupPartitionLag",
    "ListOffsetsResult",
    "NoCommittedOffset",
    "OffsetChange",
    "PartitionRetention",
    "PartitionStatus",
    "ProduceResult",
    "ReadSpan",
    "ResetPolicy",
    "ResetTarget",
]

# Kafka's ListOffsets sentinel timestamps.
MAX_TIMESTAMP = -3
EARLIEST_TIMESTAMP = -2
LATEST_TIMESTAMP = -1
# `produce_stream` batching: most records and most payload bytes per appended batch.
DEFAULT_BATCH_RECORDS = 1000
DEFAULT_BATCH_BYTES = 1 << 20
# Most records fetched per read call while reading a span: bounds memory, not output.
_READ_CHUNK_RECORDS = 1000
_CLUSTER_ID = re.compile(rb"[A-Za-z0-9_-]{22}")
_CONFIG_FIELDS = tuple(field.name for field in attrs.fields(LogConfig))

ResetPolicy = Literal["earliest", "latest", "error"]


class DataDirectoryNotFound(InvalidArgument):
    """The data directory does not exist and the Broker was not asked to create it."""

    def __init__(self, data_dir: str) -> None:
        FlyQError.__init__(
            self,
            f"data directory {data_dir!r} does not exist (check --data-dir / FLYQ_DATA_DIR; "
            "`flyq topic create` creates it)",
        )
        self.name = "data_dir"
        self.value = data_dir


class NoCommittedOffset(FlyQError):
    """A group has no committed offset for a partition and the reset policy is `error`."""

    def __init__(self, group: str, topic: str, partition: int, valid: str) -> None:
        super().__init__(
            f"group {group!r} has no committed offset for {topic}-{partition} and the reset "
            f"policy is error; {valid}"
        )
        self.group = group
        self.topic = topic
        self.partition = partition


# --- results --------------------------------------------------------------------------------------


@attrs.frozen
class ProduceResult:
    """Where one appended batch landed (a Produce response partition)."""

    topic: str
    partition: int
    base_offset: int
    last_offset: int
    log_start_offset: int
    # Kafka's log_append_time_ms: the stamp of a LogAppendTime topic, else -1 (IDEM-7).
    log_append_time: int = -1
    # An idempotent producer's retry: nothing was written, the offsets are the original's (IDEM-5).
    duplicate: bool = False

    @property
    def record_count(self) -> int:
        """Records in the batch."""
        return self.last_offset - self.base_offset + 1


@attrs.frozen
class FetchResult:
    """Raw stored batches from one partition (a Fetch response partition)."""

    topic: str
    partition: int
    records: bytes | memoryview  # as read from the segment, never copied again
    high_watermark: int
    log_start_offset: int
    log_end_offset: int


@attrs.frozen
class ListOffsetsResult:
    """A ListOffsets answer: the offset found (None: no record at or after the timestamp) and
    that record's timestamp (None for EARLIEST/LATEST or when nothing was found)."""

    topic: str
    partition: int
    offset: int | None
    timestamp: int | None


@attrs.frozen
class ReadSpan:
    """Which records of one partition a decoded read returns: from `start`, in one direction,
    at most `limit` (None: to the end of the log)."""

    start: int
    backward: bool
    limit: int | None = None


@attrs.frozen
class GroupPartitionLag:
    """One partition a group committed: its committed offset, the log's offsets and the lag.

    The log fields are None for a topic or partition that no longer exists.
    """

    topic: str
    partition: int
    committed_offset: int
    log_start_offset: int | None
    log_end_offset: int | None
    high_watermark: int | None
    lag: int | None


@attrs.frozen
class ResetTarget:
    """Where `reset_offsets` moves a group: exactly one of the four is set."""

    to_offset: int | None = None
    to_earliest: bool = False
    to_latest: bool = False
    to_timestamp: int | None = None

    @classmethod
    def choose(cls, *, to_offset: int | None = None, to_earliest: bool = False,
               to_latest: bool = False, to_timestamp: int | None = None) -> ResetTarget:
        """The target; `InvalidArgument` unless exactly one is given."""
        chosen = [to_offset is not None, to_earliest, to_latest, to_timestamp is not None]
        if sum(chosen) != 1:
            raise InvalidArgument("target", chosen, "exactly one of to_offset, to_earliest, "
                                  "to_latest, to_timestamp")
        return cls(to_offset, to_earliest, to_latest, to_timestamp)


@attrs.frozen
class OffsetChange:
    """A committed offset `reset_offsets` moved: before (None: none) and after."""

    topic: str
    partition: int
    old_offset: int | None
    new_offset: int


@attrs.frozen
class PartitionRetention:
    """What one retention run did to one partition."""

    topic: str
    partition: int
    result: RetentionResult


@attrs.frozen
class PartitionStatus:
    """One partition's health snapshot."""

    topic: str
    partition: int
    health: PartitionHealth


@attrs.define
class _Partition:
    """An open partition log and the scheduler's clocks for it."""

    log: PartitionLog
    last_retention_ms: int
    unflushed_since_ms: int | None = None


def _config_with(base: LogConfig, changes: Mapping[str, int | str | None]) -> LogConfig:
    """`base` with `changes`; `InvalidConfig` for an unknown key or a value breaking a rule."""
    for key, value in changes.items():
        if key not in _CONFIG_FIELDS:
            raise InvalidConfig(
                key, value, f"unknown key; expected one of {', '.join(_CONFIG_FIELDS)}"
            )
    values: dict[str, Any] = attrs.asdict(base)
    values.update(changes)
    return LogConfig(**values)


class Broker:
    """The topics, partition logs and consumer-group offsets of one data directory."""

    def __init__(
        self,
        data_dir: str,
        *,
        config_path: str | None,
        clock: Callable[[], int],
        file_layer: FileLayer,
        schedule: ScheduleSettings,
    ) -> None:
        """Use `Broker.open`."""
        self.data_dir = data_dir
        self.schedule = schedule
        self._config_path = config_path
        self._clock = clock
        self._layer = file_layer
        self._topics = TopicStore(data_dir, file_layer=file_layer, clock=clock)
        self._registry_lock = threading.RLock()
        self._metadata: dict[str, TopicMetadata] = {}
        self._partitions: dict[tuple[str, int], _Partition] = {}
        self._offsets: OffsetStore | None = None
        self._round_robin = RoundRobinPartitioner()
        self._round_robin_started: set[str] = set()
        self._closed = False
        self._producer_ids: ProducerIdAllocator | None = None

    @classmethod
    def open(
        cls,
        data_dir: str,
        *,
        config_path: str | None = None,
        clock: Callable[[], int] | None = None,
        create: bool = False,
        file_layer: FileLayer | None = None,
        schedule: ScheduleSettings | None = None,
    ) -> Broker:
        """Open the broker of `data_dir` (BRK-1).

        A missing `data_dir` raises `DataDirectoryNotFound` naming it, unless `create` (then it is
        made, durably). `config_path` names the broker config file (else `DATA_DIR/flyq.toml` if
        present); it is read when a topic is created. `clock` returns milliseconds (wall clock by
        default) and is handed to every partition log and the offset store. Partition logs and the
        offset store open on first use and stay open until `close`.
        """
        layer = file_layer if file_layer is not None else OsFileLayer()
        if not layer.exists(data_dir):
            if not create:
                raise DataDirectoryNotFound(data_dir)
            layer.make_dirs(data_dir)
            layer.fsync_dir(_parent(data_dir))
        return cls(
            data_dir,
            config_path=config_path,
            clock=clock if clock is not None else wall_clock_ms,
            file_layer=layer,
            schedule=schedule if schedule is not None else ScheduleSettings(),
        )

    def now_ms(self) -> int:
        """The broker's clock, in milliseconds."""
        return self._clock()

    # --- lifecycle ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosed(f"the broker of {self.data_dir} is closed")

    def flush(self) -> None:
        """Make every record appended and every offset committed so far durable."""
        with self._registry_lock:
            partitions = list(self._partitions)
            offsets = self._offsets
        for topic, partition in partitions:
            self.flush_partition(topic, partition)
        if offsets is not None:
            offsets.flush()

    def close(self) -> None:
        """Close every open partition log (clean shutdown) and the offset store. Idempotent;
        closes the rest if one fails, then raises the first failure."""
        with self._registry_lock:
            if self._closed:
                return
            self._closed = True
            partitions, self._partitions = list(self._partitions.values()), {}
            offsets, self._offsets = self._offsets, None
        failure: BaseException | None = None
        for state in partitions:
            try:
                state.log.close()
            except BaseException as exc:  # noqa: BLE001 - close the others, then re-raise
                failure = failure or exc
        if offsets is not None:
            try:
                offsets.close()
            except BaseException as exc:  # noqa: BLE001
                failure = failure or exc
        if failure is not None:
            raise failure

    def __enter__(self) -> Broker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- the registry -------------------------------------------------------------------------

    def metadata(self, topic: str) -> TopicMetadata:
        """Topic `topic`'s metadata; `UnknownTopic` if it does not exist."""
        self._check_open()
        with self._registry_lock:
            metadata = self._metadata.get(topic)
            if metadata is None:
                metadata = self._topics.metadata(topic)
                self._metadata[topic] = metadata
            return metadata

    def _partition(self, topic: str, partition: int) -> _Partition:
        self.check_partition(topic, partition)
        metadata = self.metadata(topic)
        key = (topic, partition)
        with self._registry_lock:
            self._check_open()
            state = self._partitions.get(key)
            if state is None:
                log = PartitionLog.open(
                    layout.partition_directory(self.data_dir, topic, partition),
                    metadata.config,
                    file_layer=self._layer,
                    clock=self._clock,
                    topic=topic,
                    partition=partition,
                )
                state = _Partition(log, last_retention_ms=self._clock())
                self._partitions[key] = state
            return state

    def check_partition(self, topic: str, partition: int) -> None:
        """Raise `UnknownTopic`, `InvalidTopicName` or `InvalidPartition` unless `topic`-`partition`
        exists. No I/O once the topic's metadata is cached."""
        metadata = self.metadata(topic)
        if not is_int(partition):
            raise InvalidArgument("partition", partition, f"an integer partition of {topic!r}")
        if not 0 <= partition < metadata.partitions:
            raise InvalidPartition(topic, partition, metadata.partitions)

    def is_cached(self, topic: str) -> bool:
        """Whether `topic`'s metadata is in memory, so `check_partition` does no I/O."""
        return topic in self._metadata

    def release_partition(self, topic: str, partition: int) -> None:
        """Close `topic`-`partition`'s log if it is open; the next use reopens it."""
        with self._registry_lock:
            state = self._partitions.pop((topic, partition), None)
        if state is not None:
            state.log.close()

    def log(self, topic: str, partition: int) -> PartitionLog:
        """The open log of `topic`-`partition` (opened on first use, BRK-2)."""
        return self._partition(topic, partition).log

    def _forget_topic(self, topic: str) -> None:
        """Close and drop `topic`'s open logs and cached metadata."""
        with self._registry_lock:
            self._metadata.pop(topic, None)
            self._round_robin_started.discard(topic)
            doomed = [key for key in self._partitions if key[0] == topic]
            states = [self._partitions.pop(key) for key in doomed]
        for state in states:
            state.log.close()

    def _offset_store(self, *, create: bool) -> OffsetStore | None:
        with self._registry_lock:
            self._check_open()
            if self._offsets is None:
                directory = layout.groups_directory(self.data_dir)
                if not create and not self._layer.exists(directory):
                    return None
                # The Broker's scheduler flushes it (BRK-7): no auto-flush thread.
                self._offsets = OffsetStore.open(
                    directory, file_layer=self._layer, clock=self._clock
                )
            return self._offsets

    # --- topics (CreateTopics, DeleteTopics, Metadata, DescribeConfigs, AlterConfigs) ---------

    def create_topic(
        self, name: str, partitions: int = 1, configs: Mapping[str, int | str | None] | None = None
    ) -> TopicMetadata:
        """Create topic `name` with `partitions` empty partitions (TOPIC-1).

        Its config is the broker config file's `[log]` table with `configs` (LogConfig field ->
        value, None unsets) on top. Raises `InvalidTopicName` (also for a name the data directory
        reserves), `TopicAlreadyExists`, `InvalidArgument` for `partitions`, `InvalidConfig`.
        """
        self._check_open()
        layout.check_topic_name(name)
        defaults = load_broker_config(self.data_dir, self._config_path)
        config = _config_with(defaults, configs or {})
        metadata = self._topics.create(name, partitions, config)
        with self._registry_lock:
            self._metadata[name] = metadata
        return metadata

    def delete_topic(self, name: str) -> None:
        """Close topic `name`'s logs and delete it with all its records (TOPIC-1).

        Consumer-group offsets committed on it stay (spec/groups.md). `UnknownTopic` if missing.
        """
        self._check_open()
        layout.check_topic_name(name)
        self._forget_topic(name)
        self._topics.delete(name)

    def list_topics(self) -> list[str]:
        """Names of the committed topics, sorted."""
        self._check_open()
        return self._topics.list()

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicMetadata:
        """The topic whose id is `topic_id` (TOPIC-6); `UnknownTopicId` if none has it."""
        for name in self.list_topics():
            metadata = self.metadata(name)
            if metadata.topic_id == topic_id:
                return metadata
        raise UnknownTopicId(str(topic_id))

    def describe_topic(self, name: str) -> TopicDescription:
        """Metadata, and per partition the offsets, segment count and bytes of topic `name`.

        Opens every partition log (recovering any that was not closed cleanly).
        """
        metadata = self.metadata(name)
        partitions = [self.describe_partition(name, number) for number in range(metadata.partitions)]
        return TopicDescription(metadata=metadata, partitions=tuple(partitions))

    def describe_partition(self, topic: str, partition: int) -> PartitionDescription:
        """Offsets, segment count and bytes of `topic`-`partition`."""
        log = self.log(topic, partition)
        segments = log.segments
        return PartitionDescription(
            partition=partition,
            log_start_offset=log.log_start_offset,
            high_watermark=log.high_watermark,
            log_end_offset=log.log_end_offset,
            durable_offset=log.durable_offset,
            segments=len(segments),
            size_bytes=sum(segment.size for segment in segments),
        )

    def describe_topics(self, names: Iterable[str] | None = None) -> tuple[TopicDescription, ...]:
        """`describe_topic` of each of `names` (default: every topic), in that order."""
        chosen = self.list_topics() if names is None else list(names)
        return tuple(self.describe_topic(name) for name in chosen)

    def alter_topic_config(self, name: str, changes: Mapping[str, int | str | None]) -> TopicMetadata:
        """Set the LogConfig fields in `changes` in topic `name`'s stored config (TOPIC-4).

        The whole new config is validated first (`InvalidConfig`, nothing changes). The topic's
        open logs are closed, so its next operation reopens them with the new config (BRK-3).
        """
        self._check_open()
        layout.check_topic_name(name)
        for key, value in changes.items():
            if key not in _CONFIG_FIELDS:
                raise InvalidConfig(
                    key, value, f"unknown key; expected one of {', '.join(_CONFIG_FIELDS)}"
                )
        altered = self._topics.alter(name, changes)
        self._forget_topic(name)
        return altered

    def create_partitions(self, name: str, count: int) -> TopicMetadata:
        """Grow topic `name` to `count` partitions (TOPIC-5, BRK-3; Kafka's CreatePartitions)."""
        self._check_open()
        layout.check_topic_name(name)
        with self._registry_lock:
            grown = self._topics.add_partitions(name, count)
            self._metadata[name] = grown
        return grown

    def cluster_id(self) -> str:
        """The data directory's cluster id, made on first use (BRK-11)."""
        self._check_open()
        path = layout.cluster_id_path(self.data_dir)
        with self._registry_lock:
            data = read_whole_file(self._layer, path)
            if data is None:
                data = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=")
                replace_file(self._layer, path, data + b"\n")
            text = data.strip()
            if not _CLUSTER_ID.fullmatch(text):
                raise CorruptCheckpoint("is not a 22-character URL-safe base64 cluster id",
                                        field="cluster id", position=0, source=path)
            return text.decode("ascii")

    # --- produce ------------------------------------------------------------------------------

    def _appended(self, state: _Partition, before_durable: bool) -> None:
        log = state.log
        if log.durable_offset >= log.log_end_offset:
            state.unflushed_since_ms = None
        elif state.unflushed_since_ms is None or before_durable:
            state.unflushed_since_ms = self._clock()

    def produce(
        self, topic: str, partition: int, batch: bytes | bytearray | memoryview, *,
        durable: bool = False, defer_flush: bool = False,
    ) -> ProduceResult:
        """Append one already-encoded RecordBatch v2 to `topic`-`partition` (the hot path).

        Its base offset is rewritten; framing, CRC and every record are validated in one pass
        without building records (spec/format.md 1.8). With `durable`, returns only after an fsync
        covered it (BRK-5); with `defer_flush`, the log's flush policy waits for the caller's flush
        (AsyncBroker's group commit, DUR-2).
        """
        state = self._partition(topic, partition)
        log = state.log
        was_durable = log.durable_offset >= log.log_end_offset
        result = log.append_encoded(batch, defer_flush=defer_flush)
        self._appended(state, was_durable)
        if durable:
            self.flush_partition(topic, partition)
        return ProduceResult(topic, partition, result.base_offset, result.last_offset,
                             log.log_start_offset, result.log_append_time, result.duplicate)

    def init_producer_id(self) -> tuple[int, int]:
        """A new idempotent producer's `(producer_id, epoch 0)`, as Kafka's InitProducerId answers
        a producer without a transactional id. Ids never repeat over the data directory's life,
        across restarts and crashes (IDEM-13)."""
        self._check_open()
        with self._registry_lock:
            if self._producer_ids is None:
                self._producer_ids = ProducerIdAllocator(
                    self._layer, layout.producer_ids_path(self.data_dir))
        return self._producer_ids.allocate(), 0

    def flush_partition(self, topic: str, partition: int) -> None:
        """fsync `topic`-`partition`: every record appended to it so far becomes durable."""
        state = self._partition(topic, partition)
        state.log.flush()
        state.unflushed_since_ms = None

    def assign_partitions(self, topic: str, records: Sequence[Record],
                          partition: int | None = None) -> list[int]:
        """The partition each record goes to (TOPIC-3): `partition` if given, else murmur2 of the
        key, else round robin; the round robin of a topic starts at its least-filled partition the
        first time this broker spreads null-key records on it (BRK-4)."""
        metadata = self.metadata(topic)
        count = metadata.partitions
        if partition is not None:
            self._partition(topic, partition)
            return [partition] * len(records)
        targets = []
        for record in records:
            if record.key is not None:
                targets.append(partition_for_key(record.key, count))
                continue
            if topic not in self._round_robin_started:
                ends = [self.log(topic, number).log_end_offset for number in range(count)]
                self._round_robin.set_next(topic, ends.index(min(ends)))
                self._round_robin_started.add(topic)
            targets.append(self._round_robin.partition(topic, count))
        return targets

    def produce_records(
        self, topic: str, records: Sequence[Record], partition: int | None = None, *,
        durable: bool = False,
    ) -> tuple[ProduceResult, ...]:
        """Encode and append `records`: one batch per target partition (TOPIC-3, BRK-4).

        Batches go in the order their partitions first occur in `records`. Every record is
        validated before anything is appended, so an invalid record changes nothing.
        """
        if not records:
            raise EmptyBatch()
        for record in records:
            validate_record(record)
        groups: dict[int, list[Record]] = {}
        for record, target in zip(records, self.assign_partitions(topic, records, partition),
                                  strict=True):
            groups.setdefault(target, []).append(record)
        results = []
        for target, batch in groups.items():
            state = self._partition(topic, target)
            log = state.log
            was_durable = log.durable_offset >= log.log_end_offset
            appended = log.append(batch)
            self._appended(state, was_durable)
            if durable:
                self.flush_partition(topic, target)
            results.append(ProduceResult(topic, target, appended.base_offset,
                                         appended.last_offset, log.log_start_offset))
        return tuple(results)

    def produce_stream(
        self, topic: str, records: Iterable[Record], partition: int | None = None, *,
        batch_records: int = DEFAULT_BATCH_RECORDS, batch_bytes: int = DEFAULT_BATCH_BYTES,
    ) -> Iterator[ProduceResult]:
        """Append records from `records` in batches of at most `batch_records` records and about
        `batch_bytes` payload bytes, yielding each appended batch's result as it goes.

        If `records` raises, the records taken before are appended first, then the error
        propagates.
        """
        for name, value in (("batch_records", batch_records), ("batch_bytes", batch_bytes)):
            if not is_int(value) or value < 1:
                raise InvalidArgument(name, value, "an integer >= 1")
        self.metadata(topic)
        pending: list[Record] = []
        pending_bytes = 0
        source = iter(records)
        while True:
            try:
                record = next(source)
            except StopIteration:
                break
            except BaseException:
                if pending:
                    yield from self.produce_records(topic, pending, partition)
                raise
            pending.append(record)
            pending_bytes += (len(record.key) if record.key is not None else 0) + (
                len(record.value) if record.value is not None else 0)
            if len(pending) >= batch_records or pending_bytes >= batch_bytes:
                yield from self.produce_records(topic, pending, partition)
                pending, pending_bytes = [], 0
        if pending:
            yield from self.produce_records(topic, pending, partition)

    # --- fetch and reads ----------------------------------------------------------------------

    def fetch(self, topic: str, partition: int, offset: int, max_bytes: int) -> FetchResult:
        """Whole stored batches from the one holding `offset`, raw (a Kafka Fetch, LOG-5).

        At least one batch when `offset < log_end_offset`, else at most `max_bytes`; the first
        batch may hold records below `offset`. `OffsetOutOfRange` names the valid range.
        """
        log = self.log(topic, partition)
        data = log.read_raw(offset, max_bytes)
        return FetchResult(topic, partition, data, log.high_watermark, log.log_start_offset,
                           log.log_end_offset)

    def plan_read(
        self, topic: str, partition: int, *, offset: int | None = None,
        timestamp: int | None = None, tail: int | None = None, backward: bool = False,
    ) -> ReadSpan | None:
        """Which records a decoded read of `topic`-`partition` returns, or None when none.

        At most one of `offset`, `timestamp`, `tail`. Forward: from `offset`, from the first record
        at or after `timestamp`, the last `tail` records, or from the log start. Backward (newest
        first): from `offset` down, from the record before the first at or after `timestamp`, the
        newest `tail`, or from the newest record. `OffsetOutOfRange` for an `offset` outside the
        readable range.
        """
        log = self.log(topic, partition)
        start_offset, end_offset = log.log_start_offset, log.log_end_offset
        if offset is not None:
            upper = end_offset - 1 if backward else end_offset
            if not start_offset <= offset <= upper:
                valid = (
                    "a backward read starts at an offset in [log_start_offset, log_end_offset)"
                    if backward
                    else "a read starts at an offset in [log_start_offset, log_end_offset]"
                )
                raise OffsetOutOfRange(offset, log_start_offset=start_offset,
                                       log_end_offset=end_offset, valid=valid, topic=topic,
                                       partition=partition)
            return ReadSpan(offset, backward)
        if timestamp is not None:
            found = log.offset_for_timestamp(timestamp)
            if not backward:
                return None if found is None else ReadSpan(found, backward=False)
            first_after = end_offset if found is None else found
            return ReadSpan(first_after - 1, True) if first_after > start_offset else None
        if start_offset == end_offset:
            return None
        if tail is not None:
            if backward:
                return ReadSpan(end_offset - 1, True, tail)
            return ReadSpan(max(start_offset, end_offset - tail), False)
        return ReadSpan(end_offset - 1, True) if backward else ReadSpan(start_offset, False)

    def read_span(self, topic: str, partition: int, span: ReadSpan,
                  limit: int | None = None) -> Iterator[StoredRecord]:
        """Decoded records of `span`, at most `limit` more, a bounded read at a time.

        A forward read stops at the `log_end_offset` seen when it starts.
        """
        log = self.log(topic, partition)
        remaining = span.limit if limit is None or span.limit is None else min(span.limit, limit)
        if remaining is None:
            remaining = limit
        offset = span.start
        if span.backward:
            while offset >= log.log_start_offset and (remaining is None or remaining > 0):
                count = (_READ_CHUNK_RECORDS if remaining is None
                         else min(_READ_CHUNK_RECORDS, remaining))
                records = log.read_backward(offset, max_records=count)
                if not records:
                    return
                yield from records
                if remaining is not None:
                    remaining -= len(records)
                offset = records[-1].offset - 1
            return
        end = log.log_end_offset
        while offset < end and (remaining is None or remaining > 0):
            count = min(_READ_CHUNK_RECORDS, end - offset)
            if remaining is not None:
                count = min(count, remaining)
            records = log.read(offset, max_records=count)
            if not records:
                return
            yield from records
            if remaining is not None:
                remaining -= len(records)
            offset = records[-1].offset + 1

    def read_backward(self, topic: str, partition: int, offset: int | None, *,
                      max_records: int, max_bytes: int | None = None) -> list[StoredRecord]:
        """Records of `topic`-`partition` newest first, from `offset` down (None: from the newest
        record), at most `max_records` and, after the first, `max_bytes` of payload (LOG-7,
        LOG-9); empty for an empty log. `OffsetOutOfRange` as `plan_read` backward."""
        span = self.plan_read(topic, partition, offset=offset, backward=True)
        if span is None:
            return []
        return self.log(topic, partition).read_backward(span.start, max_records=max_records,
                                                        max_bytes=max_bytes)

    def delete_records(self, topic: str, partition: int, offset: int) -> int:
        """Kafka's DeleteRecords: move `topic`-`partition`'s log start offset up to `offset` (-1:
        the high watermark) and return the new log start offset (the low watermark, LOG-11)."""
        log = self.log(topic, partition)
        log.delete_records_below(log.high_watermark if offset == -1 else offset)
        return log.log_start_offset

    def list_offsets(self, topic: str, partition: int, timestamp: int) -> ListOffsetsResult:
        """Kafka's ListOffsets: `EARLIEST_TIMESTAMP` (-2) gives the log start offset,
        `LATEST_TIMESTAMP` (-1) the log end offset, `MAX_TIMESTAMP` (-3) the first record holding
        the largest timestamp, a timestamp >= 0 the first record whose timestamp is at or after
        it (offset None when there is none, LOG-8)."""
        log = self.log(topic, partition)
        if not is_int(timestamp) or timestamp < MAX_TIMESTAMP:
            raise InvalidArgument("timestamp", timestamp,
                                  f"-3 (max timestamp), -2 (earliest), -1 (latest) or "
                                  f"milliseconds >= 0, for {topic}-{partition}")
        if timestamp == EARLIEST_TIMESTAMP:
            return ListOffsetsResult(topic, partition, log.log_start_offset, None)
        if timestamp == LATEST_TIMESTAMP:
            return ListOffsetsResult(topic, partition, log.log_end_offset, None)
        found = (log.max_timestamp_offset() if timestamp == MAX_TIMESTAMP
                 else log.offset_for_timestamp(timestamp))
        if found is None:
            return ListOffsetsResult(topic, partition, None, None)
        record = log.read(found, max_records=1)[0]
        return ListOffsetsResult(topic, partition, found, record.timestamp)

    # --- consumer groups (OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, ...) ---------

    def commit_offsets(self, group: str, offsets: Mapping[tuple[str, int], int], *,
                       metadata: str = "", durable: bool = True) -> None:
        """Commit `offsets` ((topic, partition) -> offset) for `group` (GRP-3).

        Every topic and partition must exist (`UnknownTopic`, `InvalidPartition`) and every key be
        valid (GRP-2) before anything changes. With `durable` (the default, as a Kafka
        OffsetCommit response promises), returns once they are on disk; otherwise the scheduler
        writes them within `offsets_flush_ms` (BRK-7).
        """
        for topic, partition in offsets:
            topic_metadata = self.metadata(topic)
            if not 0 <= partition < topic_metadata.partitions:
                raise InvalidPartition(topic, partition, topic_metadata.partitions)
        store = self._offset_store(create=True)
        assert store is not None
        for (topic, partition), offset in offsets.items():
            validate_commit(group, topic, partition, offset, metadata)
        for (topic, partition), offset in offsets.items():
            store.commit(group, topic, partition, offset, metadata)
        if durable:
            store.flush()

    def fetch_offsets(
        self, group: str, partitions: Iterable[tuple[str, int]] | None = None
    ) -> dict[tuple[str, int], CommittedOffset | None]:
        """`group`'s committed offset per (topic, partition); None where none was committed.

        Without `partitions`: every partition the group committed (an empty dict if none).
        """
        store = self._offset_store(create=False)
        if partitions is None:
            if store is None:
                return {}
            return dict(store.describe(group))
        keys = list(partitions)
        if store is None:
            return dict.fromkeys(keys)
        return {(topic, partition): store.fetch(group, topic, partition)
                for topic, partition in keys}

    def list_groups(self) -> list[str]:
        """Group ids with at least one committed offset, sorted (GRP-4)."""
        store = self._offset_store(create=False)
        return [] if store is None else store.groups()

    def describe_group(self, group: str) -> tuple[GroupPartitionLag, ...]:
        """Per partition `group` committed: committed offset, log start and end offsets, high
        watermark and lag = high_watermark - committed_offset. `UnknownGroup` if it has none."""
        committed = self.fetch_offsets(group)
        if not committed:
            raise UnknownGroup(group)
        rows = []
        for (topic, partition), value in sorted(committed.items()):
            assert value is not None
            log: PartitionLog | None = None
            try:
                if partition < self.metadata(topic).partitions:
                    log = self.log(topic, partition)
            except UnknownTopic:
                log = None  # deleted since the group committed: its offsets stay, with no lag
            if log is None:
                rows.append(GroupPartitionLag(topic, partition, value.offset, None, None, None,
                                              None))
                continue
            rows.append(GroupPartitionLag(
                topic, partition, value.offset, log.log_start_offset, log.log_end_offset,
                log.high_watermark, log.high_watermark - value.offset))
        return tuple(rows)

    def delete_group(self, group: str) -> None:
        """Remove every committed offset of `group`, durably; `UnknownGroup` if it has none."""
        store = self._offset_store(create=False)
        if store is None:
            raise UnknownGroup(group)
        store.delete_group(group, durable=True)

    def delete_offsets(self, group: str, partitions: Iterable[tuple[str, int]]) -> None:
        """Remove `group`'s committed offsets of `partitions`, durably (GRP-14: keys without
        one are skipped). The partitions need not exist: a deleted topic's offsets stay until
        deleted."""
        keys = list(partitions)
        store = self._offset_store(create=False)
        if store is None:
            for topic, partition in keys:
                validate_key(group, topic, partition)
            return
        store.delete_offsets(group, keys, durable=True)

    def reset_offsets(
        self, group: str, topic: str, *, partition: int | None = None,
        to_offset: int | None = None, to_earliest: bool = False, to_latest: bool = False,
        to_timestamp: int | None = None,
    ) -> tuple[OffsetChange, ...]:
        """Set `group`'s committed offsets on `topic` (one partition, or all), durably.

        Exactly one target: `to_offset` (must lie in [log_start_offset, log_end_offset]),
        `to_earliest`, `to_latest`, or `to_timestamp` (the first record at or after it, else the
        log end offset). Every target is checked before any commit, so a refused reset changes
        nothing.
        """
        target = ResetTarget.choose(to_offset=to_offset, to_earliest=to_earliest,
                                    to_latest=to_latest, to_timestamp=to_timestamp)
        numbers = self.reset_partitions(topic, partition)
        targets = {number: self.reset_target(topic, number, target) for number in numbers}
        return self.apply_reset(group, topic, targets)

    def reset_partitions(self, topic: str, partition: int | None) -> list[int]:
        """The partitions a reset of `topic` covers: `partition`, or all of them."""
        if partition is not None:
            self.check_partition(topic, partition)
            return [partition]
        return list(range(self.metadata(topic).partitions))

    def reset_target(self, topic: str, partition: int, target: ResetTarget) -> int:
        """The offset `target` names in `topic`-`partition`; `OffsetOutOfRange` for a `to_offset`
        outside [log_start_offset, log_end_offset]. Reads only that partition's log."""
        log = self.log(topic, partition)
        start_offset, end_offset = log.log_start_offset, log.log_end_offset
        if target.to_offset is not None:
            if not start_offset <= target.to_offset <= end_offset:
                raise OffsetOutOfRange(
                    target.to_offset, log_start_offset=start_offset, log_end_offset=end_offset,
                    valid="a committed offset lies in [log_start_offset, log_end_offset]",
                    topic=topic, partition=partition)
            return target.to_offset
        if target.to_earliest:
            return start_offset
        if target.to_latest:
            return end_offset
        assert target.to_timestamp is not None
        found = log.offset_for_timestamp(target.to_timestamp)
        return end_offset if found is None else found

    def apply_reset(self, group: str, topic: str,
                    targets: Mapping[int, int]) -> tuple[OffsetChange, ...]:
        """Commit `targets` (partition -> offset) for `group` on `topic`, durably; the changes."""
        old = self.fetch_offsets(group, [(topic, number) for number in targets])
        self.commit_offsets(group, {(topic, number): value for number, value in targets.items()})
        changes = []
        for number, value in targets.items():
            before = old[(topic, number)]
            changes.append(OffsetChange(topic, number, None if before is None else before.offset,
                                        value))
        return tuple(changes)

    def group_start_offsets(self, group: str, topic: str, partitions: Iterable[int],
                            reset: ResetPolicy = "earliest") -> dict[int, int]:
        """Where `group` starts reading each of `partitions` (GRP-CLI-1).

        The committed offset if it lies in [log_start_offset, log_end_offset]; otherwise by
        `reset`: earliest (log start), latest (log end) or error (`NoCommittedOffset`, or
        `OffsetOutOfRange` for a committed offset outside the range). All are resolved before
        any is returned.
        """
        numbers = list(partitions)
        committed = self.fetch_offsets(group, [(topic, number) for number in numbers])
        return {number: self.group_start(group, topic, number, committed[(topic, number)], reset)
                for number in numbers}

    def group_start(self, group: str, topic: str, partition: int,
                    committed: CommittedOffset | None, reset: ResetPolicy) -> int:
        """Where `group`, having `committed`, starts reading `topic`-`partition` (GRP-CLI-1).
        Reads only that partition's log."""
        if reset not in ("earliest", "latest", "error"):
            raise InvalidArgument("reset", reset, "'earliest', 'latest' or 'error'")
        log = self.log(topic, partition)
        start_offset, end_offset = log.log_start_offset, log.log_end_offset
        if committed is not None and start_offset <= committed.offset <= end_offset:
            return committed.offset
        if reset == "earliest":
            return start_offset
        if reset == "latest":
            return end_offset
        valid = (f"valid offsets are [{start_offset}, {end_offset}] (log_start_offset, "
                 "log_end_offset)")
        if committed is None:
            raise NoCommittedOffset(group, topic, partition, valid)
        raise OffsetOutOfRange(
            committed.offset, log_start_offset=start_offset, log_end_offset=end_offset,
            valid=f"group {group!r} committed it and the reset policy is error; {valid}",
            topic=topic, partition=partition)

    # --- retention, health, scheduler ---------------------------------------------------------

    def _topic_partitions(self, topic: str | None) -> list[tuple[str, int]]:
        names = [topic] if topic is not None else self.list_topics()
        return [(name, number) for name in names
                for number in range(self.metadata(name).partitions)]

    def run_retention(self, topic: str | None = None) -> tuple[PartitionRetention, ...]:
        """Apply retention now (RET-1..RET-4) to every partition of `topic`, or of every topic."""
        results = []
        for name, number in self._topic_partitions(topic):
            results.append(PartitionRetention(name, number, self.retain_partition(name, number)))
        return tuple(results)

    def retain_partition(self, topic: str, partition: int) -> RetentionResult:
        """Apply retention now to `topic`-`partition`."""
        state = self._partition(topic, partition)
        now = self._clock()
        result = state.log.apply_retention(now)
        state.last_retention_ms = now
        return result

    def health(self, topic: str | None = None, *, verify: bool = False
               ) -> tuple[PartitionStatus, ...]:
        """Health snapshot (HLT-1..3) of every partition of `topic`, or of every topic; with
        `verify`, each index is compared with a rebuild first."""
        return tuple(PartitionStatus(name, number, self.partition_health(name, number,
                                                                         verify=verify))
                     for name, number in self._topic_partitions(topic))

    def partition_health(self, topic: str, partition: int, *, verify: bool = False
                         ) -> PartitionHealth:
        """Health snapshot (HLT-1..3) of `topic`-`partition`; with `verify`, each of its indexes
        is compared with a rebuild first (IDX-1)."""
        return self.log(topic, partition).health(verify=verify)

    def clocks(self) -> list[PartitionClock]:
        """The scheduler's view of every open partition log."""
        with self._registry_lock:
            items = list(self._partitions.items())
        return [
            PartitionClock(
                topic=topic, partition=partition, flush_ms=state.log.config.flush_ms,
                unflushed_since_ms=state.unflushed_since_ms,
                retention_enabled=(state.log.config.retention_ms is not None
                                   or state.log.config.retention_bytes is not None),
                last_retention_ms=state.last_retention_ms,
            )
            for (topic, partition), state in items
        ]

    def plan(self, now_ms: int) -> tuple[Duty, ...]:
        """The scheduler duties due at `now_ms` (BRK-7); does nothing itself."""
        with self._registry_lock:
            offsets = self._offsets
        dirty_since = None if offsets is None else offsets.dirty_since_ms
        return plan_duties(self.clocks(), dirty_since, now_ms, self.schedule)

    def run_duty(self, duty: Duty) -> None:
        """Carry out one duty `plan` returned."""
        if duty.kind == "flush_offsets":
            store = self._offset_store(create=False)
            if store is not None:
                store.flush()
            return
        assert duty.topic is not None and duty.partition is not None
        if duty.kind == "flush":
            self.flush_partition(duty.topic, duty.partition)
        else:
            self.retain_partition(duty.topic, duty.partition)

    def tick(self, now_ms: int | None = None) -> tuple[Duty, ...]:
        """One scheduler step: run every duty due at `now_ms` (default: the clock); returns them."""
        duties = self.plan(self._clock() if now_ms is None else now_ms)
        for duty in duties:
            self.run_duty(duty)
        return duties


def _parent(path: str) -> str:
    return os.path.dirname(os.path.abspath(path))
