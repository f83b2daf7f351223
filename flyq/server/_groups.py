"""The group coordinators on the event loop: `flyq.groups.ClassicCoordinator` and
`flyq.groups.ConsumerCoordinator` (KIP-848) driven by requests and one timer
(spec/group-coordinator.md, spec/consumer-group-protocol.md; spec/protocol.md "Consumer groups").

The coordinator is pure and in memory, so it runs on the loop itself: a request becomes a call
with a fresh request id and the loop's clock; every Outcome it returns settles the future of the
request it answers (that one, or others that were waiting). One task sleeps until
`next_deadline()` and calls `tick`; a call that may move the deadline wakes it. The consumer
coordinator never makes a request wait: its heartbeats are answered at once, and its `tick` only
removes members.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from flyq.clock import monotonic_ms
from flyq.groups import (
    ClassicCoordinator,
    ConsumerCoordinator,
    ConsumerHeartbeatResponse,
    Outcome,
    Response,
)

__all__ = ["GroupService"]

_log = logging.getLogger("flyq.server.groups")


class GroupService:
    """Requests in, awaited responses out; owns the coordinator's timer."""

    def __init__(
        self,
        clock: Callable[[], int] = monotonic_ms,
        *,
        consumer_session_timeout_ms: int = 45_000,
        consumer_heartbeat_interval_ms: int = 5_000,
    ) -> None:
        # Membership does not survive a restart (spec/group-coordinator.md "Broker restart"), so
        # member ids must not repeat across restarts either: a zombie of the previous run naming a
        # member id that a new member happens to have got could otherwise commit. Kafka uses a
        # random UUID; a random start for the coordinator's counter serves the same end.
        self.coordinator = ClassicCoordinator(first_member_number=secrets.randbits(62))
        self.consumer = ConsumerCoordinator(
            session_timeout_ms=consumer_session_timeout_ms,
            heartbeat_interval_ms=consumer_heartbeat_interval_ms,
            first_member_number=secrets.randbits(62),
        )
        self._clock = clock
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Response]] = {}
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._logged: dict[str, tuple[str, str, int, int]] = {}  # what was last logged per group

    def start(self) -> None:
        """Start the timer task (on the running loop)."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(self._run_timer())

    async def stop(self) -> None:
        """Stop the timer; requests still waiting are cancelled."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    async def call(self, method: str, **fields: Any) -> Response:
        """Call the coordinator's `method` (join, sync, heartbeat, leave) and await its answer."""
        request_id = next(self._ids)
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        outcomes = getattr(self.coordinator, method)(request_id, self._clock(), **fields)
        self._settle(outcomes)
        self._log_changes([fields["group_id"]])
        self._wake.set()
        try:
            return await future
        finally:
            self._waiting.pop(request_id, None)

    def consumer_heartbeat(self, **fields: Any) -> ConsumerHeartbeatResponse:
        """ConsumerGroupHeartbeat on the consumer coordinator, answered at once."""
        response = self.consumer.heartbeat(self._clock(), **fields)
        self._log_changes([fields["group_id"]])
        self._wake.set()
        return response

    def now_ms(self) -> int:
        """The coordinator's clock."""
        return self._clock()

    def _settle(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            future = self._waiting.pop(outcome.request_id, None)
            if future is not None and not future.done():
                future.set_result(outcome.response)

    async def _run_timer(self) -> None:
        while True:
            self._wake.clear()
            deadlines = [
                d
                for d in (self.coordinator.next_deadline(), self.consumer.next_deadline())
                if d is not None
            ]
            timeout = max(min(deadlines) - self._clock(), 0) / 1000 if deadlines else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            now = self._clock()
            self._settle(self.coordinator.tick(now))
            self.consumer.tick(now)
            if deadlines and now >= min(deadlines):  # a timer was due: any group may have changed
                self._log_changes({*self._logged, *self.coordinator.group_ids(),
                                   *self.consumer.group_ids()})

    def _log_changes(self, group_ids: Iterable[str]) -> None:
        """One INFO line per group whose state, generation (or group epoch) or member count
        changed since it was last logged, so an operator can follow rebalances."""
        if not _log.isEnabledFor(logging.INFO):
            return
        for group_id in group_ids:
            now = self._summary(group_id)
            if now == self._logged.get(group_id):
                continue
            if now is None:
                del self._logged[group_id]
                _log.info("group %s is gone", group_id)
                continue
            self._logged[group_id] = now
            protocol, state, generation, members = now
            _log.info("group %s (%s protocol): %s, %s %d, %d members", group_id, protocol, state,
                      "generation" if protocol == "classic" else "group epoch", generation,
                      members)

    def _summary(self, group_id: str) -> tuple[str, str, int, int] | None:
        classic = self.coordinator.describe(group_id)
        if classic is not None:
            return ("classic", classic.state.value, classic.generation_id, len(classic.members))
        consumer = self.consumer.describe(group_id)
        if consumer is not None:
            return ("consumer", consumer.state.value, consumer.group_epoch, len(consumer.members))
        return None
