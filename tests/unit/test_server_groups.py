"""The group service on the event loop (flyq/server/_groups.py): what it adds to the pure
coordinator of flyq.groups."""

from __future__ import annotations

import asyncio

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
