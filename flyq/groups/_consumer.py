"""The consumer group protocol (KIP-848): ConsumerGroupHeartbeat, ConsumerGroupDescribe.

Sans-I/O (h11's shape), like `ClassicCoordinator`: every call takes the decoded request fields and
`now_ms`, and answers at once (no request ever waits: the member is told what to do now and comes
back with its next heartbeat). Topics are named, never identified by id: the caller passes the
partition count of every existing topic (`topics`) and maps names to topic ids on the wire.

Rules (spec/consumer-group-protocol.md CG-1..CG-24):
- The group epoch grows by one when a member joins or leaves, a subscription changes, or the
  partition count of a subscribed topic changes; never otherwise (CG-5).
- The target assignment is computed by the server-side assignor at the group epoch (CG-7).
- A member reconciles towards the target one step per heartbeat (CG-9..12): it first revokes what
  it must give up (UNREVOKED_PARTITIONS), and is given a partition only once no other member holds
  it (UNRELEASED_PARTITIONS); so no partition is ever held by two members (CG-13).
- A member is removed by a timer only after its deadline has passed: `now_ms > deadline` (CG-17).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Mapping

import attrs

from flyq.errors import InvalidArgument

__all__ = [
    "ASSIGNORS",
    "DEFAULT_ASSIGNOR",
    "FENCED_INSTANCE_ID",
    "FENCED_MEMBER_EPOCH",
    "GROUP_ID_NOT_FOUND",
    "INVALID_REQUEST",
    "LEAVE_GROUP_MEMBER_EPOCH",
    "LEAVE_GROUP_STATIC_MEMBER_EPOCH",
    "STALE_MEMBER_EPOCH",
    "UNRELEASED_INSTANCE_ID",
    "UNSUPPORTED_ASSIGNOR",
    "UNSUPPORTED_VERSION",
    "Assignment",
    "ConsumerCoordinator",
    "ConsumerGroupState",
    "ConsumerGroupView",
    "ConsumerHeartbeatResponse",
    "ConsumerMemberView",
    "MemberState",
    "range_assign",
    "uniform_assign",
]

# Kafka error codes (protocol guide, "Error Codes").
NONE = 0
UNKNOWN_MEMBER_ID = 25
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
GROUP_ID_NOT_FOUND = 69
FENCED_INSTANCE_ID = 82
FENCED_MEMBER_EPOCH = 110
UNRELEASED_INSTANCE_ID = 111
UNSUPPORTED_ASSIGNOR = 112
STALE_MEMBER_EPOCH = 113

# CG-6: Kafka answers GROUP_ID_NOT_FOUND here, which librdkafka treats as fatal; Kafka's groups
# survive a restart, FlyQ's do not, so after one the members must be told to rejoin instead.
_NO_GROUP = "Consumer group {} not found: the member must rejoin."

LEAVE_GROUP_MEMBER_EPOCH = -1
LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2
NO_PARTITIONS: frozenset[int] = frozenset()

# topic name -> partitions: what a member is assigned, owns, or should own.
Assignment = Mapping[str, frozenset[int]]


class ConsumerGroupState(enum.Enum):
    """Kafka's consumer group states (the names ConsumerGroupDescribe and ListGroups report), CG-3."""

    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"


class MemberState(enum.Enum):
    """Where a member is in its reconciliation (Kafka's `MemberState`), CG-9."""

    STABLE = "stable"
    UNREVOKED_PARTITIONS = "unrevoked_partitions"
    UNRELEASED_PARTITIONS = "unreleased_partitions"


@attrs.frozen
class ConsumerHeartbeatResponse:
    """ConsumerGroupHeartbeat's answer. `assignment` is None when it is not sent (CG-15)."""

    error_code: int
    error_message: str | None
    member_id: str | None
    member_epoch: int
    heartbeat_interval_ms: int
    assignment: Assignment | None


