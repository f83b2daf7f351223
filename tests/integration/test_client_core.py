"""flyq.client is a Kafka client, not a FlyQ-only one: its core scenarios (admin, produce,
consume with assign() and with subscribe(), commit, the sync facades) run against FlyQ and
against Tansu, the Rust Kafka-compatible broker of the broker benchmark
(tests/integration/tansu_process.py). Results are read back through confluent-kafka or checked
against Kafka's documented behaviour, never against flyq.client itself.

Where Tansu deviates from Kafka's documented behaviour the client does not bend: that broker's
case is a strict xfail whose reason names the deviation (the constants below, the list the
notes repeat). FlyQ's extension APIs are used only where ApiVersions advertises them
(CLIENT-40), so on Tansu they raise UnsupportedVersion before sending anything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import attrs
import confluent_kafka
import pytest

from flyq.client import (
    Admin,
    AsyncAdmin,
    AsyncConsumer,
    AsyncProducer,
    BrokerConnection,
    Consumer,
    ConsumerRecord,
    Producer,
    RecordMetadata,
)
from flyq.codec.record_batch import encode_batch
from flyq.errors import (
    InvalidConfig,
    RecordTooLarge,
    RequestTimedOut,
    TopicAlreadyExists,
    UnknownTopic,
    UnsupportedVersion,
)
from flyq.records import Record
from tests.integration._clients import make_admin, make_consumer, make_producer
from tests.integration.broker_process import BrokerProcess
from tests.integration.fault_proxy import FaultProxy
from tests.integration.tansu_process import TANSU_VERSION
from tests.unit.test_partitioner import kafka_python_partition

pytestmark = pytest.mark.integration

TOPIC = "core"
TIMEOUT = 15.0
PRODUCE, INIT_PRODUCER_ID = 0, 22

# --- Tansu's deviations from Kafka's documented behaviour, each with Kafka's ----------------------
LIST_OFFSETS_LATEST = (
    "ListOffsets with timestamp -1 (latest) answers the last batch's base offset + 1, so after "
    "a multi-record batch it is below the high watermark (Kafka: the high watermark, the offset "
    "after the last record)")
LIST_OFFSETS_UNKNOWN_TOPIC = (
    "ListOffsets of a topic that does not exist answers offset 0 with error 0 "
    "(Kafka: UNKNOWN_TOPIC_OR_PARTITION)")
DESCRIBE_CONFIGS_NO_DEFAULTS = (
    "DescribeConfigs of a topic answers only the configs set on it (Kafka: every topic config, "
    "defaults included, each with its source)")
DESCRIBE_CONFIGS_UNKNOWN_TOPIC = (
    "DescribeConfigs of a topic that does not exist answers no configs with error 0 "
    "(Kafka: UNKNOWN_TOPIC_OR_PARTITION)")
ALTER_CONFIGS_UNKNOWN_NAME = (
    "IncrementalAlterConfigs accepts a name that is not a topic config "
    "(Kafka: INVALID_CONFIG, 'Unknown topic config name')")
NO_CREATE_PARTITIONS = (
    "CreatePartitions (api 37) is not in its ApiVersions (Kafka serves it since 1.0, KIP-195)")
DELETE_RECORDS_PANICS = (
    "DeleteRecords (api 21) is advertised (v0-2) but the memory storage engine panics on it "
    "('not yet implemented', tansu-storage dynostore.rs) and the connection is dropped "
    "(Kafka: the log start offset moves to the offset given)")
DUPLICATE_IS_AN_ERROR = (
    "a retried idempotent batch (same producer id, epoch and sequences as one just appended) is "
    "answered DUPLICATE_SEQUENCE_NUMBER (46) (Kafka: error 0 with the original base offset, "
    "for any of the producer's last 5 batches of the partition)")
NO_EPOCH_BUMP = (
    "InitProducerId v3+ with the producer's own id and epoch (KIP-360's epoch bump for an "
    "idempotent producer) is answered UNKNOWN_SERVER_ERROR (-1) (Kafka: the same id, epoch + 1)")
OFFSET_FETCH_ALL_NULL = (
    "OffsetFetch v7 asking for all of a group's partitions (topics null) is answered with a "
    "null topics array, which the response schema does not allow (Kafka: every committed "
    "partition)")


@attrs.frozen
class Kafka:
    """A broker under test: `name` is "flyq" or "tansu"."""

    name: str
    bootstrap: str


@pytest.fixture
def kafka(request: pytest.FixtureRequest) -> Kafka:
    """The broker named by the test's parameter, started for the test (fixture `broker` or
    `tansu`, which also stop it)."""
    if request.param == "flyq":
        return Kafka("flyq", request.getfixturevalue("broker").bootstrap)
    return Kafka("tansu", request.getfixturevalue("tansu"))


def on_both(tansu_deviation: str | None = None, *, tansu_runs: bool = True
            ) -> pytest.MarkDecorator:
    """Run the test on FlyQ and on Tansu; on Tansu as a strict xfail if it deviates (not run at
    all where running it would hang)."""
    tansu: object = "tansu"
    if tansu_deviation is not None:
        tansu = pytest.param("tansu", marks=pytest.mark.xfail(
            strict=True, run=tansu_runs, reason=f"Tansu {TANSU_VERSION}: {tansu_deviation}"))
    return pytest.mark.parametrize("kafka", ["flyq", tansu], indirect=True)


def run(kafka: Kafka, scenario: Callable[[AsyncAdmin], Awaitable[None]]) -> None:
    """Run an `async def scenario(admin)` with an AsyncAdmin connected to `kafka`."""
    async def main() -> None:
        async with await AsyncAdmin.connect(kafka.bootstrap) as admin:
            await scenario(admin)
    asyncio.run(main())


def confluent_topics(kafka: Kafka) -> dict[str, int]:
    return make_admin("confluent-kafka", kafka.bootstrap).topics()


async def produce_one_batch(kafka: Kafka, topic: str, count: int) -> list[RecordMetadata]:
    """`count` records to partition 0 of `topic` in one batch (sent at flush, not by linger)."""
    async with await AsyncProducer.connect(kafka.bootstrap, linger_ms=60_000) as producer:
        futures = [await producer.send(topic, f"v{n}".encode(), f"k{n}".encode(), partition=0)
                   for n in range(count)]
        await producer.flush()
        return [future.result() for future in futures]


def confluent_read(kafka: Kafka, topic: str, partition: int, count: int, *,
                   and_no_more: bool = False) -> list[tuple[int, bytes | None, bytes | None]]:
    """(offset, key, value) of the first `count` records of a partition, read by librdkafka;
    with `and_no_more`, also any record that comes within a second after them."""
    consumer = make_consumer("confluent-kafka", kafka.bootstrap, group="oracle")
    try:
        consumer.assign(topic, partition, 0)
        records = consumer.read(count)
        if and_no_more:
            records += consumer.read(1, timeout=1.0)
        return [(rec.offset, rec.key, rec.value) for rec in records]
    finally:
        consumer.close()


def confluent_committed(kafka: Kafka, group: str, topic: str, partition: int) -> int | None:
    """`group`'s committed offset of a partition, as librdkafka's OffsetFetch reads it."""
    consumer = confluent_kafka.Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group,
                                        "enable.auto.commit": False})
    try:
        [tp] = consumer.committed([confluent_kafka.TopicPartition(topic, partition)],
                                  timeout=TIMEOUT)
        assert tp.error is None, tp.error
        return None if tp.offset < 0 else int(tp.offset)
    finally:
        consumer.close()


async def read(consumer: AsyncConsumer, count: int) -> list[ConsumerRecord]:
    """Poll until `count` records came (bounded by TIMEOUT); fail on more."""
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + TIMEOUT
    while len(records) < count and time.monotonic() < deadline:
        records += await consumer.poll(0.5)
    assert len(records) == count, records
    return records


# --- admin -----------------------------------------------------------------------------------------


@on_both()
def test_create_list_and_delete_a_topic(kafka: Kafka) -> None:
    """CLIENT-5: create_topic makes a topic of N partitions that list_topics and confluent-kafka
    both list; creating it again is TopicAlreadyExists; delete_topic removes it, and deleting it
    again is UnknownTopic."""
    async def scenario(admin: AsyncAdmin) -> None:
        await admin.create_topic(TOPIC, 3)
        assert (await admin.list_topics())[TOPIC] == 3
        assert confluent_topics(kafka)[TOPIC] == 3
        assert await admin.partition_counts([TOPIC]) == {TOPIC: 3}
        with pytest.raises(TopicAlreadyExists):
            await admin.create_topic(TOPIC, 3)
        await admin.delete_topic(TOPIC)
        assert TOPIC not in await admin.list_topics()
        assert TOPIC not in confluent_topics(kafka)
        with pytest.raises(UnknownTopic) as caught:
            await admin.delete_topic(TOPIC)
        assert caught.value.name == TOPIC
    run(kafka, scenario)


@on_both()
def test_list_start_offsets_and_offsets_by_timestamp(kafka: Kafka) -> None:
    """CLIENT-5: an empty partition's start and end offsets are 0; after records the start
    offset stays 0, and the offset for a timestamp before them all is the first record's."""
    async def scenario(admin: AsyncAdmin) -> None:
        await admin.create_topic(TOPIC, 2)
        both = [(TOPIC, 0), (TOPIC, 1)]
        assert await admin.list_start_offsets(both) == {(TOPIC, 0): 0, (TOPIC, 1): 0}
        assert await admin.list_end_offsets(both) == {(TOPIC, 0): 0, (TOPIC, 1): 0}
        await produce_one_batch(kafka, TOPIC, 4)
        assert await admin.list_start_offsets([(TOPIC, 0)]) == {(TOPIC, 0): 0}
        assert await admin.list_offsets([(TOPIC, 0)], 0) == {(TOPIC, 0): 0}
    run(kafka, scenario)


