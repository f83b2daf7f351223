"""The classic consumer-group coordinator: JoinGroup, SyncGroup, Heartbeat, LeaveGroup.

Sans-I/O (h11's shape): every method takes the decoded request fields and `now_ms`, and returns the
responses it can give now as `Outcome`s, each naming the caller's `request_id` it answers. A JoinGroup
or SyncGroup that has to wait for other members gets no Outcome yet: its answer comes out of a later
call (another member's request, or `tick`). Errors are Kafka codes in the responses, since they go
on the wire; only a caller's programming error (time going back, a reused request id) raises.

Rules (spec/group-coordinator.md GC-1..GC-20):
- The state changes only along `TRANSITIONS` (GC-1).
- The generation grows by exactly one each time a rebalance completes, and never otherwise (GC-4).
- Every pending request is answered exactly once (GC-15).
- A member is removed by a timer only after its deadline has passed: `now_ms > deadline` (GC-10).
- A `group_instance_id` names at most one member, and a member id it no longer names is fenced:
  every request naming the instance id with another member id gets FENCED_INSTANCE_ID (GC-16..20).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from flyq.errors import FlyQError, InvalidArgument

__all__ = [
    "NONE",
    "FENCED_INSTANCE_ID",
    "ILLEGAL_GENERATION",
    "INCONSISTENT_GROUP_PROTOCOL",
    "INVALID_GROUP_ID",
    "INVALID_SESSION_TIMEOUT",
    "MEMBER_ID_REQUIRED",
    "REBALANCE_IN_PROGRESS",
    "UNKNOWN_MEMBER_ID",
    "TRANSITIONS",
    "ClassicCoordinator",
    "GroupEvent",
    "GroupState",
    "GroupView",
    "HeartbeatResponse",
    "JoinGroupMember",
    "JoinGroupResponse",
    "LeaveGroupResponse",
    "LeaveMemberResponse",
    "MemberView",
    "Outcome",
    "Response",
    "SyncGroupResponse",
]

# Kafka error codes (protocol guide, "Error Codes").
NONE = 0
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
MEMBER_ID_REQUIRED = 79
FENCED_INSTANCE_ID = 82

NO_GENERATION = -1


class GroupState(enum.Enum):
    """Kafka's classic group states (the names Kafka's DescribeGroups reports)."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


class GroupEvent(enum.Enum):
    """What moves a group from one state to another (GC-1)."""

    PREPARE_REBALANCE = "prepare_rebalance"  # a join, a leave, an expiry that needs a new generation
    COMPLETE_WITH_MEMBERS = "complete_with_members"  # every member rejoined, or the timeout
    COMPLETE_EMPTY = "complete_empty"  # the rebalance ended with no member left
    LEADER_SYNC = "leader_sync"  # the leader's SyncGroup carried the assignment
    DELETE = "delete"  # an Empty group is deleted


_S = GroupState
_E = GroupEvent
# GC-1: the whole state machine. A pair missing here is a bug in this module, never a client's error.
TRANSITIONS: dict[tuple[GroupState, GroupEvent], GroupState] = {
    (_S.EMPTY, _E.PREPARE_REBALANCE): _S.PREPARING_REBALANCE,
    (_S.STABLE, _E.PREPARE_REBALANCE): _S.PREPARING_REBALANCE,
    (_S.COMPLETING_REBALANCE, _E.PREPARE_REBALANCE): _S.PREPARING_REBALANCE,
    (_S.PREPARING_REBALANCE, _E.COMPLETE_WITH_MEMBERS): _S.COMPLETING_REBALANCE,
    (_S.PREPARING_REBALANCE, _E.COMPLETE_EMPTY): _S.EMPTY,
    (_S.COMPLETING_REBALANCE, _E.LEADER_SYNC): _S.STABLE,
    (_S.EMPTY, _E.DELETE): _S.DEAD,
}


@attrs.frozen
class JoinGroupMember:
    """One member in the leader's JoinGroup response: its metadata for the chosen protocol."""

    member_id: str
    group_instance_id: str | None
    metadata: bytes


