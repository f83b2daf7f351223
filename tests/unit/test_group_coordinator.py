"""The classic group coordinator, by hand-written scenarios (spec/group-coordinator.md GC-1..GC-23).

Expected codes are Kafka's numbers, written out here rather than read from flyq.groups.
"""

from __future__ import annotations

import pytest

from flyq.errors import InvalidArgument
from flyq.groups import (
    TRANSITIONS,
    ClassicCoordinator,
    GroupState,
    GroupView,
    HeartbeatResponse,
    JoinGroupResponse,
    LeaveGroupResponse,
    Outcome,
    SyncGroupResponse,
)

SESSION = 10_000
REBALANCE = 30_000
RANGE = [("range", b"range-meta")]


class Harness:
    """A coordinator, a fake clock and a request-id counter."""

    def __init__(self) -> None:
        self.gc = ClassicCoordinator()
        self.now = 1_000
        self.next_id = 0

    def rid(self) -> int:
        self.next_id += 1
        return self.next_id

    def join(
        self,
        member_id: str = "",
        *,
        client: str = "c",
        protocols: list[tuple[str, bytes]] | None = None,
        session: int = SESSION,
        rebalance: int = REBALANCE,
        require_known: bool = False,
        group: str = "g",
        instance: str | None = None,
        skip_assignment: bool = False,
    ) -> tuple[int, list[Outcome]]:
        rid = self.rid()
        out = self.gc.join(
            rid,
            self.now,
            group_id=group,
            client_id=client,
            session_timeout_ms=session,
            rebalance_timeout_ms=rebalance,
            member_id=member_id,
            group_instance_id=instance,
            protocol_type="consumer",
            protocols=RANGE if protocols is None else protocols,
            require_known_member_id=require_known,
            supports_skip_assignment=skip_assignment,
        )
        return rid, out

    def sync(
        self,
        member_id: str,
        generation: int,
        assignments: list[tuple[str, bytes]] | None = None,
        *,
        instance: str | None = None,
    ) -> tuple[int, list[Outcome]]:
        rid = self.rid()
        out = self.gc.sync(
            rid,
            self.now,
            group_id="g",
            generation_id=generation,
            member_id=member_id,
            assignments=assignments or [],
            group_instance_id=instance,
        )
        return rid, out

    def heartbeat(self, member_id: str, generation: int, *, instance: str | None = None) -> int:
        rid = self.rid()
        [outcome] = self.gc.heartbeat(
            rid,
            self.now,
            group_id="g",
            generation_id=generation,
            member_id=member_id,
            group_instance_id=instance,
        )
        assert outcome.request_id == rid
        assert isinstance(outcome.response, HeartbeatResponse)
        return outcome.response.error_code

    def leave(self, members: list[tuple[str, str | None]]) -> tuple[LeaveGroupResponse, list[Outcome]]:
        rid = self.rid()
        out = self.gc.leave(rid, self.now, group_id="g", members=members)
        [response] = [o.response for o in out if o.request_id == rid]
        assert isinstance(response, LeaveGroupResponse)
        return response, out

    def state(self) -> GroupState:
        view = self.gc.describe("g")
        assert view is not None
        return view.state


def answer(out: list[Outcome], rid: int) -> JoinGroupResponse | SyncGroupResponse:
    """The one response for `rid` in `out`."""
    found = [o.response for o in out if o.request_id == rid]
    assert len(found) == 1, out
    response = found[0]
    assert isinstance(response, JoinGroupResponse | SyncGroupResponse)
    return response


def join_answer(out: list[Outcome], rid: int) -> JoinGroupResponse:
    response = answer(out, rid)
    assert isinstance(response, JoinGroupResponse)
    return response


def sync_answer(out: list[Outcome], rid: int) -> SyncGroupResponse:
    response = answer(out, rid)
    assert isinstance(response, SyncGroupResponse)
    return response


def stable_pair(h: Harness) -> tuple[str, str]:
    """Two members a (leader) and b in a Stable generation 2."""
    ra, out = h.join(client="a")
    a = join_answer(out, ra).member_id
    _sa, out = h.sync(a, 1, [(a, b"A")])
    rb, out = h.join(client="b")
    assert out == []
    ra, out = h.join(a, client="a")
    b = join_answer(out, rb).member_id
    assert join_answer(out, ra).generation_id == 2
    h.sync(a, 2, [(a, b"A2"), (b, b"B2")])
    h.sync(b, 2)
    assert h.state() is GroupState.STABLE
    return a, b


def test_single_member_join_and_sync_makes_generation_one_stable() -> None:
    """GC-4/GC-8: one member joins, is the leader of generation 1, syncs, and the group is Stable."""
    h = Harness()
    rid, out = h.join(client="a")
    j = join_answer(out, rid)
    assert (j.error_code, j.generation_id, j.leader, j.member_id) == (0, 1, "a-1", "a-1")
    assert j.protocol_name == "range"
    assert [(m.member_id, m.metadata) for m in j.members] == [("a-1", b"range-meta")]
    assert h.state() is GroupState.COMPLETING_REBALANCE
    sid, out = h.sync("a-1", 1, [("a-1", b"assign")])
    assert sync_answer(out, sid) == SyncGroupResponse(0, "consumer", "range", b"assign")
    assert h.state() is GroupState.STABLE