@on_both(tansu_deviation=LIST_OFFSETS_LATEST)
def test_list_end_offsets_is_the_high_watermark(kafka: Kafka) -> None:
    """CLIENT-5: after one batch of 5 records the end offset is 5 (Kafka: the offset after the
    last record), as librdkafka's watermarks say too."""
    async def scenario(admin: AsyncAdmin) -> None:
        await admin.create_topic(TOPIC, 1)
        await produce_one_batch(kafka, TOPIC, 5)
        assert await admin.list_end_offsets([(TOPIC, 0)]) == {(TOPIC, 0): 5}
    run(kafka, scenario)


@on_both(tansu_deviation=LIST_OFFSETS_UNKNOWN_TOPIC)
def test_list_offsets_of_an_unknown_topic_is_unknown_topic(kafka: Kafka) -> None:
    """CLIENT-4: ListOffsets of a topic that does not exist is UnknownTopic naming the
    partition."""
    async def scenario(admin: AsyncAdmin) -> None:
        with pytest.raises(UnknownTopic) as caught:
            await admin.list_end_offsets([("missing", 0)])
        assert caught.value.topic == "missing"  # type: ignore[attr-defined]
    run(kafka, scenario)


@on_both()
def test_configs_set_and_altered_are_described(kafka: Kafka) -> None:
    """CLIENT-12/13: a config given at creation, then one set by alter_topic_config, is what
    describe_topic_config answers for it."""
    async def scenario(admin: AsyncAdmin) -> None:
        await admin.create_topic(TOPIC, 1, {"retention.ms": "123456"})
        assert (await admin.describe_topic_config(TOPIC))["retention.ms"] == "123456"
        await admin.alter_topic_config(TOPIC, {"retention.ms": "654321"})
        assert (await admin.describe_topic_config(TOPIC))["retention.ms"] == "654321"
    run(kafka, scenario)


