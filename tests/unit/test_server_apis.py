"""Kafka APIs over the AsyncBroker (flyq/server/_apis.py; spec/protocol.md "APIs served" and
"Semantics"): request bodies in, response bodies out, a real Broker on real files."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from flyq.broker import AsyncBroker
from flyq.codec.record_batch import encode_batch
from flyq.protocol import APIS
from flyq.records import Record
from flyq.server import (
    SUPPORTED_VERSIONS,
    ApiHandlers,
    ApiKey,
    CloseConnection,
    Listener,
    ServerSettings,
)

_T = TypeVar("_T")
SPEC = Path(__file__).resolve().parents[2] / "spec" / "protocol.md"

def run(tmp_path: Path, scenario: Callable[[ApiHandlers], Awaitable[_T]],
        settings: ServerSettings | None = None) -> _T:
    """Run `scenario` against handlers over a fresh AsyncBroker, then close it."""
    async def main() -> _T:
        broker = await AsyncBroker.open(str(tmp_path / "data"), create=True)
        try:
            return await scenario(ApiHandlers(broker, settings or ServerSettings(), "cluster-x"))
        finally:
            await broker.close()
    return asyncio.run(main())


def batch(*values: bytes, timestamp: int = 1000) -> bytes:
    """One encoded RecordBatch v2 as a producer sends it."""
    return encode_batch(0, [Record(value=value, timestamp=timestamp) for value in values])


def produce_body(topic: str, partition: int, records: bytes | None, acks: int = -1) -> dict[str, Any]:
    return {"acks": acks, "timeout_ms": 1000, "transactional_id": None, "topic_data": [
        {"name": topic, "partition_data": [
            {"index": partition, "records": None if records is None else memoryview(records)}]}]}


def fetch_body(topic: str, offset: int, *, max_wait_ms: int = 0, min_bytes: int = 1,
               partition_max_bytes: int = 1 << 20, max_bytes: int = 1 << 30,
               partitions: tuple[int, ...] = (0,)) -> dict[str, Any]:
    return {"max_wait_ms": max_wait_ms, "min_bytes": min_bytes, "max_bytes": max_bytes,
            "session_id": 0, "session_epoch": -1, "topics": [
                {"topic": topic, "partitions": [
                    {"partition": number, "fetch_offset": offset,
                     "partition_max_bytes": partition_max_bytes} for number in partitions]}]}


def test_spec_table_matches_the_advertised_versions() -> None:
    """The "APIs served" table of spec/protocol.md is SUPPORTED_VERSIONS, row for row."""
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+)\u2013(\d+) \|", SPEC.read_text(), re.MULTILINE)
    assert all(APIS[int(key)].name == name for name, key, _, _ in rows), rows
    table = {int(key): (int(low), int(high)) for _, key, low, high in rows}
    assert len(rows) == len(table)
    assert table == dict(SUPPORTED_VERSIONS)


def test_metadata_auto_creates_with_num_partitions(tmp_path: Path) -> None:
    """MAP-5: an unknown topic is created with num.partitions when allowed, else unknown (3)."""
    async def scenario(api: ApiHandlers) -> None:
        answer = await api.metadata(9, {"topics": [{"name": "auto"}],
                                        "allow_auto_topic_creation": True})
        assert [len(t["partitions"]) for t in answer["topics"]] == [4]
        assert answer["brokers"] == [{"node_id": 0, "host": "127.0.0.1", "port": 9092,
                                      "rack": None}]
        answer = await api.metadata(9, {"topics": [{"name": "other"}],
                                        "allow_auto_topic_creation": False})
        assert answer["topics"][0]["error_code"] == 3
        answer = await api.metadata(9, {"topics": [{"name": "bad/name"}],
                                        "allow_auto_topic_creation": True})
        assert answer["topics"][0]["error_code"] == 17
        every = await api.metadata(9, {"topics": None})
        assert [t["name"] for t in every["topics"]] == ["auto"]
    run(tmp_path, scenario, ServerSettings(num_partitions=4))


def test_topic_ids_in_create_metadata_and_delete(tmp_path: Path) -> None:
    """TOPIC-6: CreateTopics v7 and Metadata v10+ give the stored id; Metadata and DeleteTopics
    v6 find a topic by id alone; an unknown or null id is UNKNOWN_TOPIC_ID (100)."""
    async def scenario(api: ApiHandlers) -> None:
        created = await api.create_topics(7, {"topics": [
            {"name": "t", "num_partitions": 2, "replication_factor": 1, "assignments": [],
             "configs": []}], "validate_only": False})
        topic_id = created["topics"][0]["topic_id"]
        assert topic_id == (await api.broker.topic_metadata("t")).topic_id
        assert topic_id.int != 0
        by_name = await api.metadata(12, {"topics": [{"name": "t", "topic_id": uuid.UUID(int=0)}]})
        assert by_name["topics"][0]["topic_id"] == topic_id
        stranger = uuid.uuid4()
        by_id = await api.metadata(12, {"topics": [{"name": None, "topic_id": topic_id},
                                                   {"name": None, "topic_id": stranger}]})
        assert [(t["error_code"], t["name"]) for t in by_id["topics"]] == [(0, "t"), (100, None)]
        assert len(by_id["topics"][0]["partitions"]) == 2
        deleted = await api.delete_topics(6, {"topics": [{"name": None, "topic_id": stranger},
                                                         {"name": None, "topic_id": topic_id}],
                                              "timeout_ms": 1000})
        assert [(r["error_code"], r["name"]) for r in deleted["responses"]] == [
            (100, None), (0, "t")]
        assert await api.broker.list_topics() == []
    run(tmp_path, scenario)


def test_produce_then_fetch_returns_the_stored_bytes(tmp_path: Path) -> None:
    """PRODUCE-1/3, FETCH-3/4: offsets in the answer; the fetched records are the stored batch."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 1)
        sent = batch(b"a", b"b")
        answer = await api.produce(9, produce_body("t", 0, sent))
        part = answer["responses"][0]["partition_responses"][0]
        assert (part["error_code"], part["base_offset"], part["log_start_offset"]) == (0, 0, 0)
        fetched = await api.fetch(12, fetch_body("t", 0))
        data = fetched["responses"][0]["partitions"][0]
        assert (data["error_code"], data["high_watermark"], data["last_stable_offset"]) == (0, 2, 2)
        assert bytes(data["records"]) == sent  # base offset 0, leader epoch 0: as produced
    run(tmp_path, scenario)


