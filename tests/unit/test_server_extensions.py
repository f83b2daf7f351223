"""FlyQ's extension APIs over the AsyncBroker (flyq/server/_extensions.py; spec/protocol.md
"Extension APIs", EXT-1..6): request bodies in, response bodies out, a real Broker on real files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from flyq.broker import AsyncBroker
from flyq.protocol import APIS, FLYQ_API_KEYS, decode_message, encode_message
from flyq.records import Record
from flyq.server import SUPPORTED_VERSIONS, ApiHandlers, ApiKey, ServerSettings
from flyq.server._extensions import MAX_READ_BACKWARD_RECORDS

_T = TypeVar("_T")


def run(tmp_path: Path, scenario: Callable[[ApiHandlers], Awaitable[_T]]) -> _T:
    """Run `scenario` against handlers over an AsyncBroker on `tmp_path/data`, then close it."""
    async def main() -> _T:
        broker = await AsyncBroker.open(str(tmp_path / "data"), create=True)
        try:
            return await scenario(ApiHandlers(broker, ServerSettings(), "cluster-x"))
        finally:
            await broker.close()
    return asyncio.run(main())


def backward(topic: str, from_offset: int, max_records: int, *, partition: int = 0,
             max_bytes: int = 1 << 20) -> dict[str, Any]:
    return {"topic": topic, "partition": partition, "from_offset": from_offset,
            "max_records": max_records, "max_bytes": max_bytes}


def through_the_wire(key: int, response: dict[str, Any]) -> dict[str, Any]:
    """`response` encoded and decoded again with the schema the server answers with."""
    schema = APIS[key].response
    data = b"".join(encode_message(schema, 0, response))
    decoded: dict[str, Any] = decode_message(schema, 0, memoryview(data))
    return decoded


async def produce(api: ApiHandlers, topic: str, count: int, partition: int = 0) -> None:
    for i in range(count):
        await api.broker.produce_records(
            topic, [Record(key=b"k%d" % i, value=b"v%d" % i, timestamp=1000 + i,
                           headers=(("h", b"%d" % i),))], partition=partition)


def test_extension_apis_are_advertised_in_the_private_range() -> None:
    """EXT-1: the three extension APIs are advertised at v0, with keys of the private range."""
    assert {ApiKey.FLYQ_READ_BACKWARD, ApiKey.FLYQ_PARTITION_STATE,
            ApiKey.FLYQ_VERIFY_INDEX} == FLYQ_API_KEYS
    assert all(SUPPORTED_VERSIONS[key] == (0, 0) for key in FLYQ_API_KEYS)


def test_read_backward_from_the_end_and_from_an_offset(tmp_path: Path) -> None:
    """EXT-2: from -1 the newest records come first; from an offset, that one and older."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 1)
        await produce(api, "t", 10)
        tail = through_the_wire(ApiKey.FLYQ_READ_BACKWARD,
                                await api.extensions.read_backward(0, backward("t", -1, 3)))
        assert tail["error_code"] == 0
        assert [r["offset"] for r in tail["records"]] == [9, 8, 7]
        assert tail["records"][0] == {"offset": 9, "timestamp": 1009, "key": b"k9",
                                      "value": b"v9", "headers": [{"key": "h", "value": b"9"}]}
        assert (tail["log_start_offset"], tail["high_watermark"], tail["log_end_offset"]) == (
            0, 10, 10)
        mid = await api.extensions.read_backward(0, backward("t", 4, 100))
        assert [r["offset"] for r in mid["records"]] == [4, 3, 2, 1, 0]
    run(tmp_path, scenario)


