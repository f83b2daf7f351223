"""`flyq.client.AsyncProducer` / `Producer` (spec/client.md CLIENT-6..11) against a real
`flyq broker`, read back by an independent consumer (confluent-kafka), keys checked against
kafka-python's murmur2 partitioner."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka
import confluent_kafka.admin
import pytest

from flyq.client import AsyncProducer, Producer, RecordMetadata
from flyq.errors import ConnectionBroken, InvalidArgument, RequestTimedOut, UnknownTopic
from tests.integration.broker_process import BrokerProcess
from tests.integration.fault_proxy import FaultProxy

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2

pytestmark = pytest.mark.integration

PARTITIONS = 3
PRODUCE = 0


def create_topic(broker: BrokerProcess, name: str, partitions: int = PARTITIONS) -> None:
    """Create `name` with confluent-kafka's admin client."""
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([confluent_kafka.admin.NewTopic(name, partitions, 1)])[name].result(15)


def read_all(broker: BrokerProcess, topic: str, expected: int
             ) -> dict[int, list[confluent_kafka.Message]]:
    """Every record of `topic` (at least `expected` of them), per partition in offset order,
    as confluent-kafka reads them."""
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": broker.bootstrap, "group.id": "reader",
        "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                     for p in range(PARTITIONS)])
    records: dict[int, list[confluent_kafka.Message]] = {p: [] for p in range(PARTITIONS)}
    deadline = time.monotonic() + 60
    seen = 0
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if seen >= expected:
                    break
                continue
            assert message.error() is None, message.error()
            records[message.partition()].append(message)
            seen += 1
    finally:
        consumer.close()
    return records


