"""FlyQ's extension APIs over a real socket against a real `flyq broker` (spec/protocol.md
"Extension APIs", EXT-1..5): records produced by confluent-kafka, read back newest first and
described by `flyq.client.BrokerConnection`."""

from __future__ import annotations

import asyncio

import pytest

from flyq.client import BrokerConnection
from flyq.protocol import FLYQ_API_KEYS
from flyq.server import ApiKey
from tests.integration._clients import make_producer
from tests.integration.broker_process import BrokerProcess
from tests.integration.test_broker_clients import create_topic

pytestmark = pytest.mark.integration

COUNT = 100


def test_read_backward_and_partition_state_after_confluent_produce(broker: BrokerProcess) -> None:
    """EXT-1..5: ApiVersions advertises the extension keys; the last 5 of 100 records produced by
    confluent-kafka come back newest first; the partition state's offsets agree with them, with
    durable_offset <= high_watermark; verification finds every index in agreement."""
    create_topic(broker, "ext")
    producer = make_producer("confluent-kafka", broker.bootstrap)
    try:
        for i in range(COUNT):
            producer.send("ext", 0, b"k%d" % i, b"v%d" % i, headers=[("n", b"%d" % i)])
        assert producer.flush() == list(range(COUNT))
    finally:
        producer.close()

    async def scenario() -> None:
        async with await BrokerConnection.open(broker.bootstrap) as connection:
            assert {key: connection.versions.get(key) for key in FLYQ_API_KEYS} == {
                key: (0, 0) for key in FLYQ_API_KEYS}
            tail = (await connection.request(ApiKey.FLYQ_READ_BACKWARD, {
                "topic": "ext", "partition": 0, "from_offset": -1, "max_records": 5,
                "max_bytes": 1 << 20})).body
            assert tail["error_code"] == 0, tail["error_message"]
            assert [r["offset"] for r in tail["records"]] == [99, 98, 97, 96, 95]
            assert [(r["key"], r["value"], r["headers"]) for r in tail["records"][:1]] == [
                (b"k99", b"v99", [{"key": "n", "value": b"99"}])]
            older = (await connection.request(ApiKey.FLYQ_READ_BACKWARD, {
                "topic": "ext", "partition": 0, "from_offset": 94, "max_records": 2,
                "max_bytes": 1 << 20})).body
            assert [r["value"] for r in older["records"]] == [b"v94", b"v93"]

            body = {"topics": [{"name": "ext", "partitions": [0]}]}
            [state] = (await connection.request(ApiKey.FLYQ_PARTITION_STATE, body)
                       ).body["topics"][0]["partitions"]
            assert (state["error_code"], state["state"]) == (0, "online")
            assert (state["log_start_offset"], state["high_watermark"],
                    state["log_end_offset"]) == (0, COUNT, COUNT)
            assert (tail["high_watermark"], tail["log_end_offset"]) == (COUNT, COUNT)
            assert 0 <= state["durable_offset"] <= state["high_watermark"]
            assert state["segment_count"] >= 1 and state["size_bytes"] > 0

            [verified] = (await connection.request(ApiKey.FLYQ_VERIFY_INDEX, body)
                          ).body["topics"][0]["partitions"]
            assert (verified["error_code"], verified["problems"]) == (0, [])
            assert verified["checked_ms"] > 0
    asyncio.run(scenario())