@attrs.frozen
class ConsumerMemberView:
    """A member as the coordinator sees it."""

    member_id: str
    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    member_epoch: int
    previous_member_epoch: int
    state: MemberState
    subscribed_topic_names: tuple[str, ...]
    server_assignor: str | None
    rebalance_timeout_ms: int
    assigned: Assignment
    pending_revocation: Assignment
    target: Assignment
    session_deadline_ms: int
    revocation_deadline_ms: int | None


@attrs.frozen
class ConsumerGroupView:
    """A snapshot of one consumer group."""

    group_id: str
    state: ConsumerGroupState
    group_epoch: int
    assignment_epoch: int
    assignor_name: str
    members: tuple[ConsumerMemberView, ...]


@attrs.define
class _Member:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    subscribed: tuple[str, ...] = ()
    server_assignor: str | None = None
    rebalance_timeout_ms: int = -1
    member_epoch: int = 0
    previous_member_epoch: int = 0
    state: MemberState = MemberState.STABLE
    assigned: dict[str, frozenset[int]] = attrs.Factory(dict)
    pending_revocation: dict[str, frozenset[int]] = attrs.Factory(dict)
    session_deadline_ms: int = 0
    revocation_deadline_ms: int | None = None


@attrs.define
class _Group:
    group_id: str
    group_epoch: int = 0
    assignment_epoch: int = 0
    members: dict[str, _Member] = attrs.Factory(dict)
    target: dict[str, dict[str, frozenset[int]]] = attrs.Factory(dict)
    # The partition count of every subscribed topic that exists, as of the last heartbeat (CG-5).
    metadata: dict[str, int] = attrs.Factory(dict)
    assignor: str = "uniform"