def test_second_member_triggers_rebalance_and_both_rejoin_to_generation_two() -> None:
    """GC-3/GC-5: a new member starts a rebalance; the old member's heartbeat says rejoin (27);
    when both have joined, generation 2 begins with the same leader."""
    h = Harness()
    ra, out = h.join(client="a")
    a = join_answer(out, ra).member_id
    h.sync(a, 1, [(a, b"x")])
    rb, out = h.join(client="b")
    assert out == []
    assert h.state() is GroupState.PREPARING_REBALANCE
    assert h.heartbeat(a, 1) == 27
    ra2, out = h.join(a, client="a")
    ja, jb = join_answer(out, ra2), join_answer(out, rb)
    assert (ja.generation_id, jb.generation_id) == (2, 2)
    assert ja.leader == jb.leader == a
    assert {m.member_id for m in ja.members} == {a, jb.member_id}
    assert jb.members == ()
    assert h.state() is GroupState.COMPLETING_REBALANCE


def test_leader_sync_delivers_follower_assignments_and_follower_waits() -> None:
    """GC-8: a follower's sync before the leader's waits; the leader's answers it with its share."""
    h = Harness()
    h.join(client="a")
    rb, _ = h.join(client="b")
    a, b = "a-1", "b-2"
    _ra, out = h.join(a, client="a")
    assert join_answer(out, rb).member_id == b
    fid, out = h.sync(b, 2)
    assert out == []
    lid, out = h.sync(a, 2, [(a, b"P0"), (b, b"P1"), ("stranger", b"P2")])
    assert sync_answer(out, fid).assignment == b"P1"
    assert sync_answer(out, lid).assignment == b"P0"
    assert h.state() is GroupState.STABLE
    # A late follower in Stable gets its share at once.
    again, out = h.sync(b, 2)
    assert sync_answer(out, again).assignment == b"P1"


def test_member_without_assignment_gets_empty_bytes() -> None:
    """GC-8: a member the leader left out of the assignment gets empty bytes."""
    h = Harness()
    _a, b = stable_pair(h)
    rid, out = h.sync(b, 2)
    assert sync_answer(out, rid).assignment == b"B2"
    h.now += 1
    h2 = Harness()
    _ra, _ = h2.join(client="a")
    _rb, _ = h2.join(client="b")
    h2.join("a-1", client="a")
    fid, _ = h2.sync("b-2", 2)
    _, out = h2.sync("a-1", 2, [("a-1", b"all")])
    assert sync_answer(out, fid).assignment == b""


def test_a_waiting_sync_of_a_member_that_leaves_is_answered_25() -> None:
    """GC-11, GC-15: a follower's SyncGroup waiting for the leader is answered UNKNOWN_MEMBER_ID,
    with no protocol and no assignment, when that follower leaves."""
    h = Harness()
    h.join(client="a")
    h.join(client="b")
    h.join("a-1", client="a")  # both joined: generation 2, CompletingRebalance
    fid, out = h.sync("b-2", 2)
    assert out == []
    out = h.gc.leave(h.rid(), h.now, group_id="g", members=[("b-2", None)])
    assert sync_answer(out, fid) == SyncGroupResponse(25, None, None, b"")


def test_sync_errors_wrong_generation_unknown_member_and_rebalance() -> None:
    """GC-8: ILLEGAL_GENERATION (22), UNKNOWN_MEMBER_ID (25), REBALANCE_IN_PROGRESS (27)."""
    h = Harness()
    a, _b = stable_pair(h)
    rid, out = h.sync(a, 1)
    assert sync_answer(out, rid).error_code == 22
    rid, out = h.sync("nobody", 2)
    assert sync_answer(out, rid).error_code == 25
    h.join(client="c")
    rid, out = h.sync(a, 2)
    assert sync_answer(out, rid).error_code == 27


def test_heartbeat_codes() -> None:
    """GC-9: heartbeat is 0 in Stable, 22 for another generation, 25 for a stranger or group."""
    h = Harness()
    a, b = stable_pair(h)
    assert h.heartbeat(a, 2) == 0
    assert h.heartbeat(b, 1) == 22
    assert h.heartbeat("ghost", 2) == 25
    rid = h.rid()
    [o] = h.gc.heartbeat(rid, h.now, group_id="other", generation_id=0, member_id="x")
    assert o.response == HeartbeatResponse(25)


