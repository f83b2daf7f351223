"""The asyncio facade of the Broker: nothing here blocks the event loop on disk I/O (BRK-2..BRK-7).

- One serial executor (one thread) per partition: every call touching a partition log runs there,
  so each log has exactly one writer and needs no lock (BRK-2).
- Group commit: durable produces to one partition queue up; the partition's thread appends every
  queued batch, calls `flush` once, then settles all their futures. A durable produce resolves
  only after the fsync that covers it returned (BRK-5, BRK-6).
- Topic-wide and group operations run on one admin thread; per-partition parts of them go to the
  partitions' threads.
- The scheduler task calls the pure `Broker.plan` on the loop (no I/O) and runs each due duty on
  the thread that owns it (BRK-7).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from flyq.broker._broker import (
    Broker,
    FetchResult,
    GroupPartitionLag,
    ListOffsetsResult,
    OffsetChange,
    PartitionRetention,
    PartitionStatus,
    ProduceResult,
    ResetPolicy,
    ResetTarget,
)
from flyq.broker._schedule import Duty
from flyq.codec.offsets import CommittedOffset
from flyq.errors import LogClosed, UnknownGroup, UnknownTopic
from flyq.impl.log import PartitionHealth
from flyq.impl.topic import TopicDescription, TopicMetadata
from flyq.records import Record, StoredRecord

__all__ = ["AsyncBroker"]

_log = logging.getLogger("flyq.broker")
_T = TypeVar("_T")
_Outcome = ProduceResult | BaseException
_Waiter = tuple[bytes | bytearray | memoryview, "asyncio.Future[ProduceResult]"]


def _settle(future: asyncio.Future[ProduceResult], outcome: _Outcome) -> None:
    if future.cancelled():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class AsyncBroker:
    """A `Broker` usable from an event loop. Open with `await AsyncBroker.open(...)`."""

    def __init__(self, broker: Broker) -> None:
        """Wrap an open `Broker`; the facade owns it from now on (`close` closes it)."""
        self.broker = broker
        self._executors: dict[tuple[str, int], ThreadPoolExecutor] = {}
        self._admin = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flyq-admin")
        self._queue_lock = threading.Lock()  # guards _durable_queue and _executors only
        self._durable_queue: dict[tuple[str, int], list[_Waiter]] = {}
        self._scheduler: asyncio.Task[None] | None = None
        self._closed = False
        # fsyncs that covered durable produces: one per group commit (for tests and benchmarks).
        self.group_commits = 0

    @classmethod
    async def open(cls, data_dir: str, **options: Any) -> AsyncBroker:
        """`Broker.open(data_dir, **options)` off the loop, wrapped."""
        broker = await asyncio.to_thread(functools.partial(Broker.open, data_dir, **options))
        return cls(broker)

    # --- where calls run ----------------------------------------------------------------------

    def _executor(self, key: tuple[str, int]) -> ThreadPoolExecutor:
        with self._queue_lock:
            if self._closed:
                raise LogClosed(f"the broker of {self.broker.data_dir} is closed")
            executor = self._executors.get(key)
            if executor is None:
                executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"flyq-{key[0]}-{key[1]}"
                )
                self._executors[key] = executor
            return executor

    async def _checked(self, topic: str, partition: int) -> tuple[str, int]:
        """Validate the partition (reading topic.json off the loop if not cached yet)."""
        if self.broker.is_cached(topic):
            self.broker.check_partition(topic, partition)
        else:
            await self._on_admin(self.broker.check_partition, topic, partition)
        return topic, partition

    async def _on_partition(self, topic: str, partition: int, call: Callable[..., _T],
                            *args: Any) -> _T:
        key = await self._checked(topic, partition)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(key), functools.partial(call, *args))

    async def _on_admin(self, call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._admin, functools.partial(call, *args, **kwargs))

    async def _each_partition(self, topic: str | None,
                              call: Callable[[str, int], _T]) -> list[_T]:
        names = [topic] if topic is not None else await self.list_topics()
        tasks: list[Awaitable[_T]] = []
        for name in names:
            metadata = await self._on_admin(self.broker.metadata, name)
            tasks.extend(self._on_partition(name, number, call, name, number)
                         for number in range(metadata.partitions))
        return list(await asyncio.gather(*tasks))

    # --- produce and fetch --------------------------------------------------------------------

    async def produce(self, topic: str, partition: int, batch: bytes | bytearray | memoryview, *,
                      durable: bool = False) -> ProduceResult:
        """`Broker.produce` on the partition's thread. With `durable`, joins the partition's next
        group commit and resolves once the fsync covering it returned (BRK-5, BRK-6)."""
        if not durable:
            return await self._on_partition(topic, partition, self.broker.produce, topic,
                                            partition, batch)
        key = await self._checked(topic, partition)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ProduceResult] = loop.create_future()
        executor = self._executor(key)
        with self._queue_lock:
            self._durable_queue.setdefault(key, []).append((batch, future))
        executor.submit(self._group_commit, loop, topic, partition)
        return await future

    def _group_commit(self, loop: asyncio.AbstractEventLoop, topic: str, partition: int) -> None:
        """On the partition's thread: append every queued durable batch, fsync once, settle all.

        One job is submitted per durable produce, but the first to run takes the whole queue, so
        the batches that arrived while the previous fsync ran share the next one (BRK-6).
        """
        with self._queue_lock:
            waiters = self._durable_queue.pop((topic, partition), [])
        if not waiters:
            return
        outcomes: list[_Outcome] = []
        for batch, _ in waiters:
            try:
                # The flush below covers every batch of the group (DUR-2, BRK-6).
                outcomes.append(self.broker.produce(topic, partition, batch, defer_flush=True))
            except Exception as exc:  # noqa: BLE001 - handed to that produce's awaiter
                outcomes.append(exc)
        if any(isinstance(outcome, ProduceResult) for outcome in outcomes):
            try:
                self.broker.flush_partition(topic, partition)
                self.group_commits += 1
            except Exception as exc:  # noqa: BLE001 - appended but not durable: all fail
                outcomes = [exc if isinstance(outcome, ProduceResult) else outcome
                            for outcome in outcomes]
        for (_, future), outcome in zip(waiters, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, future, outcome)

    async def init_producer_id(self) -> tuple[int, int]:
        """`Broker.init_producer_id` on the admin thread: `(producer_id, 0)` (IDEM-13)."""
        return await self._on_admin(self.broker.init_producer_id)

    async def produce_records(self, topic: str, records: Sequence[Record],
                              partition: int | None = None, *,
                              durable: bool = False) -> tuple[ProduceResult, ...]:
        """`Broker.produce_records`: partitions chosen on the admin thread, each partition's batch
        appended on its own thread, concurrently."""
        targets = await self._on_admin(self.broker.assign_partitions, topic, records, partition)
        groups: dict[int, list[Record]] = {}
        for record, target in zip(records, targets, strict=True):
            groups.setdefault(target, []).append(record)
        parts = await asyncio.gather(*(
            self._on_partition(topic, target, functools.partial(
                self.broker.produce_records, durable=durable), topic, batch, target)
            for target, batch in groups.items()))
        return tuple(result for part in parts for result in part)

    async def fetch(self, topic: str, partition: int, offset: int,
                    max_bytes: int) -> FetchResult:
        """`Broker.fetch` on the partition's thread."""
        return await self._on_partition(topic, partition, self.broker.fetch, topic, partition,
                                        offset, max_bytes)

    async def list_offsets(self, topic: str, partition: int,
                           timestamp: int) -> ListOffsetsResult:
        """`Broker.list_offsets` on the partition's thread."""
        return await self._on_partition(topic, partition, self.broker.list_offsets, topic,
                                        partition, timestamp)

    async def read(self, topic: str, partition: int, offset: int,
                   max_records: int) -> list[StoredRecord]:
        """Decoded records from `offset` upwards, at most `max_records`."""
        log_read = functools.partial(self._read, max_records=max_records)
        return await self._on_partition(topic, partition, log_read, topic, partition, offset)

    def _read(self, topic: str, partition: int, offset: int, *,
              max_records: int) -> list[StoredRecord]:
        return self.broker.log(topic, partition).read(offset, max_records=max_records)

    async def read_backward(self, topic: str, partition: int, offset: int | None, *,
                            max_records: int, max_bytes: int | None = None
                            ) -> list[StoredRecord]:
        """`Broker.read_backward` on the partition's thread."""
        call = functools.partial(self.broker.read_backward, max_records=max_records,
                                 max_bytes=max_bytes)
        return await self._on_partition(topic, partition, call, topic, partition, offset)

    async def flush_partition(self, topic: str, partition: int) -> None:
        """`Broker.flush_partition` on the partition's thread."""
        await self._on_partition(topic, partition, self.broker.flush_partition, topic, partition)

    # --- topics -------------------------------------------------------------------------------

    async def create_topic(self, name: str, partitions: int = 1,
                           configs: Mapping[str, int | str | None] | None = None) -> TopicMetadata:
        """`Broker.create_topic` on the admin thread."""
        return await self._on_admin(self.broker.create_topic, name, partitions, configs)

    async def _release(self, name: str) -> None:
        """Close `name`'s open logs, each on its own thread (so no writer is mid-call)."""
        metadata = await self._on_admin(self.broker.metadata, name)
        await asyncio.gather(*(
            self._on_partition(name, number, self.broker.release_partition, name, number)
            for number in range(metadata.partitions)))

    async def delete_topic(self, name: str) -> None:
        """`Broker.delete_topic`, after its logs were closed on their threads."""
        await self._release(name)
        await self._on_admin(self.broker.delete_topic, name)

    async def alter_topic_config(self, name: str,
                                 changes: Mapping[str, int | str | None]) -> TopicMetadata:
        """`Broker.alter_topic_config`, after its logs were closed on their threads (BRK-3)."""
        await self._release(name)
        return await self._on_admin(self.broker.alter_topic_config, name, changes)

    async def create_partitions(self, name: str, count: int) -> TopicMetadata:
        """`Broker.create_partitions` on the admin thread."""
        return await self._on_admin(self.broker.create_partitions, name, count)

    async def cluster_id(self) -> str:
        """`Broker.cluster_id` on the admin thread."""
        return await self._on_admin(self.broker.cluster_id)

    async def delete_records(self, topic: str, partition: int, offset: int) -> int:
        """`Broker.delete_records` on the partition's thread."""
        return await self._on_partition(topic, partition, self.broker.delete_records, topic,
                                        partition, offset)

    async def list_topics(self) -> list[str]:
        """`Broker.list_topics` on the admin thread."""
        return await self._on_admin(self.broker.list_topics)

    async def describe_topic(self, name: str) -> TopicDescription:
        """`Broker.describe_topic`, each partition read on its own thread."""
        metadata = await self._on_admin(self.broker.metadata, name)
        described = await asyncio.gather(*(
            self._on_partition(name, number, self.broker.describe_partition, name, number)
            for number in range(metadata.partitions)))
        return TopicDescription(metadata=metadata, partitions=tuple(described))

    # --- groups -------------------------------------------------------------------------------

    async def commit_offsets(self, group: str, offsets: Mapping[tuple[str, int], int], *,
                             metadata: str = "", durable: bool = True) -> None:
        """`Broker.commit_offsets` on the admin thread."""
        await self._on_admin(self.broker.commit_offsets, group, offsets, metadata=metadata,
                             durable=durable)

    async def fetch_offsets(self, group: str, partitions: Iterable[tuple[str, int]] | None = None
                            ) -> dict[tuple[str, int], CommittedOffset | None]:
        """`Broker.fetch_offsets` on the admin thread."""
        keys = None if partitions is None else list(partitions)
        return await self._on_admin(self.broker.fetch_offsets, group, keys)

    async def list_groups(self) -> list[str]:
        """`Broker.list_groups` on the admin thread."""
        return await self._on_admin(self.broker.list_groups)

    async def delete_group(self, group: str) -> None:
        """`Broker.delete_group` on the admin thread."""
        await self._on_admin(self.broker.delete_group, group)

    async def delete_offsets(self, group: str, partitions: Iterable[tuple[str, int]]) -> None:
        """`Broker.delete_offsets` on the admin thread."""
        await self._on_admin(self.broker.delete_offsets, group, list(partitions))

    async def describe_group(self, group: str) -> tuple[GroupPartitionLag, ...]:
        """`Broker.describe_group`: committed offsets from the admin thread, each partition's
        offsets from its own thread."""
        committed = await self.fetch_offsets(group)
        if not committed:
            raise UnknownGroup(group)
        rows = []
        for (topic, partition), value in sorted(committed.items()):
            assert value is not None
            try:
                log_offsets: tuple[int, int, int] | None = await self._on_partition(
                    topic, partition, self._log_offsets, topic, partition)
            except UnknownTopic:
                log_offsets = None
            except Exception:  # noqa: BLE001 - a partition the topic no longer has
                log_offsets = None
            if log_offsets is None:
                rows.append(GroupPartitionLag(topic, partition, value.offset, None, None, None,
                                              None))
                continue
            start, end, high_watermark = log_offsets
            rows.append(GroupPartitionLag(topic, partition, value.offset, start, end,
                                          high_watermark, high_watermark - value.offset))
        return tuple(rows)

    async def reset_offsets(
        self, group: str, topic: str, *, partition: int | None = None,
        to_offset: int | None = None, to_earliest: bool = False, to_latest: bool = False,
        to_timestamp: int | None = None,
    ) -> tuple[OffsetChange, ...]:
        """`Broker.reset_offsets`: each target found on its partition's thread, all checked
        before the commit on the admin thread."""
        target = ResetTarget.choose(to_offset=to_offset, to_earliest=to_earliest,
                                    to_latest=to_latest, to_timestamp=to_timestamp)
        numbers = await self._on_admin(self.broker.reset_partitions, topic, partition)
        offsets = await asyncio.gather(*(
            self._on_partition(topic, number, self.broker.reset_target, topic, number, target)
            for number in numbers))
        return await self._on_admin(self.broker.apply_reset, group, topic,
                                    dict(zip(numbers, offsets, strict=True)))

    async def group_start_offsets(self, group: str, topic: str, partitions: Iterable[int],
                                  reset: ResetPolicy = "earliest") -> dict[int, int]:
        """`Broker.group_start_offsets`, each partition's start found on its own thread."""
        numbers = list(partitions)
        committed = await self.fetch_offsets(group, [(topic, number) for number in numbers])
        starts = await asyncio.gather(*(
            self._on_partition(topic, number, self.broker.group_start, group, topic, number,
                               committed[(topic, number)], reset)
            for number in numbers))
        return dict(zip(numbers, starts, strict=True))

    async def log_offsets(self, topic: str, partition: int) -> tuple[int, int, int]:
        """(log_start_offset, log_end_offset, high_watermark) of the partition, on its thread."""
        return await self._on_partition(topic, partition, self._log_offsets, topic, partition)

    async def topic_by_id(self, topic_id: uuid.UUID) -> TopicMetadata:
        """`Broker.topic_by_id` on the admin thread."""
        return await self._on_admin(self.broker.topic_by_id, topic_id)

    async def topic_metadata(self, name: str) -> TopicMetadata:
        """`Broker.metadata` (no I/O once cached; else on the admin thread)."""
        if self.broker.is_cached(name):
            return self.broker.metadata(name)
        return await self._on_admin(self.broker.metadata, name)

    def _log_offsets(self, topic: str, partition: int) -> tuple[int, int, int]:
        log = self.broker.log(topic, partition)
        return log.log_start_offset, log.log_end_offset, log.high_watermark

    # --- retention, health, scheduler ---------------------------------------------------------

    async def run_retention(self, topic: str | None = None) -> tuple[PartitionRetention, ...]:
        """`Broker.run_retention`, each partition on its own thread."""
        def one(name: str, number: int) -> PartitionRetention:
            return PartitionRetention(name, number, self.broker.retain_partition(name, number))
        return tuple(await self._each_partition(topic, one))

    async def health(self, topic: str | None = None, *,
                     verify: bool = False) -> tuple[PartitionStatus, ...]:
        """`Broker.health`, each partition on its own thread."""
        def one(name: str, number: int) -> PartitionStatus:
            return PartitionStatus(name, number, self.broker.partition_health(
                name, number, verify=verify))
        return tuple(await self._each_partition(topic, one))

    async def partition_health(self, topic: str, partition: int, *,
                               verify: bool = False) -> PartitionHealth:
        """`Broker.partition_health` on the partition's thread."""
        call = functools.partial(self.broker.partition_health, verify=verify)
        return await self._on_partition(topic, partition, call, topic, partition)

    async def tick(self, now_ms: int | None = None) -> tuple[Duty, ...]:
        """One scheduler step: plan on the loop (in-memory only), run each due duty on the
        thread that owns it. A failing duty is logged; the others still run."""
        duties = self.broker.plan(self.broker.now_ms() if now_ms is None else now_ms)
        outcomes = await asyncio.gather(*(
            self._on_partition(duty.topic, duty.partition, self.broker.run_duty, duty)
            if duty.topic is not None and duty.partition is not None
            else self._on_admin(self.broker.run_duty, duty)
            for duty in duties), return_exceptions=True)
        for duty, outcome in zip(duties, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                _log.error("scheduled %s failed: %s", duty, outcome)
        return duties

    def start_scheduler(self) -> None:
        """Start the task that calls `tick` every `schedule.tick_ms` (idempotent)."""
        if self._scheduler is None:
            self._scheduler = asyncio.get_running_loop().create_task(self._run_scheduler())

    async def _run_scheduler(self) -> None:
        period = self.broker.schedule.tick_ms / 1000
        while True:
            await asyncio.sleep(period)
            await self.tick()

    async def close(self) -> None:
        """Stop the scheduler, let every queued call finish, then close the Broker."""
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
            self._scheduler = None
        with self._queue_lock:
            if self._closed:
                return
            self._closed = True
            executors = [*self._executors.values(), self._admin]
        for executor in executors:
            await asyncio.to_thread(executor.shutdown, True)
        await asyncio.to_thread(self.broker.close)

    async def __aenter__(self) -> AsyncBroker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
