"""DeleteGroups and OffsetDelete over the AsyncBroker (flyq/server/_apis.py; spec/protocol.md
"Group administration" GADM-1..4): request bodies in, response bodies out, real files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from flyq.broker import AsyncBroker
from flyq.protocol import encode_subscription
from flyq.server import ApiHandlers, ServerSettings

NONE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_GROUP_ID = 0, 3, 24
NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, GROUP_SUBSCRIBED_TO_TOPIC = 68, 69, 86


def run(tmp_path: Path, scenario: Callable[[ApiHandlers], Awaitable[None]]) -> None:
    """Run `scenario` against handlers (with their group timer) over a fresh AsyncBroker."""
    async def main() -> None:
        broker = await AsyncBroker.open(str(tmp_path / "data"), create=True)
        api = ApiHandlers(broker, ServerSettings(), "cluster-x")
        api.groups.start()
        try:
            await broker.create_topic("t", 2)
            await broker.create_topic("u", 1)
            await scenario(api)
        finally:
            await api.groups.stop()
            await broker.close()
    asyncio.run(main())


async def join(api: ApiHandlers, group: str, metadata: bytes,
               protocol_type: str = "consumer") -> str:
    """One member joins `group` and syncs (so the group is Stable); its member id."""
    joined = await asyncio.wait_for(api.join_group(0, {
        "group_id": group, "session_timeout_ms": 30000, "member_id": "",
        "protocol_type": protocol_type,
        "protocols": [{"name": "range", "metadata": metadata}]}), 10)
    assert joined["error_code"] == NONE
    synced = await api.sync_group(0, {
        "group_id": group, "generation_id": joined["generation_id"],
        "member_id": joined["member_id"], "assignments": [
            {"member_id": joined["member_id"], "assignment": b""}]})
    assert synced["error_code"] == NONE
    return str(joined["member_id"])


async def leave(api: ApiHandlers, group: str, member_id: str) -> None:
    answer = await api.leave_group(0, {"group_id": group, "member_id": member_id})
    assert answer["error_code"] == NONE


async def delete(api: ApiHandlers, *groups: str) -> dict[str, int]:
    answer = await api.delete_groups(2, {"groups_names": list(groups)})
    return {row["group_id"]: row["error_code"] for row in answer["results"]}


async def offset_delete(api: ApiHandlers, group: str,
                        partitions: dict[str, list[int]]) -> tuple[int, dict[tuple[str, int], int]]:
    answer: dict[str, Any] = await api.offset_delete(0, {"group_id": group, "topics": [
        {"name": name, "partitions": [{"partition_index": n} for n in numbers]}
        for name, numbers in partitions.items()]})
    return answer["error_code"], {(topic["name"], p["partition_index"]): p["error_code"]
                                  for topic in answer["topics"] for p in topic["partitions"]}


async def groups(api: ApiHandlers) -> list[str]:
    return [row["group_id"] for row in (await api.list_groups(4, {}))["groups"]]


def test_delete_groups_errors_and_offsets(tmp_path: Path) -> None:
    """GADM-1, GADM-2: an Empty group goes with its offsets; a group with members gets
    NON_EMPTY_GROUP and keeps them; unknown 69, invalid id 24; after leaving it can go."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.commit_offsets("offsets-only", {("t", 0): 1})
        await api.broker.commit_offsets("live", {("t", 0): 2})
        member = await join(api, "live", encode_subscription(["t"]))
        assert await delete(api, "offsets-only", "live", "nobody", "") == {
            "offsets-only": NONE, "live": NON_EMPTY_GROUP, "nobody": GROUP_ID_NOT_FOUND,
            "": INVALID_GROUP_ID}
        assert await api.broker.fetch_offsets("offsets-only") == {}
        assert await groups(api) == ["live"]
        assert (await api.broker.fetch_offsets("live"))[("t", 0)] is not None
        await leave(api, "live", member)
        assert await delete(api, "live") == {"live": NONE}
        assert await api.broker.fetch_offsets("live") == {}
        assert await groups(api) == []
        assert await delete(api, "live") == {"live": GROUP_ID_NOT_FOUND}
    run(tmp_path, scenario)


def test_delete_groups_empty_group_without_offsets(tmp_path: Path) -> None:
    """GADM-1: a group the coordinator holds Empty (members left, nothing committed) is deleted."""
    async def scenario(api: ApiHandlers) -> None:
        await leave(api, "g", await join(api, "g", encode_subscription(["t"])))
        assert await groups(api) == ["g"]
        assert await delete(api, "g") == {"g": NONE}
        assert await groups(api) == []
    run(tmp_path, scenario)


def test_offset_delete_refuses_subscribed_topics_of_a_live_group(tmp_path: Path) -> None:
    """GADM-3: a live consumer group keeps the offsets of topics a member subscribes to (86);
    others go; unknown partitions get 3."""
    async def scenario(api: ApiHandlers) -> None:
        await api.broker.commit_offsets("g", {("t", 0): 1, ("t", 1): 2, ("u", 0): 3})
        member = await join(api, "g", encode_subscription(["t"]))
        code, partitions = await offset_delete(
            api, "g", {"t": [0], "u": [0, 5, -1], "x": [0], "..": [0]})
        assert code == NONE
        assert partitions == {("t", 0): GROUP_SUBSCRIBED_TO_TOPIC, ("u", 0): NONE,
                              ("u", 5): UNKNOWN_TOPIC_OR_PARTITION,
                              ("u", -1): UNKNOWN_TOPIC_OR_PARTITION,
                              ("x", 0): UNKNOWN_TOPIC_OR_PARTITION,
                              ("..", 0): UNKNOWN_TOPIC_OR_PARTITION}
        assert set(await api.broker.fetch_offsets("g")) == {("t", 0), ("t", 1)}
        await leave(api, "g", member)
        code, partitions = await offset_delete(api, "g", {"t": [0]})
        assert (code, partitions) == (NONE, {("t", 0): NONE})
        assert set(await api.broker.fetch_offsets("g")) == {("t", 1)}
    run(tmp_path, scenario)


def test_offset_delete_group_level_errors(tmp_path: Path) -> None:
    """GADM-4: unknown group 69, invalid id 24, a live group of another protocol type 68,
    undecodable subscriptions count as subscribed (86), and an Empty group the coordinator holds
    exists even without offsets."""
    async def scenario(api: ApiHandlers) -> None:
        assert (await offset_delete(api, "nobody", {"t": [0]}))[0] == GROUP_ID_NOT_FOUND
        assert (await offset_delete(api, "", {"t": [0]}))[0] == INVALID_GROUP_ID
        await join(api, "connect", b"whatever", protocol_type="connect")
        assert (await offset_delete(api, "connect", {"t": [0]}))[0] == NON_EMPTY_GROUP
        await api.broker.commit_offsets("odd", {("u", 0): 1})
        await join(api, "odd", b"\x00")
        assert await offset_delete(api, "odd", {"u": [0]}) == (
            NONE, {("u", 0): GROUP_SUBSCRIBED_TO_TOPIC})
        await leave(api, "fresh", await join(api, "fresh", encode_subscription(["t"])))
        assert await offset_delete(api, "fresh", {"t": [0]}) == (NONE, {("t", 0): NONE})
    run(tmp_path, scenario)