def test_session_expires_one_past_the_deadline_not_at_it() -> None:
    """GC-10: a member is kept at exactly last-heartbeat + session timeout, removed one ms later."""
    h = Harness()
    a, b = stable_pair(h)
    h.now += 500
    assert h.heartbeat(a, 2) == 0
    deadline_b = h.now - 500 + SESSION  # b's last contact was its sync at the old `now`
    h.now = deadline_b
    assert h.heartbeat(a, 2) == 0
    assert h.gc.tick(deadline_b) == []
    view = h.gc.describe("g")
    assert view is not None and {m.member_id for m in view.members} == {a, b}
    assert h.gc.next_deadline() == deadline_b + 1
    h.gc.tick(deadline_b + 1)
    view = h.gc.describe("g")
    assert view is not None and [m.member_id for m in view.members] == [a]
    assert view.state is GroupState.PREPARING_REBALANCE


def test_heartbeat_pushes_the_deadline() -> None:
    """GC-9/GC-10: a heartbeat moves the session deadline to its own time + session timeout."""
    h = Harness()
    a, b = stable_pair(h)
    h.now += SESSION - 1
    assert h.heartbeat(a, 2) == 0
    assert h.heartbeat(b, 2) == 0
    h.now += SESSION
    assert h.gc.tick(h.now) == []
    view = h.gc.describe("g")
    assert view is not None and view.state is GroupState.STABLE and len(view.members) == 2


def test_rebalance_timeout_drops_member_that_never_rejoined() -> None:
    """GC-11: at the rebalance timeout, members that did not rejoin are removed; the rest go on."""
    h = Harness()
    a, b = stable_pair(h)
    start = h.now
    rc, out = h.join(client="c")
    assert out == []
    ra, out = h.join(a, client="a")
    assert out == []
    # b keeps heartbeating (told to rejoin) but never rejoins.
    for t in range(start + 5_000, start + REBALANCE, 5_000):
        h.now = t
        assert h.heartbeat(b, 2) == 27
    assert h.gc.tick(start + REBALANCE) == []
    h.now = start + REBALANCE + 1
    out = h.gc.tick(h.now)
    ja, jc = join_answer(out, ra), join_answer(out, rc)
    assert ja.generation_id == jc.generation_id == 3
    assert {m.member_id for m in ja.members} == {a, jc.member_id}
    assert h.heartbeat(b, 3) == 25


def test_leave_rebalances_the_rest_and_last_leave_empties() -> None:
    """GC-11: a leave rebalances the others; the last leave leaves the group Empty."""
    h = Harness()
    a, b = stable_pair(h)
    rid = h.rid()
    out = h.gc.leave(rid, h.now, group_id="g", members=[(b, None), ("ghost", None)])
    response = out[0].response
    assert out[0].request_id == rid and isinstance(response, LeaveGroupResponse)
    assert [(m.member_id, m.error_code) for m in response.members] == [(b, 0), ("ghost", 25)]
    assert h.state() is GroupState.PREPARING_REBALANCE
    ra, out = h.join(a, client="a")
    assert join_answer(out, ra).generation_id == 3
    rid = h.rid()
    h.gc.leave(rid, h.now, group_id="g", members=[(a, None)])
    view = h.gc.describe("g")
    assert view is not None
    assert (view.state, view.members, view.generation_id) == (GroupState.EMPTY, (), 4)


def test_leave_of_a_waiting_member_answers_its_join() -> None:
    """GC-15: a member that leaves while its join waits gets UNKNOWN_MEMBER_ID (25) for it."""
    h = Harness()
    a, _b = stable_pair(h)
    ra, out = h.join(a, client="a")
    assert out == []
    rid = h.rid()
    out = h.gc.leave(rid, h.now, group_id="g", members=[(a, None)])
    assert join_answer(out, ra).error_code == 25


def test_commit_fencing() -> None:
    """GC-12: simple (assign) commits only to an Empty or unknown group; else member and generation."""
    h = Harness()
    gc = h.gc
    assert gc.check_commit("nogroup", -1, "", None) == 0
    assert gc.check_commit("nogroup", 1, "x", None) == 22
    a, b = stable_pair(h)
    assert gc.check_commit("g", 2, a, None) == 0
    # Neither member nor generation into a group with members: Kafka's validateOffsetCommit
    # answers UNKNOWN_MEMBER_ID ("offset commits are only accepted when the group is empty").
    assert gc.check_commit("g", -1, "", None) == 25
    assert gc.check_commit("g", -1, a, None) == 22  # a member named: its generation must match
    assert gc.check_commit("g", 1, a, None) == 22
    assert gc.check_commit("g", 2, "ghost", None) == 25
    h.join(client="c")  # PreparingRebalance: the current generation may still commit
    assert gc.check_commit("g", 2, a, None) == 0
    h.join(a, client="a")
    h.join(b, client="b")  # all three joined: generation 3, CompletingRebalance until the sync
    assert gc.check_commit("g", 3, a, None) == 27
    assert gc.check_commit("g", 2, a, None) == 22
    assert gc.check_commit("g", -1, "", None) == 25
    rid = h.rid()
    view = gc.describe("g")
    assert view is not None
    gc.leave(rid, h.now, group_id="g", members=[(m.member_id, None) for m in view.members])
    assert gc.check_commit("g", -1, "", None) == 0
    assert gc.check_commit("g", 3, a, None) == 25