@attrs.frozen
class JoinGroupResponse:
    """JoinGroup's answer. `members` is non-empty only for the leader (GC-6). `skip_assignment`
    (v9+) tells a leader to send an empty SyncGroup instead of running its assignor (GC-17)."""

    error_code: int
    generation_id: int
    protocol_type: str | None
    protocol_name: str | None
    leader: str
    member_id: str
    members: tuple[JoinGroupMember, ...] = ()
    skip_assignment: bool = False


@attrs.frozen
class SyncGroupResponse:
    """SyncGroup's answer: the member's assignment from the leader (empty bytes if none)."""

    error_code: int
    protocol_type: str | None
    protocol_name: str | None
    assignment: bytes


@attrs.frozen
class HeartbeatResponse:
    """Heartbeat's answer."""

    error_code: int


@attrs.frozen
class LeaveMemberResponse:
    """LeaveGroup's answer for one of the members it named."""

    member_id: str
    group_instance_id: str | None
    error_code: int


@attrs.frozen
class LeaveGroupResponse:
    """LeaveGroup's answer (v3+ shape: a top-level code and one entry per member named)."""

    error_code: int
    members: tuple[LeaveMemberResponse, ...]


Response = JoinGroupResponse | SyncGroupResponse | HeartbeatResponse | LeaveGroupResponse


@attrs.frozen
class Outcome:
    """The request `request_id` (the caller's own id) is answered with `response`."""

    request_id: int
    response: Response


@attrs.frozen
class MemberView:
    """A member as the coordinator sees it (for describing a group and for tests)."""

    member_id: str
    group_instance_id: str | None
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    session_deadline_ms: int
    awaiting_join: bool
    awaiting_sync: bool
    protocols: tuple[tuple[str, bytes], ...]


@attrs.frozen
class GroupView:
    """A snapshot of one group. `assignments` is the current generation's, once the leader synced;
    `static_members` maps each `group_instance_id` to its current member id (GC-16)."""

    group_id: str
    state: GroupState
    generation_id: int
    protocol_type: str | None
    protocol_name: str | None
    leader: str | None
    members: tuple[MemberView, ...]
    assignments: tuple[tuple[str, bytes], ...] | None
    rebalance_deadline_ms: int | None
    static_members: tuple[tuple[str, str], ...] = ()


@attrs.define
class _Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]
    session_deadline_ms: int
    join_request: int | None = None
    sync_request: int | None = None

    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.protocols)


@attrs.define
class _Group:
    group_id: str
    state: GroupState = GroupState.EMPTY
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str | None = None
    # Insertion order is join order: the first member is the leader of a new group (GC-5).
    members: dict[str, _Member] = attrs.Factory(dict)
    # KIP-394: member ids handed out with MEMBER_ID_REQUIRED -> the deadline to come back by.
    pending_ids: dict[str, int] = attrs.Factory(dict)
    rebalance_deadline_ms: int | None = None
    assignments: dict[str, bytes] | None = None
    # KIP-345: group_instance_id -> the one member id it names now (GC-16).
    static_members: dict[str, str] = attrs.Factory(dict)


