"""The executable reference model of the classic group coordinator: spec/group-coordinator.md.

Pure: no I/O, no clock, no randomness; it never imports `flyq.impl` or `flyq.server`, and it shares
only the answer and view types (and the error codes) with `flyq.groups`. A `ClassicState` is a frozen
value and each request kind is one function `(state, request) -> (state, outcomes)`. Members are one
tuple in join order (GC-5); everything else about them is computed from it when it is needed: the
instance-id map (GC-16), the pending request ids (GC-15), the leader's member list (GC-6). Slow, and
meant to be read next to the spec. `ModelClassicCoordinator` wraps a state in the mutable shape of
`flyq.groups.ClassicCoordinator`, so both can run side by side in a property test.

Where the spec was silent the model does what FlyQ does, and the spec now says so (section 1's
answer shapes, GC-6, GC-7, GC-19, GC-21..GC-23): which of several errors a request gets first, that
a refused JoinGroup still creates its group, which of two assignments for one member counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from flyq.errors import FlyQError, InvalidArgument
from flyq.groups import (
    FENCED_INSTANCE_ID,
    ILLEGAL_GENERATION,
    INCONSISTENT_GROUP_PROTOCOL,
    INVALID_GROUP_ID,
    INVALID_SESSION_TIMEOUT,
    MEMBER_ID_REQUIRED,
    NONE,
    REBALANCE_IN_PROGRESS,
    UNKNOWN_MEMBER_ID,
    GroupEvent,
    GroupState,
    GroupView,
    HeartbeatResponse,
    JoinGroupMember,
    JoinGroupResponse,
    LeaveGroupResponse,
    LeaveMemberResponse,
    MemberView,
    Outcome,
    SyncGroupResponse,
)

__all__ = [
    "MODEL_TRANSITIONS",
    "ClassicState",
    "ModelClassicCoordinator",
    "ModelGroup",
    "ModelMember",
    "check_commit",
    "delete_group",
    "describe",
    "empty_coordinator",
    "heartbeat",
    "join",
    "leave",
    "next_deadline",
    "sync",
    "tick",
]

_S = GroupState
_E = GroupEvent
# GC-1, copied from the spec's table (not from the implementation's).
MODEL_TRANSITIONS: dict[tuple[GroupState, GroupEvent], GroupState] = {
    (_S.EMPTY, _E.PREPARE_REBALANCE): _S.PREPARING_REBALANCE,
    (_S.STABLE, _E.PREPARE_REBALANCE): _S.PREPARING_REBALANCE,
    (_S.COMPLETING_REBALANCE, _E.PREPARE_REBALANCE): _S.PREPARING_REBALANCE,
    (_S.PREPARING_REBALANCE, _E.COMPLETE_WITH_MEMBERS): _S.COMPLETING_REBALANCE,
    (_S.PREPARING_REBALANCE, _E.COMPLETE_EMPTY): _S.EMPTY,
    (_S.COMPLETING_REBALANCE, _E.LEADER_SYNC): _S.STABLE,
    (_S.EMPTY, _E.DELETE): _S.DEAD,
}

_NO_GENERATION = -1
Protocols = tuple[tuple[str, bytes], ...]
Outcomes = tuple[Outcome, ...]


@attrs.frozen
class ModelMember:
    """One member. `join_request`/`sync_request`: its JoinGroup/SyncGroup waiting for an answer."""

    member_id: str
    group_instance_id: str | None
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: Protocols
    session_deadline_ms: int
    join_request: int | None = None
    sync_request: int | None = None

    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.protocols)

    def waiting(self) -> bool:
        """GC-9: a member waiting for a JoinGroup or SyncGroup answer is not expired by its session."""
        return self.join_request is not None or self.sync_request is not None


@attrs.frozen
class ModelGroup:
    """One group. `members` is in join order; `pending_ids` are KIP-394's (id, deadline) pairs."""

    group_id: str
    state: GroupState = GroupState.EMPTY
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str | None = None
    members: tuple[ModelMember, ...] = ()
    pending_ids: tuple[tuple[str, int], ...] = ()
    rebalance_deadline_ms: int | None = None
    assignments: tuple[tuple[str, bytes], ...] | None = None

    def member(self, member_id: str) -> ModelMember | None:
        return next((m for m in self.members if m.member_id == member_id), None)

    def static_members(self) -> dict[str, str]:
        """GC-16: instance id -> member id, exactly the members that have an instance id."""
        return {
            m.group_instance_id: m.member_id for m in self.members if m.group_instance_id is not None
        }