def test_member_id_required_flow() -> None:
    """GC-2 (KIP-394): an empty member id gets 79 and a fresh id, which then joins normally."""
    h = Harness()
    rid, out = h.join(client="a", require_known=True)
    j = join_answer(out, rid)
    assert (j.error_code, j.member_id, j.generation_id) == (79, "a-1", -1)
    view = h.gc.describe("g")
    assert view is not None and view.members == () and view.state is GroupState.EMPTY
    rid, out = h.join("a-1", client="a", require_known=True)
    j = join_answer(out, rid)
    assert (j.error_code, j.member_id, j.generation_id, j.leader) == (0, "a-1", 1, "a-1")
    rid, out = h.join("made-up", client="b", require_known=True)
    assert join_answer(out, rid).error_code == 25


def test_pending_member_id_expires() -> None:
    """GC-2: a handed-out member id not used within the session timeout is forgotten."""
    h = Harness()
    h.join(client="a", require_known=True)
    assert h.gc.next_deadline() == h.now + SESSION + 1
    h.now += SESSION + 1
    h.gc.tick(h.now)
    rid, out = h.join("a-1", client="a", require_known=True)
    assert join_answer(out, rid).error_code == 25


def test_protocol_choice_by_votes() -> None:
    """GC-6: candidates are common to all; each member votes its first candidate; most votes win."""
    h = Harness()
    ra, _ = h.join(client="a", protocols=[("range", b"ra"), ("roundrobin", b"rr-a"), ("x", b"")])
    h.now += 1
    _rb, _ = h.join(client="b", protocols=[("roundrobin", b"rr-b"), ("range", b"rb")])
    _rc, _ = h.join(client="c", protocols=[("sticky", b""), ("roundrobin", b"rr-c"), ("range", b"")])
    ra, out = h.join("a-1", client="a", protocols=[("range", b"ra"), ("roundrobin", b"rr-a")])
    j = join_answer(out, ra)
    assert j.protocol_name == "roundrobin"  # a votes range; b and c vote roundrobin
    assert [m.metadata for m in j.members] == [b"rr-a", b"rr-b", b"rr-c"]


def test_protocol_tie_goes_to_leader_order() -> None:
    """GC-6: with equal votes, the protocol earlier in the leader's list wins."""
    h = Harness()
    h.join(client="a", protocols=[("range", b""), ("roundrobin", b"")])
    _rb, _ = h.join(client="b", protocols=[("roundrobin", b""), ("range", b"")])
    ra, out = h.join("a-1", client="a", protocols=[("range", b""), ("roundrobin", b"")])
    assert join_answer(out, ra).protocol_name == "range"


def test_inconsistent_protocol_is_refused() -> None:
    """GC-6: a join with no protocol in common with the group gets 23 and changes nothing."""
    h = Harness()
    _a, _b = stable_pair(h)
    rid, out = h.join(client="z", protocols=[("other", b"")])
    assert join_answer(out, rid).error_code == 23
    assert h.state() is GroupState.STABLE


def test_stable_follower_rejoin_unchanged_gets_current_generation() -> None:
    """GC-7: a follower rejoining with unchanged protocols in Stable gets the current generation."""
    h = Harness()
    a, b = stable_pair(h)
    rid, out = h.join(b, client="b")
    j = join_answer(out, rid)
    assert (j.error_code, j.generation_id, j.leader, j.members) == (0, 2, a, ())
    assert h.state() is GroupState.STABLE


def test_leader_rejoin_in_stable_rebalances() -> None:
    """GC-7: the leader rejoining in Stable starts a rebalance (it may want a new assignment)."""
    h = Harness()
    a, _b = stable_pair(h)
    _rid, out = h.join(a, client="a")
    assert out == []
    assert h.state() is GroupState.PREPARING_REBALANCE


def test_new_join_during_completing_rebalance_answers_waiting_syncs() -> None:
    """GC-3/GC-15: a rebalance restarting in CompletingRebalance tells waiting syncs to rejoin."""
    h = Harness()
    h.join(client="a")
    _rb, _ = h.join(client="b")
    h.join("a-1", client="a")
    fid, out = h.sync("b-2", 2)
    assert out == []
    _rid, out = h.join(client="c")
    assert sync_answer(out, fid).error_code == 27


def test_invalid_session_timeout_and_group_id() -> None:
    """A session timeout outside the bounds gets 26; an empty group id gets 24."""
    h = Harness()
    rid, out = h.join(client="a", session=100)
    assert join_answer(out, rid).error_code == 26
    rid, out = h.join(client="a", group="")
    assert join_answer(out, rid).error_code == 24


def test_time_going_back_and_reused_pending_ids_are_programming_errors() -> None:
    """InvalidArgument for now_ms earlier than before, and for reusing a pending request id."""
    h = Harness()
    h.join(client="a")
    rid, out = h.join(client="b")
    assert out == []
    with pytest.raises(InvalidArgument):
        h.gc.tick(h.now - 1)
    with pytest.raises(InvalidArgument):
        h.gc.heartbeat(rid, h.now, group_id="g", generation_id=1, member_id="a-1")