@on_both(tansu_deviation=DESCRIBE_CONFIGS_NO_DEFAULTS)
def test_describe_topic_config_includes_the_defaults(kafka: Kafka) -> None:
    """CLIENT-12: a topic created without configs is described with Kafka's topic configs
    (their defaults), not an empty set."""
    async def scenario(admin: AsyncAdmin) -> None:
        await admin.create_topic(TOPIC, 1)
        described = await admin.describe_topic_config(TOPIC)
        assert {"cleanup.policy", "retention.ms", "segment.bytes",
                "max.message.bytes"} <= described.keys()
        assert described["cleanup.policy"] == "delete"
    run(kafka, scenario)


@on_both(tansu_deviation=DESCRIBE_CONFIGS_UNKNOWN_TOPIC)
def test_describe_config_of_an_unknown_topic_is_unknown_topic(kafka: Kafka) -> None:
    """CLIENT-4/12: describing a topic that does not exist is UnknownTopic naming it."""
    async def scenario(admin: AsyncAdmin) -> None:
        with pytest.raises(UnknownTopic) as caught:
            await admin.describe_topic_config("missing")
        assert caught.value.name == "missing"
    run(kafka, scenario)


@on_both(tansu_deviation=ALTER_CONFIGS_UNKNOWN_NAME)
def test_altering_an_unknown_config_name_is_invalid_config(kafka: Kafka) -> None:
    """CLIENT-4/13: setting a name that is no topic config is InvalidConfig (INVALID_CONFIG)."""
    async def scenario(admin: AsyncAdmin) -> None:
        await admin.create_topic(TOPIC, 1)
        with pytest.raises(InvalidConfig):
            await admin.alter_topic_config(TOPIC, {"no.such.config": "1"})
    run(kafka, scenario)


