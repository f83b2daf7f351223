"""The classic consumer-group membership behind `AsyncConsumer.subscribe` (spec/client.md
CLIENT-30..39), and the assignors its leader runs.

Rules of this module:
- The assignors (`range_assign`, `roundrobin_assign`) and `leader_assignments` are pure: member
  ids, subscriptions and partition counts in, partitions (or ConsumerProtocolAssignment bytes)
  out. They place partitions exactly as Kafka's RangeAssignor and RoundRobinAssignor do, over the
  member ids sorted.
- `GroupMember` is the I/O side: one task that finds the coordinator, joins, syncs and
  heartbeats, as the Java consumer's `AbstractCoordinator` does, with the eager protocol: every
  owned partition is revoked (through the `revoke` hook, which commits first) before a
  JoinGroup is sent, so a member never commits nor reads in two generations.
- Group requests go over a connection of their own to the coordinator (Java's separate
  coordinator connection): a JoinGroup waits for the whole group to rejoin, up to the rebalance
  timeout, and would hold up every request queued behind it (PROTO-3). It is kept while a new
  FindCoordinator answers the same address.
- `generation_id` is >= 0 exactly while the member may commit: from its SyncGroup until the
  JoinGroup of the next rebalance (or the error that fenced it). `stable` is set exactly while
  records may be handed out: from after the `assign` hook until a rebalance is known to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from flyq.client._connection import BrokerConnection
from flyq.errors import FlyQError, InvalidArgument, RemoteError, error_from_code
from flyq.protocol import (
    CONSUMER_PROTOCOL_TYPE,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)

__all__ = [
    "ASSIGNORS",
    "GroupMember",
    "coordinator_address",
    "decode_assigned",
    "leader_assignments",
    "parse_strategies",
    "range_assign",
    "roundrobin_assign",
    "subscribed_topics",
]

TopicPartition = tuple[str, int]
Assignor = Callable[[Mapping[str, Collection[str]], Mapping[str, int]],
                    dict[str, list[TopicPartition]]]

_METADATA, _FIND_COORDINATOR, _JOIN_GROUP, _HEARTBEAT, _LEAVE_GROUP, _SYNC_GROUP = (
    3, 10, 11, 12, 13, 14)
_ILLEGAL_GENERATION, _UNKNOWN_MEMBER_ID, _REBALANCE_IN_PROGRESS = 22, 25, 27
_MEMBER_ID_REQUIRED = 79
# The coordinator is loading, not available or elsewhere: find it again and retry (Java's
# `markCoordinatorUnknown`).
_COORDINATOR_ERRORS: Final = frozenset({14, 15, 16})
_KEY_TYPE_GROUP = 0
_RETRY_BACKOFF_S, _RETRY_BACKOFF_MAX_S = 0.1, 1.0
# Java's consumer waits this much longer than the rebalance timeout for a JoinGroup answer.
_JOIN_GRACE_S = 5.0


# --- the assignors (pure) -----------------------------------------------------------------------


def range_assign(subscriptions: Mapping[str, Collection[str]],
                 partition_counts: Mapping[str, int]) -> dict[str, list[TopicPartition]]:
    """Kafka's RangeAssignor: per topic, the members subscribed to it in member id order get
    consecutive ranges of its partitions, the first `count % members` one partition more."""
    assignment: dict[str, list[TopicPartition]] = {member: [] for member in subscriptions}
    for topic in sorted({topic for topics in subscriptions.values() for topic in topics}):
        members = sorted(member for member, topics in subscriptions.items() if topic in topics)
        per_member, extra = divmod(partition_counts.get(topic, 0), len(members))
        start = 0
        for index, member in enumerate(members):
            length = per_member + (1 if index < extra else 0)
            assignment[member].extend((topic, number) for number in range(start, start + length))
            start += length
    return assignment


def roundrobin_assign(subscriptions: Mapping[str, Collection[str]],
                      partition_counts: Mapping[str, int]) -> dict[str, list[TopicPartition]]:
    """Kafka's RoundRobinAssignor: every partition of every subscribed topic, in topic then
    partition order, goes to the next member (circling over the member ids in order) that is
    subscribed to its topic."""
    assignment: dict[str, list[TopicPartition]] = {member: [] for member in subscriptions}
    members = sorted(subscriptions)
    turn = 0
    for topic in sorted({topic for topics in subscriptions.values() for topic in topics}):
        for number in range(partition_counts.get(topic, 0)):
            while topic not in subscriptions[members[turn % len(members)]]:
                turn += 1
            assignment[members[turn % len(members)]].append((topic, number))
            turn += 1
    return assignment


ASSIGNORS: Final[Mapping[str, Assignor]] = {"range": range_assign,
                                            "roundrobin": roundrobin_assign}


def parse_strategies(strategies: str | Sequence[str]) -> tuple[str, ...]:
    """`partition_assignment_strategy` ("range", "range,roundrobin" or a sequence) as the
    protocol names offered in JoinGroup, in preference order; `InvalidArgument` else."""
    names = tuple(name.strip() for name in (strategies.split(",") if isinstance(strategies, str)
                                            else strategies))
    if not names or len(set(names)) != len(names) or not set(names) <= set(ASSIGNORS):
        raise InvalidArgument("partition_assignment_strategy", strategies,
                              f"distinct names of {', '.join(ASSIGNORS)}")
    return names


def subscribed_topics(members: Iterable[tuple[str, bytes]]) -> dict[str, list[str]]:
    """Member id -> the topics of its ConsumerProtocolSubscription (`ProtocolError` if one does
    not decode)."""
    return {member: list(decode_subscription(metadata)["topics"])
            for member, metadata in members}


def leader_assignments(protocol: str, subscriptions: Mapping[str, Collection[str]],
                       partition_counts: Mapping[str, int]) -> dict[str, bytes]:
    """What the leader sends in SyncGroup: member id -> its ConsumerProtocolAssignment (every
    member has an entry, possibly with no partitions)."""
    placed = ASSIGNORS[protocol](subscriptions, partition_counts)
    encoded = {}
    for member, partitions in placed.items():
        by_topic: dict[str, list[int]] = {}
        for topic, number in sorted(partitions):
            by_topic.setdefault(topic, []).append(number)
        encoded[member] = encode_assignment(by_topic)
    return encoded


def decode_assigned(data: bytes) -> set[TopicPartition]:
    """The partitions of a SyncGroup answer's ConsumerProtocolAssignment (empty bytes: none)."""
    if not data:
        return set()
    return {(entry["topic"], number) for entry in decode_assignment(data)["assigned_partitions"]
            for number in entry["partitions"]}