def java_partition(key: bytes) -> int:
    """Where Java's rule, with kafka-python's murmur2, puts `key`: (hash & 0x7fffffff) % n."""
    return int(kafka_python_murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def test_ten_thousand_records_land_where_kafka_puts_them(broker: BrokerProcess) -> None:
    """CLIENT-6..8: 10 000 keyed and null-key records each get a distinct offset, read back in
    order per partition, keyed ones on murmur2's partition, null keys on more than one."""
    create_topic(broker, "orders")

    async def produce() -> list[RecordMetadata]:
        async with await AsyncProducer.connect(broker.bootstrap, batch_size=4096) as producer:
            futures = []
            for index in range(10_000):
                key = None if index % 2 else f"key-{index % 97}".encode()
                futures.append(await producer.send("orders", f"v{index}".encode(), key=key))
            await producer.flush()
            return list(await asyncio.gather(*futures))

    results = asyncio.run(produce())
    assert len({(meta.partition, meta.offset) for meta in results}) == 10_000
    stored = read_all(broker, "orders", 10_000)
    assert sum(len(messages) for messages in stored.values()) == 10_000
    by_value = {}
    for partition, messages in stored.items():
        values = [message.value() for message in messages]
        # Per partition, the records are in the order they were sent.
        assert values == sorted(values, key=lambda value: int(value[1:]))
        for message in messages:
            by_value[message.value()] = (partition, message.offset(), message.key())
    null_partitions = set()
    for index, meta in enumerate(results):
        value = f"v{index}".encode()
        assert by_value[value][:2] == (meta.partition, meta.offset)
        key = by_value[value][2]
        if index % 2:
            assert key is None
            null_partitions.add(meta.partition)
        else:
            assert key == f"key-{index % 97}".encode()
            assert meta.partition == java_partition(key)
    assert len(null_partitions) > 1


def test_gzip_round_trip(broker: BrokerProcess) -> None:
    """CLIENT-6: gzip batches are stored and read back by confluent-kafka unchanged."""
    create_topic(broker, "zipped")

    async def produce() -> list[RecordMetadata]:
        async with await AsyncProducer.connect(broker.bootstrap, compression="gzip") as producer:
            futures = [await producer.send("zipped", b"x" * 100 + str(i).encode(), key=b"k",
                                           headers=[("h", b"1")]) for i in range(500)]
            return list(await asyncio.gather(*futures))

    results = asyncio.run(produce())
    stored = read_all(broker, "zipped", 500)
    partition = java_partition(b"k")
    assert [meta.offset for meta in results] == list(range(500))
    assert [m.value() for m in stored[partition]] == [b"x" * 100 + str(i).encode()
                                                      for i in range(500)]
    assert stored[partition][0].headers() == [("h", b"1")]


def test_acks_one_without_idempotence(broker: BrokerProcess) -> None:
    """CLIENT-9: acks=1 (not idempotent by default) stores every record at the offset its
    future reports."""
    create_topic(broker, "leader-only")

    async def produce() -> list[RecordMetadata]:
        async with await AsyncProducer.connect(broker.bootstrap, acks=1) as producer:
            assert not producer.idempotent
            futures = [await producer.send("leader-only", str(i).encode(), partition=2)
                       for i in range(300)]
            return list(await asyncio.gather(*futures))

    assert [meta.offset for meta in asyncio.run(produce())] == list(range(300))
    stored = read_all(broker, "leader-only", 300)
    assert [m.value() for m in stored[2]] == [str(i).encode() for i in range(300)]


def test_acks_zero(broker: BrokerProcess) -> None:
    """CLIENT-9: acks=0 futures resolve with offset -1 and the records are stored."""
    create_topic(broker, "fast")

    async def produce() -> list[RecordMetadata]:
        async with await AsyncProducer.connect(broker.bootstrap, acks=0) as producer:
            futures = [await producer.send("fast", str(i).encode(), key=b"a") for i in range(100)]
            return list(await asyncio.gather(*futures))

    assert {meta.offset for meta in asyncio.run(produce())} == {-1}
    stored = read_all(broker, "fast", 100)
    assert [m.value() for m in stored[java_partition(b"a")]] == [str(i).encode()
                                                                for i in range(100)]


@pytest.mark.parametrize("kill", [False, True], ids=["restart", "kill-9"])
def test_broker_restart_loses_nothing_and_duplicates_nothing(broker: BrokerProcess,
                                                             kill: bool) -> None:
    """CLIENT-9/10: records sent across a broker restart (or kill -9) are all stored once each,
    in order: the producer retries the same batches with the same sequences."""
    create_topic(broker, "durable")
    count = 3000

    async def produce() -> list[RecordMetadata]:
        async with await AsyncProducer.connect(broker.bootstrap, linger_ms=2,
                                               batch_size=1024) as producer:
            futures = []
            restarting = None
            for index in range(count):
                if index == count // 3:
                    # The restart runs beside the sending: batches are in flight and queued
                    # while the broker goes away and comes back.
                    restarting = asyncio.create_task(asyncio.to_thread(restart))
                futures.append(await producer.send("durable", f"v{index}".encode(),
                                                   key=str(index % 7).encode()))
                if index % 10 == 0:
                    await asyncio.sleep(0.002)
            assert restarting is not None
            await restarting
            return list(await asyncio.gather(*futures))

    def restart() -> None:
        if kill:
            broker.kill()
        broker.restart()

    results = asyncio.run(produce())
    stored = read_all(broker, "durable", count)
    values = [m.value() for messages in stored.values() for m in messages]
    assert sorted(values) == sorted(f"v{index}".encode() for index in range(count))
    assert broker.runs == 2
    for meta_index, meta in enumerate(results):
        assert stored[meta.partition][meta.offset].value() == f"v{meta_index}".encode()


@pytest.mark.parametrize("idempotent", [True, False], ids=["idempotent", "not-idempotent"])
def test_a_lost_answer_is_retried_as_a_duplicate(broker: BrokerProcess, idempotent: bool) -> None:
    """CLIENT-9: when the answer to an appended batch is lost, the producer resends the same
    batch with the same sequence and the broker answers it as a duplicate: every record is stored
    once, at the offset its future reports. Without idempotence the same fault stores the batch
    twice (the control that shows the check can fail)."""
    create_topic(broker, "once")
    count = 400
    with FaultProxy(lambda: ("127.0.0.1", broker.port or 0)) as proxy:
        proxy.drop_answer(PRODUCE, 3)

        async def produce() -> list[RecordMetadata]:
            async with await AsyncProducer.connect(proxy.address, linger_ms=1, batch_size=512,
                                                   enable_idempotence=idempotent) as producer:
                futures = []
                for index in range(count):
                    futures.append(await producer.send("once", f"v{index}".encode(), partition=0))
                    if index % 20 == 0:
                        await asyncio.sleep(0.002)
                return list(await asyncio.gather(*futures))

        results = asyncio.run(produce())
        assert len(proxy.dropped) == 1
    values = [m.value() for m in read_all(broker, "once", count)[0]]
    if idempotent:
        assert values == [f"v{index}".encode() for index in range(count)]
        assert [meta.offset for meta in results] == list(range(count))
    else:
        assert len(values) > count
        assert sorted(set(values)) == sorted(f"v{index}".encode() for index in range(count))


def test_a_batch_given_up_does_not_block_its_partition(broker: BrokerProcess) -> None:
    """CLIENT-9/11: a sequenced batch that fails (the broker down past the delivery timeout)
    fails its future with the last retriable error; the producer bumps its epoch, so the next
    record to the partition is stored (not refused as out of order)."""
    create_topic(broker, "gap", 1)

    async def produce() -> tuple[RecordMetadata, BaseException | None, RecordMetadata]:
        async with await AsyncProducer.connect(broker.bootstrap,
                                               delivery_timeout_ms=1500) as producer:
            first = await (await producer.send("gap", b"a"))
            await asyncio.to_thread(broker.stop)
            lost = await producer.send("gap", b"b")
            error = None
            try:
                await asyncio.wait_for(lost, 10)
            except ConnectionBroken as exc:
                error = exc
            await asyncio.to_thread(broker.restart)
            last = await asyncio.wait_for(await producer.send("gap", b"c"), 10)
            return first, error, last

    first, error, last = asyncio.run(produce())
    assert isinstance(error, ConnectionBroken)
    assert (first.offset, last.offset) == (0, 1)
    assert [m.value() for m in read_all(broker, "gap", 2)[0]] == [b"a", b"c"]


def test_metadata_is_refreshed_and_new_partitions_used(broker: BrokerProcess) -> None:
    """CLIENT-10: after `metadata_max_age_ms` the producer asks Metadata again, so a key is
    placed by the topic's new partition count once partitions were added."""
    create_topic(broker, "growing", 1)
    key = next(f"k{i}".encode() for i in range(100) if java_partition(f"k{i}".encode()) == 2)
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})

    async def produce() -> tuple[RecordMetadata, RecordMetadata]:
        async with await AsyncProducer.connect(broker.bootstrap,
                                               metadata_max_age_ms=300) as producer:
            before = await (await producer.send("growing", b"1", key=key))
            await asyncio.to_thread(lambda: admin.create_partitions(
                [confluent_kafka.admin.NewPartitions("growing", PARTITIONS)])["growing"].result(15))
            await asyncio.sleep(0.5)
            after = await (await producer.send("growing", b"2", key=key))
            return before, after

    before, after = asyncio.run(produce())
    assert (before.partition, after.partition) == (0, 2)