@on_both(tansu_deviation=NO_CREATE_PARTITIONS)
def test_create_partitions_grows_the_topic(kafka: Kafka) -> None:
    """CLIENT-14: create_partitions(name, 4) leaves 4 partitions, as confluent-kafka lists."""
    async def scenario(admin: AsyncAdmin) -> None:
        await admin.create_topic(TOPIC, 2)
        await admin.create_partitions(TOPIC, 4)
        assert confluent_topics(kafka)[TOPIC] == 4
    run(kafka, scenario)


def test_an_admin_api_the_broker_lacks_is_unsupported_version(tansu: str) -> None:
    """CLIENT-19: on Tansu, which does not advertise CreatePartitions, create_partitions raises
    UnsupportedVersion naming the API, and the connection stays usable (nothing was sent)."""
    async def scenario() -> None:
        async with await AsyncAdmin.connect(tansu) as admin:
            await admin.create_topic(TOPIC, 1)
            with pytest.raises(UnsupportedVersion, match="does not serve") as caught:
                await admin.create_partitions(TOPIC, 2)
            assert caught.value.api == "CreatePartitions"
            assert (await admin.list_topics())[TOPIC] == 1
    asyncio.run(scenario())


@on_both(tansu_deviation=DELETE_RECORDS_PANICS)
def test_delete_records_moves_the_log_start_offset(kafka: Kafka) -> None:
    """CLIENT-15: delete_records below offset 2 answers low watermark 2, and the log start
    offset is then 2."""
    async def scenario(admin: AsyncAdmin) -> None:
        await admin.create_topic(TOPIC, 1)
        await produce_one_batch(kafka, TOPIC, 4)
        assert await admin.delete_records({(TOPIC, 0): 2}) == {(TOPIC, 0): 2}
        assert await admin.list_start_offsets([(TOPIC, 0)]) == {(TOPIC, 0): 2}
    run(kafka, scenario)


# --- produce ---------------------------------------------------------------------------------------


@on_both()
def test_keyed_records_go_to_their_murmur2_partitions_in_order(kafka: Kafka) -> None:
    """CLIENT-7/9/11: an idempotent AsyncProducer puts each keyed record in kafka-python's
    murmur2 partition, its RecordMetadata offsets count up from 0 per partition in send order,
    and librdkafka reads each record at the offset its metadata names."""
    partitions, count = 3, 30
    keys = [f"key-{n}".encode() for n in range(count)]

    async def produce() -> list[RecordMetadata]:
        async with await AsyncAdmin.connect(kafka.bootstrap) as admin:
            await admin.create_topic(TOPIC, partitions)
        async with await AsyncProducer.connect(kafka.bootstrap) as producer:
            futures = [await producer.send(TOPIC, b"v-" + key, key) for key in keys]
            await producer.flush()
            return [future.result() for future in futures]
    results = asyncio.run(produce())
    expected = [kafka_python_partition(key, partitions) for key in keys]
    assert [meta.partition for meta in results] == expected
    for partition in range(partitions):
        mine = [(meta.offset, key) for meta, key in zip(results, keys, strict=True)
                if meta.partition == partition]
        assert [offset for offset, _ in mine] == list(range(len(mine)))
        stored = confluent_read(kafka, TOPIC, partition, len(mine))
        assert stored == [(offset, key, b"v-" + key) for offset, key in mine]