@attrs.frozen
class ClassicState:
    """Every group of one coordinator (in creation order), its member-id counter and the time."""

    min_session_timeout_ms: int = 6_000
    max_session_timeout_ms: int = 1_800_000
    next_number: int = 1
    now_ms: int = -(2**63)
    groups: tuple[ModelGroup, ...] = ()

    def group(self, group_id: str) -> ModelGroup | None:
        return next((g for g in self.groups if g.group_id == group_id), None)

    def pending_requests(self) -> set[int]:
        """GC-15: the requests not answered yet are exactly the ones members wait on."""
        return {
            rid
            for g in self.groups
            for m in g.members
            for rid in (m.join_request, m.sync_request)
            if rid is not None
        }


def empty_coordinator(
    *,
    min_session_timeout_ms: int = 6_000,
    max_session_timeout_ms: int = 1_800_000,
    first_member_number: int = 1,
) -> ClassicState:
    """A coordinator with no group (GC-7's default session-timeout bounds, Kafka's)."""
    if not 0 <= min_session_timeout_ms <= max_session_timeout_ms:
        raise InvalidArgument(
            "session timeout bounds",
            (min_session_timeout_ms, max_session_timeout_ms),
            "0 <= min_session_timeout_ms <= max_session_timeout_ms",
        )
    return ClassicState(min_session_timeout_ms, max_session_timeout_ms, first_member_number)


# ---------------------------------------------------------------------- small helpers


def _put(state: ClassicState, group: ModelGroup) -> ClassicState:
    if state.group(group.group_id) is None:
        return attrs.evolve(state, groups=(*state.groups, group))
    groups = tuple(group if g.group_id == group.group_id else g for g in state.groups)
    return attrs.evolve(state, groups=groups)


def _change(
    group: ModelGroup, member_id: str, update: Callable[[ModelMember], ModelMember]
) -> ModelGroup:
    members = tuple(update(m) if m.member_id == member_id else m for m in group.members)
    return attrs.evolve(group, members=members)


def _goto(group: ModelGroup, event: GroupEvent) -> ModelGroup:
    target = MODEL_TRANSITIONS.get((group.state, event))
    if target is None:
        raise FlyQError(f"model: no transition {group.state} on {event} (GC-1)")
    return attrs.evolve(group, state=target)


def _advance(state: ClassicState, now_ms: int) -> ClassicState:
    if now_ms < state.now_ms:
        raise InvalidArgument("now_ms", now_ms, f"at least the last now_ms, {state.now_ms}")
    return attrs.evolve(state, now_ms=now_ms)


def _begin(state: ClassicState, request_id: int, now_ms: int) -> ClassicState:
    if request_id in state.pending_requests():
        raise InvalidArgument("request_id", request_id, "an id that is not pending")
    return _advance(state, now_ms)


def _join_error(code: int, member_id: str) -> JoinGroupResponse:
    return JoinGroupResponse(code, _NO_GENERATION, None, None, "", member_id)


def _sync_error(code: int) -> SyncGroupResponse:
    return SyncGroupResponse(code, None, None, b"")


def _common(name_lists: Sequence[Sequence[str]]) -> set[str]:
    """The protocol names that every list has."""
    return {n for n in name_lists[0] if all(n in names for names in name_lists)}


def _choose_protocol(group: ModelGroup) -> str:
    """GC-6: each member votes for its first protocol that every member supports; the most votes
    win, and a tie goes to the protocol the leader lists first."""
    leader = group.member(group.leader or "")
    assert leader is not None
    candidates = _common([m.names() for m in group.members])
    votes = {name: 0 for name in leader.names() if name in candidates}
    for m in group.members:
        votes[next(n for n in m.names() if n in candidates)] += 1
    best = max(votes.values())
    return next(name for name, count in votes.items() if count == best)