def test_delete_only_an_empty_group() -> None:
    """GC-1: only an Empty group can be deleted (Empty -> Dead), after which it is unknown."""
    h = Harness()
    a, _b = stable_pair(h)
    assert h.gc.delete_group("g") is False
    rid = h.rid()
    view = h.gc.describe("g")
    assert view is not None
    h.gc.leave(rid, h.now, group_id="g", members=[(m.member_id, None) for m in view.members])
    assert h.gc.delete_group("g") is True
    assert h.gc.describe("g") is None
    assert h.heartbeat(a, 2) == 25


# Kafka's ClassicGroupState.validPreviousStates, written out from Kafka's source, not from flyq.
KAFKA_VALID_PREVIOUS = {
    "PreparingRebalance": {"Stable", "CompletingRebalance", "Empty"},
    "CompletingRebalance": {"PreparingRebalance"},
    "Stable": {"CompletingRebalance"},
    "Empty": {"PreparingRebalance"},
    "Dead": {"Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead"},
}


def test_transition_table_is_within_kafkas() -> None:
    """GC-1: every transition of the table is one Kafka's classic group allows."""
    assert TRANSITIONS
    for (source, _event), target in TRANSITIONS.items():
        assert source.value in KAFKA_VALID_PREVIOUS[target.value], (source, target)
    targets = {target.value for target in TRANSITIONS.values()}
    assert targets == set(KAFKA_VALID_PREVIOUS)


def test_newer_join_from_same_member_supersedes_the_waiting_one() -> None:
    """GC-15: a member's second join while the first waits answers the first with 27, once."""
    h = Harness()
    a, _b = stable_pair(h)
    first, out = h.join(a, client="a")
    assert out == []
    second, out = h.join(a, client="a")
    assert join_answer(out, first).error_code == 27
    assert all(o.request_id != second for o in out)


# ---------------------------------------------------------------- static membership (KIP-345)


def static_pair(
    h: Harness,
    *,
    protocols: list[tuple[str, bytes]] | None = None,
    session_b: int = SESSION,
) -> tuple[str, str]:
    """Static members a (instance "ia", leader) and b ("ib") in a Stable generation 2; the leader
    assigned b"A2" to a and b"B2" to b. Both last heard from at `h.now`."""
    ra, out = h.join(client="a", instance="ia", require_known=True, protocols=protocols)
    a = join_answer(out, ra).member_id
    h.sync(a, 1, [(a, b"A1")], instance="ia")
    rb, out = h.join(
        client="b", instance="ib", require_known=True, protocols=protocols, session=session_b
    )
    assert out == []
    ra, out = h.join(a, client="a", instance="ia", protocols=protocols)
    b = join_answer(out, rb).member_id
    assert (a, b) == ("ia-1", "ib-2")
    fid, _ = h.sync(b, 2, instance="ib")
    _lid, out = h.sync(a, 2, [(a, b"A2"), (b, b"B2")], instance="ia")
    assert sync_answer(out, fid).assignment == b"B2"
    assert h.state() is GroupState.STABLE
    return a, b


def view_of(h: Harness) -> GroupView:
    view = h.gc.describe("g")
    assert view is not None
    return view


def test_static_join_needs_no_member_id_round_trip() -> None:
    """GC-16: a static member's first join is not sent back with 79 (KIP-394 is for dynamic
    members); its member id is its instance id and a number, and the instance id names it."""
    h = Harness()
    rid, out = h.join(client="a", instance="ia", require_known=True)
    j = join_answer(out, rid)
    assert (j.error_code, j.member_id, j.generation_id, j.leader) == (0, "ia-1", 1, "ia-1")
    assert [(m.member_id, m.group_instance_id) for m in j.members] == [("ia-1", "ia")]
    assert view_of(h).static_members == (("ia", "ia-1"),)


def test_static_restart_within_session_keeps_generation_and_assignment() -> None:
    """GC-17: a static member restarted within its session (empty member id, same instance id) is
    answered at once with a new id and the same generation; nobody rebalances; its sync gets the
    assignment its old id had."""
    h = Harness()
    a, _b = static_pair(h)
    h.now += SESSION - 1  # b died right after its sync and comes back just inside its session
    assert h.heartbeat(a, 2, instance="ia") == 0
    rid, out = h.join(client="b", instance="ib", require_known=True)
    j = join_answer(out, rid)
    assert len(out) == 1
    assert (j.error_code, j.generation_id, j.member_id, j.leader, j.members) == (0, 2, "ib-3", a, ())
    assert (j.protocol_type, j.protocol_name) == ("consumer", "range")
    assert j.skip_assignment is False
    view = view_of(h)
    assert (view.state, view.generation_id) == (GroupState.STABLE, 2)
    assert [m.member_id for m in view.members] == [a, "ib-3"]
    assert view.static_members == (("ia", a), ("ib", "ib-3"))
    sid, out = h.sync("ib-3", 2, instance="ib")
    assert sync_answer(out, sid) == SyncGroupResponse(0, "consumer", "range", b"B2")
    assert h.heartbeat(a, 2, instance="ia") == 0  # a is not asked to rejoin
    assert h.heartbeat("ib-3", 2, instance="ib") == 0
    assert h.gc.next_deadline() == h.now + SESSION + 1


