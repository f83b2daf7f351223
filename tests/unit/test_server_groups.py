"""The group service on the event loop (flyq/server/_groups.py): what it adds to the pure
coordinator of flyq.groups."""

from __future__ import annotations

import asyncio
import logging

import pytest

from flyq.groups import JoinGroupResponse
from flyq.server._groups import GroupService


async def _join_once(service: GroupService) -> str:
    answer = await service.call(
        "join", group_id="g", client_id="consumer", session_timeout_ms=10_000,
        rebalance_timeout_ms=10_000, member_id="", group_instance_id=None,
        protocol_type="consumer", protocols=[("range", b"")], require_known_member_id=True)
    assert isinstance(answer, JoinGroupResponse)
    assert answer.error_code == 79  # KIP-394: the id comes back first, to be joined with
    return answer.member_id


def test_member_ids_do_not_repeat_across_restarts() -> None:
    """"Broker restart": each run of the service (a broker start) hands out member ids no other
    run gave, so a zombie from before a restart can never name a member of the new run."""
    async def ids_of_one_run() -> list[str]:
        service = GroupService()
        return [await _join_once(service) for _ in range(3)]
    runs = [asyncio.run(ids_of_one_run()) for _ in range(20)]
    every = [member_id for run in runs for member_id in run]
    assert all(member_id.startswith("consumer-") for member_id in every)
    assert len(set(every)) == len(every)


def test_timer_expires_consumer_protocol_members() -> None:
    """CG-17, CG-20: the service's one timer also ticks the consumer coordinator: a member whose
    session is over (by the service's clock) is removed without any further request to its group,
    and not while its session lasts."""
    now = [0]

    async def scenario() -> None:
        service = GroupService(
            lambda: now[0], consumer_session_timeout_ms=1_000, consumer_heartbeat_interval_ms=100
        )
        service.start()
        try:
            answer = service.consumer_heartbeat(
                group_id="g", member_id="a", member_epoch=0, topics={"t": 1},
                rebalance_timeout_ms=5_000, subscribed_topic_names=["t"], owned={})
            assert answer.error_code == 0

            async def members_after(at: int) -> int:
                now[0] = at
                # Another group's heartbeat wakes the timer, which ticks at the new time.
                service.consumer_heartbeat(
                    group_id="other", member_id=f"x{at}", member_epoch=0, topics={},
                    rebalance_timeout_ms=5_000, subscribed_topic_names=["t"], owned={})
                for _ in range(5):
                    await asyncio.sleep(0)
                view = service.consumer.describe("g")
                assert view is not None
                return len(view.members)

            assert await members_after(1_000) == 1
            assert await members_after(1_001) == 0
        finally:
            await service.stop()

    asyncio.run(scenario())


def test_group_changes_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    """An operator can follow a group: one INFO line per change of state, generation (or group
    epoch) or member count, including a member removed by its session timer; none repeated."""
    now = [0]

    async def scenario() -> None:
        service = GroupService(clock=lambda: now[0])
        service.start()
        try:
            joined = await service.call(
                "join", group_id="g", client_id="solo", session_timeout_ms=6_000,
                rebalance_timeout_ms=6_000, member_id="", group_instance_id=None,
                protocol_type="consumer", protocols=[("range", b"")],
                require_known_member_id=False)
            assert isinstance(joined, JoinGroupResponse) and joined.error_code == 0
            for _ in range(2):  # the second, unchanged heartbeat logs nothing
                await service.call("heartbeat", group_id="g", generation_id=1,
                                   member_id=joined.member_id)
            service.consumer_heartbeat(
                group_id="c", member_id="m", member_epoch=0, topics={"t": 2},
                rebalance_timeout_ms=5_000, subscribed_topic_names=["t"], owned={})
            now[0] = 6_001 + 1  # past the classic member's session: the next tick removes it
            service.consumer_heartbeat(
                group_id="c", member_id="m", member_epoch=1, topics={"t": 2}, owned=None)
            for _ in range(5):
                await asyncio.sleep(0)
        finally:
            await service.stop()

    with caplog.at_level(logging.INFO, logger="flyq.server.groups"):
        asyncio.run(scenario())
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "group g (classic protocol): CompletingRebalance, generation 1, 1 members",
        "group c (consumer protocol): Stable, group epoch 1, 1 members",
        "group g (classic protocol): Empty, generation 2, 0 members",
    ], lines