def _join_response(group: ModelGroup, member_id: str) -> JoinGroupResponse:
    """GC-6: the generation's answer; only the leader's lists the members, in join order."""
    assert group.leader is not None and group.protocol_name is not None
    listed: tuple[JoinGroupMember, ...] = ()
    if member_id == group.leader:
        listed = tuple(
            JoinGroupMember(m.member_id, m.group_instance_id, dict(m.protocols)[group.protocol_name])
            for m in group.members
        )
    return JoinGroupResponse(
        NONE,
        group.generation_id,
        group.protocol_type,
        group.protocol_name,
        group.leader,
        member_id,
        listed,
    )


# ---------------------------------------------------------------------- rebalances


def _prepare(group: ModelGroup, now_ms: int) -> tuple[ModelGroup, Outcomes]:
    """GC-3: a rebalance starts; waiting syncs get 27 (and a new session, GC-9); the assignment is
    forgotten; the deadline is now + the largest rebalance timeout."""
    group = _goto(group, GroupEvent.PREPARE_REBALANCE)
    answers = tuple(
        Outcome(m.sync_request, _sync_error(REBALANCE_IN_PROGRESS))
        for m in group.members
        if m.sync_request is not None
    )
    members = tuple(
        attrs.evolve(m, sync_request=None, session_deadline_ms=now_ms + m.session_timeout_ms)
        if m.sync_request is not None
        else m
        for m in group.members
    )
    deadline = now_ms + max((m.rebalance_timeout_ms for m in members), default=0)
    group = attrs.evolve(group, members=members, rebalance_deadline_ms=deadline, assignments=None)
    return group, answers


def _complete(group: ModelGroup, now_ms: int) -> tuple[ModelGroup, Outcomes]:
    """GC-4, GC-5, GC-6, GC-19: the rebalance ends."""
    answers: Outcomes = ()
    for m in group.members:
        if m.join_request is None and m.group_instance_id is None:
            group, dropped = _drop(group, m.member_id)
            answers += dropped
    rejoined = [m.member_id for m in group.members if m.join_request is not None]
    if group.members and not rejoined:
        # GC-19: only absent static members: wait another rebalance timeout.
        deadline = now_ms + max(m.rebalance_timeout_ms for m in group.members)
        return attrs.evolve(group, rebalance_deadline_ms=deadline), answers
    group = attrs.evolve(
        group, pending_ids=(), rebalance_deadline_ms=None, generation_id=group.generation_id + 1
    )
    if not group.members:
        group = _goto(group, GroupEvent.COMPLETE_EMPTY)
        return attrs.evolve(group, protocol_type=None, protocol_name=None, leader=None), answers
    group = _goto(group, GroupEvent.COMPLETE_WITH_MEMBERS)
    leader = group.leader if group.leader in rejoined else rejoined[0]
    group = attrs.evolve(group, leader=leader)
    group = attrs.evolve(group, protocol_name=_choose_protocol(group))
    waiting = [(m.member_id, m.join_request) for m in group.members if m.join_request is not None]
    members = tuple(
        attrs.evolve(m, join_request=None, session_deadline_ms=now_ms + m.session_timeout_ms)
        for m in group.members
    )
    group = attrs.evolve(group, members=members)
    return group, answers + tuple(
        Outcome(rid, _join_response(group, member_id)) for member_id, rid in waiting
    )


def _try_complete(group: ModelGroup, now_ms: int) -> tuple[ModelGroup, Outcomes]:
    """GC-4: complete early once every member waits for its JoinGroup answer and no id is pending."""
    if (
        group.state is GroupState.PREPARING_REBALANCE
        and not group.pending_ids
        and all(m.join_request is not None for m in group.members)
    ):
        return _complete(group, now_ms)
    return group, ()


def _rebalance(group: ModelGroup, now_ms: int) -> tuple[ModelGroup, Outcomes]:
    """Start a rebalance unless one runs (GC-3), then see whether it can complete (GC-4)."""
    answers: Outcomes = ()
    if group.state is not GroupState.PREPARING_REBALANCE:
        group, answers = _prepare(group, now_ms)
    group, more = _try_complete(group, now_ms)
    return group, answers + more