def test_replaced_member_id_is_fenced_on_every_request() -> None:
    """GC-18: after a restart, the old member id with its instance id gets FENCED_INSTANCE_ID (82)
    on heartbeat, sync, join, commit and leave, and changes nothing; the new id is served."""
    h = Harness()
    a, b = static_pair(h)
    rid, out = h.join(client="b", instance="ib")
    new_b = join_answer(out, rid).member_id
    assert new_b != b
    assert h.heartbeat(b, 2, instance="ib") == 82
    sid, out = h.sync(b, 2, instance="ib")
    assert sync_answer(out, sid).error_code == 82
    rid, out = h.join(b, client="b", instance="ib")
    assert join_answer(out, rid).error_code == 82
    assert h.gc.check_commit("g", 2, b, "ib") == 82
    assert h.gc.check_commit("g", 2, new_b, "ib") == 0
    response, _ = h.leave([(b, "ib")])
    assert [(m.member_id, m.group_instance_id, m.error_code) for m in response.members] == [
        (b, "ib", 82)
    ]
    assert h.heartbeat(b, 2) == 25  # without its instance id the old id is just unknown
    view = view_of(h)
    assert (view.state, view.generation_id) == (GroupState.STABLE, 2)
    assert [m.member_id for m in view.members] == [a, new_b]


def test_instance_id_must_name_the_member_id_given() -> None:
    """GC-18: an instance id naming another member gets 82; an instance id naming no member gets
    UNKNOWN_MEMBER_ID (25), on join, heartbeat and commit alike."""
    h = Harness()
    a, b = static_pair(h)
    rid, out = h.join(a, client="a", instance="ib")
    assert join_answer(out, rid).error_code == 82
    rid, out = h.join(a, client="a", instance="nobody")
    assert join_answer(out, rid).error_code == 25
    assert h.heartbeat(b, 2, instance="ia") == 82
    assert h.heartbeat(b, 2, instance="nobody") == 25
    assert h.gc.check_commit("g", 2, a, "nobody") == 25
    assert h.gc.check_commit("g", 2, a, "ia") == 0
    assert h.state() is GroupState.STABLE


def test_restarted_leader_before_v9_is_named_follower_and_keeps_its_assignment() -> None:
    """GC-17: a leader restarted in Stable (JoinGroup < v9) is answered with the previous leader
    id, so it does not run the assignor; it stays the group's leader under its new id."""
    h = Harness()
    a, b = static_pair(h)
    rid, out = h.join(client="a", instance="ia")
    j = join_answer(out, rid)
    assert (j.error_code, j.generation_id, j.member_id, j.leader) == (0, 2, "ia-3", a)
    assert (j.members, j.skip_assignment) == ((), False)
    view = view_of(h)
    assert (view.state, view.generation_id, view.leader) == (GroupState.STABLE, 2, "ia-3")
    sid, out = h.sync("ia-3", 2, instance="ia")
    assert sync_answer(out, sid).assignment == b"A2"
    assert h.heartbeat(b, 2, instance="ib") == 0


def test_restarted_leader_v9_is_told_to_skip_assignment() -> None:
    """GC-17: with JoinGroup v9+ the restarted leader learns it leads (member list, its new id as
    leader) with skip_assignment set; its empty sync leaves every assignment as it was."""
    h = Harness()
    _a, b = static_pair(h)
    rid, out = h.join(client="a", instance="ia", skip_assignment=True)
    j = join_answer(out, rid)
    assert (j.error_code, j.generation_id, j.member_id, j.leader) == (0, 2, "ia-3", "ia-3")
    assert j.skip_assignment is True
    assert [(m.member_id, m.group_instance_id) for m in j.members] == [("ia-3", "ia"), (b, "ib")]
    sid, out = h.sync("ia-3", 2, [], instance="ia")
    assert sync_answer(out, sid).assignment == b"A2"
    sid, out = h.sync(b, 2, instance="ib")
    assert sync_answer(out, sid).assignment == b"B2"
    # A follower restarted with v9 is a follower: no member list, nothing to skip.
    rid, out = h.join(client="b", instance="ib", skip_assignment=True)
    j = join_answer(out, rid)
    assert (j.leader, j.members, j.skip_assignment) == ("ia-3", (), False)
    assert view_of(h).generation_id == 2