@pytest.fixture
def no_auto_create_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A broker with auto.create.topics.enable = false."""
    config = tmp_path / "broker.toml"
    config.write_text('[server]\n"auto.create.topics.enable" = false\n')
    process = BrokerProcess(tmp_path / "data", extra_args=("--config", str(config))).start()
    try:
        yield process
    finally:
        code = process.stop() if process.running else 0
        if process.running:
            process.kill()
        assert code == 0, process.stderr_text(current_only=True)


def test_unknown_topic_fails_within_the_delivery_timeout(
        no_auto_create_broker: BrokerProcess) -> None:
    """CLIENT-11: with auto-create off, a record to a missing topic fails with UnknownTopic
    (UNKNOWN_TOPIC_OR_PARTITION) once the delivery timeout is spent, not before, not never."""

    async def produce() -> tuple[float, BaseException | None]:
        async with await AsyncProducer.connect(no_auto_create_broker.bootstrap,
                                               delivery_timeout_ms=1500) as producer:
            start = time.monotonic()
            future = await producer.send("missing", b"v")
            error = None
            try:
                await asyncio.wait_for(future, 10)
            except UnknownTopic as exc:
                error = exc
            return time.monotonic() - start, error

    elapsed, error = asyncio.run(produce())
    assert isinstance(error, UnknownTopic)
    assert error.code == 3
    assert 1.5 <= elapsed < 10


def test_sync_facade(broker: BrokerProcess) -> None:
    """CLIENT-6: the sync `Producer` works from plain code: futures resolve, flush blocks."""
    create_topic(broker, "plain")
    with Producer(broker.bootstrap, linger_ms=50) as producer:
        futures = [producer.send("plain", str(i).encode(), partition=1) for i in range(20)]
        producer.flush()
        assert all(future.done() for future in futures)
        assert [future.result().offset for future in futures] == list(range(20))
        assert {future.result().partition for future in futures} == {1}
    stored = read_all(broker, "plain", 20)
    assert [m.value() for m in stored[1]] == [str(i).encode() for i in range(20)]


def test_sync_send_does_not_wait_and_keeps_order(broker: BrokerProcess) -> None:
    """CLIENT-6, CLIENT-8 (sync facade): `send` returns before the record reaches the producer;
    records sent in a burst keep their order, `close()` alone delivers every one, a bad
    partition fails that record's future only, and a send after close raises."""
    create_topic(broker, "burst")
    count = 3000
    producer = Producer(broker.bootstrap, linger_ms=5)
    futures = [producer.send("burst", str(i).encode(), partition=0) for i in range(count)]
    refused = producer.send("burst", b"x", partition=9)
    futures.append(producer.send("burst", b"last", partition=0))
    producer.close()
    assert all(future.done() for future in futures)
    assert [future.result().offset for future in futures] == list(range(count + 1))
    with pytest.raises(InvalidArgument):
        refused.result()
    with pytest.raises(InvalidArgument):
        producer.send("burst", b"late")
    stored = read_all(broker, "burst", count + 1)
    assert [m.value() for m in stored[0]] == [str(i).encode() for i in range(count)] + [b"last"]