@pytest.mark.parametrize(("records", "acks", "code"), [
    (b"\x00" * 70, -1, 2),  # CORRUPT_MESSAGE: not a batch
    (None, 1, 87),  # INVALID_RECORD: null records
    (batch(b"x"), 2, 21),  # INVALID_REQUIRED_ACKS
])
def test_bad_produce_is_answered_per_partition_and_stores_nothing(
        tmp_path: Path, records: bytes | None, acks: int, code: int) -> None:
    """PRODUCE-1/2: the error code for the partition; the log stays empty."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 1)
        answer = await api.produce(9, produce_body("t", 0, records, acks))
        assert answer["responses"][0]["partition_responses"][0]["error_code"] == code
        assert (await api.broker.log_offsets("t", 0))[1] == 0
    run(tmp_path, scenario)


def test_produce_acks_0_has_no_answer_and_v2_is_refused(tmp_path: Path) -> None:
    """PRODUCE-2: acks=0 appends and answers nothing, or closes the connection when it failed;
    Produce v2 gets UNSUPPORTED_VERSION."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 1)
        assert await api.produce(9, produce_body("t", 0, batch(b"x"), acks=0)) is None
        assert (await api.broker.log_offsets("t", 0))[1] == 1
        with pytest.raises(CloseConnection, match="acks=0"):
            await api.produce(9, produce_body("t", 0, b"garbage", acks=0))
        answer = await api.produce(2, produce_body("t", 0, batch(b"y")))
        assert answer["responses"][0]["partition_responses"][0]["error_code"] == 35
        assert (await api.broker.log_offsets("t", 0))[1] == 1
    run(tmp_path, scenario)


def test_fetch_long_poll_is_woken_by_an_append(tmp_path: Path) -> None:
    """FETCH-2: a fetch waiting 10 s returns as soon as a produce lands, with that record."""
    async def scenario(api: ApiHandlers) -> float:
        await api.broker.create_topic("t", 1)
        started = time.monotonic()
        waiting = asyncio.ensure_future(api.fetch(12, fetch_body("t", 0, max_wait_ms=10_000)))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await api.produce(9, produce_body("t", 0, batch(b"late")))
        answer = await asyncio.wait_for(waiting, 5)
        assert answer["responses"][0]["partitions"][0]["high_watermark"] == 1
        return time.monotonic() - started
    assert run(tmp_path, scenario) < 5


