"""`flyq.client.AsyncAdmin`'s config, partition and record operations and the sync facade `Admin`
(spec/client.md CLIENT-12..19) against a real `flyq broker`. Each result is read back through
confluent-kafka (its AdminClient, or a Consumer's watermarks), never through flyq.client."""

from __future__ import annotations

import asyncio
import inspect
import threading

import confluent_kafka
import pytest

from flyq.client import Admin, AsyncAdmin
from flyq.errors import ConnectionBroken, OffsetOutOfRange, RemoteError, UnknownTopic
from tests.integration._clients import ConfluentAdmin, make_admin, make_producer
from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TOPIC = "events"
COUNT = 10
INVALID_PARTITIONS = 37  # Kafka's code for a partition count that does not grow the topic
TIMEOUT = 15.0


def confluent(broker: BrokerProcess) -> ConfluentAdmin:
    admin = make_admin("confluent-kafka", broker.bootstrap)
    assert isinstance(admin, ConfluentAdmin)
    return admin


def fill(broker: BrokerProcess, partitions: int = 1, count: int = COUNT) -> None:
    """TOPIC with `partitions` partitions and `count` records in partition 0, both by
    confluent-kafka; the records must land at offsets 0..count-1."""
    confluent(broker).create(TOPIC, partitions)
    producer = make_producer("confluent-kafka", broker.bootstrap, -1, "none")
    try:
        for n in range(count):
            producer.send(TOPIC, 0, None, f"v{n}".encode(), (), None)
        assert producer.flush() == list(range(count))
    finally:
        producer.close()


def watermarks(broker: BrokerProcess, partition: int = 0) -> tuple[int, int]:
    """(log start offset, high watermark) of TOPIC-`partition` as librdkafka asks them."""
    consumer = confluent_kafka.Consumer({"bootstrap.servers": broker.bootstrap,
                                        "group.id": "oracle", "enable.auto.commit": False})
    try:
        low, high = consumer.get_watermark_offsets(
            confluent_kafka.TopicPartition(TOPIC, partition), timeout=TIMEOUT, cached=False)
        return int(low), int(high)
    finally:
        consumer.close()


def test_describe_topic_config_matches_confluent(broker: BrokerProcess) -> None:
    """CLIENT-12: describe_topic_config is every config confluent-kafka's describe_configs
    reads, by Kafka's names, the ones set at creation included."""
    confluent(broker).create(TOPIC, 1, {"retention.ms": "123456", "segment.bytes": "1048576"})

    async def scenario() -> dict[str, str]:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            return await admin.describe_topic_config(TOPIC)
    described = asyncio.run(scenario())
    assert described["retention.ms"] == "123456"
    assert described["segment.bytes"] == "1048576"
    expected = {key: value for key, value in confluent(broker).describe(TOPIC).items()
                if value is not None}
    assert described == expected
    assert "cleanup.policy" in described  # defaults are described too, not only what was set


def test_reset_topic_config_returns_to_the_default(broker: BrokerProcess) -> None:
    """CLIENT-13: alter_topic_config sets a value and reset_topic_config (DELETE) returns it to
    the value a fresh topic has, both as confluent-kafka reads them; other keys are kept."""
    oracle = confluent(broker)
    oracle.create("fresh", 1)
    default = oracle.describe("fresh")["retention.ms"]
    oracle.create(TOPIC, 1, {"segment.bytes": "1048576"})

    async def scenario() -> None:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            await admin.alter_topic_config(TOPIC, {"retention.ms": "60000"})
            assert oracle.describe(TOPIC)["retention.ms"] == "60000"
            await admin.reset_topic_config(TOPIC, ["retention.ms"])
    asyncio.run(scenario())
    after = oracle.describe(TOPIC)
    assert after["retention.ms"] == default != "60000"
    assert after["segment.bytes"] == "1048576"


def test_create_partitions_grows_the_topic(broker: BrokerProcess) -> None:
    """CLIENT-14: create_partitions(name, total) leaves the topic with `total` partitions, as
    confluent-kafka's metadata shows, and a record can be produced to the new last one."""
    confluent(broker).create(TOPIC, 2)

    async def scenario() -> None:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            await admin.create_partitions(TOPIC, 5)
    asyncio.run(scenario())
    assert confluent(broker).topics()[TOPIC] == 5
    producer = make_producer("confluent-kafka", broker.bootstrap, -1, "none")
    try:
        producer.send(TOPIC, 4, None, b"in the new partition", (), None)
        assert producer.flush() == [0]
    finally:
        producer.close()


@pytest.mark.parametrize("total", [1, 3])
def test_create_partitions_not_growing_is_invalid_partitions(broker: BrokerProcess,
                                                             total: int) -> None:
    """CLIENT-14/CLIENT-4: a count below or equal to the current one is INVALID_PARTITIONS (37,
    a `RemoteError` keeping the code) with the broker's message; the topic is unchanged."""
    confluent(broker).create(TOPIC, 3)

    async def scenario() -> None:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            with pytest.raises(RemoteError) as caught:
                await admin.create_partitions(TOPIC, total)
            assert caught.value.error_code == INVALID_PARTITIONS
            assert TOPIC in str(caught.value)
    asyncio.run(scenario())
    assert confluent(broker).topics()[TOPIC] == 3


