"""The pure helpers of `flyq.client._group` (spec/client.md CLIENT-31, CLIENT-32) besides the
assignors: reading a FindCoordinator answer at either shape, and the ConsumerProtocol payloads
a member reads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

import pytest

from flyq.client._connection import BrokerConnection
from flyq.client._group import (
    GroupMember,
    _coordinator_moved,
    coordinator_address,
    decode_assigned,
    subscribed_topics,
)
from flyq.errors import ProtocolError, RemoteError, error_from_code
from flyq.protocol import encode_assignment, encode_subscription


def test_coordinator_address_before_and_from_v4() -> None:
    """CLIENT-31: v0-3 answer one key at the top level, v4+ a list of one coordinator."""
    assert coordinator_address("g", 3, {"error_code": 0, "error_message": None,
                                        "node_id": 1, "host": "h", "port": 9092}) == ("h", 9092)
    assert coordinator_address("g", 4, {"coordinators": [
        {"key": "g", "node_id": 1, "host": "k", "port": 19092, "error_code": 0,
         "error_message": None}]}) == ("k", 19092)


def test_coordinator_error_is_raised_with_the_group() -> None:
    """CLIENT-31: NOT_COORDINATOR (16, no FlyQ class) keeps its code, so the member finds the
    coordinator again instead of failing."""
    with pytest.raises(RemoteError) as caught:
        coordinator_address("g", 4, {"coordinators": [
            {"key": "g", "node_id": -1, "host": "", "port": -1, "error_code": 16,
             "error_message": "moved"}]})
    assert caught.value.error_code == 16 and "moved" in str(caught.value)


def test_member_payloads() -> None:
    """CLIENT-32: subscriptions of any version 0..3 are read (a newer client's too), an
    assignment decodes to its partitions, and a payload that does not parse is ProtocolError."""
    members = [("m1", encode_subscription(["b", "a"])),
               ("m2", encode_subscription(["c"], version=3, owned_partitions=[],
                                          generation_id=4, rack_id=None))]
    assert subscribed_topics(members) == {"m1": ["b", "a"], "m2": ["c"]}
    assert decode_assigned(encode_assignment({"a": [0, 2], "b": [1]}, version=3)) == {
        ("a", 0), ("a", 2), ("b", 1)}
    with pytest.raises(ProtocolError):
        subscribed_topics([("m", b"\x00")])


def test_which_errors_send_the_member_to_find_the_coordinator() -> None:
    """CLIENT-31: COORDINATOR_LOAD_IN_PROGRESS (14), COORDINATOR_NOT_AVAILABLE (15, a FlyQ class
    of its own) and NOT_COORDINATOR (16) mean finding the coordinator again; a fencing error
    (UNKNOWN_MEMBER_ID) does not."""
    assert all(_coordinator_moved(error_from_code(code)) for code in (14, 15, 16))
    assert not _coordinator_moved(error_from_code(25))


def test_stop_ends_a_task_that_swallowed_a_cancel() -> None:
    """CLIENT-38: `stop()` ends the membership task even when the task swallowed a cancel, as
    Python 3.11's `wait_for` does when the future it waits for finished in the same loop turn
    (a heartbeat answered just as the consumer closes)."""
    async def nothing(*_: object) -> None:
        return None

    async def scenario() -> None:
        member = GroupMember(group_id="g", topics=["t"], strategies=("range",),
                             session_timeout_ms=6000, rebalance_timeout_ms=1000,
                             heartbeat_interval_ms=100,
                             bootstrap=cast(Callable[[], Awaitable[BrokerConnection]], None),
                             bootstrap_address=None,
                             revoke=nothing, assign=nothing)
        swallowed: list[bool] = []

        async def swallowing() -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                swallowed.append(True)
            await asyncio.sleep(60)  # only a second cancel ends it

        member._task = asyncio.get_running_loop().create_task(swallowing())
        await asyncio.sleep(0)
        stopping = asyncio.get_running_loop().create_task(member.stop(commit=True))
        done, _ = await asyncio.wait({stopping}, timeout=2)
        assert stopping in done, "stop() still waits for a task that swallowed its cancel"
        assert swallowed == [True] and member._task is None
    asyncio.run(scenario())