def _drop(group: ModelGroup, member_id: str) -> tuple[ModelGroup, Outcomes]:
    """GC-11, GC-15: forget the member (and so its instance id); its waiting requests get 25; the
    leadership moves to the earliest-joined member left (GC-5)."""
    member = group.member(member_id)
    assert member is not None
    answers: Outcomes = ()
    if member.join_request is not None:
        answers += (Outcome(member.join_request, _join_error(UNKNOWN_MEMBER_ID, member_id)),)
    if member.sync_request is not None:
        answers += (Outcome(member.sync_request, _sync_error(UNKNOWN_MEMBER_ID)),)
    members = tuple(m for m in group.members if m.member_id != member_id)
    leader = group.leader
    if leader == member_id:
        leader = members[0].member_id if members else None
    return attrs.evolve(group, members=members, leader=leader), answers


def _remove(group: ModelGroup, member_id: str, now_ms: int) -> tuple[ModelGroup, Outcomes]:
    """GC-11: a leave or a session expiry; Stable and CompletingRebalance start a rebalance."""
    group, answers = _drop(group, member_id)
    if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
        group, more = _prepare(group, now_ms)
        answers += more
    group, more = _try_complete(group, now_ms)
    return group, answers + more


def _check_member(group: ModelGroup, member_id: str, group_instance_id: str | None) -> int:
    """GC-18 (Kafka's validateMember)."""
    if group_instance_id is not None:
        named = group.static_members().get(group_instance_id)
        if named is None:
            return UNKNOWN_MEMBER_ID
        if named != member_id:
            return FENCED_INSTANCE_ID
    return NONE if group.member(member_id) is not None else UNKNOWN_MEMBER_ID


# ---------------------------------------------------------------------- JoinGroup


@attrs.frozen
class _Join:
    request_id: int
    now_ms: int
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    member_id: str
    group_instance_id: str | None
    protocol_type: str
    protocols: Protocols
    require_known_member_id: bool
    supports_skip_assignment: bool
    fresh_id: str  # the id a new or restarted member gets (GC-2, GC-16, GC-17)


def join(
    state: ClassicState,
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
) -> tuple[ClassicState, list[Outcome]]:
    """JoinGroup (GC-2..GC-7, GC-16..GC-18)."""
    state = _begin(state, request_id, now_ms)

    def refused(code: int) -> tuple[ClassicState, list[Outcome]]:
        return state, [Outcome(request_id, _join_error(code, member_id))]

    # GC-21: the request's own fields first, then the group.
    if not group_id:
        return refused(INVALID_GROUP_ID)
    if not state.min_session_timeout_ms <= session_timeout_ms <= state.max_session_timeout_ms:
        return refused(INVALID_SESSION_TIMEOUT)
    protos = tuple((name, bytes(meta)) for name, meta in protocols)
    names = [name for name, _ in protos]
    if not protocol_type or not protos or len(set(names)) != len(names):
        return refused(INCONSISTENT_GROUP_PROTOCOL)
    prefix = client_id if group_instance_id is None else group_instance_id
    request = _Join(
        request_id,
        now_ms,
        client_id,
        session_timeout_ms,
        session_timeout_ms if rebalance_timeout_ms < 0 else rebalance_timeout_ms,
        member_id,
        group_instance_id,
        protocol_type,
        protos,
        require_known_member_id,
        supports_skip_assignment,
        f"{prefix}-{state.next_number}",
    )
    # GC-22: a join that leaves a new group as it found it (refused) does not create it.
    before = state.group(group_id)
    group, answers, used_id = _join_group(before or ModelGroup(group_id), request)
    if before is not None or group != ModelGroup(group_id):
        state = _put(state, group)
    if used_id:
        state = attrs.evolve(state, next_number=state.next_number + 1)
    return state, list(answers)