def test_fetch_waits_max_wait_when_nothing_comes(tmp_path: Path) -> None:
    """FETCH-2: with nothing appended, the answer comes after max_wait_ms, empty."""
    async def scenario(api: ApiHandlers) -> float:
        await api.broker.create_topic("t", 1)
        started = time.monotonic()
        answer = await api.fetch(12, fetch_body("t", 0, max_wait_ms=300))
        assert bytes(answer["responses"][0]["partitions"][0]["records"]) == b""
        return time.monotonic() - started
    assert run(tmp_path, scenario) >= 0.29


def test_fetch_limits_and_kip74(tmp_path: Path) -> None:
    """FETCH-1: the first batch comes whole even over the limits; then max_bytes stops the rest."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 2)
        big = batch(b"x" * 5000)
        for partition in (0, 1):
            await api.produce(9, produce_body("t", partition, big))
        answer = await api.fetch(12, fetch_body("t", 0, partition_max_bytes=100, max_bytes=100,
                                                partitions=(0, 1)))
        first, second = answer["responses"][0]["partitions"]
        assert len(first["records"]) == len(big)
        assert bytes(second["records"]) == b""
        assert second["high_watermark"] == 1
    run(tmp_path, scenario)


def test_fetch_out_of_range_carries_the_offsets(tmp_path: Path) -> None:
    """FETCH-3: OFFSET_OUT_OF_RANGE with the log start offset and high watermark filled in."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 1)
        await api.produce(9, produce_body("t", 0, batch(b"a")))
        part = (await api.fetch(12, fetch_body("t", 7)))["responses"][0]["partitions"][0]
        assert (part["error_code"], part["high_watermark"], part["log_start_offset"]) == (1, 1, 0)
        session = await api.fetch(12, {**fetch_body("t", 0), "session_id": 5, "session_epoch": 1})
        assert session["error_code"] == 70
    run(tmp_path, scenario)


def test_offset_commit_and_fetch(tmp_path: Path) -> None:
    """MAP-4: generation -1 commits; another generation is ILLEGAL_GENERATION; unknown -1."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 2)
        commit = {"group_id": "g", "generation_id_or_member_epoch": -1, "member_id": "",
                  "topics": [{"name": "t", "partitions": [
                      {"partition_index": 0, "committed_offset": 5, "committed_metadata": "m"}]}]}
        answer = await api.offset_commit(8, commit)
        assert answer["topics"][0]["partitions"][0]["error_code"] == 0
        stale = await api.offset_commit(8, {**commit, "generation_id_or_member_epoch": 3})
        assert stale["topics"][0]["partitions"][0]["error_code"] == 22
        missing = await api.offset_commit(8, {**commit, "topics": [{"name": "nope", "partitions": [
            {"partition_index": 0, "committed_offset": 1, "committed_metadata": None}]}]})
        assert missing["topics"][0]["partitions"][0]["error_code"] == 3
        fetched = await api.offset_fetch(7, {"group_id": "g", "topics": [
            {"name": "t", "partition_indexes": [0, 1]}]})
        rows = {p["partition_index"]: (p["committed_offset"], p["metadata"])
                for p in fetched["topics"][0]["partitions"]}
        assert rows == {0: (5, "m"), 1: (-1, "")}
        grouped = await api.offset_fetch(8, {"groups": [{"group_id": "g", "topics": None}]})
        assert grouped["groups"][0]["topics"][0]["partitions"][0]["committed_offset"] == 5
    run(tmp_path, scenario)


def test_create_topics_errors_and_configs(tmp_path: Path) -> None:
    """CreateTopics: Kafka config names applied; replication 3, unknown keys and dupes refused."""
    async def scenario(api: ApiHandlers) -> None:
        def topic(name: str, **extra: Any) -> dict[str, Any]:
            return {"name": name, "num_partitions": 2, "replication_factor": 1,
                    "assignments": [], "configs": [], **extra}
        answer = await api.create_topics(7, {"topics": [
            topic("a", configs=[{"name": "retention.ms", "value": "60000"}]),
            topic("b", replication_factor=3),
            topic("c", configs=[{"name": "compression.type", "value": "gzip"}]),
            topic("a"),
            topic("d", num_partitions=0),
        ], "validate_only": False})
        codes = [t["error_code"] for t in answer["topics"]]
        assert codes == [0, 38, 40, 36, 37]
        assert "compression.type" in answer["topics"][2]["error_message"]
        configs = {c["name"]: c["value"] for c in answer["topics"][0]["configs"]}
        assert configs["retention.ms"] == "60000"
        assert (await api.broker.topic_metadata("a")).config.retention_ms == 60000
        assert await api.broker.list_topics() == ["a"]
    run(tmp_path, scenario)


def test_configs_describe_alter_incremental(tmp_path: Path) -> None:
    """AlterConfigs replaces the set; IncrementalAlterConfigs SETs and DELETEs one key."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 1, {"retention_ms": 5000})
        alter = {"resources": [{"resource_type": 2, "resource_name": "t", "configs": [
            {"name": "segment.bytes", "value": "4096"}]}], "validate_only": False}
        assert (await api.alter_configs(1, alter))["responses"][0]["error_code"] == 0
        config = (await api.broker.topic_metadata("t")).config
        assert (config.segment_bytes, config.retention_ms) == (4096, None)  # others reset
        incremental = {"resources": [{"resource_type": 2, "resource_name": "t", "configs": [
            {"name": "retention.ms", "config_operation": 0, "value": "7000"},
            {"name": "segment.bytes", "config_operation": 1, "value": None}]}],
            "validate_only": False}
        answer = await api.incremental_alter_configs(1, incremental)
        assert answer["responses"][0]["error_code"] == 0
        described = await api.describe_configs(4, {"resources": [
            {"resource_type": 2, "resource_name": "t",
             "configuration_keys": ["retention.ms", "segment.bytes"]}]})
        values = {c["name"]: c["value"] for c in described["results"][0]["configs"]}
        assert values == {"retention.ms": "7000", "segment.bytes": str(1 << 30)}
        append = {"resources": [{"resource_type": 2, "resource_name": "t", "configs": [
            {"name": "cleanup.policy", "config_operation": 2, "value": "compact"}]}],
            "validate_only": False}
        assert (await api.incremental_alter_configs(1, append))["responses"][0][
            "error_code"] == 40
    run(tmp_path, scenario)