def test_static_member_is_removed_after_its_session_and_returns_as_new() -> None:
    """GC-19: a static member that stops is kept until one ms past its session deadline, then
    removed (rebalance, mapping gone); coming back later it joins as a new member."""
    h = Harness()
    a, b = static_pair(h)
    start = h.now
    h.now = start + SESSION
    assert h.heartbeat(a, 2, instance="ia") == 0
    assert h.gc.tick(h.now) == []
    assert len(view_of(h).members) == 2
    h.now = start + SESSION + 1
    h.gc.tick(h.now)
    view = view_of(h)
    assert [m.member_id for m in view.members] == [a]
    assert view.state is GroupState.PREPARING_REBALANCE
    assert view.static_members == (("ia", a),)
    assert h.heartbeat(b, 2, instance="ib") == 25
    ra, out = h.join(a, client="a", instance="ia")
    assert join_answer(out, ra).generation_id == 3
    rid, out = h.join(client="b", instance="ib")
    assert all(o.request_id != rid for o in out)  # a new member: it waits for a rebalance
    view = view_of(h)
    assert view.state is GroupState.PREPARING_REBALANCE
    assert view.static_members == (("ia", a), ("ib", "ib-3"))


def test_absent_static_member_keeps_its_place_through_a_rebalance() -> None:
    """GC-19: a rebalance ending by timeout drops dynamic members that did not rejoin but keeps
    static ones, listed to the leader (so it keeps partitions); all sessions restart then."""
    h = Harness()
    a, b = static_pair(h, session_b=40_000)
    start = h.now
    rc, out = h.join(client="c")
    assert out == []
    ra, out = h.join(a, client="a", instance="ia")
    assert out == []
    h.now = start + REBALANCE + 1
    out = h.gc.tick(h.now)
    ja, jc = join_answer(out, ra), join_answer(out, rc)
    assert (ja.generation_id, ja.leader, jc.member_id) == (3, a, "c-3")
    assert [m.member_id for m in ja.members] == [a, b, "c-3"]
    view = view_of(h)
    assert [m.member_id for m in view.members] == [a, b, "c-3"]
    [member_b] = [m for m in view.members if m.member_id == b]
    assert member_b.session_deadline_ms == h.now + 40_000
    # Still absent at the end of its restarted session: removed, and the others rebalance.
    h.now += 40_000
    assert h.heartbeat(a, 3, instance="ia") == 0
    assert h.heartbeat("c-3", 3) == 0
    h.gc.tick(h.now)
    assert len(view_of(h).members) == 3
    h.now += 1
    h.gc.tick(h.now)
    view = view_of(h)
    assert [m.member_id for m in view.members] == [a, "c-3"]
    assert view.state is GroupState.PREPARING_REBALANCE


def test_absent_leader_is_replaced_by_a_member_that_rejoined() -> None:
    """GC-5/GC-19: when the static leader did not rejoin, the earliest member that did leads."""
    h = Harness()
    a, b = static_pair(h)
    h.now += 1
    _rc, out = h.join(client="c")
    rb, out = h.join(b, client="b", instance="ib")
    assert out == []
    h.now += REBALANCE + 1
    h.heartbeat(a, 2, instance="ia")  # a lives but never rejoins
    out = h.gc.tick(h.now)
    jb = join_answer(out, rb)
    assert (jb.generation_id, jb.leader) == (3, b)
    assert [m.member_id for m in jb.members] == [a, b, "c-3"]


def test_only_absent_static_members_postpone_the_rebalance() -> None:
    """GC-19: a rebalance that times out with no member rejoined does not complete; it waits
    another rebalance timeout while sessions expire, then completes Empty (one generation)."""
    h = Harness()
    _a, b = static_pair(h, session_b=40_000)
    start = h.now
    h.join(client="c", session=40_000)
    h.leave([("c-3", None)])
    # a's session (10 s) expires first; b's (40 s) outlives the rebalance timeout (30 s).
    h.now = start + SESSION + 1
    h.gc.tick(h.now)
    assert [m.member_id for m in view_of(h).members] == [b]
    h.now = start + REBALANCE + 1
    assert h.gc.tick(h.now) == []
    view = view_of(h)
    assert (view.state, view.generation_id) == (GroupState.PREPARING_REBALANCE, 2)
    assert view.rebalance_deadline_ms == h.now + REBALANCE
    assert [m.member_id for m in view.members] == [b]
    h.now = start + 40_001
    h.gc.tick(h.now)
    view = view_of(h)
    assert (view.state, view.generation_id, view.members) == (GroupState.EMPTY, 3, ())
    assert view.static_members == ()


def test_restart_while_preparing_fences_the_old_join() -> None:
    """GC-17/GC-15: a restart during PreparingRebalance answers the old id's waiting join 82 and
    the new id waits for the rebalance like any rejoin."""
    h = Harness()
    a, b = static_pair(h)
    rc, _ = h.join(client="c")
    old_join, out = h.join(b, client="b", instance="ib")
    assert out == []
    rid, out = h.join(client="b", instance="ib")
    assert join_answer(out, old_join).error_code == 82
    assert all(o.request_id != rid for o in out)
    ra, out = h.join(a, client="a", instance="ia")
    jb, ja = join_answer(out, rid), join_answer(out, ra)
    assert (jb.error_code, jb.generation_id, jb.member_id) == (0, 3, "ib-4")
    assert [m.member_id for m in ja.members] == [a, "ib-4", "c-3"]
    assert join_answer(out, rc).generation_id == 3