def test_invalid_partitions_names_the_topic(broker: BrokerProcess) -> None:
    """CLIENT-4: the INVALID_PARTITIONS error carries the topic as its `name` attribute."""
    confluent(broker).create(TOPIC, 3)

    async def scenario() -> None:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            with pytest.raises(RemoteError) as caught:
                await admin.create_partitions(TOPIC, 2)
            assert getattr(caught.value, "name", None) == TOPIC
            assert caught.value.error_code == 37
    asyncio.run(scenario())


def test_delete_records_moves_the_log_start_offset(broker: BrokerProcess) -> None:
    """CLIENT-15: delete_records answers the new low watermark, which librdkafka then reads as
    the log start offset; -1 deletes up to the high watermark."""
    fill(broker, partitions=2)

    async def scenario() -> None:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            assert await admin.delete_records({(TOPIC, 0): 4, (TOPIC, 1): 0}) == {
                (TOPIC, 0): 4, (TOPIC, 1): 0}
            assert watermarks(broker) == (4, COUNT)
            assert await admin.delete_records({(TOPIC, 0): -1}) == {(TOPIC, 0): COUNT}
            assert watermarks(broker) == (COUNT, COUNT)
            assert await admin.delete_records({}) == {}
    asyncio.run(scenario())


def test_delete_records_beyond_the_high_watermark_is_offset_out_of_range(
        broker: BrokerProcess) -> None:
    """CLIENT-15/CLIENT-4: an offset past the high watermark is OffsetOutOfRange naming the
    topic and partition; nothing is deleted."""
    fill(broker)

    async def scenario() -> None:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            with pytest.raises(OffsetOutOfRange) as caught:
                await admin.delete_records({(TOPIC, 0): COUNT + 1})
            assert (caught.value.topic, caught.value.partition) == (TOPIC, 0)
    asyncio.run(scenario())
    assert watermarks(broker) == (0, COUNT)


def test_unknown_topic_is_unknown_topic_everywhere(broker: BrokerProcess) -> None:
    """CLIENT-4: describe_topic_config, reset_topic_config, create_partitions and
    delete_records of a topic that does not exist raise UnknownTopic naming it; none creates
    it (confluent-kafka's metadata)."""
    async def scenario() -> None:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            for call in (admin.describe_topic_config("missing"),
                         admin.reset_topic_config("missing", ["retention.ms"]),
                         admin.create_partitions("missing", 4)):
                with pytest.raises(UnknownTopic) as caught:
                    await call
                assert caught.value.name == "missing"
            with pytest.raises(UnknownTopic) as by_partition:
                await admin.delete_records({("missing", 0): 0})
            assert (by_partition.value.topic,  # type: ignore[attr-defined]
                    by_partition.value.partition) == ("missing", 0)  # type: ignore[attr-defined]
    asyncio.run(scenario())
    assert "missing" not in confluent(broker).topics()


def test_admin_facade_runs_each_operation(broker: BrokerProcess) -> None:
    """CLIENT-16/17: `Admin` from plain code creates, describes, grows, deletes records and
    deletes the topic, as confluent-kafka reads them; errors come out as in AsyncAdmin."""
    with Admin(broker.bootstrap) as admin:
        admin.create_topic(TOPIC, 1, {"retention.ms": "99000"})
        assert confluent(broker).describe(TOPIC)["retention.ms"] == "99000"
        assert admin.describe_topic_config(TOPIC)["retention.ms"] == "99000"
        admin.create_partitions(TOPIC, 2)
        assert confluent(broker).topics()[TOPIC] == 2
        assert admin.list_topics() == {TOPIC: 2}
        producer = make_producer("confluent-kafka", broker.bootstrap, -1, "none")
        try:
            for _ in range(3):
                producer.send(TOPIC, 0, None, b"x", (), None)
            assert producer.flush() == [0, 1, 2]
        finally:
            producer.close()
        assert admin.list_end_offsets([(TOPIC, 0)]) == {(TOPIC, 0): 3}
        assert admin.delete_records({(TOPIC, 0): 2}) == {(TOPIC, 0): 2}
        assert watermarks(broker) == (2, 3)
        with pytest.raises(OffsetOutOfRange):
            admin.delete_records({(TOPIC, 0): 4})
        admin.delete_topic(TOPIC)
        assert TOPIC not in confluent(broker).topics()
        with pytest.raises(UnknownTopic):
            admin.delete_topic(TOPIC)


def test_admin_facade_has_every_async_operation() -> None:
    """CLIENT-16: `Admin` has each public method of `AsyncAdmin` (but `connect`), with the same
    parameters."""
    def operations(cls: type) -> dict[str, list[str]]:
        return {name: list(inspect.signature(member).parameters)
                for name, member in vars(cls).items()
                if callable(member) and not name.startswith("_") and name != "connect"}
    assert operations(Admin) == operations(AsyncAdmin)


def test_admin_facade_close_and_failed_connect_stop_the_loop_thread(
        broker: BrokerProcess) -> None:
    """CLIENT-18: close() stops the facade's loop thread (closing twice does nothing); a connect
    that fails raises its error and leaves no thread behind."""
    def admin_threads() -> int:
        return sum(thread.name == "flyq-admin" for thread in threading.enumerate())
    before = admin_threads()
    admin = Admin(broker.bootstrap)
    assert admin_threads() == before + 1
    admin.close()
    admin.close()
    assert admin_threads() == before
    port = broker.port
    broker.stop()
    with pytest.raises(ConnectionBroken):
        Admin(f"127.0.0.1:{port}", timeout=5)
    assert admin_threads() == before
