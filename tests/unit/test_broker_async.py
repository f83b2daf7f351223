"""AsyncBroker (spec/broker.md BRK-2, BRK-5..BRK-7): real event loop, real files, counted fsyncs."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from flyq.broker import AsyncBroker, Broker, NoCommittedOffset, ScheduleSettings
from flyq.codec.record_batch import encode_batch
from flyq.errors import InvalidPartition, OffsetOutOfRange, StorageError, UnknownTopic
from flyq.impl.filelayer import FileHandle, OsFileLayer
from flyq.impl.log import PartitionLog
from flyq.records import Record

_T = TypeVar("_T")


class _Handle:
    """A real file handle that reports each fsync and write to its layer."""

    def __init__(self, inner: FileHandle, layer: WatchingLayer) -> None:
        self._inner = inner
        self._layer = layer

    def fsync(self) -> None:
        self._layer.on_fsync(self._inner.path)
        self._inner.fsync()

    def pwritev(self, buffers: Any, position: int) -> None:
        self._layer.on_write(self._inner.path)
        self._inner.pwritev(buffers, position)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class WatchingLayer(OsFileLayer):
    """The OS file layer, counting `.log` fsyncs and noting which thread wrote each `.log`.

    `gate`, when set, holds every `.log` fsync until it is released, so concurrent produces
    pile up behind the first one; the `fail_at`-th counted `.log` fsync fails.
    """

    def __init__(self) -> None:
        self.log_fsyncs = 0
        self.fsync_threads: set[int] = set()
        self.writers: dict[str, set[int]] = {}
        self.gate: threading.Event | None = None
        self.fsync_started = threading.Event()
        self.fail_at: int | None = None

    def open(self, path: str, *, create: bool) -> FileHandle:
        return _Handle(super().open(path, create=create), self)  # type: ignore[return-value]

    def on_fsync(self, path: str) -> None:
        if not path.endswith(".log"):
            return
        self.fsync_started.set()
        if self.gate is not None:
            self.gate.wait()
        self.log_fsyncs += 1
        self.fsync_threads.add(threading.get_ident())
        if self.log_fsyncs == self.fail_at:
            raise StorageError("fsync", path)

    def on_write(self, path: str) -> None:
        if path.endswith(".log"):
            directory = os.path.basename(os.path.dirname(path))
            self.writers.setdefault(directory, set()).add(threading.get_ident())


def _run_gated(scenario: Coroutine[Any, Any, _T], layer: WatchingLayer) -> _T:
    """Run `scenario`; whatever happens, open the gate so no partition thread stays parked."""
    try:
        return asyncio.run(scenario)
    finally:
        if layer.gate is not None:
            layer.gate.set()


def _batch(value: bytes) -> bytes:
    return encode_batch(0, [Record(value=value, timestamp=1)])


async def _open(tmp_path: Path, layer: WatchingLayer,
                configs: dict[str, int | str | None] | None = None, **options: Any) -> AsyncBroker:
    broker = await AsyncBroker.open(str(tmp_path / "d"), create=True, file_layer=layer, **options)
    await broker.create_topic("t", 2, configs)
    return broker


@pytest.mark.parametrize("configs", [None, {"flush_messages": 1}])
def test_group_commit_shares_fsyncs_and_every_result_is_durable(
        tmp_path: Path, configs: dict[str, int | str | None] | None) -> None:
    """BRK-5, BRK-6, DUR-2: 8 concurrent durable produces to one partition take fewer than 8
    fsyncs (also on a topic flushing every message: the group's flush replaces each append's),
    each resolves only once an fsync covered it, and none ran on the event loop's thread."""
    layer = WatchingLayer()

    async def scenario() -> None:
        broker = await _open(tmp_path, layer, configs)
        await broker.produce("t", 0, _batch(b"warm-up"))  # opens the log before the gate shuts
        log = broker.broker.log("t", 0)
        layer.log_fsyncs = 0
        layer.gate = threading.Event()
        layer.fsync_started.clear()
        durable_when_resolved: list[bool] = []

        async def produce(index: int) -> int:
            result = await broker.produce("t", 0, _batch(b"%d" % index), durable=True)
            durable_when_resolved.append(log.durable_offset > result.last_offset)
            return result.base_offset

        tasks = [asyncio.ensure_future(produce(index)) for index in range(8)]
        # The first group commit is inside its fsync; the other seven queue behind it.
        await asyncio.to_thread(layer.fsync_started.wait)
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in tasks)
        layer.gate.set()
        offsets = await asyncio.gather(*tasks)
        assert sorted(offsets) == list(range(1, 9))
        assert durable_when_resolved == [True] * 8
        assert 1 <= layer.log_fsyncs < 8
        assert broker.group_commits == layer.log_fsyncs
        assert threading.get_ident() not in layer.fsync_threads
        await broker.close()

    _run_gated(scenario(), layer)


def test_one_writer_thread_per_partition(tmp_path: Path) -> None:
    """BRK-2: every append to a partition runs on that partition's one thread, not the loop's."""
    layer = WatchingLayer()

    async def scenario() -> None:
        broker = await _open(tmp_path, layer)
        await asyncio.gather(*(broker.produce("t", index % 2, _batch(b"v"), durable=index % 3 == 0)
                               for index in range(40)))
        results = await broker.produce_records("t", [Record(value=b"r", timestamp=1)] * 10)
        assert sum(result.record_count for result in results) == 10
        await broker.close()

    asyncio.run(scenario())
    assert set(layer.writers) == {"t-0", "t-1"}
    assert all(len(threads) == 1 for threads in layer.writers.values())
    assert layer.writers["t-0"] != layer.writers["t-1"]
    assert threading.get_ident() not in set().union(*layer.writers.values())