def _join_group(group: ModelGroup, r: _Join) -> tuple[ModelGroup, Outcomes, bool]:
    member_id = r.member_id

    def refused(code: int, member: str = member_id) -> tuple[ModelGroup, Outcomes, bool]:
        return group, (Outcome(r.request_id, _join_error(code, member)),), False

    named = None if r.group_instance_id is None else group.static_members().get(r.group_instance_id)
    fenced = r.group_instance_id is not None and member_id not in ("", named)
    known = group.member(member_id)
    if known is not None and not fenced:  # GC-9 (kept when the join is refused with 23, GC-6)
        deadline = r.now_ms + known.session_timeout_ms
        group = _change(group, member_id, lambda m: attrs.evolve(m, session_deadline_ms=deadline))
    if group.state is not GroupState.EMPTY:
        # GC-6; a restart speaks for the member it replaces (GC-17).
        speaks_for = member_id or named
        others = [m.names() for m in group.members if m.member_id != speaks_for]
        if r.protocol_type != group.protocol_type or not _common(
            [[n for n, _ in r.protocols], *others]
        ):
            return refused(INCONSISTENT_GROUP_PROTOCOL)
    if fenced:  # GC-18
        return refused(UNKNOWN_MEMBER_ID if named is None else FENCED_INSTANCE_ID)
    if named is not None and not member_id:
        return _restart(group, named, r)

    if known is None:
        if member_id and member_id not in dict(group.pending_ids):
            return refused(UNKNOWN_MEMBER_ID)  # GC-2
        used_id = not member_id
        if used_id:
            member_id = r.fresh_id
            if r.require_known_member_id and r.group_instance_id is None:  # GC-2; not static, GC-16
                pending = (*group.pending_ids, (member_id, r.now_ms + r.session_timeout_ms))
                group = attrs.evolve(group, pending_ids=pending)
                answer = Outcome(r.request_id, _join_error(MEMBER_ID_REQUIRED, member_id))
                return group, (answer,), True
        newcomer = ModelMember(
            member_id,
            r.group_instance_id,
            r.client_id,
            r.session_timeout_ms,
            r.rebalance_timeout_ms,
            r.protocols,
            r.now_ms + r.session_timeout_ms,
            join_request=r.request_id,
        )
        group = attrs.evolve(
            group,
            members=(*group.members, newcomer),
            pending_ids=tuple(p for p in group.pending_ids if p[0] != member_id),
            leader=member_id if group.leader is None else group.leader,
            protocol_type=r.protocol_type if group.state is GroupState.EMPTY else group.protocol_type,
        )
        group, answers = _rebalance(group, r.now_ms)
        return group, answers, used_id

    # GC-7: a known member.
    group = _change(
        group,
        member_id,
        lambda m: attrs.evolve(
            m,
            session_timeout_ms=r.session_timeout_ms,
            rebalance_timeout_ms=r.rebalance_timeout_ms,
            session_deadline_ms=r.now_ms + r.session_timeout_ms,
        ),
    )
    unchanged = known.protocols == r.protocols
    if (
        unchanged
        and group.state is not GroupState.PREPARING_REBALANCE
        and (group.state is GroupState.COMPLETING_REBALANCE or member_id != group.leader)
    ):
        return group, (Outcome(r.request_id, _join_response(group, member_id)),), False
    superseded: Outcomes = ()
    if known.join_request is not None:  # GC-15: a newer join supersedes the waiting one
        superseded = (Outcome(known.join_request, _join_error(REBALANCE_IN_PROGRESS, member_id)),)
    group = _change(
        group, member_id, lambda m: attrs.evolve(m, protocols=r.protocols, join_request=r.request_id)
    )
    group, more = _rebalance(group, r.now_ms)
    return group, superseded + more, False