def test_restart_while_completing_rebalances_again() -> None:
    """GC-17: a restart in CompletingRebalance fences the old id's waiting sync (82) and starts
    a new rebalance (the leader may be assigning to the old id); the generation is not bumped yet."""
    h = Harness()
    a, b = static_pair(h)
    h.join(client="c")
    h.join(b, client="b", instance="ib")
    _ra, out = h.join(a, client="a", instance="ia")
    assert h.state() is GroupState.COMPLETING_REBALANCE
    old_sync, out = h.sync(b, 3, instance="ib")
    assert out == []
    rid, out = h.join(client="b", instance="ib")
    assert sync_answer(out, old_sync).error_code == 82
    assert all(o.request_id != rid for o in out)
    view = view_of(h)
    assert (view.state, view.generation_id) == (GroupState.PREPARING_REBALANCE, 3)


def test_leave_by_instance_id_alone_removes_the_static_member() -> None:
    """GC-18: LeaveGroup v3+ with an instance id and an empty member id removes the member the
    instance id names; an instance id naming none gets 25."""
    h = Harness()
    a, b = static_pair(h)
    response, _ = h.leave([("", "ib"), ("", "nobody")])
    assert [(m.member_id, m.group_instance_id, m.error_code) for m in response.members] == [
        ("", "ib", 0),
        ("", "nobody", 25),
    ]
    view = view_of(h)
    assert [m.member_id for m in view.members] == [a]
    assert view.static_members == (("ia", a),)
    assert view.state is GroupState.PREPARING_REBALANCE
    assert h.heartbeat(b, 2, instance="ib") == 25


def test_static_restart_that_changes_the_protocol_choice_rebalances() -> None:
    """GC-17: a restart in Stable is answered at once only if the protocol the group would choose
    is unchanged (new metadata is kept); otherwise it rebalances."""
    both = [("range", b"r"), ("roundrobin", b"rr")]
    h = Harness()
    _a, _b = static_pair(h, protocols=both)
    rid, out = h.join(client="b", instance="ib", protocols=[("range", b"r2"), ("roundrobin", b"")])
    assert join_answer(out, rid).generation_id == 2
    [_, member_b] = view_of(h).members
    assert member_b.protocols == (("range", b"r2"), ("roundrobin", b""))
    assert h.state() is GroupState.STABLE
    rid, out = h.join(client="b", instance="ib", protocols=[("roundrobin", b"rr")])
    assert all(o.request_id != rid for o in out)
    assert h.state() is GroupState.PREPARING_REBALANCE


def test_a_refused_join_creates_no_group() -> None:
    """GC-22: a refused JoinGroup (26, 23, 25 for a made-up member id, 25 for a static member
    naming a member id) leaves no group; a join with an empty member id creates it, also when
    only answered 79 (KIP-394)."""
    h = Harness()
    rid, out = h.join(session=1, group="x")
    assert join_answer(out, rid).error_code == 26
    rid, out = h.join(protocols=[], group="x")
    assert join_answer(out, rid).error_code == 23
    for number in range(100):
        rid, out = h.join(f"stranger-{number}", group=f"x{number}")
        assert join_answer(out, rid).error_code == 25
    rid, out = h.join("stranger", group="x", instance="static-1")
    assert join_answer(out, rid).error_code == 25
    assert h.gc.group_ids() == []
    rid, out = h.join(group="x", require_known=True)
    assert join_answer(out, rid).error_code == 79
    view = h.gc.describe("x")
    assert view is not None and view.state is GroupState.EMPTY and view.members == ()
    assert h.gc.group_ids() == ["x"]


def test_join_precedence_protocol_before_fencing_and_session_kept() -> None:
    """GC-21: a join naming a known member with incompatible protocols gets 23, and its session
    restarts anyway (GC-9); a zombie with incompatible protocols gets 23 rather than 82."""
    h = Harness()
    a, _b = stable_pair(h)
    h.now += 5_000
    rid, out = h.join(a, client="a", protocols=[("sticky", b"s")])
    assert join_answer(out, rid).error_code == 23
    [member_a, _] = view_of(h).members
    assert member_a.session_deadline_ms == h.now + SESSION
    h2 = Harness()
    old, _ = static_pair(h2)
    h2.join(client="a", instance="ia")  # restart: `old` is now a zombie
    rid, out = h2.join(old, client="a", instance="ia", protocols=[("sticky", b"s")])
    assert join_answer(out, rid).error_code == 23
    rid, out = h2.join(old, client="a", instance="ia")
    assert join_answer(out, rid).error_code == 82


def test_leader_assignment_repeated_for_one_member_keeps_the_last() -> None:
    """GC-23: of two entries for one member in the leader's assignments the last counts, and
    entries for non-members are dropped."""
    h = Harness()
    ra, out = h.join(client="a")
    a = join_answer(out, ra).member_id
    rs, out = h.sync(a, 1, [(a, b"first"), ("ghost-1", b"g"), (a, b"last")])
    assert sync_answer(out, rs).assignment == b"last"
    assert view_of(h).assignments == ((a, b"last"),)