class ClassicCoordinator:
    """All classic groups of one coordinator; see the module docstring and spec/group-coordinator.md.

    Member ids are `f"{client_id}-{n}"` with `n` counting from `first_member_number`, so a run is
    reproducible (Kafka uses a random UUID; only uniqueness matters to clients).
    """

    def __init__(
        self,
        *,
        min_session_timeout_ms: int = 6_000,
        max_session_timeout_ms: int = 1_800_000,
        first_member_number: int = 1,
    ) -> None:
        if not 0 <= min_session_timeout_ms <= max_session_timeout_ms:
            raise InvalidArgument(
                "session timeout bounds",
                (min_session_timeout_ms, max_session_timeout_ms),
                "0 <= min_session_timeout_ms <= max_session_timeout_ms",
            )
        self._min_session = min_session_timeout_ms
        self._max_session = max_session_timeout_ms
        self._next_number = first_member_number
        self._groups: dict[str, _Group] = {}
        self._pending: set[int] = set()
        self._now = -(2**63)

    # ------------------------------------------------------------------ requests

    def join(
        self,
        request_id: int,
        now_ms: int,
        *,
        group_id: str,
        client_id: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        member_id: str,
        group_instance_id: str | None,
        protocol_type: str,
        protocols: Sequence[tuple[str, bytes]],
        require_known_member_id: bool,
        supports_skip_assignment: bool = False,
    ) -> list[Outcome]:
        """JoinGroup. A rebalance timeout of -1 (JoinGroup v0) means the session timeout.
        `supports_skip_assignment` (JoinGroup v9+) only changes a restarted static leader's
        answer (GC-17)."""
        self._begin(request_id, now_ms)
        out: list[Outcome] = []

        def error(code: int, member: str = member_id) -> list[Outcome]:
            response = JoinGroupResponse(code, NO_GENERATION, None, None, "", member)
            out.append(Outcome(request_id, response))
            return out

        if not group_id:
            return error(INVALID_GROUP_ID)
        if not self._min_session <= session_timeout_ms <= self._max_session:
            return error(INVALID_SESSION_TIMEOUT)
        if rebalance_timeout_ms < 0:
            rebalance_timeout_ms = session_timeout_ms
        protos = tuple((name, bytes(meta)) for name, meta in protocols)
        names = [name for name, _ in protos]
        if not protocol_type or not protos or len(set(names)) != len(names):
            return error(INCONSISTENT_GROUP_PROTOCOL)
        # GC-22: a new group is stored only once the join changes it (a refused join leaves none).
        group = self._groups.get(group_id) or _Group(group_id)
        # KIP-345: the member id this instance id names now, if it names one (GC-16).
        static_id = None
        if group_instance_id is not None:
            static_id = group.static_members.get(group_instance_id)
        # A static member naming a member id its instance id does not name (GC-18).
        mismatched = group_instance_id is not None and member_id not in ("", static_id)
        known = group.members.get(member_id)
        if known is not None and not mismatched:  # GC-9: a known member's request restarts its session
            known.session_deadline_ms = now_ms + known.session_timeout_ms
        if group.state is not GroupState.EMPTY:
            # A restarted static member speaks for the member it replaces (GC-17).
            speaks_for = member_id or static_id
            others = [m for m in group.members.values() if m.member_id != speaks_for]
            if protocol_type != group.protocol_type or not _common(
                [set(names), *(set(m.names()) for m in others)]
            ):
                return error(INCONSISTENT_GROUP_PROTOCOL)
        if mismatched:
            return error(UNKNOWN_MEMBER_ID if static_id is None else FENCED_INSTANCE_ID)
        if group_instance_id is not None and static_id is not None and not member_id:
            return self._replace_static(
                group,
                static_id,
                group_instance_id,
                request_id,
                now_ms,
                session_timeout_ms=session_timeout_ms,
                rebalance_timeout_ms=rebalance_timeout_ms,
                protocols=protos,
                supports_skip_assignment=supports_skip_assignment,
            )

        member = group.members.get(member_id) if member_id else None
        if member is None:
            if member_id and member_id not in group.pending_ids:
                return error(UNKNOWN_MEMBER_ID)
            self._groups.setdefault(group_id, group)
            if not member_id:
                member_id = self._new_member_id(client_id, group_instance_id)
                # KIP-394's second round trip is for dynamic members only: a static member is
                # found again by its instance id, so it cannot leak a member id (GC-2, GC-16).
                if require_known_member_id and group_instance_id is None:
                    group.pending_ids[member_id] = now_ms + session_timeout_ms
                    return error(MEMBER_ID_REQUIRED, member_id)
            group.pending_ids.pop(member_id, None)
            if group_instance_id is not None:
                group.static_members[group_instance_id] = member_id
            member = _Member(
                member_id,
                group_instance_id,
                client_id,
                session_timeout_ms,
                rebalance_timeout_ms,
                protos,
                now_ms + session_timeout_ms,
                join_request=request_id,
            )
            group.members[member_id] = member
            if group.leader is None:
                group.leader = member_id
            if group.state is GroupState.EMPTY:
                group.protocol_type = protocol_type
            self._pending.add(request_id)
            if group.state is not GroupState.PREPARING_REBALANCE:
                self._prepare(group, now_ms, out)
            self._try_complete(group, now_ms, out)
            return out

        # A known member (GC-7): rejoining during a rebalance, or asking for one.
        unchanged = member.protocols == protos
        member.session_timeout_ms = session_timeout_ms
        member.rebalance_timeout_ms = rebalance_timeout_ms
        member.session_deadline_ms = now_ms + session_timeout_ms
        if (
            group.state is not GroupState.PREPARING_REBALANCE
            and unchanged
            and (group.state is GroupState.COMPLETING_REBALANCE or member_id != group.leader)
        ):
            # Nothing changed: the current generation's answer, with no new rebalance.
            out.append(Outcome(request_id, self._join_response(group, member)))
            return out
        member.protocols = protos
        self._supersede_join(member, out)
        member.join_request = request_id
        self._pending.add(request_id)
        if group.state is not GroupState.PREPARING_REBALANCE:
            self._prepare(group, now_ms, out)
        self._try_complete(group, now_ms, out)
        return out

    def sync(
        self,
        request_id: int,
        now_ms: int,
        *,
        group_id: str,
        generation_id: int,
        member_id: str,
        assignments: Sequence[tuple[str, bytes]],
        group_instance_id: str | None = None,
        protocol_type: str | None = None,
        protocol_name: str | None = None,
    ) -> list[Outcome]:
        """SyncGroup. Only the leader's `assignments` are read; entries for non-members are dropped."""
        self._begin(request_id, now_ms)
        out: list[Outcome] = []
        group = self._groups.get(group_id)

        def answer(code: int, assignment: bytes = b"") -> list[Outcome]:
            ptype = group.protocol_type if group is not None and code == NONE else None
            pname = group.protocol_name if group is not None and code == NONE else None
            out.append(Outcome(request_id, SyncGroupResponse(code, ptype, pname, assignment)))
            return out

        if not group_id:
            return answer(INVALID_GROUP_ID)
        if group is None:
            return answer(UNKNOWN_MEMBER_ID)
        code = _check_member(group, member_id, group_instance_id)
        if code != NONE:
            return answer(code)
        member = group.members[member_id]
        member.session_deadline_ms = now_ms + member.session_timeout_ms
        if generation_id != group.generation_id:
            return answer(ILLEGAL_GENERATION)
        if (protocol_type is not None and protocol_type != group.protocol_type) or (
            protocol_name is not None and protocol_name != group.protocol_name
        ):
            return answer(INCONSISTENT_GROUP_PROTOCOL)
        if group.state is GroupState.PREPARING_REBALANCE:
            return answer(REBALANCE_IN_PROGRESS)
        if group.state is GroupState.STABLE:
            assert group.assignments is not None
            return answer(NONE, group.assignments.get(member_id, b""))
        # CompletingRebalance: wait for the leader, or be the leader (GC-8).
        self._supersede_sync(member, out)
        member.sync_request = request_id
        self._pending.add(request_id)
        if member_id == group.leader:
            group.assignments = {m: bytes(a) for m, a in assignments if m in group.members}
            self._transition(group, GroupEvent.LEADER_SYNC)
            for other in group.members.values():
                if other.sync_request is not None:
                    other.session_deadline_ms = now_ms + other.session_timeout_ms
                    response = SyncGroupResponse(
                        NONE,
                        group.protocol_type,
                        group.protocol_name,
                        group.assignments.get(other.member_id, b""),
                    )
                    self._answer(other.sync_request, response, out)
                    other.sync_request = None
        return out

    def heartbeat(
        self,
        request_id: int,
        now_ms: int,
        *,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None = None,
    ) -> list[Outcome]:
        """Heartbeat: refreshes the member's session deadline whenever the member is known (GC-9)."""
        self._begin(request_id, now_ms)
        group = self._groups.get(group_id)
        if not group_id:
            code = INVALID_GROUP_ID
        elif group is None:
            code = UNKNOWN_MEMBER_ID
        else:
            code = _check_member(group, member_id, group_instance_id)
        if group is not None and code == NONE:
            member = group.members[member_id]
            member.session_deadline_ms = now_ms + member.session_timeout_ms
            if generation_id != group.generation_id:
                code = ILLEGAL_GENERATION
            elif group.state is GroupState.PREPARING_REBALANCE:
                code = REBALANCE_IN_PROGRESS
            else:
                code = NONE
        return [Outcome(request_id, HeartbeatResponse(code))]

    def leave(
        self,
        request_id: int,
        now_ms: int,
        *,
        group_id: str,
        members: Sequence[tuple[str, str | None]],
    ) -> list[Outcome]:
        """LeaveGroup for the (member_id, group_instance_id) pairs named (v0-2: one pair). With an
        instance id and an empty member id (v3+, an admin's removal) it removes whichever member
        the instance id names (GC-18)."""
        self._begin(request_id, now_ms)
        out: list[Outcome] = []
        if not group_id:
            out.append(Outcome(request_id, LeaveGroupResponse(INVALID_GROUP_ID, ())))
            return out
        group = self._groups.get(group_id)
        results: list[LeaveMemberResponse] = []
        for member_id, instance_id in members:
            code = UNKNOWN_MEMBER_ID
            leaving = member_id
            if group is not None:
                if instance_id is not None and not member_id:
                    leaving = group.static_members.get(instance_id, "")
                    code = NONE if leaving else UNKNOWN_MEMBER_ID
                else:
                    code = _check_member(group, member_id, instance_id)
            if code == NONE:
                assert group is not None
                self._remove(group, leaving, now_ms, out)
            results.append(LeaveMemberResponse(member_id, instance_id, code))
        out.insert(0, Outcome(request_id, LeaveGroupResponse(NONE, tuple(results))))
        return out

    def check_commit(
        self,
        group_id: str,
        generation: int,
        member_id: str,
        group_instance_id: str | None,
    ) -> int:
        """The error code an OffsetCommit with these fields gets (0 if allowed); GC-12."""
        group = self._groups.get(group_id)
        if group is None or group.state is GroupState.DEAD:
            return NONE if generation < 0 else ILLEGAL_GENERATION
        if generation < 0 and group.state is GroupState.EMPTY:
            return NONE
        if generation >= 0 or member_id or group_instance_id is not None:
            code = _check_member(group, member_id, group_instance_id)
            if code != NONE:
                return code
            if generation != group.generation_id:
                return ILLEGAL_GENERATION
        else:
            # No member, no generation (an assign() consumer, OffsetCommit v0) while the group has
            # members: Kafka's answer is UNKNOWN_MEMBER_ID.
            return UNKNOWN_MEMBER_ID
        if group.state is GroupState.COMPLETING_REBALANCE:
            return REBALANCE_IN_PROGRESS
        return NONE

    def delete_group(self, group_id: str) -> bool:
        """Delete an Empty group (Empty -> Dead; it is then forgotten). False if not Empty."""
        group = self._groups.get(group_id)
        if group is None or group.state is not GroupState.EMPTY:
            return False
        self._transition(group, GroupEvent.DELETE)
        group.pending_ids.clear()
        del self._groups[group_id]
        return True

    # ------------------------------------------------------------------ timers

    def next_deadline(self) -> int | None:
        """The earliest `now_ms` at which `tick` has work: one past the earliest deadline (GC-10)."""
        deadlines: list[int] = []
        for group in self._groups.values():
            if group.rebalance_deadline_ms is not None:
                deadlines.append(group.rebalance_deadline_ms)
            deadlines.extend(group.pending_ids.values())
            deadlines.extend(
                m.session_deadline_ms for m in group.members.values() if not _kept_alive(m)
            )
        return min(deadlines) + 1 if deadlines else None

    def tick(self, now_ms: int) -> list[Outcome]:
        """Expire what is past its deadline at `now_ms`: sessions, rebalances, pending ids."""
        self._advance(now_ms)
        out: list[Outcome] = []
        for group in list(self._groups.values()):
            for pending_id, deadline in list(group.pending_ids.items()):
                if now_ms > deadline:
                    del group.pending_ids[pending_id]
            if group.rebalance_deadline_ms is not None and now_ms > group.rebalance_deadline_ms:
                self._complete(group, now_ms, out)
            for member in list(group.members.values()):
                if (
                    member.member_id in group.members
                    and not _kept_alive(member)
                    and now_ms > member.session_deadline_ms
                ):
                    self._remove(group, member.member_id, now_ms, out)
            self._try_complete(group, now_ms, out)
        return out

    # ------------------------------------------------------------------ views

    def describe(self, group_id: str) -> GroupView | None:
        """A snapshot of the group, or None if the coordinator has no such group."""
        group = self._groups.get(group_id)
        if group is None:
            return None
        members = tuple(
            MemberView(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.session_timeout_ms,
                m.rebalance_timeout_ms,
                m.session_deadline_ms,
                m.join_request is not None,
                m.sync_request is not None,
                m.protocols,
            )
            for m in group.members.values()
        )
        assignments = None if group.assignments is None else tuple(sorted(group.assignments.items()))
        return GroupView(
            group.group_id,
            group.state,
            group.generation_id,
            group.protocol_type,
            group.protocol_name,
            group.leader,
            members,
            assignments,
            group.rebalance_deadline_ms,
            tuple(sorted(group.static_members.items())),
        )

    def group_ids(self) -> list[str]:
        """The ids of all groups the coordinator holds, sorted."""
        return sorted(self._groups)

    # ------------------------------------------------------------------ internals

    def _advance(self, now_ms: int) -> None:
        if now_ms < self._now:
            raise InvalidArgument("now_ms", now_ms, f"at least the last now_ms, {self._now}")
        self._now = now_ms

    def _begin(self, request_id: int, now_ms: int) -> None:
        if request_id in self._pending:
            raise InvalidArgument("request_id", request_id, "an id that is not pending")
        self._advance(now_ms)

    def _new_member_id(self, client_id: str, group_instance_id: str | None) -> str:
        # Kafka's shape (`{group.instance.id}-{uuid}` for a static member, `{client.id}-{uuid}`
        # otherwise), with a counter for the UUID so that a run is reproducible.
        prefix = client_id if group_instance_id is None else group_instance_id
        member_id = f"{prefix}-{self._next_number}"
        self._next_number += 1
        return member_id

    def _replace_static(
        self,
        group: _Group,
        old_id: str,
        group_instance_id: str,
        request_id: int,
        now_ms: int,
        *,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocols: tuple[tuple[str, bytes], ...],
        supports_skip_assignment: bool,
    ) -> list[Outcome]:
        """GC-17: a static member restarted (its instance id, an empty member id). It takes the old
        member's place under a new id, keeping its join order, leadership and assignment; the old
        id is fenced. Stable and the same protocol chosen: answered at once, no rebalance."""
        out: list[Outcome] = []
        previous_leader = group.leader
        member = group.members[old_id]
        fenced_join = JoinGroupResponse(FENCED_INSTANCE_ID, NO_GENERATION, None, None, "", old_id)
        if member.join_request is not None:
            self._answer(member.join_request, fenced_join, out)
        if member.sync_request is not None:
            fenced_sync = SyncGroupResponse(FENCED_INSTANCE_ID, None, None, b"")
            self._answer(member.sync_request, fenced_sync, out)
        new_id = self._new_member_id(member.client_id, group_instance_id)
        member.member_id = new_id
        # Rebuilt rather than re-inserted: dict order is join order, which elects leaders (GC-5).
        group.members = {new_id if k == old_id else k: m for k, m in group.members.items()}
        group.static_members[group_instance_id] = new_id
        if group.leader == old_id:
            group.leader = new_id
        if group.assignments is not None and old_id in group.assignments:
            group.assignments[new_id] = group.assignments.pop(old_id)
        member.protocols = protocols
        member.session_timeout_ms = session_timeout_ms
        member.rebalance_timeout_ms = rebalance_timeout_ms
        member.session_deadline_ms = now_ms + session_timeout_ms
        member.join_request = None
        member.sync_request = None

        if group.state is GroupState.STABLE and _choose_protocol(group) == group.protocol_name:
            assert previous_leader is not None
            if supports_skip_assignment:
                # v9+ (KIP-814): the leader learns it leads (so it watches the group's metadata)
                # but must not rerun its assignor: a Stable group would ignore the result.
                response = attrs.evolve(
                    self._join_response(group, member), skip_assignment=new_id == group.leader
                )
            else:
                # Before v9 the leader field names the previous leader id, so a restarted leader
                # sees itself as a follower and just syncs for its kept assignment.
                response = JoinGroupResponse(
                    NONE,
                    group.generation_id,
                    group.protocol_type,
                    group.protocol_name,
                    previous_leader,
                    new_id,
                )
            out.append(Outcome(request_id, response))
            return out
        member.join_request = request_id
        self._pending.add(request_id)
        # In CompletingRebalance the leader may already hold the old id in its member list, so its
        # assignment would miss the new id: a new rebalance is the only safe answer (as Kafka).
        if group.state is not GroupState.PREPARING_REBALANCE:
            self._prepare(group, now_ms, out)
        self._try_complete(group, now_ms, out)
        return out

    def _transition(self, group: _Group, event: GroupEvent) -> None:
        target = TRANSITIONS.get((group.state, event))
        if target is None:
            raise FlyQError(f"group {group.group_id!r}: no transition {group.state} on {event}")
        group.state = target

    def _answer(self, request_id: int, response: Response, out: list[Outcome]) -> None:
        self._pending.discard(request_id)
        out.append(Outcome(request_id, response))

    def _supersede_join(self, member: _Member, out: list[Outcome]) -> None:
        """A member's newer JoinGroup replaces its pending one, which is told to rejoin (GC-15)."""
        if member.join_request is not None:
            response = JoinGroupResponse(
                REBALANCE_IN_PROGRESS, NO_GENERATION, None, None, "", member.member_id
            )
            self._answer(member.join_request, response, out)
            member.join_request = None

    def _supersede_sync(self, member: _Member, out: list[Outcome]) -> None:
        """A member's newer SyncGroup replaces its pending one, which is told to rejoin (GC-15)."""
        if member.sync_request is not None:
            response = SyncGroupResponse(REBALANCE_IN_PROGRESS, None, None, b"")
            self._answer(member.sync_request, response, out)
            member.sync_request = None

    def _prepare(self, group: _Group, now_ms: int, out: list[Outcome]) -> None:
        """Start a rebalance (GC-3): waiting syncs are told to rejoin, the timer starts."""
        self._transition(group, GroupEvent.PREPARE_REBALANCE)
        for member in group.members.values():
            if member.sync_request is not None:
                response = SyncGroupResponse(REBALANCE_IN_PROGRESS, None, None, b"")
                self._answer(member.sync_request, response, out)
                member.sync_request = None
                member.session_deadline_ms = now_ms + member.session_timeout_ms
        timeout = max((m.rebalance_timeout_ms for m in group.members.values()), default=0)
        group.rebalance_deadline_ms = now_ms + timeout
        group.assignments = None

    def _try_complete(self, group: _Group, now_ms: int, out: list[Outcome]) -> None:
        if (
            group.state is GroupState.PREPARING_REBALANCE
            and not group.pending_ids
            and all(m.join_request is not None for m in group.members.values())
        ):
            self._complete(group, now_ms, out)

    def _complete(self, group: _Group, now_ms: int, out: list[Outcome]) -> None:
        """End the rebalance (GC-4..6): drop who did not rejoin, next generation, answer joins."""
        for member in list(group.members.values()):
            # KIP-345: a static member that did not rejoin stays, and so keeps its partitions
            # through the leader's assignment, until its session expires (GC-19).
            if member.join_request is None and member.group_instance_id is None:
                self._drop(group, member.member_id, out)
        joined = [m.member_id for m in group.members.values() if m.join_request is not None]
        if group.members and not joined:
            # Only absent static members: nobody can lead. Wait another rebalance timeout (as
            # Kafka does); their sessions expire meanwhile unless they come back.
            group.rebalance_deadline_ms = now_ms + max(
                m.rebalance_timeout_ms for m in group.members.values()
            )
            return
        group.pending_ids.clear()
        group.rebalance_deadline_ms = None
        group.generation_id += 1
        if not group.members:
            self._transition(group, GroupEvent.COMPLETE_EMPTY)
            group.protocol_name = None
            group.protocol_type = None
            group.leader = None
            return
        self._transition(group, GroupEvent.COMPLETE_WITH_MEMBERS)
        if group.leader not in joined:  # the leader must be there to assign (GC-5)
            group.leader = joined[0]
        group.protocol_name = _choose_protocol(group)
        for member in group.members.values():
            # Every member's session restarts, an absent static member's too (Kafka's onCompleteJoin).
            member.session_deadline_ms = now_ms + member.session_timeout_ms
            if member.join_request is not None:
                request_id = member.join_request
                member.join_request = None
                self._answer(request_id, self._join_response(group, member), out)

    def _join_response(self, group: _Group, member: _Member) -> JoinGroupResponse:
        assert group.leader is not None and group.protocol_name is not None
        members: tuple[JoinGroupMember, ...] = ()
        if member.member_id == group.leader:
            members = tuple(
                JoinGroupMember(
                    m.member_id, m.group_instance_id, dict(m.protocols)[group.protocol_name]
                )
                for m in group.members.values()
            )
        return JoinGroupResponse(
            NONE,
            group.generation_id,
            group.protocol_type,
            group.protocol_name,
            group.leader,
            member.member_id,
            members,
        )

    def _drop(self, group: _Group, member_id: str, out: list[Outcome]) -> None:
        """Forget a member; its pending requests are answered UNKNOWN_MEMBER_ID (GC-15)."""
        member = group.members.pop(member_id)
        if member.group_instance_id is not None:
            group.static_members.pop(member.group_instance_id, None)
        if member.join_request is not None:
            response = JoinGroupResponse(UNKNOWN_MEMBER_ID, NO_GENERATION, None, None, "", member_id)
            self._answer(member.join_request, response, out)
        if member.sync_request is not None:
            self._answer(
                member.sync_request, SyncGroupResponse(UNKNOWN_MEMBER_ID, None, None, b""), out
            )
        if group.leader == member_id:
            group.leader = next(iter(group.members), None)

    def _remove(self, group: _Group, member_id: str, now_ms: int, out: list[Outcome]) -> None:
        """A member leaves or expires: the others rebalance (GC-9, GC-11)."""
        self._drop(group, member_id, out)
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            self._prepare(group, now_ms, out)
        self._try_complete(group, now_ms, out)