def _restart(group: ModelGroup, old_id: str, r: _Join) -> tuple[ModelGroup, Outcomes, bool]:
    """GC-17: a static member restarted: `old_id` becomes `r.fresh_id` in place; old waits get 82."""
    old = group.member(old_id)
    assert old is not None and group.leader is not None
    previous_leader = group.leader
    new_id = r.fresh_id
    answers: Outcomes = ()
    if old.join_request is not None:
        answers += (Outcome(old.join_request, _join_error(FENCED_INSTANCE_ID, old_id)),)
    if old.sync_request is not None:
        answers += (Outcome(old.sync_request, _sync_error(FENCED_INSTANCE_ID)),)
    renamed = attrs.evolve(
        old,
        member_id=new_id,
        protocols=r.protocols,
        session_timeout_ms=r.session_timeout_ms,
        rebalance_timeout_ms=r.rebalance_timeout_ms,
        session_deadline_ms=r.now_ms + r.session_timeout_ms,
        join_request=None,
        sync_request=None,
    )
    assignments = group.assignments
    if assignments is not None:
        assignments = tuple(sorted((new_id if k == old_id else k, v) for k, v in assignments))
    group = attrs.evolve(
        group,
        members=tuple(renamed if m.member_id == old_id else m for m in group.members),
        leader=new_id if group.leader == old_id else group.leader,
        assignments=assignments,
    )
    if group.state is GroupState.STABLE and _choose_protocol(group) == group.protocol_name:
        if r.supports_skip_assignment:
            response = attrs.evolve(
                _join_response(group, new_id), skip_assignment=new_id == group.leader
            )
        else:
            response = JoinGroupResponse(
                NONE,
                group.generation_id,
                group.protocol_type,
                group.protocol_name,
                previous_leader,
                new_id,
            )
        return group, (*answers, Outcome(r.request_id, response)), True
    group = _change(group, new_id, lambda m: attrs.evolve(m, join_request=r.request_id))
    group, more = _rebalance(group, r.now_ms)
    return group, answers + more, True


# ---------------------------------------------------------------------- the other requests


def sync(
    state: ClassicState,
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
) -> tuple[ClassicState, list[Outcome]]:
    """SyncGroup (GC-8, GC-9, GC-18)."""
    state = _begin(state, request_id, now_ms)
    group = state.group(group_id)

    def answer(code: int) -> tuple[ClassicState, list[Outcome]]:
        return state, [Outcome(request_id, _sync_error(code))]

    if not group_id:
        return answer(INVALID_GROUP_ID)
    if group is None:
        return answer(UNKNOWN_MEMBER_ID)
    code = _check_member(group, member_id, group_instance_id)
    if code != NONE:
        return answer(code)
    member = group.member(member_id)
    assert member is not None
    deadline = now_ms + member.session_timeout_ms
    group = _change(group, member_id, lambda m: attrs.evolve(m, session_deadline_ms=deadline))
    state = _put(state, group)
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
        given = dict(group.assignments).get(member_id, b"")
        response = SyncGroupResponse(NONE, group.protocol_type, group.protocol_name, given)
        return state, [Outcome(request_id, response)]
    # CompletingRebalance: wait for the leader's sync, or be it.
    answers: Outcomes = ()
    if member.sync_request is not None:  # GC-15
        answers = (Outcome(member.sync_request, _sync_error(REBALANCE_IN_PROGRESS)),)
    group = _change(group, member_id, lambda m: attrs.evolve(m, sync_request=request_id))
    if member_id == group.leader:
        # GC-23: entries for non-members are dropped; of two for one member the last counts.
        stored = {m: bytes(a) for m, a in assignments if group.member(m) is not None}
        group = _goto(group, GroupEvent.LEADER_SYNC)
        group = attrs.evolve(group, assignments=tuple(sorted(stored.items())))
        answers += tuple(
            Outcome(
                m.sync_request,
                SyncGroupResponse(
                    NONE, group.protocol_type, group.protocol_name, stored.get(m.member_id, b"")
                ),
            )
            for m in group.members
            if m.sync_request is not None
        )
        members = tuple(
            attrs.evolve(m, sync_request=None, session_deadline_ms=now_ms + m.session_timeout_ms)
            if m.sync_request is not None
            else m
            for m in group.members
        )
        group = attrs.evolve(group, members=members)
    return _put(state, group), list(answers)