def coordinator_address(group_id: str, version: int, body: Mapping[str, Any]
                        ) -> tuple[str, int]:
    """The (host, port) of a FindCoordinator answer at `version` (one key before v4, a list of
    one from v4); its error code raised as `error_from_code`."""
    entry = body["coordinators"][0] if version >= 4 else body
    if entry["error_code"]:
        raise error_from_code(entry["error_code"], entry.get("error_message")
                              or f"find the coordinator of group {group_id}", group=group_id)
    return entry["host"], entry["port"]


def _coordinator_moved(error: FlyQError) -> bool:
    code = error.error_code if isinstance(error, RemoteError) else error.code
    return code in _COORDINATOR_ERRORS


# --- the member (I/O) ---------------------------------------------------------------------------


class GroupMember:
    """One consumer's membership of a classic group; `start()`, then `stop()`. The consumer
    gives it two hooks: `revoke(commit)` (commit if `commit` and auto-commit is on, call
    on_revoke, drop the assignment) and `assign(partitions)` (install them, call on_assign)."""

    def __init__(self, *, group_id: str, topics: Iterable[str], strategies: Sequence[str],
                 session_timeout_ms: int, rebalance_timeout_ms: int, heartbeat_interval_ms: int,
                 bootstrap: Callable[[], Awaitable[BrokerConnection]],
                 bootstrap_address: tuple[str, int] | None,
                 revoke: Callable[[bool], Awaitable[None]],
                 assign: Callable[[set[TopicPartition]], Awaitable[None]]) -> None:
        self.group_id = group_id
        self.topics = sorted(set(topics))
        self.strategies = tuple(strategies)
        self.session_timeout_ms = session_timeout_ms
        self.rebalance_timeout_ms = rebalance_timeout_ms
        self.heartbeat_interval = heartbeat_interval_ms / 1000
        # The consumer's connection to the bootstrap address, reopened by the consumer if it
        # broke: asked for anew before each use.
        self._bootstrap = bootstrap
        self.bootstrap_address = bootstrap_address
        self.member_id = ""
        self.generation_id = -1
        self.coordinator: BrokerConnection | None = None
        self.coordinator_address: tuple[str, int] | None = None
        self.error: FlyQError | None = None
        self.last_poll = time.monotonic()
        self._revoke = revoke
        self._assign = assign
        self._owns = False  # an assignment was installed and is not revoked yet
        self._needs_join = True
        self._lost_code = 0  # why the generation was lost, for a commit meanwhile
        self._left_for_poll = False  # left the group: poll not called within the interval
        self._stable = asyncio.Event()
        self._wake = asyncio.Event()
        self._polled = asyncio.Event()
        self._rejoin_requested = False
        self._stopping = False
        self._find_coordinator = False  # the coordinator answered as if it were not (any more)
        self._task: asyncio.Task[None] | None = None

    # --- what the consumer reads and calls ---------------------------------------------------

    @property
    def stable(self) -> bool:
        """Whether records may be handed out: assigned in the current generation, no rebalance
        known to be under way."""
        return self._stable.is_set() and self.error is None

    def commit_identity(self) -> tuple[int, str]:
        """(generation id, member id) for an OffsetCommit (CLIENT-34); while the member is in no
        generation, the error that took it out (REBALANCE_IN_PROGRESS while rejoining)."""
        if self.generation_id < 0:
            raise error_from_code(self._lost_code or _REBALANCE_IN_PROGRESS,
                                  f"commit to group {self.group_id}: the member is not in a "
                                  "generation of the group (it is rejoining)",
                                  group=self.group_id)
        return self.generation_id, self.member_id

    def note_poll(self) -> None:
        """The consumer polled (max_poll_interval_ms counts from here)."""
        self.last_poll = time.monotonic()
        self._polled.set()

    async def wait_stable(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the member to be stable (or to fail)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stable.wait(), timeout)

    def update_topics(self, topics: Iterable[str]) -> None:
        """Subscribe to `topics` from now on: rejoin if they changed."""
        wanted = sorted(set(topics))
        if wanted != self.topics:
            self.topics = wanted
            self._rejoin_requested = True
            self._stable.clear()
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, *, commit: bool) -> None:
        """Stop the membership: revoke what is owned (committing first if `commit`, and the
        generation is current), then LeaveGroup, and close the coordinator connection."""
        self._stopping = True
        task, self._task = self._task, None
        while task is not None and not task.done():
            # Python 3.11's wait_for swallows a cancel that meets a finished inner future (a
            # request answered in the same loop turn), so cancel until the task has ended.
            task.cancel()
            await asyncio.wait({task}, timeout=_RETRY_BACKOFF_S)
        self._stable.clear()
        try:
            if self._owns:
                await self._revoke(commit and self.generation_id >= 0)
                self._owns = False
            if self.member_id:
                await self._leave()
        finally:
            if self.coordinator is not None:
                await self.coordinator.close()
                self.coordinator = None

    # --- the membership task -----------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                if self._left_for_poll:
                    self._polled.clear()
                    await self._polled.wait()
                    self._left_for_poll = False
                await self._ensure_coordinator()
                if self._needs_join:
                    await self._rebalance()
                attempt = 0
                await self._heartbeat_until_rejoin()
            except FlyQError as exc:
                if not (exc.retriable or _coordinator_moved(exc)):
                    self.error = exc
                    self._stable.set()  # wakes a waiting poll, which raises the error
                    return
                # A failed connection is replaced by `_ensure_coordinator` in any case.
                self._find_coordinator |= _coordinator_moved(exc)
                attempt += 1
                await asyncio.sleep(min(_RETRY_BACKOFF_S * 2 ** (attempt - 1),
                                        _RETRY_BACKOFF_MAX_S))
            except Exception as exc:  # noqa: BLE001 - a bug must reach poll, not end silently
                self.error = FlyQError(f"the group membership failed: {exc!r}")
                self.error.__cause__ = exc
                self._stable.set()
                return

    async def _ensure_coordinator(self) -> None:
        """FindCoordinator (key type group) over the bootstrap connection; connect to its
        answer, keeping the present connection if the address is the same."""
        alive = self.coordinator is not None and not self.coordinator.failed
        if alive and not self._find_coordinator:
            return
        bootstrap = await self._bootstrap()
        response = await bootstrap.request(_FIND_COORDINATOR, {
            "key": self.group_id, "key_type": _KEY_TYPE_GROUP,
            "coordinator_keys": [self.group_id]}, (0, 6))
        address = coordinator_address(self.group_id, response.version, response.body)
        self._find_coordinator = False
        if alive and address == self.coordinator_address:
            return
        if self.coordinator is not None:
            await self.coordinator.close()
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        # A JoinGroup may wait the whole rebalance timeout for the other members.
        timeout = max(bootstrap.timeout, self.rebalance_timeout_ms / 1000 + _JOIN_GRACE_S)
        self.coordinator = await BrokerConnection.open(
            f"{host}:{address[1]}", client_id=bootstrap.client_id, timeout=timeout,
            security=bootstrap.security)
        self.coordinator_address = address

    def _coordinator(self) -> BrokerConnection:
        assert self.coordinator is not None  # _ensure_coordinator ran first
        return self.coordinator

    def _lose_generation(self, code: int) -> None:
        """The coordinator fenced this member (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION): its
        partitions are lost, not revoked, so nothing is committed for them (CLIENT-35)."""
        self._stable.clear()
        self.generation_id = -1
        self._lost_code = code
        # ILLEGAL_GENERATION keeps the id (Java since KAFKA-13419, librdkafka): a new id would
        # leave the old one in the group, holding the next rebalance until its timeout.
        if code == _UNKNOWN_MEMBER_ID:
            self.member_id = ""
        self._needs_join = True

    async def _rebalance(self) -> None:
        """Revoke (eager), then JoinGroup (through KIP-394's MEMBER_ID_REQUIRED), the leader's
        assignment, SyncGroup; install the assignment (CLIENT-32, CLIENT-33)."""
        self._stable.clear()
        if self._owns:
            await self._revoke(self.generation_id >= 0)
            self._owns = False
        while True:
            self.generation_id = -1  # from the JoinGroup on, this member may not commit
            join = await self._join()
            if join is None:
                continue
            assignments: dict[str, bytes] = {}
            if join["leader"] == self.member_id and not join.get("skip_assignment"):
                assignments = await self._assign_as_leader(
                    join["protocol_name"],
                    [(member["member_id"], member["metadata"]) for member in join["members"]])
            assigned = await self._sync(join["generation_id"], join["protocol_name"],
                                        assignments)
            if assigned is None:
                continue
            break
        self.generation_id = join["generation_id"]
        self._lost_code = 0
        self._owns = True
        await self._assign(assigned)
        self._needs_join = False
        if not self._rejoin_requested:
            self._stable.set()

    async def _join(self) -> dict[str, Any] | None:
        """One JoinGroup; None when it is to be sent again (a member id was handed out or
        refused, or a rebalance is starting)."""
        body = (await self._coordinator().request(_JOIN_GROUP, {
            "group_id": self.group_id, "session_timeout_ms": self.session_timeout_ms,
            "rebalance_timeout_ms": self.rebalance_timeout_ms, "member_id": self.member_id,
            "group_instance_id": None, "protocol_type": CONSUMER_PROTOCOL_TYPE,
            "protocols": [{"name": name, "metadata": encode_subscription(self.topics)}
                          for name in self.strategies],
            "reason": None}, (1, 9))).body
        code = body["error_code"]
        if code == _MEMBER_ID_REQUIRED:
            self.member_id = body["member_id"]
            return None
        if code in (_UNKNOWN_MEMBER_ID, _ILLEGAL_GENERATION, _REBALANCE_IN_PROGRESS):
            if code == _UNKNOWN_MEMBER_ID:
                self.member_id = ""
            await asyncio.sleep(_RETRY_BACKOFF_S)
            return None
        if code:
            raise error_from_code(code, f"join group {self.group_id}", group=self.group_id)
        self.member_id = body["member_id"]
        return body

    async def _assign_as_leader(self, protocol: str, members: list[tuple[str, bytes]]
                                ) -> dict[str, bytes]:
        subscriptions = subscribed_topics(members)
        topics = sorted({topic for names in subscriptions.values() for topic in names})
        return leader_assignments(protocol, subscriptions, await self._partition_counts(topics))

    async def _partition_counts(self, topics: list[str]) -> dict[str, int]:
        """Partition counts of `topics` (Metadata, no auto-creation); a topic the broker does
        not know has none, so it is not assigned."""
        if not topics:
            return {}
        body = (await (await self._bootstrap()).request(_METADATA, {
            "topics": [{"name": name} for name in topics],
            "allow_auto_topic_creation": False}, (1, 12))).body
        return {topic["name"]: len(topic["partitions"]) for topic in body["topics"]
                if not topic["error_code"]}

    async def _sync(self, generation_id: int, protocol: str, assignments: dict[str, bytes]
                    ) -> set[TopicPartition] | None:
        """One SyncGroup; the assigned partitions, or None when the member is to rejoin."""
        body = (await self._coordinator().request(_SYNC_GROUP, {
            "group_id": self.group_id, "generation_id": generation_id,
            "member_id": self.member_id, "group_instance_id": None,
            "protocol_type": CONSUMER_PROTOCOL_TYPE, "protocol_name": protocol,
            "assignments": [{"member_id": member, "assignment": data}
                            for member, data in assignments.items()]}, (0, 5))).body
        code = body["error_code"]
        if code in (_UNKNOWN_MEMBER_ID, _ILLEGAL_GENERATION, _REBALANCE_IN_PROGRESS):
            if code == _UNKNOWN_MEMBER_ID:
                self.member_id = ""
            return None
        if code:
            raise error_from_code(code, f"sync group {self.group_id}", group=self.group_id)
        return decode_assigned(body["assignment"])

    async def _heartbeat_until_rejoin(self) -> None:
        """Heartbeat every `heartbeat_interval`; return when the member is to rejoin
        (CLIENT-35, CLIENT-36)."""
        while not self._stopping:
            if not self._rejoin_requested:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.heartbeat_interval)
            if self._rejoin_requested:
                self._rejoin_requested = False
                self._needs_join = True
                return
            if time.monotonic() - self.last_poll > self.rebalance_timeout_ms / 1000:
                # max_poll_interval_ms passed without a poll: leave, as Java's consumer does,
                # so the group goes on without this member; the next poll rejoins.
                self._lose_generation(0)
                await self._revoke(False)
                self._owns = False
                await self._leave()
                self._left_for_poll = True
                return
            body = (await self._coordinator().request(_HEARTBEAT, {
                "group_id": self.group_id, "generation_id": self.generation_id,
                "member_id": self.member_id, "group_instance_id": None}, (0, 4))).body
            code = body["error_code"]
            if code == _REBALANCE_IN_PROGRESS:
                self._stable.clear()
                self._needs_join = True
                return
            if code in (_UNKNOWN_MEMBER_ID, _ILLEGAL_GENERATION):
                self._lose_generation(code)
                return
            if code:
                raise error_from_code(code, f"heartbeat to group {self.group_id}",
                                      group=self.group_id)

    async def _leave(self) -> None:
        """LeaveGroup, best effort (the session timeout removes the member otherwise)."""
        member_id, self.member_id, self.generation_id = self.member_id, "", -1
        if self.coordinator is None or self.coordinator.failed:
            return
        with contextlib.suppress(FlyQError):
            await self.coordinator.request(_LEAVE_GROUP, {
                "group_id": self.group_id, "member_id": member_id,
                "members": [{"member_id": member_id, "group_instance_id": None,
                             "reason": "the consumer is leaving the group"}]}, (0, 5))