def test_list_offsets_delete_records_create_partitions(tmp_path: Path) -> None:
    """ListOffsets -2/-1/-3/timestamp, DeleteRecords to -1, CreatePartitions only grows."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.create_topic("t", 1)
        for timestamp in (10, 30, 20):
            await api.produce(9, produce_body("t", 0, batch(b"v", timestamp=timestamp)))

        async def offset_at(timestamp: int) -> tuple[int, int]:
            answer = await api.list_offsets(7, {"topics": [{"name": "t", "partitions": [
                {"partition_index": 0, "timestamp": timestamp}]}]})
            part = answer["topics"][0]["partitions"][0]
            return part["offset"], part["timestamp"]
        assert [await offset_at(ts) for ts in (-2, -1, -3, 15, 99)] == [
            (0, -1), (3, -1), (1, 30), (1, 30), (-1, -1)]
        deleted = await api.delete_records(2, {"topics": [{"name": "t", "partitions": [
            {"partition_index": 0, "offset": -1}]}]})
        assert deleted["topics"][0]["partitions"][0]["low_watermark"] == 3
        grow = await api.create_partitions(3, {"topics": [
            {"name": "t", "count": 3, "assignments": None},
            {"name": "t", "count": 2, "assignments": None}], "validate_only": False})
        assert [r["error_code"] for r in grow["results"]] == [0, 37]
    run(tmp_path, scenario)


def test_find_coordinator_and_cluster(tmp_path: Path) -> None:
    """FindCoordinator names this broker for groups (advertised address); DescribeCluster too."""
    async def scenario(api: ApiHandlers) -> None:
        old = await api.find_coordinator(3, {"key": "g", "key_type": 0})
        assert (old["error_code"], old["host"], old["port"]) == (0, "h.example", 19)
        new = await api.find_coordinator(4, {"key_type": 0, "coordinator_keys": ["a", "b"]})
        assert [c["key"] for c in new["coordinators"]] == ["a", "b"]
        txn = await api.find_coordinator(4, {"key_type": 1, "coordinator_keys": ["x"]})
        assert txn["coordinators"][0]["error_code"] == 15
        cluster = await api.describe_cluster(1, {"endpoint_type": 1})
        assert cluster["cluster_id"] == "cluster-x"
        versions = await api.api_versions(3, {})
        assert {row["api_key"] for row in versions["api_keys"]} == set(SUPPORTED_VERSIONS)
        assert ApiKey.PRODUCE in SUPPORTED_VERSIONS
    run(tmp_path, scenario, ServerSettings(listeners=(
        Listener("PLAINTEXT", "127.0.0.1", 9092, "h.example", 19),)))
