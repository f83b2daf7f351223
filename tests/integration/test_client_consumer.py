"""`flyq.client.AsyncConsumer` and `Consumer` (spec/client.md CLIENT-20..29) against a real
`flyq broker`, the records produced by confluent-kafka (an independent producer): keyed records
with headers, plain and gzip-compressed batches."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path

import pytest

from flyq.client import AsyncAdmin, AsyncConsumer, Consumer, ConsumerRecord
from flyq.codec.record_batch import COMPRESSION_GZIP, iter_batch_headers
from flyq.errors import (
    IllegalGeneration,
    InvalidArgument,
    OffsetOutOfRange,
    RebalanceInProgress,
    UnknownMemberId,
    UnknownTopic,
)
from tests.integration._clients import Rec, make_admin, make_producer
from tests.integration._timings import record_timing
from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TOPIC = "orders"
TP = (TOPIC, 0)
BASE_TIMESTAMP = 1_700_000_000_000
PLAIN, GZIPPED = 6, 6
COUNT = PLAIN + GZIPPED
WAIT = 15.0


def sample(offsets: range) -> list[Rec]:
    """Records with keys (offset 3 null), values, two headers and distinct timestamps."""
    return [Rec(offset, None if offset == 3 else f"key-{offset}".encode(),
                f"value-{offset}".encode() * (1 + offset % 5),
                (("h1", b"one"), ("index", str(offset).encode())),
                BASE_TIMESTAMP + 1000 * offset)
            for offset in offsets]


def produce(broker: BrokerProcess, records: list[Rec], compression: str = "none") -> None:
    """Produce `records` to TP with confluent-kafka; they must land at their offsets."""
    producer = make_producer("confluent-kafka", broker.bootstrap, -1, compression)
    try:
        for record in records:
            producer.send(TOPIC, 0, record.key, record.value, record.headers, record.timestamp)
        assert producer.flush() == [record.offset for record in records]
    finally:
        producer.close()


@pytest.fixture
def filled(broker: BrokerProcess) -> list[Rec]:
    """TOPIC with one partition holding COUNT records: PLAIN uncompressed, then GZIPPED in
    gzip batches (checked on disk, so the gzip path is really exercised)."""
    make_admin("confluent-kafka", broker.bootstrap).create(TOPIC, 1)
    records = sample(range(COUNT))
    produce(broker, records[:PLAIN])
    produce(broker, records[PLAIN:], "gzip")
    compressed = [header for log in broker.data_dir.rglob("*.log")
                  for _, header in iter_batch_headers(log.read_bytes())
                  if header.compression == COMPRESSION_GZIP]
    assert compressed, "confluent-kafka wrote no gzip batch"
    return records


def as_rec(record: ConsumerRecord) -> Rec:
    assert (record.topic, record.partition) == TP
    headers = tuple((key, value or b"") for key, value in record.headers)
    return Rec(record.offset, record.key, record.value, headers, record.timestamp)


async def read(consumer: AsyncConsumer, count: int) -> list[ConsumerRecord]:
    """Poll until `count` records came (bounded by WAIT); fail on more."""
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + WAIT
    while len(records) < count and time.monotonic() < deadline:
        records += await consumer.poll(0.5)
    assert len(records) == count, records
    return records


async def connect(broker: BrokerProcess, **config: object) -> AsyncConsumer:
    return await AsyncConsumer.connect(broker.bootstrap, **config)  # type: ignore[arg-type]


def test_assign_and_poll_read_every_record_in_order(broker: BrokerProcess,
                                                    filled: list[Rec]) -> None:
    """CLIENT-20/22/23: every record, plain and gzip, comes once, in order, with its fields;
    the position is after the last one and the next poll is empty."""
    async def scenario() -> None:
        async with await connect(broker, auto_offset_reset="earliest") as consumer:
            consumer.assign([TP])
            records = await read(consumer, COUNT)
            assert [as_rec(record) for record in records] == filled
            assert await consumer.position(TP) == COUNT
            assert await consumer.poll(0.2) == []
            assert records[3].key is None
    asyncio.run(scenario())


def test_seeks(broker: BrokerProcess, filled: list[Rec]) -> None:
    """CLIENT-21/23: seek (into the middle of a gzip batch too: records before the offset are
    skipped), seek_to_beginning, seek_to_end, seek_to_timestamp (past the last: the end)."""
    async def scenario() -> None:
        async with await connect(broker, auto_offset_reset="latest") as consumer:
            consumer.assign([TP])
            assert await consumer.position(TP) == COUNT
            consumer.seek(TP, PLAIN + 2)
            assert await consumer.position(TP) == PLAIN + 2
            records = await read(consumer, COUNT - PLAIN - 2)
            assert [as_rec(record) for record in records] == filled[PLAIN + 2:]
            await consumer.seek_to_beginning([TP])
            assert await consumer.position(TP) == 0
            assert as_rec((await consumer.poll(WAIT, max_records=1))[0]) == filled[0]
            await consumer.seek_to_timestamp(TP, filled[7].timestamp - 1)
            assert await consumer.position(TP) == 7
            assert (await consumer.poll(WAIT, max_records=1))[0].offset == 7
            await consumer.seek_to_timestamp(TP, filled[-1].timestamp + 1)
            assert await consumer.position(TP) == COUNT
            consumer.seek(TP, 1)
            await consumer.seek_to_end()
            assert await consumer.position(TP) == COUNT
            assert await consumer.poll(0.3) == []
            with pytest.raises(InvalidArgument):
                consumer.seek(("other", 0), 1)
            with pytest.raises(InvalidArgument):
                consumer.seek(TP, -1)
    asyncio.run(scenario())


def test_async_iteration(broker: BrokerProcess, filled: list[Rec]) -> None:
    """CLIENT-22: `async for` yields the records one by one, in order."""
    async def scenario() -> None:
        async with await connect(broker, auto_offset_reset="earliest") as consumer:
            consumer.assign([TP])
            seen: list[Rec] = []
            async for record in consumer:
                seen.append(as_rec(record))
                if len(seen) == COUNT:
                    break
            assert seen == filled
    asyncio.run(asyncio.wait_for(scenario(), WAIT * 2))


def test_commit_then_a_new_consumer_resumes(broker: BrokerProcess, filled: list[Rec]) -> None:
    """CLIENT-25/26: commit() commits the position after the records handed out; a new consumer
    of the group starts there; commit_async commits explicit offsets and calls back."""
    async def scenario() -> None:
        async with await connect(broker, group_id="g", enable_auto_commit=False,
                                 auto_offset_reset="earliest") as consumer:
            consumer.assign([TP])
            assert await consumer.committed(TP) is None
            records = await consumer.poll(WAIT, max_records=4)
            assert [record.offset for record in records] == [0, 1, 2, 3]
            await consumer.commit()
            assert await consumer.committed(TP) == 4
        async with await connect(broker, group_id="g", enable_auto_commit=False,
                                 auto_offset_reset="earliest") as consumer:
            consumer.assign([TP])
            assert await consumer.position(TP) == 4
            assert (await consumer.poll(WAIT, max_records=1))[0].offset == 4
            outcomes: list[object] = []
            await consumer.commit_async({TP: 9}, outcomes.append)
            assert outcomes == [None]
            assert await consumer.committed(TP) == 9
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            assert await admin.list_group_offsets("g") == {TP: 9}
    asyncio.run(scenario())


def test_auto_commit_on_close_and_by_interval(broker: BrokerProcess, filled: list[Rec]) -> None:
    """CLIENT-25: auto-commit commits the positions of records already handed out, on close and
    at the interval; without it nothing is committed."""
    async def committed(group: str) -> int | None:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            return (await admin.list_group_offsets(group)).get(TP)

    async def scenario() -> None:
        async with await connect(broker, group_id="off", enable_auto_commit=False,
                                 auto_offset_reset="earliest") as consumer:
            consumer.assign([TP])
            assert len(await consumer.poll(WAIT, max_records=5)) == 5
        assert await committed("off") is None
        async with await connect(broker, group_id="close", auto_offset_reset="earliest",
                                 auto_commit_interval_ms=60_000) as consumer:
            consumer.assign([TP])
            assert len(await consumer.poll(WAIT, max_records=5)) == 5
            assert await committed("close") is None  # the interval has not passed
        assert await committed("close") == 5
        async with await connect(broker, group_id="interval", auto_offset_reset="earliest",
                                 auto_commit_interval_ms=0) as consumer:
            consumer.assign([TP])
            assert len(await consumer.poll(WAIT, max_records=3)) == 3
            assert len(await consumer.poll(WAIT, max_records=3)) == 3  # commits 3 first
            deadline = time.monotonic() + WAIT
            while await committed("interval") != 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert await committed("interval") == 3
            await consumer.close(commit=False)
        assert await committed("interval") == 3
    asyncio.run(scenario())


def test_auto_offset_reset_without_a_committed_offset(broker: BrokerProcess,
                                                      filled: list[Rec]) -> None:
    """CLIENT-26/27: earliest starts at the log start, latest at the end (and then reads what
    comes), error raises OffsetOutOfRange; a committed offset wins over the policy."""
    async def scenario() -> None:
        async with await connect(broker, group_id="e", auto_offset_reset="earliest") as consumer:
            consumer.assign([TP])
            assert (await consumer.poll(WAIT, max_records=1))[0].offset == 0
        async with await connect(broker, group_id="l", auto_offset_reset="latest") as consumer:
            consumer.assign([TP])
            assert await consumer.poll(0.3) == []
            assert await consumer.position(TP) == COUNT
            extra = sample(range(COUNT, COUNT + 1))
            await asyncio.to_thread(produce, broker, extra)
            assert [as_rec(record) for record in await read(consumer, 1)] == extra
        async with await connect(broker, group_id="x", auto_offset_reset="error") as consumer:
            consumer.assign([TP])
            with pytest.raises(OffsetOutOfRange) as raised:
                await consumer.poll(1.0)
            assert (raised.value.topic, raised.value.partition) == TP
            await consumer.commit({TP: 2})
            assert await consumer.position(TP) == 2
            assert (await consumer.poll(WAIT, max_records=1))[0].offset == 2
        with pytest.raises(InvalidArgument):
            await connect(broker, auto_offset_reset="nope")
    asyncio.run(scenario())


@pytest.mark.parametrize("policy", ["earliest", "latest", "error"])
def test_records_deleted_below_the_position(broker: BrokerProcess, filled: list[Rec],
                                            policy: str) -> None:
    """CLIENT-27: a fetch answered OFFSET_OUT_OF_RANGE (records deleted with confluent-kafka's
    delete_records) resets the position by the policy, or raises for 'error'."""
    async def scenario() -> None:
        async with await connect(broker, auto_offset_reset=policy) as consumer:
            consumer.assign([TP])
            consumer.seek(TP, 2)
            assert await asyncio.to_thread(
                make_admin("confluent-kafka", broker.bootstrap).delete_records, TOPIC, 0, 8) == 8
            if policy == "error":
                with pytest.raises(OffsetOutOfRange):
                    await read(consumer, 1)
                return
            if policy == "earliest":
                assert [as_rec(record) for record in await read(consumer, COUNT - 8)] == \
                    filled[8:]
            else:
                assert await consumer.poll(1.0) == []
                assert await consumer.position(TP) == COUNT
    asyncio.run(scenario())


def test_long_poll_returns_soon_after_a_record_is_produced(broker: BrokerProcess) -> None:
    """CLIENT-22 / FETCH-2: with a fetch wait far longer than the test, a poll waiting at the
    end returns the record produced meanwhile, woken by the append."""
    make_admin("confluent-kafka", broker.bootstrap).create(TOPIC, 1)
    wait_ms = 20_000

    async def scenario() -> float:
        async with await connect(broker, fetch_max_wait_ms=wait_ms) as consumer:
            consumer.assign([TP])
            assert await consumer.position(TP) == 0
            assert await consumer.poll(0.5) == []  # the long fetch is in flight now
            record = sample(range(1))
            timer = threading.Timer(0.3, produce, (broker, record))
            start = time.monotonic()
            timer.start()
            try:
                got = await consumer.poll(wait_ms / 1000 * 2)
            finally:
                timer.join()
            elapsed = time.monotonic() - start
            assert [as_rec(r) for r in got] == record
            assert elapsed < wait_ms / 1000, "the fetch was not woken by the append"
            return elapsed
    record_timing("consumer long poll, produce to record", [asyncio.run(scenario())])


def test_sync_facade_from_plain_code(broker: BrokerProcess, filled: list[Rec],
                                     tmp_path: Path) -> None:
    """The sync `Consumer` runs the same core on its own thread: assign, poll, seeks, position,
    iteration, commit, committed, commit_async, close (twice)."""
    with Consumer(broker.bootstrap, group_id="sync", auto_offset_reset="earliest") as consumer:
        consumer.assign([TP])
        assert consumer.assignment() == {TP}
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + WAIT
        while len(records) < COUNT and time.monotonic() < deadline:
            records += consumer.poll(0.5)
        assert [as_rec(record) for record in records] == filled
        consumer.seek_to_beginning()
        assert consumer.position(TP) == 0
        consumer.seek(TP, 5)
        iterated = []
        for record in consumer:
            iterated.append(record.offset)
            if len(iterated) == 3:
                break
        assert iterated == [5, 6, 7]
        consumer.commit()
        assert consumer.committed(TP) == 8
        consumer.seek_to_timestamp(TP, filled[10].timestamp)
        assert consumer.position(TP) == 10
        consumer.seek_to_end([TP])
        assert consumer.position(TP) == COUNT
        outcomes: list[object] = []
        consumer.commit_async({TP: 11}, outcomes.append).result(WAIT)
        assert outcomes == [None]
        assert consumer.committed(TP) == 11
        with pytest.raises(InvalidArgument):
            consumer.seek(("nope", 0), 0)
    consumer.close()
    with pytest.raises(InvalidArgument):
        Consumer(broker.bootstrap, timeout=1.0, fetch_max_wait_ms=1000)
    # auto-commit on close committed the position (the end, after seek_to_end)
    with Consumer(broker.bootstrap, group_id="sync", enable_auto_commit=False) as again:
        assert again.committed(TP) == COUNT


def test_a_partition_error_is_raised_after_the_others_are_buffered(
        broker: BrokerProcess, filled: list[Rec]) -> None:
    """CLIENT-28/29: a fetch answered UNKNOWN_TOPIC_OR_PARTITION for one partition raises
    UnknownTopic from poll; the other partition's records are kept; poll after close is
    InvalidArgument."""
    missing = ("missing", 0)

    async def scenario() -> None:
        consumer = await connect(broker, auto_offset_reset="earliest")
        consumer.assign([TP, missing])
        consumer.seek(missing, 0)
        consumer.seek(TP, 0)
        with pytest.raises(UnknownTopic) as raised:
            await read(consumer, COUNT)
        assert (raised.value.topic, raised.value.partition) == missing
        consumer.assign([TP])
        assert [as_rec(record) for record in await read(consumer, COUNT)] == filled
        await consumer.close()
        await consumer.close()
        with pytest.raises(InvalidArgument):
            await consumer.poll(0)
    asyncio.run(scenario())


def test_an_answer_to_a_fetch_sent_before_a_seek_is_dropped(broker: BrokerProcess,
                                                            filled: list[Rec]) -> None:
    """CLIENT-24: a fetch in flight from offset 0 when the consumer seeks to 5 brings records
    that are not handed out; the first record after the seek is 5."""
    async def scenario() -> None:
        async with await connect(broker) as consumer:
            consumer.assign([TP])
            consumer.seek(TP, 0)
            assert await consumer.poll(0) == []  # sends the fetch from 0 and returns
            consumer.seek(TP, 5)
            assert [record.offset for record in await consumer.poll(WAIT, max_records=2)] == \
                [5, 6]
    asyncio.run(scenario())


def test_two_partitions_each_in_order(broker: BrokerProcess) -> None:
    """CLIENT-22: records of two assigned partitions all come, each partition's in offset order,
    with their topic and partition."""
    make_admin("confluent-kafka", broker.bootstrap).create("two", 2)
    producer = make_producer("confluent-kafka", broker.bootstrap, -1, "gzip")
    try:
        for n in range(20):
            producer.send("two", n % 2, None, f"{n % 2}:{n // 2}".encode())
        producer.flush()
    finally:
        producer.close()

    async def scenario() -> None:
        async with await connect(broker, auto_offset_reset="earliest") as consumer:
            consumer.assign([("two", 0), ("two", 1)])
            got: list[ConsumerRecord] = []
            deadline = time.monotonic() + WAIT
            while len(got) < 20 and time.monotonic() < deadline:
                got += await consumer.poll(0.5, max_records=3)
            for partition in (0, 1):
                mine = [record for record in got if record.partition == partition]
                assert [(r.topic, r.offset, r.value) for r in mine] == [
                    ("two", n, f"{partition}:{n}".encode()) for n in range(10)]
    asyncio.run(scenario())


def test_the_next_fetch_is_sent_while_records_are_handed_out(broker: BrokerProcess) -> None:
    """CLIENT-22: with one batch per fetch, after a poll returned the first record the fetch of
    the next batch is already under way, so a poll that does not wait (timeout 0) gets it."""
    make_admin("confluent-kafka", broker.bootstrap).create(TOPIC, 1)
    records = sample(range(3))
    for record in records:
        produce(broker, [record])  # one flush each: one batch each

    async def scenario() -> None:
        async with await connect(broker, auto_offset_reset="earliest",
                                 max_partition_fetch_bytes=1) as consumer:
            consumer.assign([TP])
            assert [as_rec(r) for r in await consumer.poll(WAIT)] == records[:1]
            for record in records[1:]:
                # The caller is busy meanwhile; the loop runs the prefetch (a local fetch of
                # stored data: milliseconds). Without prefetching, poll(0) here would only send
                # the fetch and return [].
                await asyncio.sleep(1.0)
                assert [as_rec(r) for r in await consumer.poll(0)] == [record]
    asyncio.run(scenario())


def test_consumers_read_on_across_a_broker_restart(broker: BrokerProcess,
                                                   filled: list[Rec]) -> None:
    """CLIENT-29a: across a broker restart, an `assign()` consumer and a `subscribe()`d one keep
    polling without raising and read the records produced after it, over new connections; the
    member, refused until it has joined the restarted broker's group, then commits."""
    async def scenario() -> None:
        reader = await connect(broker, auto_offset_reset="earliest")
        member = await connect(broker, group_id="restart", auto_offset_reset="earliest",
                               heartbeat_interval_ms=200, session_timeout_ms=6000)
        try:
            reader.assign([TP])
            member.subscribe([TOPIC])
            assert [r.offset for r in await read(reader, COUNT)] == list(range(COUNT))
            assert [r.offset for r in await read(member, COUNT)] == list(range(COUNT))
            await member.commit()
            await asyncio.to_thread(broker.restart)
            produce(broker, sample(range(COUNT, COUNT + 3)))
            for consumer in (reader, member):
                records: list[ConsumerRecord] = []
                deadline = time.monotonic() + 3 * WAIT
                while len(records) < 3 and time.monotonic() < deadline:
                    records += await consumer.poll(0.5)  # raises nothing meanwhile
                assert [r.offset for r in records] == [COUNT, COUNT + 1, COUNT + 2]
            # The restarted broker knows no member (GR-1): commits are refused until the member
            # has noticed and joined again, which starts it over from the committed offset
            # (those 3 records come again: at least once); then its commits land.
            deadline = time.monotonic() + 3 * WAIT
            while await member.committed(TP) != COUNT + 3:
                assert time.monotonic() < deadline, "the member never committed again"
                await member.poll(0.5)
                with contextlib.suppress(IllegalGeneration, UnknownMemberId,
                                         RebalanceInProgress):
                    await member.commit()
        finally:
            await reader.close()
            await member.close()
    asyncio.run(scenario())