class _Reject(Exception):
    """A request answered with an error code (internal control flow; never escapes)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------- assignors
# An assignor maps (members' subscriptions, topic partition counts, the previous target) to a new
# target. Deterministic: the same inputs give the same output, whatever the dicts' order (CG-7).

Subscriptions = Mapping[str, tuple[str, ...]]
Target = dict[str, dict[str, frozenset[int]]]


def _pack(owned: Mapping[str, set[tuple[str, int]]]) -> Target:
    result: Target = {}
    for member_id, pairs in owned.items():
        by_topic: dict[str, set[int]] = {}
        for topic, partition in pairs:
            by_topic.setdefault(topic, set()).add(partition)
        result[member_id] = {t: frozenset(ps) for t, ps in sorted(by_topic.items())}
    return result


def uniform_assign(
    subscriptions: Subscriptions,
    topics: Mapping[str, int],
    previous: Mapping[str, Assignment],
    instance_ids: Mapping[str, str | None] | None = None,
) -> Target:
    """Kafka's `uniform` assignor, in FlyQ's own words (CG-7): balanced and sticky.

    Every partition of a subscribed topic goes to exactly one member subscribed to it. A member
    keeps what it had in `previous` (if still subscribed and existing). With identical
    subscriptions (the common case, in linear time) each member gets a quota, the counts
    differing by at most one, and keeps its lowest previous partitions up to it. Otherwise the
    rest go one by one to the eligible member holding fewest; then, while a member holds at least
    two more partitions than an eligible other, one moves. A partition moves only when balance
    requires it.
    """
    del instance_ids  # stickiness follows the member ids, which a static rejoin keeps (CG-16)
    members = sorted(subscriptions)
    wanted = {m: frozenset(t for t in subscriptions[m] if t in topics) for m in members}
    owned: dict[str, set[tuple[str, int]]] = {m: set() for m in members}
    taken: set[tuple[str, int]] = set()
    for member in members:
        for topic, partitions in sorted((previous.get(member) or {}).items()):
            if topic not in wanted[member]:
                continue
            for p in sorted(partitions):
                if p < topics[topic] and (topic, p) not in taken:
                    owned[member].add((topic, p))
                    taken.add((topic, p))
    if members and len(set(wanted.values())) == 1:
        return _pack(_uniform_homogeneous(members, sorted(wanted[members[0]]), topics, owned))
    all_topics = sorted(set().union(*wanted.values())) if members else []
    for topic in all_topics:
        eligible = [m for m in members if topic in wanted[m]]
        for p in range(topics[topic]):
            if (topic, p) not in taken:
                chosen = min(eligible, key=lambda m: (len(owned[m]), m))
                owned[chosen].add((topic, p))
                taken.add((topic, p))
    # Balance: each move lowers the sum of squared counts, so this ends.
    subscribers = {t: [m for m in members if t in wanted[m]] for t in all_topics}
    moved = True
    while moved:
        moved = False
        for giver in sorted(members, key=lambda m: (-len(owned[m]), m)):
            # The giver's highest partition of the highest topic someone can take.
            for topic in sorted({t for t, _ in owned[giver]}, reverse=True):
                takers = [m for m in subscribers[topic] if len(owned[m]) + 1 < len(owned[giver])]
                if takers:
                    taker = min(takers, key=lambda m: (len(owned[m]), m))
                    moving = (topic, max(p for t, p in owned[giver] if t == topic))
                    owned[giver].remove(moving)
                    owned[taker].add(moving)
                    moved = True
                    break
            if moved:
                break
    return _pack(owned)


def _uniform_homogeneous(
    members: list[str],
    names: list[str],
    topics: Mapping[str, int],
    kept: Mapping[str, set[tuple[str, int]]],
) -> dict[str, set[tuple[str, int]]]:
    """Identical subscriptions (CG-7): quotas of `total // n`, one more for the first
    `total % n` members by (most kept, member id); each keeps its lowest kept partitions up to its
    quota, and the others are handed out in (topic, partition) order by member id."""
    total = sum(topics[t] for t in names)
    base, extra = divmod(total, len(members))
    order = sorted(members, key=lambda m: (-len(kept[m]), m))
    quota = {m: base + (1 if i < extra else 0) for i, m in enumerate(order)}
    owned: dict[str, set[tuple[str, int]]] = {}
    taken: set[tuple[str, int]] = set()
    for m in members:
        mine = sorted(kept[m])[: quota[m]]
        owned[m] = set(mine)
        taken.update(mine)
    free = iter([(t, p) for t in names for p in range(topics[t]) if (t, p) not in taken])
    for m in members:
        owned[m].update(itertools.islice(free, quota[m] - len(owned[m])))
    return owned


def range_assign(
    subscriptions: Subscriptions,
    topics: Mapping[str, int],
    previous: Mapping[str, Assignment],
    instance_ids: Mapping[str, str | None] | None = None,
) -> Target:
    """The `range` assignor (CG-7): per topic, its subscribers take contiguous ranges, the first
    `partitions % subscribers` one partition more, in Kafka's order: static members by instance
    id, then the others by member id. Not sticky otherwise (nor is Kafka's)."""
    del previous
    instances = instance_ids or {}

    def order(member: str) -> tuple[int, str]:
        instance = instances.get(member)
        return (0, instance) if instance is not None else (1, member)

    owned: dict[str, set[tuple[str, int]]] = {m: set() for m in subscriptions}
    for topic in sorted({t for ts in subscriptions.values() for t in ts if t in topics}):
        subscribers = sorted((m for m in subscriptions if topic in subscriptions[m]), key=order)
        quota, extra = divmod(topics[topic], len(subscribers))
        start = 0
        for i, member in enumerate(subscribers):
            count = quota + (1 if i < extra else 0)
            owned[member].update((topic, p) for p in range(start, start + count))
            start += count
    return _pack(owned)


ASSIGNORS = {"uniform": uniform_assign, "range": range_assign}
DEFAULT_ASSIGNOR = "uniform"


# ---------------------------------------------------------------------------------- coordinator


class ConsumerCoordinator:
    """All consumer-protocol groups of one coordinator; see the module docstring and
    spec/consumer-group-protocol.md.

    Generated member ids are `f"{prefix}{n}"`, `n` counting from `first_member_number`, so a run
    is reproducible (Kafka uses a random UUID; only uniqueness matters to clients).
    """

    def __init__(
        self,
        *,
        session_timeout_ms: int = 45_000,
        heartbeat_interval_ms: int = 5_000,
        first_member_number: int = 1,
        member_id_prefix: str = "flyq-member-",
    ) -> None:
        if not 0 < heartbeat_interval_ms < session_timeout_ms:
            raise InvalidArgument(
                "heartbeat_interval_ms",
                heartbeat_interval_ms,
                f"more than 0 and less than session_timeout_ms={session_timeout_ms}",
            )
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._numbers = itertools.count(first_member_number)
        self._prefix = member_id_prefix
        self._groups: dict[str, _Group] = {}
        self._now = -(2**63)

    # ------------------------------------------------------------------ requests

    def heartbeat(
        self,
        now_ms: int,
        *,
        group_id: str,
        member_id: str,
        member_epoch: int,
        topics: Mapping[str, int],
        instance_id: str | None = None,
        rack_id: str | None = None,
        rebalance_timeout_ms: int = -1,
        subscribed_topic_names: Iterable[str] | None = None,
        server_assignor: str | None = None,
        owned: Assignment | None = None,
        client_id: str = "",
        client_host: str = "",
        require_member_id: bool = False,
    ) -> ConsumerHeartbeatResponse:
        """ConsumerGroupHeartbeat (CG-4..16). `owned` None means "unchanged since my last
        heartbeat"; `require_member_id` is v1's rule that the client generates its id."""
        self._advance(now_ms)
        subscribed = None if subscribed_topic_names is None else tuple(subscribed_topic_names)
        try:
            _validate(
                group_id,
                member_id,
                member_epoch,
                instance_id,
                rack_id,
                rebalance_timeout_ms,
                subscribed,
                server_assignor,
                owned,
                require_member_id,
            )
            if member_epoch in (LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH):
                return self._leave(now_ms, group_id, member_id, member_epoch, instance_id)
            return self._heartbeat(
                now_ms,
                group_id,
                member_id,
                member_epoch,
                instance_id,
                rack_id,
                rebalance_timeout_ms,
                subscribed,
                server_assignor,
                owned,
                topics,
                client_id,
                client_host,
            )
        except _Reject as reject:
            return ConsumerHeartbeatResponse(reject.code, reject.message, None, 0, 0, None)

    def check_commit(
        self, group_id: str, member_id: str, member_epoch: int, *, api_version: int = 9
    ) -> int:
        """The error code an OffsetCommit to consumer group `group_id` gets (0 if allowed), CG-19:
        an epoch < 0 commits only to a group without members; else the member must be known
        (25), commit with OffsetCommit v9+ (35) and name its current member epoch (113)."""
        group = self._groups.get(group_id)
        if member_epoch < 0 and (group is None or not group.members):
            return NONE
        member = None if group is None else group.members.get(member_id)
        if member is None:
            return UNKNOWN_MEMBER_ID
        if api_version < 9:
            return UNSUPPORTED_VERSION
        return NONE if member_epoch == member.member_epoch else STALE_MEMBER_EPOCH

    def check_fetch(self, group_id: str, member_id: str | None, member_epoch: int) -> int:
        """The error code an OffsetFetch v9+ naming a member gets (0 if allowed), CG-19."""
        if member_id is None and member_epoch < 0:
            return NONE
        group = self._groups.get(group_id)
        member = None if group is None or member_id is None else group.members.get(member_id)
        if member is None:
            return UNKNOWN_MEMBER_ID
        return NONE if member_epoch == member.member_epoch else STALE_MEMBER_EPOCH

    def delete_group(self, group_id: str) -> bool:
        """Forget an Empty group (so a classic group may take its id). False if it has members."""
        group = self._groups.get(group_id)
        if group is None or group.members:
            return False
        del self._groups[group_id]
        return True

    # ------------------------------------------------------------------ timers

    def next_deadline(self) -> int | None:
        """The earliest `now_ms` at which `tick` has work: one past the earliest deadline (CG-17)."""
        deadlines = [
            d
            for group in self._groups.values()
            for m in group.members.values()
            for d in (m.session_deadline_ms, m.revocation_deadline_ms)
            if d is not None
        ]
        return min(deadlines) + 1 if deadlines else None

    def tick(self, now_ms: int) -> list[tuple[str, str]]:
        """Remove the members past their session or revocation deadline (CG-17, CG-18); returns
        the (group_id, member_id) pairs removed."""
        self._advance(now_ms)
        removed: list[tuple[str, str]] = []
        for group in self._groups.values():
            for member in list(group.members.values()):
                revocation = member.revocation_deadline_ms
                if now_ms > member.session_deadline_ms or (
                    revocation is not None and now_ms > revocation
                ):
                    self._remove(group, member.member_id)
                    removed.append((group.group_id, member.member_id))
        return removed

    # ------------------------------------------------------------------ views

    def describe(self, group_id: str) -> ConsumerGroupView | None:
        """A snapshot of the group, or None if there is no such consumer group."""
        group = self._groups.get(group_id)
        if group is None:
            return None
        members = tuple(
            ConsumerMemberView(
                m.member_id,
                m.instance_id,
                m.rack_id,
                m.client_id,
                m.client_host,
                m.member_epoch,
                m.previous_member_epoch,
                m.state,
                m.subscribed,
                m.server_assignor,
                m.rebalance_timeout_ms,
                dict(m.assigned),
                dict(m.pending_revocation),
                dict(group.target.get(m.member_id, {})),
                m.session_deadline_ms,
                m.revocation_deadline_ms,
            )
            for m in group.members.values()
        )
        return ConsumerGroupView(
            group.group_id,
            _state(group),
            group.group_epoch,
            group.assignment_epoch,
            group.assignor,
            members,
        )

    def group_ids(self) -> list[str]:
        """The ids of all consumer groups the coordinator holds, sorted."""
        return sorted(self._groups)

    def has_members(self, group_id: str) -> bool:
        """Whether `group_id` is a consumer group with at least one member (CG-20)."""
        group = self._groups.get(group_id)
        return group is not None and bool(group.members)

    # ------------------------------------------------------------------ internals

    def _advance(self, now_ms: int) -> None:
        if now_ms < self._now:
            raise InvalidArgument("now_ms", now_ms, f"at least the last now_ms, {self._now}")
        self._now = now_ms

    def _new_member_id(self, group: _Group) -> str:
        while True:
            member_id = f"{self._prefix}{next(self._numbers)}"
            if member_id not in group.members:
                return member_id

    def _leave(
        self, now_ms: int, group_id: str, member_id: str, epoch: int, instance_id: str | None
    ) -> ConsumerHeartbeatResponse:
        """A member leaves (epoch -1), or a static member leaves for a while (-2), CG-16."""
        group = self._groups.get(group_id)
        if group is None:
            raise _Reject(UNKNOWN_MEMBER_ID, _NO_GROUP.format(group_id))
        if instance_id is None:
            member = group.members.get(member_id)
            if member is None:
                raise _Reject(UNKNOWN_MEMBER_ID, f"Member {member_id} is not a member of the group.")
        else:
            member = self._static_member(group, instance_id, member_id)
        if epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            # Kept, with its assignment, for the instance to come back within its session.
            member.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH
            member.state = MemberState.STABLE  # nothing left to revoke; -2 is never reconciled
            member.pending_revocation = {}
            member.revocation_deadline_ms = None
        else:
            self._remove(group, member.member_id)
        return ConsumerHeartbeatResponse(NONE, None, member.member_id, epoch, 0, None)

    def _static_member(self, group: _Group, instance_id: str, member_id: str) -> _Member:
        member = next((m for m in group.members.values() if m.instance_id == instance_id), None)
        if member is None:
            raise _Reject(UNKNOWN_MEMBER_ID, f"Instance id {instance_id} is unknown.")
        if member.member_id != member_id:
            raise _Reject(
                FENCED_INSTANCE_ID,
                f"Instance id {instance_id} is owned by another member; {member_id} is fenced.",
            )
        return member

    def _heartbeat(
        self,
        now_ms: int,
        group_id: str,
        member_id: str,
        epoch: int,
        instance_id: str | None,
        rack_id: str | None,
        rebalance_timeout_ms: int,
        subscribed: tuple[str, ...] | None,
        server_assignor: str | None,
        owned: Assignment | None,
        topics: Mapping[str, int],
        client_id: str,
        client_host: str,
    ) -> ConsumerHeartbeatResponse:
        group = self._groups.get(group_id)
        if group is None:
            if epoch != 0:
                raise _Reject(UNKNOWN_MEMBER_ID, _NO_GROUP.format(group_id))
            group = _Group(group_id)
        member = self._find_member(group, member_id, epoch, instance_id, owned)
        if member is None:
            member_id = member_id or self._new_member_id(group)
        # The static member being replaced, if any (CG-16): its place goes to the new member id.
        replaced = self._replaceable(group, instance_id, member_id) if epoch == 0 else None
        old_assigned = dict(member.assigned) if member is not None else None
        joining = member is None
        if member is None:
            member = _Member(member_id)
        elif epoch == 0 and member.member_epoch != 0:
            # CG-6: a known member rejoining has given up everything it owned: a new incarnation.
            member.member_epoch = member.previous_member_epoch = 0
            member.state = MemberState.STABLE
            member.assigned = {}
            member.pending_revocation = {}
            member.revocation_deadline_ms = None
        if replaced is not None:
            member.subscribed = replaced.subscribed
            member.server_assignor = replaced.server_assignor
            member.assigned = dict(replaced.assigned)
            del group.members[replaced.member_id]
            target = group.target.pop(replaced.member_id, None)
            if target is not None:
                group.target[member.member_id] = target
            joining = False

        bump = joining
        if instance_id is not None:
            member.instance_id = instance_id
        if rack_id is not None:
            member.rack_id = rack_id
        if rebalance_timeout_ms != -1:
            member.rebalance_timeout_ms = rebalance_timeout_ms
        if server_assignor is not None:
            member.server_assignor = server_assignor
        if subscribed is not None:
            names = tuple(sorted(set(subscribed)))
            bump = bump or names != member.subscribed
            member.subscribed = names
        member.client_id = client_id
        member.client_host = client_host
        group.members[member.member_id] = member
        self._groups[group.group_id] = group

        metadata = _subscribed_metadata(group, topics)
        if metadata != group.metadata:
            group.metadata = metadata
            bump = True
        if bump:
            group.group_epoch += 1
        if group.group_epoch > group.assignment_epoch:
            self._compute_target(group)

        before = (member.member_epoch, member.state, member.assigned, member.pending_revocation)
        _reconcile(group, member, owned)
        after = (member.member_epoch, member.state, member.assigned, member.pending_revocation)
        if member.state is MemberState.UNREVOKED_PARTITIONS:
            if after != before or member.revocation_deadline_ms is None:
                member.revocation_deadline_ms = now_ms + member.rebalance_timeout_ms
        else:
            member.revocation_deadline_ms = None
        member.session_deadline_ms = now_ms + self.session_timeout_ms

        full = epoch == 0 or (
            rebalance_timeout_ms != -1 and subscribed is not None and owned is not None
        )
        send = full or old_assigned != member.assigned
        return ConsumerHeartbeatResponse(
            NONE,
            None,
            member.member_id,
            member.member_epoch,
            self.heartbeat_interval_ms,
            dict(member.assigned) if send else None,
        )

    def _find_member(
        self,
        group: _Group,
        member_id: str,
        epoch: int,
        instance_id: str | None,
        owned: Assignment | None,
    ) -> _Member | None:
        """The member the heartbeat is from, None for a new one; fencing (CG-6, CG-16)."""
        if instance_id is not None and epoch != 0:
            member = self._static_member(group, instance_id, member_id)
        else:
            found = group.members.get(member_id) if member_id else None
            if found is None:
                if epoch != 0:
                    raise _Reject(
                        UNKNOWN_MEMBER_ID, f"Member {member_id} is not a member of the group."
                    )
                return None
            member = found
        if epoch == 0:
            return member
        if epoch > member.member_epoch:
            raise _Reject(
                FENCED_MEMBER_EPOCH,
                f"The member epoch {epoch} is greater than the expected {member.member_epoch}.",
            )
        if epoch < member.member_epoch and (
            epoch != member.previous_member_epoch
            or owned is None
            or not _subset(owned, member.assigned)
        ):
            raise _Reject(
                FENCED_MEMBER_EPOCH,
                f"The member epoch {epoch} is smaller than the expected {member.member_epoch}.",
            )
        return member

    def _replaceable(self, group: _Group, instance_id: str | None, member_id: str) -> _Member | None:
        if instance_id is None:
            return None
        existing = next((m for m in group.members.values() if m.instance_id == instance_id), None)
        if existing is None or existing.member_id == member_id:
            return None
        if existing.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            raise _Reject(
                UNRELEASED_INSTANCE_ID,
                f"Instance id {instance_id} is still in use by member {existing.member_id}.",
            )
        return existing

    def _compute_target(self, group: _Group) -> None:
        """CG-7: the target assignment at the group epoch, by the group's assignor."""
        group.assignor = _preferred_assignor(group)
        subscriptions = {m.member_id: m.subscribed for m in group.members.values()}
        instances = {m.member_id: m.instance_id for m in group.members.values()}
        group.target = ASSIGNORS[group.assignor](subscriptions, group.metadata, group.target, instances)
        group.assignment_epoch = group.group_epoch

    def _remove(self, group: _Group, member_id: str) -> None:
        """A member leaves or is expired: forgotten, and the group epoch grows (CG-5, CG-17)."""
        del group.members[member_id]
        group.target.pop(member_id, None)
        group.group_epoch += 1
        # The removal's epoch covers the topics only it subscribed to (one bump, as in Kafka).
        names = {t for m in group.members.values() for t in m.subscribed}
        group.metadata = {t: n for t, n in group.metadata.items() if t in names}


# ---------------------------------------------------------------------------------- helpers


def _validate(
    group_id: str,
    member_id: str,
    epoch: int,
    instance_id: str | None,
    rack_id: str | None,
    rebalance_timeout_ms: int,
    subscribed: tuple[str, ...] | None,
    server_assignor: str | None,
    owned: Assignment | None,
    require_member_id: bool,
) -> None:
    """CG-4: Kafka's request validation, in its order."""
    if not group_id:
        raise _Reject(INVALID_REQUEST, "GroupId can't be empty.")
    if instance_id == "":
        raise _Reject(INVALID_REQUEST, "InstanceId can't be empty.")
    if rack_id == "":
        raise _Reject(INVALID_REQUEST, "RackId can't be empty.")
    needs_id = epoch > 0 or epoch == LEAVE_GROUP_MEMBER_EPOCH or (epoch == 0 and require_member_id)
    if needs_id and not member_id:
        raise _Reject(INVALID_REQUEST, "MemberId can't be empty.")
    if epoch == 0:
        if rebalance_timeout_ms == -1:
            raise _Reject(INVALID_REQUEST, "RebalanceTimeoutMs must be provided in first request.")
        if owned is None or any(owned.values()):
            raise _Reject(INVALID_REQUEST, "TopicPartitions must be empty when (re-)joining.")
        if not subscribed:
            raise _Reject(INVALID_REQUEST, "SubscribedTopicNames must be set in first request.")
    elif epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
        if not member_id:
            raise _Reject(INVALID_REQUEST, "MemberId can't be empty.")
        if instance_id is None:
            raise _Reject(INVALID_REQUEST, "InstanceId can't be null.")
    elif epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH:
        raise _Reject(INVALID_REQUEST, "MemberEpoch is invalid.")
    if server_assignor is not None and server_assignor not in ASSIGNORS:
        raise _Reject(
            UNSUPPORTED_ASSIGNOR,
            f"ServerAssignor {server_assignor} is not supported. Supported assignors: "
            + ", ".join(ASSIGNORS)
            + ".",
        )


def _subset(owned: Assignment, assigned: Assignment) -> bool:
    return all(ps <= assigned.get(t, NO_PARTITIONS) for t, ps in owned.items() if ps)


def _subscribed_metadata(group: _Group, topics: Mapping[str, int]) -> dict[str, int]:
    names = {t for m in group.members.values() for t in m.subscribed}
    return {t: topics[t] for t in sorted(names) if t in topics}


def _preferred_assignor(group: _Group) -> str:
    """The assignor most members asked for (ties to the name first in `ASSIGNORS`), else uniform."""
    votes = {name: 0 for name in ASSIGNORS}
    for m in group.members.values():
        if m.server_assignor is not None:
            votes[m.server_assignor] += 1
    best = max(votes.values())
    if best == 0:
        return DEFAULT_ASSIGNOR
    return next(name for name in ASSIGNORS if votes[name] == best)


def _state(group: _Group) -> ConsumerGroupState:
    """CG-3: Empty, Assigning, Reconciling or Stable, derived from the epochs."""
    if not group.members:
        return ConsumerGroupState.EMPTY
    if group.group_epoch > group.assignment_epoch:
        return ConsumerGroupState.ASSIGNING
    if all(
        m.state is MemberState.STABLE and m.member_epoch == group.assignment_epoch
        for m in group.members.values()
    ):
        return ConsumerGroupState.STABLE
    return ConsumerGroupState.RECONCILING


def _holders(group: _Group, exclude: str) -> set[tuple[str, int]]:
    """Partitions some other member still holds (assigned or not yet revoked), CG-11."""
    held: set[tuple[str, int]] = set()
    for m in group.members.values():
        if m.member_id == exclude:
            continue
        for assignment in (m.assigned, m.pending_revocation):
            held.update((t, p) for t, ps in assignment.items() for p in ps)
    return held


def _still_owns(owned: Assignment | None, revoking: Assignment) -> bool:
    """Whether the member still owns one of `revoking` (None: it did not say, so it does)."""
    if owned is None:
        return True
    return any(ps & revoking.get(t, NO_PARTITIONS) for t, ps in owned.items())


def _reconcile(group: _Group, member: _Member, owned: Assignment | None) -> None:
    """One step of Kafka's CurrentAssignmentBuilder (CG-9..12)."""
    target_epoch = group.assignment_epoch
    if member.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
        return
    if member.state is MemberState.STABLE:
        if member.member_epoch == target_epoch:
            return
        _next_step(group, member, owned, member.member_epoch)
    elif member.state is MemberState.UNREVOKED_PARTITIONS:
        if _still_owns(owned, member.pending_revocation):
            return
        _next_step(group, member, owned, member.member_epoch)
    else:
        _next_step(group, member, owned, member.member_epoch)


def _next_step(group: _Group, member: _Member, owned: Assignment | None, epoch: int) -> None:
    target = group.target.get(member.member_id, {})
    held = _holders(group, member.member_id)
    keep: dict[str, frozenset[int]] = {}
    revoke: dict[str, frozenset[int]] = {}
    add: dict[str, frozenset[int]] = {}
    unreleased = False
    for topic in sorted(set(target) | set(member.assigned)):
        wanted = target.get(topic, NO_PARTITIONS)
        current = member.assigned.get(topic, NO_PARTITIONS)
        kept = current & wanted
        free = frozenset(p for p in wanted - kept if (topic, p) not in held)
        unreleased = unreleased or free != wanted - kept
        if kept:
            keep[topic] = kept
        if current - kept:
            revoke[topic] = current - kept
        if free:
            add[topic] = free
    if revoke and _still_owns(owned, revoke):
        # Give up first; the epoch stays until the member says it revoked (CG-10).
        _set_epoch(member, epoch)
        member.state = MemberState.UNREVOKED_PARTITIONS
        member.assigned = keep
        member.pending_revocation = revoke
        return
    for topic, partitions in add.items():
        keep[topic] = keep.get(topic, NO_PARTITIONS) | partitions
    _set_epoch(member, group.assignment_epoch)
    member.state = MemberState.UNRELEASED_PARTITIONS if unreleased else MemberState.STABLE
    member.assigned = keep
    member.pending_revocation = {}


def _set_epoch(member: _Member, epoch: int) -> None:
    if epoch != member.member_epoch:
        member.previous_member_epoch = member.member_epoch
        member.member_epoch = epoch