def heartbeat(
    state: ClassicState,
    request_id: int,
    now_ms: int,
    *,
    group_id: str,
    generation_id: int,
    member_id: str,
    group_instance_id: str | None = None,
) -> tuple[ClassicState, list[Outcome]]:
    """Heartbeat (GC-9, GC-18)."""
    state = _begin(state, request_id, now_ms)
    group = state.group(group_id)
    if not group_id:
        code = INVALID_GROUP_ID
    elif group is None:
        code = UNKNOWN_MEMBER_ID
    else:
        code = _check_member(group, member_id, group_instance_id)
    if group is not None and code == NONE:
        member = group.member(member_id)
        assert member is not None
        deadline = now_ms + member.session_timeout_ms
        group = _change(group, member_id, lambda m: attrs.evolve(m, session_deadline_ms=deadline))
        state = _put(state, group)
        if generation_id != group.generation_id:
            code = ILLEGAL_GENERATION
        elif group.state is GroupState.PREPARING_REBALANCE:
            code = REBALANCE_IN_PROGRESS
    return state, [Outcome(request_id, HeartbeatResponse(code))]


def leave(
    state: ClassicState,
    request_id: int,
    now_ms: int,
    *,
    group_id: str,
    members: Sequence[tuple[str, str | None]],
) -> tuple[ClassicState, list[Outcome]]:
    """LeaveGroup (GC-11, GC-18); answers each named member 0 or 25/82, in the order named."""
    state = _begin(state, request_id, now_ms)
    if not group_id:
        return state, [Outcome(request_id, LeaveGroupResponse(INVALID_GROUP_ID, ()))]
    group = state.group(group_id)
    results: list[LeaveMemberResponse] = []
    caused: Outcomes = ()
    for member_id, instance_id in members:
        code, leaving = UNKNOWN_MEMBER_ID, member_id
        if group is not None:
            if instance_id is not None and not member_id:  # an administrator's removal
                leaving = group.static_members().get(instance_id, "")
                code = NONE if leaving else UNKNOWN_MEMBER_ID
            else:
                code = _check_member(group, member_id, instance_id)
        if group is not None and code == NONE:
            group, more = _remove(group, leaving, now_ms)
            caused += more
        results.append(LeaveMemberResponse(member_id, instance_id, code))
    if group is not None:
        state = _put(state, group)
    return state, [Outcome(request_id, LeaveGroupResponse(NONE, tuple(results))), *caused]


def check_commit(
    state: ClassicState,
    group_id: str,
    generation: int,
    member_id: str,
    group_instance_id: str | None,
) -> int:
    """The code an OffsetCommit with these fields gets (GC-12, GC-18)."""
    group = state.group(group_id)
    if group is None:
        return NONE if generation < 0 else ILLEGAL_GENERATION
    if group.state is GroupState.EMPTY and generation < 0:
        return NONE
    if generation < 0 and not member_id and group_instance_id is None:
        return UNKNOWN_MEMBER_ID  # an assign() consumer committing into a group with members
    code = _check_member(group, member_id, group_instance_id)
    if code != NONE:
        return code
    if generation != group.generation_id:
        return ILLEGAL_GENERATION
    if group.state is GroupState.COMPLETING_REBALANCE:
        return REBALANCE_IN_PROGRESS
    return NONE


def delete_group(state: ClassicState, group_id: str) -> tuple[ClassicState, bool]:
    """Empty -> Dead, and forgotten (GC-1); any other group stays."""
    group = state.group(group_id)
    if group is None or group.state is not GroupState.EMPTY:
        return state, False
    _goto(group, GroupEvent.DELETE)
    return attrs.evolve(state, groups=tuple(g for g in state.groups if g is not group)), True


def next_deadline(state: ClassicState) -> int | None:
    """GC-10: one past the earliest deadline a timer watches."""
    deadlines = [
        deadline
        for g in state.groups
        for deadline in (
            *(() if g.rebalance_deadline_ms is None else (g.rebalance_deadline_ms,)),
            *(d for _, d in g.pending_ids),
            *(m.session_deadline_ms for m in g.members if not m.waiting()),
        )
    ]
    return min(deadlines) + 1 if deadlines else None


