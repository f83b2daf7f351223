"""ConsumerGroupHeartbeat and ConsumerGroupDescribe served over the AsyncBroker
(flyq/server/_apis.py; spec/consumer-group-protocol.md CG-19, CG-20): request bodies in, response
bodies out, a real Broker on real files. Topic ids come from CreateTopics' own answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from flyq.broker import AsyncBroker
from flyq.server import ApiHandlers, ServerSettings

_T = TypeVar("_T")


def run(tmp_path: Path, scenario: Callable[[ApiHandlers], Awaitable[_T]]) -> _T:
    """Run `scenario` against handlers over a fresh AsyncBroker, then close it."""

    async def main() -> _T:
        broker = await AsyncBroker.open(str(tmp_path / "data"), create=True)
        try:
            return await scenario(ApiHandlers(broker, ServerSettings(), "cluster-x"))
        finally:
            await broker.close()

    return asyncio.run(main())


async def create(api: ApiHandlers, name: str, partitions: int) -> uuid.UUID:
    answer = await api.create_topics(
        7,
        {
            "topics": [
                {
                    "name": name,
                    "num_partitions": partitions,
                    "replication_factor": 1,
                    "assignments": [],
                    "configs": [],
                }
            ],
            "timeout_ms": 1000,
            "validate_only": False,
        },
    )
    topic_id = answer["topics"][0]["topic_id"]
    assert isinstance(topic_id, uuid.UUID)
    return topic_id


def join_body(member_id: str, topics: list[str]) -> dict[str, Any]:
    return {
        "group_id": "g",
        "member_id": member_id,
        "member_epoch": 0,
        "instance_id": None,
        "rack_id": None,
        "rebalance_timeout_ms": 30_000,
        "subscribed_topic_names": topics,
        "subscribed_topic_regex": None,
        "server_assignor": None,
        "topic_partitions": [],
    }


def beat_body(member_id: str, epoch: int, owned: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {
        "group_id": "g",
        "member_id": member_id,
        "member_epoch": epoch,
        "instance_id": None,
        "rack_id": None,
        "rebalance_timeout_ms": -1,
        "subscribed_topic_names": None,
        "subscribed_topic_regex": None,
        "server_assignor": None,
        "topic_partitions": owned,
    }


def test_assignment_is_by_topic_id_and_owned_is_read_by_topic_id(tmp_path: Path) -> None:
    """CG-20: the assignment names the topic by the id CreateTopics gave; partitions a member
    reports owning, by topic id, are what it must revoke from."""

    async def scenario(api: ApiHandlers) -> None:
        topic_id = await create(api, "t", 4)
        a = await api.consumer_group_heartbeat(1, join_body("a", ["t"]))
        assert (a["error_code"], a["member_id"], a["member_epoch"]) == (0, "a", 1)
        assert a["assignment"] == {
            "topic_partitions": [{"topic_id": topic_id, "partitions": [0, 1, 2, 3]}]
        }
        b = await api.consumer_group_heartbeat(1, join_body("b", ["t"]))
        assert (b["member_epoch"], b["assignment"]) == (2, {"topic_partitions": []})
        owned = [{"topic_id": topic_id, "partitions": [0, 1, 2, 3]}]
        a = await api.consumer_group_heartbeat(1, beat_body("a", 1, owned))
        assert a["member_epoch"] == 1  # still revoking
        [kept] = a["assignment"]["topic_partitions"]
        assert kept["topic_id"] == topic_id and len(kept["partitions"]) == 2
        a = await api.consumer_group_heartbeat(1, beat_body("a", 1, [kept]))
        assert a["member_epoch"] == 2
        b = await api.consumer_group_heartbeat(1, beat_body("b", 2, []))
        [given] = b["assignment"]["topic_partitions"]
        assert sorted(given["partitions"] + kept["partitions"]) == [0, 1, 2, 3]

        described = await api.consumer_group_describe(0, {"group_ids": ["g", "nope"]})
        group, missing = described["groups"]
        assert (group["error_code"], group["group_epoch"], group["assignor_name"]) == (
            0,
            2,
            "uniform",
        )
        assert {m["member_id"] for m in group["members"]} == {"a", "b"}
        for member in group["members"]:
            [entry] = member["assignment"]["topic_partitions"]
            assert (entry["topic_id"], entry["topic_name"]) == (topic_id, "t")
        assert missing["error_code"] == 69

    run(tmp_path, scenario)


def test_v0_gets_a_member_id_and_v1_must_send_one(tmp_path: Path) -> None:
    """CG-4, CG-6: v0 with an empty member id gets one made by the broker; v1 gets 42."""

    async def scenario(api: ApiHandlers) -> None:
        await create(api, "t", 1)
        v0 = await api.consumer_group_heartbeat(0, join_body("", ["t"]))
        assert v0["error_code"] == 0 and v0["member_id"]
        v1 = await api.consumer_group_heartbeat(1, join_body("", ["t"]))
        assert v1["error_code"] == 42 and v1["error_message"]

    run(tmp_path, scenario)


def test_one_group_type_at_a_time(tmp_path: Path) -> None:
    """CG-20: a classic JoinGroup to a consumer group with members is 23; a consumer heartbeat to
    a classic group with members is 69 (Kafka without migration)."""

    async def scenario(api: ApiHandlers) -> None:
        await create(api, "t", 1)
        await api.consumer_group_heartbeat(1, join_body("a", ["t"]))
        joined = await api.join_group(
            9,
            {
                "group_id": "g",
                "session_timeout_ms": 10_000,
                "rebalance_timeout_ms": 10_000,
                "member_id": "",
                "group_instance_id": None,
                "protocol_type": "consumer",
                "protocols": [{"name": "range", "metadata": b""}],
                "reason": None,
            },
        )
        assert joined["error_code"] == 23
        # A classic group "h" with a member (v0 join: no MEMBER_ID_REQUIRED round trip).
        classic = await api.join_group(
            0,
            {
                "group_id": "h",
                "session_timeout_ms": 10_000,
                "member_id": "",
                "protocol_type": "consumer",
                "protocols": [{"name": "range", "metadata": b""}],
            },
        )
        assert classic["error_code"] == 0
        body = join_body("x", ["t"]) | {"group_id": "h"}
        answer = await api.consumer_group_heartbeat(1, body)
        assert answer["error_code"] == 69

        listed = await api.list_groups(5, {"states_filter": [], "types_filter": []})
        kinds = {row["group_id"]: row["group_type"] for row in listed["groups"]}
        assert kinds == {"g": "consumer", "h": "classic"}
        consumer_only = await api.list_groups(5, {"states_filter": [], "types_filter": ["Consumer"]})
        assert [row["group_id"] for row in consumer_only["groups"]] == ["g"]

    run(tmp_path, scenario)


def test_offset_commit_fenced_by_member_epoch(tmp_path: Path) -> None:
    """CG-19: OffsetCommit v9 to a consumer group: the member's epoch commits, another epoch is
    STALE_MEMBER_EPOCH (113), an unknown member 25, and v8 from a member 35."""

    async def scenario(api: ApiHandlers) -> None:
        await create(api, "t", 1)
        await api.consumer_group_heartbeat(1, join_body("a", ["t"]))

        async def commit(version: int, member: str, epoch: int) -> int:
            answer = await api.offset_commit(
                version,
                {
                    "group_id": "g",
                    "generation_id_or_member_epoch": epoch,
                    "member_id": member,
                    "group_instance_id": None,
                    "retention_time_ms": -1,
                    "topics": [
                        {
                            "name": "t",
                            "partitions": [
                                {
                                    "partition_index": 0,
                                    "committed_offset": 3,
                                    "committed_leader_epoch": -1,
                                    "committed_metadata": None,
                                }
                            ],
                        }
                    ],
                },
            )
            code = answer["topics"][0]["partitions"][0]["error_code"]
            assert isinstance(code, int)
            return code

        assert await commit(9, "a", 1) == 0
        assert await commit(9, "a", 0) == 113
        assert await commit(9, "zz", 1) == 25
        assert await commit(8, "a", 1) == 35
        fetched = await api.offset_fetch(
            9, {"groups": [{"group_id": "g", "member_id": "a", "member_epoch": 7, "topics": None}]}
        )
        assert fetched["groups"][0]["error_code"] == 113

    run(tmp_path, scenario)


# kafka-python reads its schema files with importlib.resources' deprecated read_text, open_text.
@pytest.mark.filterwarnings("ignore:(read_text|open_text) is deprecated:DeprecationWarning")
def test_describe_groups_reports_a_consumer_group(tmp_path: Path) -> None:
    """CG-20: DescribeGroups describes a consumer-protocol group as Kafka's classic consumers
    encode it: each member's subscription and assignment decode with kafka-python's own
    ConsumerProtocol decoders (an independent implementation)."""
    from kafka.protocol.consumer.metadata import (  # noqa: PLC0415 - only this test needs it
        ConsumerProtocolAssignment,
        ConsumerProtocolSubscription,
    )

    async def scenario(api: ApiHandlers) -> None:
        await create(api, "t", 3)
        await api.consumer_group_heartbeat(1, join_body("a", ["t"]))
        described = await api.describe_groups(
            5, {"groups": ["g"], "include_authorized_operations": False}
        )
        [group] = described["groups"]
        assert (group["error_code"], group["group_state"], group["protocol_type"]) == (
            0,
            "Stable",
            "consumer",
        )
        [member] = group["members"]
        assert member["member_id"] == "a"
        subscription = ConsumerProtocolSubscription.decode(member["member_metadata"])
        assert list(subscription.topics) == ["t"]
        assignment = ConsumerProtocolAssignment.decode(member["member_assignment"])
        assert [(tp.topic, sorted(tp.partitions)) for tp in assignment.assigned_partitions] == [
            ("t", [0, 1, 2])
        ]

    run(tmp_path, scenario)


def test_delete_groups_and_offset_delete_know_consumer_groups(tmp_path: Path) -> None:
    """CG-20 with GADM-1..3: a consumer-protocol group with members is NON_EMPTY_GROUP (68) to
    DeleteGroups and keeps its subscribed topics' offsets (GROUP_SUBSCRIBED_TO_TOPIC, 86) while
    others go; once its last member left, the group and its offsets are deleted."""

    async def scenario(api: ApiHandlers) -> None:
        await create(api, "t", 1)
        await create(api, "u", 1)
        await api.consumer_group_heartbeat(1, join_body("a", ["t"]))
        await api.broker.commit_offsets("g", {("t", 0): 1, ("u", 0): 2})
        deleted = await api.delete_groups(2, {"groups_names": ["g"]})
        assert deleted["results"][0]["error_code"] == 68
        answer = await api.offset_delete(
            0,
            {
                "group_id": "g",
                "topics": [
                    {"name": "t", "partitions": [{"partition_index": 0}]},
                    {"name": "u", "partitions": [{"partition_index": 0}]},
                ],
            },
        )
        codes = {t["name"]: t["partitions"][0]["error_code"] for t in answer["topics"]}
        assert (answer["error_code"], codes) == (0, {"t": 86, "u": 0})
        left = await api.consumer_group_heartbeat(1, beat_body("a", -1, None))
        assert left["error_code"] == 0
        deleted = await api.delete_groups(2, {"groups_names": ["g"]})
        assert deleted["results"][0]["error_code"] == 0
        assert api.groups.consumer.describe("g") is None
        assert await api.broker.fetch_offsets("g") == {}

    run(tmp_path, scenario)