def test_send_waits_for_room_and_times_out_after_max_block(broker: BrokerProcess) -> None:
    """CLIENT-6 (buffer_memory, max_block_ms): while the broker answers slowly, a send that
    finds buffer_memory bytes waiting waits for the sender to take a batch; one that waits
    longer than max_block_ms fails its record with RequestTimedOut; every record accepted is
    delivered, in order."""
    create_topic(broker, "slow")

    async def produce(bootstrap: str, proxy: FaultProxy) -> tuple[float, list[object]]:
        async with await AsyncProducer.connect(bootstrap, batch_size=1000, linger_ms=0,
                                               buffer_memory=2500,
                                               max_block_ms=300) as producer:
            proxy.delay(PRODUCE, 0.5)
            start = time.monotonic()
            futures = [await producer.send("slow", b"x" * 100, partition=0) for _ in range(40)]
            waited = time.monotonic() - start
            outcomes: list[object] = []
            for future in futures:
                try:
                    outcomes.append((await future).offset)
                except RequestTimedOut as exc:
                    outcomes.append(exc)
            proxy.delay(PRODUCE, 0)
            return waited, outcomes
    with FaultProxy(lambda: ("127.0.0.1", broker.port or 0)) as proxy:
        waited, outcomes = asyncio.run(produce(proxy.address, proxy))
    delivered = [outcome for outcome in outcomes if isinstance(outcome, int)]
    assert waited >= 0.3  # some sends waited, at least one of them for max_block_ms
    assert any(isinstance(outcome, RequestTimedOut) for outcome in outcomes)
    assert delivered == list(range(len(delivered))) and len(delivered) >= 20
    stored = read_all(broker, "slow", len(delivered))
    assert len(stored[0]) == len(delivered)