def _check_member(group: _Group, member_id: str, group_instance_id: str | None) -> int:
    """Kafka's `validateMember` (GC-18): an instance id must name this member id (else 82, or 25 if
    it names none); the member id must be a member (25)."""
    if group_instance_id is not None:
        static_id = group.static_members.get(group_instance_id)
        if static_id is None:
            return UNKNOWN_MEMBER_ID
        if static_id != member_id:
            return FENCED_INSTANCE_ID
    return NONE if member_id in group.members else UNKNOWN_MEMBER_ID


def _kept_alive(member: _Member) -> bool:
    # A member waiting for its JoinGroup or SyncGroup answer is not expired by its session: the
    # rebalance timer (or the leader's sync) answers it, and its deadline restarts then (GC-9).
    return member.join_request is not None or member.sync_request is not None


def _common(name_sets: Sequence[set[str]]) -> set[str]:
    result = set(name_sets[0])
    for names in name_sets[1:]:
        result &= names
    return result


def _choose_protocol(group: _Group) -> str:
    """GC-6: every member votes for its first protocol that all members support; most votes wins,
    ties go to the earlier protocol in the leader's preference order."""
    assert group.leader is not None
    members = list(group.members.values())
    candidates = _common([set(m.names()) for m in members])
    leader_order = [n for n in group.members[group.leader].names() if n in candidates]
    votes = dict.fromkeys(leader_order, 0)
    for member in members:
        votes[next(n for n in member.names() if n in candidates)] += 1
    return max(leader_order, key=lambda n: (votes[n], -leader_order.index(n)))