def tick(state: ClassicState, now_ms: int) -> tuple[ClassicState, list[Outcome]]:
    """GC-10: every timer whose deadline is strictly before `now_ms` fires."""
    state = _advance(state, now_ms)
    answers: Outcomes = ()
    for before in state.groups:
        group = attrs.evolve(
            before, pending_ids=tuple(p for p in before.pending_ids if not now_ms > p[1])
        )
        if group.rebalance_deadline_ms is not None and now_ms > group.rebalance_deadline_ms:
            group, more = _complete(group, now_ms)
            answers += more
        for member_id in [m.member_id for m in group.members]:
            member = group.member(member_id)
            if member is not None and not member.waiting() and now_ms > member.session_deadline_ms:
                group, more = _remove(group, member_id, now_ms)
                answers += more
        group, more = _try_complete(group, now_ms)
        answers += more
        state = _put(state, group)
    return state, list(answers)


def describe(state: ClassicState, group_id: str) -> GroupView | None:
    """The group as `ClassicCoordinator.describe` shows it."""
    group = state.group(group_id)
    if group is None:
        return None
    return GroupView(
        group.group_id,
        group.state,
        group.generation_id,
        group.protocol_type,
        group.protocol_name,
        group.leader,
        tuple(
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
            for m in group.members
        ),
        group.assignments,
        group.rebalance_deadline_ms,
        tuple(sorted(group.static_members().items())),
    )


class ModelClassicCoordinator:
    """The reference coordinator in `ClassicCoordinator`'s mutable shape: what it must agree with."""

    def __init__(
        self,
        *,
        min_session_timeout_ms: int = 6_000,
        max_session_timeout_ms: int = 1_800_000,
        first_member_number: int = 1,
    ) -> None:
        self.state = empty_coordinator(
            min_session_timeout_ms=min_session_timeout_ms,
            max_session_timeout_ms=max_session_timeout_ms,
            first_member_number=first_member_number,
        )

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
        """JoinGroup (GC-2..GC-7, GC-16..GC-18)."""
        self.state, out = join(
            self.state,
            request_id,
            now_ms,
            group_id=group_id,
            client_id=client_id,
            session_timeout_ms=session_timeout_ms,
            rebalance_timeout_ms=rebalance_timeout_ms,
            member_id=member_id,
            group_instance_id=group_instance_id,
            protocol_type=protocol_type,
            protocols=protocols,
            require_known_member_id=require_known_member_id,
            supports_skip_assignment=supports_skip_assignment,
        )
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
        """SyncGroup (GC-8)."""
        self.state, out = sync(
            self.state,
            request_id,
            now_ms,
            group_id=group_id,
            generation_id=generation_id,
            member_id=member_id,
            assignments=assignments,
            group_instance_id=group_instance_id,
            protocol_type=protocol_type,
            protocol_name=protocol_name,
        )
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
        """Heartbeat (GC-9)."""
        self.state, out = heartbeat(
            self.state,
            request_id,
            now_ms,
            group_id=group_id,
            generation_id=generation_id,
            member_id=member_id,
            group_instance_id=group_instance_id,
        )
        return out

    def leave(
        self,
        request_id: int,
        now_ms: int,
        *,
        group_id: str,
        members: Sequence[tuple[str, str | None]],
    ) -> list[Outcome]:
        """LeaveGroup (GC-11)."""
        self.state, out = leave(self.state, request_id, now_ms, group_id=group_id, members=members)
        return out

    def check_commit(
        self, group_id: str, generation: int, member_id: str, group_instance_id: str | None
    ) -> int:
        """GC-12."""
        return check_commit(self.state, group_id, generation, member_id, group_instance_id)

    def delete_group(self, group_id: str) -> bool:
        """Delete an Empty group."""
        self.state, deleted = delete_group(self.state, group_id)
        return deleted

    def next_deadline(self) -> int | None:
        """GC-10."""
        return next_deadline(self.state)

    def tick(self, now_ms: int) -> list[Outcome]:
        """GC-10."""
        self.state, out = tick(self.state, now_ms)
        return out

    def describe(self, group_id: str) -> GroupView | None:
        """A snapshot of one group, or None."""
        return describe(self.state, group_id)

    def group_ids(self) -> list[str]:
        """Every group's id, sorted."""
        return sorted(g.group_id for g in self.state.groups)