def idempotent_batch(producer: dict[str, int], sequence: int) -> dict[str, object]:
    """A Produce v3+ body (acks all) with one batch of 2 records of `producer` at `sequence`."""
    batch = encode_batch(0, [Record(b"a"), Record(b"b")], producer_id=producer["producer_id"],
                         producer_epoch=producer["producer_epoch"], base_sequence=sequence)
    return {"transactional_id": None, "acks": -1, "timeout_ms": 10_000, "topic_data": [
        {"name": TOPIC, "partition_data": [{"index": 0, "records": batch}]}]}


async def init_producer_id(connection: BrokerConnection) -> dict[str, int]:
    body = (await connection.request(INIT_PRODUCER_ID, {
        "transactional_id": None, "transaction_timeout_ms": 60_000}, (0, 4))).body
    assert body["error_code"] == 0, body
    return {"producer_id": body["producer_id"], "producer_epoch": body["producer_epoch"]}


@on_both(tansu_deviation=DUPLICATE_IS_AN_ERROR)
def test_a_resent_idempotent_batch_is_answered_with_its_offsets(kafka: Kafka) -> None:
    """CLIENT-9's premise (Kafka's idempotent produce): the same batch sent twice is stored
    once, and the second answer is error 0 with the first one's base offset."""
    async def scenario(admin: AsyncAdmin) -> None:
        await admin.create_topic(TOPIC, 1)
        connection = await BrokerConnection.open(kafka.bootstrap)
        try:
            producer = await init_producer_id(connection)
            answers = []
            for _ in range(2):
                body = (await connection.request(PRODUCE, idempotent_batch(producer, 0),
                                                 (3, 9))).body
                [answer] = body["responses"][0]["partition_responses"]
                answers.append((answer["error_code"], answer["base_offset"]))
        finally:
            await connection.close()
        assert answers == [(0, 0), (0, 0)]
        assert confluent_read(kafka, TOPIC, 0, 2, and_no_more=True) == [
            (0, None, b"a"), (1, None, b"b")]
    run(kafka, scenario)


@on_both(tansu_deviation=NO_EPOCH_BUMP)
def test_init_producer_id_bumps_an_idempotent_producers_epoch(kafka: Kafka) -> None:
    """CLIENT-9's premise (KIP-360): InitProducerId v3+ with the producer's id and epoch answers
    the same id with the next epoch, which the producer bumps to after a failed batch."""
    async def scenario(admin: AsyncAdmin) -> None:
        connection = await BrokerConnection.open(kafka.bootstrap)
        try:
            producer = await init_producer_id(connection)
            body = (await connection.request(INIT_PRODUCER_ID, {
                "transactional_id": None, "transaction_timeout_ms": 60_000, **producer},
                (3, 4))).body
        finally:
            await connection.close()
        assert (body["error_code"], body["producer_id"], body["producer_epoch"]) == (
            0, producer["producer_id"], producer["producer_epoch"] + 1)
    run(kafka, scenario)


@on_both(tansu_deviation=f"{DUPLICATE_IS_AN_ERROR}; the producer takes that answer as "
         "delivered without an offset, as Kafka's Java producer does, so the retried batch's "
         "futures report offset -1")