def test_read_backward_limits_and_errors(tmp_path: Path) -> None:
    """EXT-3: max_bytes cuts after the first record; bad offsets, limits and partitions get Kafka
    codes (1, 42, 3); an empty log answers no records."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 2)
        await produce(api, "t", 5)
        small = await api.extensions.read_backward(0, backward("t", -1, 5, max_bytes=1))
        assert [r["offset"] for r in small["records"]] == [4]
        out = await api.extensions.read_backward(0, backward("t", 5, 1))
        assert (out["error_code"], out["records"]) == (1, [])
        assert "log_end_offset" in out["error_message"]
        assert (await api.extensions.read_backward(0, backward("t", -1, 0)))["error_code"] == 42
        assert (await api.extensions.read_backward(0, backward("nope", -1, 1)))["error_code"] == 3
        assert (await api.extensions.read_backward(0, backward("t", -1, 1, partition=7))
                )["error_code"] == 3
        empty = await api.extensions.read_backward(0, backward("t", -1, 1, partition=1))
        assert (empty["error_code"], empty["records"], empty["log_end_offset"]) == (0, [], 0)
        capped = await api.extensions.read_backward(0, backward("t", -1, 1 << 30))
        assert len(capped["records"]) == 5 <= MAX_READ_BACKWARD_RECORDS
    run(tmp_path, scenario)


def test_partition_state_has_the_durable_offset_and_health(tmp_path: Path) -> None:
    """EXT-4, HLT-1/2: offsets, durable offset <= high watermark, segments and size; an unknown
    partition is answered 3 beside the known ones."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 1)
        await produce(api, "t", 4)
        body = {"topics": [{"name": "t", "partitions": [0, 3]}, {"name": "nope", "partitions": [0]}]}
        state = through_the_wire(ApiKey.FLYQ_PARTITION_STATE,
                                 await api.extensions.partition_state(0, body))
        [known, unknown], [missing] = (t["partitions"] for t in state["topics"])
        assert (known["error_code"], known["state"], known["failure"]) == (0, "online", None)
        assert (known["log_start_offset"], known["high_watermark"], known["log_end_offset"]) == (
            0, 4, 4)
        assert 0 <= known["durable_offset"] <= known["high_watermark"]
        assert known["segment_count"] == 1 and known["size_bytes"] > 0
        assert (known["last_index_check_ms"], known["problems"]) == (-1, [])
        assert (unknown["partition_index"], unknown["error_code"]) == (3, 3)
        assert missing["error_code"] == 3
        await api.broker.flush_partition("t", 0)
        flushed = await api.extensions.partition_state(0, body)
        assert flushed["topics"][0]["partitions"][0]["durable_offset"] == 4
    run(tmp_path, scenario)


def test_verify_index_reports_a_damaged_index(tmp_path: Path) -> None:
    """EXT-5, IDX-1, HLT-3: verification names an index that differs from a rebuild; a healthy
    partition answers no problems; the check shows in FlyqPartitionState afterwards."""
    config = {"segment_bytes": 400, "index_interval_bytes": 1}

    async def fill(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 2, config)
        await produce(api, "t", 12)
        clean = await api.extensions.verify_index(0, {"topics": [{"name": "t",
                                                                  "partitions": [0, 1]}]})
        assert [(p["error_code"], p["problems"]) for p in clean["topics"][0]["partitions"]] == [
            (0, []), (0, [])]
        assert clean["topics"][0]["partitions"][0]["checked_ms"] > 0
    run(tmp_path, fill)
    index = next((tmp_path / "data").rglob("t-0/" + "0" * 20 + ".index"))
    index.write_bytes(index.read_bytes()[:-8])

    async def check(api: ApiHandlers) -> None:
        body = {"topics": [{"name": "t", "partitions": [0]}]}
        verified = through_the_wire(ApiKey.FLYQ_VERIFY_INDEX,
                                    await api.extensions.verify_index(0, body))
        [part] = verified["topics"][0]["partitions"]
        assert part["error_code"] == 0
        assert len(part["problems"]) == 1 and str(index) in part["problems"][0]
        state = await api.extensions.partition_state(0, body)
        assert state["topics"][0]["partitions"][0]["problems"] == part["problems"]
    run(tmp_path, check)


def test_handle_dispatches_the_extension_keys(tmp_path: Path) -> None:
    """EXT-1: `ApiHandlers.handle` serves every advertised extension key."""
    async def scenario(api: ApiHandlers) -> list[int]:
        await api.broker.create_topic("t", 1)
        bodies = {ApiKey.FLYQ_READ_BACKWARD: backward("t", -1, 1),
                  ApiKey.FLYQ_PARTITION_STATE: {"topics": []},
                  ApiKey.FLYQ_VERIFY_INDEX: {"topics": []}}
        answers = [await api.handle(key, 0, bodies[key]) for key in sorted(FLYQ_API_KEYS)]
        return [0 if answer is None else answer.get("error_code", 0) for answer in answers]
    assert run(tmp_path, scenario) == [0, 0, 0]