def test_a_failed_group_fsync_fails_every_produce_it_covered(tmp_path: Path) -> None:
    """BRK-6: when the shared fsync fails, every produce of that group raises, none succeeds."""
    layer = WatchingLayer()

    async def scenario() -> list[object]:
        broker = await _open(tmp_path, layer)
        await broker.produce("t", 0, _batch(b"warm-up"))
        layer.log_fsyncs = 0
        layer.fail_at = 2
        layer.gate = threading.Event()
        layer.fsync_started.clear()
        first = asyncio.ensure_future(broker.produce("t", 0, _batch(b"a"), durable=True))
        await asyncio.to_thread(layer.fsync_started.wait)
        # These three queue while the first group's fsync is held; they share fsync number 2.
        rest = [asyncio.ensure_future(broker.produce("t", 0, _batch(b"b"), durable=True))
                for _ in range(3)]
        await asyncio.sleep(0.05)
        layer.gate.set()
        await first
        outcomes = await asyncio.gather(*rest, return_exceptions=True)
        await broker.close()
        return list(outcomes)

    outcomes = _run_gated(scenario(), layer)
    assert len(outcomes) == 3
    assert all(isinstance(outcome, StorageError) for outcome in outcomes)


def test_errors_reach_the_caller(tmp_path: Path) -> None:
    """BRK-9: unknown topics and partitions raise from the awaited call, naming them."""
    async def scenario() -> None:
        broker = await _open(tmp_path, WatchingLayer())
        with pytest.raises(UnknownTopic, match="'nope'"):
            await broker.produce("nope", 0, _batch(b"v"), durable=True)
        with pytest.raises(InvalidPartition, match="partition 5"):
            await broker.fetch("t", 5, 0, 100)
        await broker.close()

    asyncio.run(scenario())


def test_admin_fetch_and_group_operations(tmp_path: Path) -> None:
    """BRK-2, BRK-3: the async topic, fetch, offsets, group, retention and health calls agree
    with the synchronous Broker reading the same directory afterwards."""
    async def scenario() -> None:
        broker = await _open(tmp_path, WatchingLayer())
        await broker.produce_records("t", [Record(value=b"v", timestamp=5)] * 3, partition=1)
        fetched = await broker.fetch("t", 1, 0, 1 << 20)
        assert fetched.high_watermark == 3
        assert (await broker.list_offsets("t", 1, -1)).offset == 3
        assert [r.offset for r in await broker.read("t", 1, 1, 10)] == [1, 2]
        await broker.commit_offsets("g", {("t", 1): 1})
        assert await broker.list_groups() == ["g"]
        rows = await broker.describe_group("g")
        assert [(r.partition, r.lag) for r in rows] == [(1, 2)]
        described = await broker.describe_topic("t")
        assert [p.log_end_offset for p in described.partitions] == [0, 3]
        assert len(await broker.run_retention()) == 2
        assert [s.health.state for s in await broker.health("t")] == ["online", "online"]
        altered = await broker.alter_topic_config("t", {"segment_ms": 5})
        assert altered.config.segment_ms == 5
        await broker.create_topic("u")
        await broker.delete_topic("u")
        assert await broker.list_topics() == ["t"]
        await broker.delete_group("g")
        await broker.close()

    asyncio.run(scenario())
    with Broker.open(str(tmp_path / "d")) as broker:
        assert broker.list_groups() == []
        assert broker.metadata("t").config.segment_ms == 5
        assert broker.list_offsets("t", 1, -1).offset == 3


def test_reset_offsets_and_group_starts(tmp_path: Path) -> None:
    """BRK-8: the async reset checks every target before committing; group starts follow the
    reset policy, per partition on its own thread."""
    async def scenario() -> None:
        broker = await _open(tmp_path, WatchingLayer())
        for partition in (0, 1):
            await broker.produce_records("t", [Record(value=b"v", timestamp=t) for t in (1, 2)],
                                         partition=partition)
        changes = await broker.reset_offsets("g", "t", to_timestamp=2)
        assert [(c.partition, c.old_offset, c.new_offset) for c in changes] == [
            (0, None, 1), (1, None, 1)]
        with pytest.raises(OffsetOutOfRange, match=r"out of range in t-[01]"):
            await broker.reset_offsets("g", "t", to_offset=3)
        unchanged = await broker.fetch_offsets("g", [("t", 0), ("t", 1)])
        assert [value.offset for value in unchanged.values() if value] == [1, 1]
        assert await broker.group_start_offsets("g", "t", [0, 1], "error") == {0: 1, 1: 1}
        assert await broker.group_start_offsets("new", "t", [1], "latest") == {1: 2}
        with pytest.raises(NoCommittedOffset, match="t-0"):
            await broker.group_start_offsets("new", "t", [0], "error")
        await broker.close()

    asyncio.run(scenario())


def test_scheduler_task_flushes_by_flush_ms(tmp_path: Path) -> None:
    """BRK-7: the scheduler task makes a record durable once flush_ms passed on the clock."""
    now = {"ms": 1_000_000}

    async def scenario() -> None:
        broker = await AsyncBroker.open(str(tmp_path / "d"), create=True,
                                        clock=lambda: now["ms"],
                                        schedule=ScheduleSettings(tick_ms=1))
        await broker.create_topic("t", 1, {"flush_ms": 100})
        await broker.produce("t", 0, _batch(b"v"))
        log: PartitionLog = broker.broker.log("t", 0)
        broker.start_scheduler()
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert log.durable_offset == 0
        now["ms"] += 100
        for _ in range(2000):
            if log.durable_offset == 1:
                break
            await asyncio.sleep(0.005)
        assert log.durable_offset == 1
        await broker.close()

    asyncio.run(scenario())