def test_a_lost_produce_answer_is_not_stored_twice(kafka: Kafka) -> None:
    """CLIENT-9: when the answer to an appended batch is lost (FaultProxy cuts it), the
    idempotent producer's retry is answered as a duplicate: librdkafka reads every record once,
    at the offset its future reports."""
    host, port = kafka.bootstrap.rsplit(":", 1)
    count = 120

    async def produce(bootstrap: str) -> list[RecordMetadata]:
        async with await AsyncAdmin.connect(kafka.bootstrap) as admin:
            await admin.create_topic(TOPIC, 1)
        async with await AsyncProducer.connect(bootstrap, linger_ms=1,
                                               batch_size=512) as producer:
            futures = []
            for n in range(count):
                futures.append(await producer.send(TOPIC, f"v{n}".encode(), partition=0))
                if n % 20 == 0:
                    await asyncio.sleep(0.002)
            return list(await asyncio.gather(*futures))
    with FaultProxy(lambda: (host, int(port))) as proxy:
        proxy.drop_answer(PRODUCE, 3)
        results = asyncio.run(produce(proxy.address))
        assert len(proxy.dropped) == 1
    assert [meta.offset for meta in results] == list(range(count))
    stored = confluent_read(kafka, TOPIC, 0, count, and_no_more=True)
    assert [(offset, value) for offset, _, value in stored] == [
        (n, f"v{n}".encode()) for n in range(count)]


def test_queued_records_expire_while_the_epoch_bump_fails(broker: BrokerProcess) -> None:
    """CLIENT-9, CLIENT-11: a batch refused for good (MESSAGE_TOO_LARGE) makes the idempotent
    producer bump its epoch before sending more; while every bump goes unanswered, the records
    queued behind it still fail with RequestTimedOut once delivery_timeout_ms has passed, and
    none of them is stored."""
    host, port = broker.bootstrap.rsplit(":", 1)

    async def outcomes(bootstrap: str, proxy: FaultProxy) -> list[BaseException | None]:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            await admin.create_topic(TOPIC, 1, {"max.message.bytes": "1000"})
        # batch_size 512: the large record is a batch of its own, the others queue behind it.
        producer = await AsyncProducer.connect(bootstrap, linger_ms=1, batch_size=512,
                                               delivery_timeout_ms=2000,
                                               request_timeout_ms=1000)
        # From now on InitProducerId (the bump) is answered only after the request timeout.
        proxy.delay(INIT_PRODUCER_ID, 30)
        futures = [await producer.send(TOPIC, b"x" * 2000, partition=0)]
        futures += [await producer.send(TOPIC, f"v{n}".encode(), partition=0)
                    for n in range(10)]
        _, pending = await asyncio.wait(futures, timeout=TIMEOUT)
        assert not pending, f"{len(pending)} futures never settled"
        await asyncio.wait_for(producer.close(), TIMEOUT)
        return [future.exception() for future in futures]
    with FaultProxy(lambda: (host, int(port))) as proxy:
        errors = asyncio.run(outcomes(proxy.address, proxy))
    assert isinstance(errors[0], RecordTooLarge)
    assert all(isinstance(error, RequestTimedOut) for error in errors[1:]), errors
    assert confluent_read(Kafka("flyq", broker.bootstrap), TOPIC, 0, 0,
                          and_no_more=True) == []


# --- consume with assign() -------------------------------------------------------------------------


def fill(kafka: Kafka, count: int) -> None:
    """TOPIC (one partition) with `count` records produced by confluent-kafka at 0..count-1."""
    make_admin("confluent-kafka", kafka.bootstrap).create(TOPIC, 1)
    producer = make_producer("confluent-kafka", kafka.bootstrap, -1, "none")
    try:
        for n in range(count):
            producer.send(TOPIC, 0, f"k{n}".encode(), f"v{n}".encode(), (), None)
        assert producer.flush() == list(range(count))
    finally:
        producer.close()


@on_both()
def test_assign_seek_and_poll(kafka: Kafka) -> None:
    """CLIENT-20..22: an assign()ed consumer reads every record in order from the earliest
    offset; seek moves to an offset inside the log, seek_to_beginning back to 0."""
    fill(kafka, 6)

    async def scenario() -> None:
        async with await AsyncConsumer.connect(kafka.bootstrap,
                                               auto_offset_reset="earliest") as consumer:
            consumer.assign([(TOPIC, 0)])
            records = await read(consumer, 6)
            assert [(r.offset, r.key, r.value) for r in records] == [
                (n, f"k{n}".encode(), f"v{n}".encode()) for n in range(6)]
            assert await consumer.position((TOPIC, 0)) == 6
            consumer.seek((TOPIC, 0), 2)
            assert [r.offset for r in await read(consumer, 4)] == [2, 3, 4, 5]
            await consumer.seek_to_beginning()
            assert await consumer.position((TOPIC, 0)) == 0
            assert (await read(consumer, 6))[0].value == b"v0"
    asyncio.run(scenario())


