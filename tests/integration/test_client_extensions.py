"""`flyq.client`'s methods over FlyQ's extension APIs (spec/client.md CLIENT-40..43) against a
real `flyq broker`, the records produced by confluent-kafka."""

from __future__ import annotations

import asyncio

import pytest

from flyq.client import AsyncAdmin, AsyncConsumer, Consumer
from flyq.errors import InvalidArgument, UnknownTopic
from tests.integration._clients import make_admin, make_producer
from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TOPIC = "ext"
COUNT = 30


@pytest.fixture
def filled(broker: BrokerProcess) -> BrokerProcess:
    """TOPIC with two partitions: COUNT records in partition 0 (value b"v<offset>", one header),
    none in partition 1."""
    make_admin("confluent-kafka", broker.bootstrap).create(TOPIC, 2)
    producer = make_producer("confluent-kafka", broker.bootstrap)
    try:
        for i in range(COUNT):
            producer.send(TOPIC, 0, b"k%d" % i, b"v%d" % i, headers=[("n", b"%d" % i)])
        assert producer.flush() == list(range(COUNT))
    finally:
        producer.close()
    return broker


def test_partition_state_and_verify_indexes(filled: BrokerProcess) -> None:
    """CLIENT-40..41: every partition's offsets (durable <= high watermark), size and health;
    every index agrees with a rebuild; an unknown topic is UnknownTopic."""
    async def scenario() -> None:
        async with await AsyncAdmin.connect(filled.bootstrap) as admin:
            first, second = await admin.partition_state(TOPIC)
            assert (first.topic, first.partition, first.state, first.failure) == (
                TOPIC, 0, "online", None)
            assert (first.log_start_offset, first.high_watermark, first.log_end_offset) == (
                0, COUNT, COUNT)
            assert 0 <= first.durable_offset <= first.high_watermark
            assert first.segment_count >= 1 and first.size_bytes > 0
            assert (second.partition, second.log_end_offset, second.size_bytes) == (1, 0, 0)
            assert [state.partition for state in await admin.partition_state(TOPIC, [1])] == [1]
            checks = await admin.verify_indexes(TOPIC)
            assert [(check.partition, check.problems) for check in checks] == [(0, ()), (1, ())]
            assert all(check.checked_ms > 0 for check in checks)
            with pytest.raises(UnknownTopic):
                await admin.partition_state("missing")
    asyncio.run(scenario())


def test_read_backward_and_tail(filled: BrokerProcess) -> None:
    """CLIENT-42..43: newest first from the end or from an offset, across requests when the
    broker answers fewer (max_bytes); tail is the last n in offset order; an empty partition
    answers nothing; positions do not move."""
    async def scenario() -> None:
        async with await AsyncConsumer.connect(filled.bootstrap) as consumer:
            newest = await consumer.read_backward((TOPIC, 0), max_records=3)
            assert [(r.offset, r.key, r.value, r.headers) for r in newest] == [
                (29, b"k29", b"v29", (("n", b"29"),)), (28, b"k28", b"v28", (("n", b"28"),)),
                (27, b"k27", b"v27", (("n", b"27"),))]
            assert [r.offset for r in await consumer.read_backward((TOPIC, 0), 4)] == [4, 3, 2, 1, 0]
            # max_bytes 1: each request answers one record (EXT-3), so this takes many.
            small = await consumer.read_backward((TOPIC, 0), 10, max_records=6, max_bytes=1)
            assert [r.offset for r in small] == [10, 9, 8, 7, 6, 5]
            everything = await consumer.read_backward((TOPIC, 0), max_records=1000)
            assert [r.offset for r in everything] == list(range(COUNT - 1, -1, -1))
            assert [r.value for r in await consumer.tail((TOPIC, 0), 3)] == [b"v27", b"v28",
                                                                              b"v29"]
            assert await consumer.tail((TOPIC, 1), 5) == []
            with pytest.raises(InvalidArgument):
                await consumer.tail((TOPIC, 0), 0)
            with pytest.raises(UnknownTopic):
                await consumer.read_backward(("missing", 0))
            consumer.assign([(TOPIC, 0)])
            consumer.seek((TOPIC, 0), 5)
            await consumer.read_backward((TOPIC, 0))
            assert await consumer.position((TOPIC, 0)) == 5
    asyncio.run(scenario())


def test_sync_facade_read_backward_and_tail(filled: BrokerProcess) -> None:
    """CLIENT-42..43 through `Consumer`, the sync facade."""
    with Consumer(filled.bootstrap) as consumer:
        assert [r.offset for r in consumer.read_backward((TOPIC, 0), 1)] == [1, 0]
        assert [r.offset for r in consumer.tail((TOPIC, 0), 2)] == [28, 29]