@on_both(tansu_deviation=LIST_OFFSETS_LATEST)
def test_seek_to_end_is_after_the_last_record(kafka: Kafka) -> None:
    """CLIENT-21: after one batch of 5 records seek_to_end puts the position at 5, so the next
    record produced is the next one polled."""
    async def scenario() -> None:
        async with await AsyncAdmin.connect(kafka.bootstrap) as admin:
            await admin.create_topic(TOPIC, 1)
        await produce_one_batch(kafka, TOPIC, 5)
        async with await AsyncConsumer.connect(kafka.bootstrap) as consumer:
            consumer.assign([(TOPIC, 0)])
            await consumer.seek_to_end()
            assert await consumer.position((TOPIC, 0)) == 5
    asyncio.run(scenario())


# --- consume with subscribe() ---------------------------------------------------------------------

GROUP_SETTINGS = {"auto_offset_reset": "earliest", "heartbeat_interval_ms": 200,
                  "session_timeout_ms": 6000, "enable_auto_commit": False}


@on_both()
def test_subscribed_members_split_the_partitions_and_commit(kafka: Kafka) -> None:
    """CLIENT-30..35: two members subscribed in one group get disjoint partitions covering the
    topic, together read every record once, and commit; when one closes, the other is assigned
    every partition; librdkafka reads the committed offsets as the end offsets."""
    partitions, count = 4, 40
    make_admin("confluent-kafka", kafka.bootstrap).create(TOPIC, partitions)
    producer = make_producer("confluent-kafka", kafka.bootstrap, -1, "none")
    try:
        for n in range(count):
            producer.send(TOPIC, n % partitions, None, f"v{n}".encode(), (), None)
        producer.flush()
    finally:
        producer.close()
    assigned: dict[str, list[set[tuple[str, int]]]] = {"a": [], "b": []}

    async def scenario() -> None:
        members = {name: await AsyncConsumer.connect(kafka.bootstrap, group_id="core-group",
                                                     **GROUP_SETTINGS) for name in assigned}
        try:
            for name, member in members.items():
                member.subscribe([TOPIC], on_assign=assigned[name].append)
            seen: list[tuple[int, int]] = []
            deadline = time.monotonic() + 2 * TIMEOUT
            while len(seen) < count and time.monotonic() < deadline:
                for member in members.values():
                    seen += [(r.partition, r.offset) for r in await member.poll(0.2)]
            assert sorted(seen) == sorted((n % partitions, n // partitions)
                                          for n in range(count))
            assert not members["a"].assignment() & members["b"].assignment()
            assert members["a"].assignment() | members["b"].assignment() == {
                (TOPIC, n) for n in range(partitions)}
            for member in members.values():
                await member.commit()
            await members["b"].close()
            while time.monotonic() < deadline and len(members["a"].assignment()) < partitions:
                await members["a"].poll(0.2)
            assert members["a"].assignment() == {(TOPIC, n) for n in range(partitions)}
        finally:
            for member in members.values():
                await member.close()
    asyncio.run(scenario())
    assert assigned["a"][-1] == {(TOPIC, n) for n in range(partitions)}
    assert [confluent_committed(kafka, "core-group", TOPIC, n) for n in range(partitions)] == [
        count // partitions] * partitions


# --- commit ----------------------------------------------------------------------------------------


@on_both()
def test_commit_and_committed(kafka: Kafka) -> None:
    """CLIENT-25: commit() stores the positions, then given offsets; committed() and
    librdkafka's OffsetFetch for the same group read each."""
    fill(kafka, 4)
    group = "core-group"

    async def scenario() -> None:
        async with await AsyncConsumer.connect(kafka.bootstrap, group_id=group,
                                               enable_auto_commit=False,
                                               auto_offset_reset="earliest") as consumer:
            consumer.assign([(TOPIC, 0)])
            assert await consumer.committed((TOPIC, 0)) is None
            await read(consumer, 4)
            await consumer.commit()
            assert await consumer.committed((TOPIC, 0)) == 4
            assert confluent_committed(kafka, group, TOPIC, 0) == 4
            await consumer.commit({(TOPIC, 0): 1})
            assert await consumer.committed((TOPIC, 0)) == 1
            assert confluent_committed(kafka, group, TOPIC, 0) == 1
    asyncio.run(scenario())


@on_both(tansu_deviation=OFFSET_FETCH_ALL_NULL)
def test_list_group_offsets_of_every_partition(kafka: Kafka) -> None:
    """CLIENT-5: list_group_offsets(group) (OffsetFetch of all partitions) answers what
    librdkafka committed."""
    fill(kafka, 4)
    group = "core-group"
    consumer = make_consumer("confluent-kafka", kafka.bootstrap, group=group)
    try:
        consumer.assign(TOPIC, 0, 0)
        consumer.commit(3)
    finally:
        consumer.close()

    async def scenario(admin: AsyncAdmin) -> None:
        assert await admin.list_group_offsets(group) == {(TOPIC, 0): 3}
    run(kafka, scenario)


# --- FlyQ's extensions, only where advertised (CLIENT-40) ------------------------------------------


@on_both()
def test_extensions_only_where_advertised(kafka: Kafka) -> None:
    """CLIENT-40..43: on FlyQ partition_state, verify_indexes, read_backward and tail answer;
    on Tansu, which does not advertise them, each raises UnsupportedVersion naming its API."""
    fill(kafka, 3)

    async def scenario() -> None:
        async with (await AsyncAdmin.connect(kafka.bootstrap) as admin,
                    await AsyncConsumer.connect(kafka.bootstrap) as consumer):
            if kafka.name == "flyq":
                state = await admin.partition_state(TOPIC)
                assert [s.high_watermark for s in state] == [3]
                assert [c.problems for c in await admin.verify_indexes(TOPIC)] == [()]
                backward = await consumer.read_backward((TOPIC, 0))
                assert [r.offset for r in backward] == [2, 1, 0]
                assert [r.offset for r in await consumer.tail((TOPIC, 0), 2)] == [1, 2]
                return
            calls: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                ("FlyqPartitionState", lambda: admin.partition_state(TOPIC)),
                ("FlyqVerifyIndex", lambda: admin.verify_indexes(TOPIC)),
                ("FlyqReadBackward", lambda: consumer.read_backward((TOPIC, 0))),
                ("FlyqReadBackward", lambda: consumer.tail((TOPIC, 0), 2))]
            for api, call in calls:
                with pytest.raises(UnsupportedVersion, match="does not serve") as caught:
                    await call()
                assert caught.value.api == api
    asyncio.run(scenario())


# --- the sync facades ------------------------------------------------------------------------------


@on_both()
def test_sync_facades(kafka: Kafka) -> None:
    """CLIENT-6/16/20/25 (sync): Admin creates the topic, Producer's futures resolve to offsets
    0..2, Consumer reads the records back and commits, as librdkafka's OffsetFetch reads."""
    with Admin(kafka.bootstrap) as admin:
        admin.create_topic(TOPIC, 1)
        assert confluent_topics(kafka)[TOPIC] == 1
    with Producer(kafka.bootstrap) as producer:
        futures = [producer.send(TOPIC, f"v{n}".encode(), partition=0) for n in range(3)]
        producer.flush()
        assert [future.result(TIMEOUT).offset for future in futures] == [0, 1, 2]
    with Consumer(kafka.bootstrap, group_id="sync", enable_auto_commit=False,
                  auto_offset_reset="earliest") as consumer:
        consumer.assign([(TOPIC, 0)])
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + TIMEOUT
        while len(records) < 3 and time.monotonic() < deadline:
            records += consumer.poll(0.5)
        assert [(r.offset, r.value) for r in records] == [(n, f"v{n}".encode()) for n in range(3)]
        consumer.commit()
        assert consumer.committed((TOPIC, 0)) == 3
    assert confluent_committed(kafka, "sync", TOPIC, 0) == 3
