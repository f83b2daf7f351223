"""The consumer group protocol coordinator (KIP-848), by hand-written scenarios with a fake clock
(spec/consumer-group-protocol.md CG-1..CG-19).

Expected codes are Kafka's numbers and expected assignments are worked out by hand here, never
read from flyq.groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest

from flyq.errors import InvalidArgument
from flyq.groups import (
    ConsumerCoordinator,
    ConsumerGroupState,
    ConsumerHeartbeatResponse,
    MemberState,
    range_assign,
    uniform_assign,
)

REBALANCE = 30_000
SESSION = 45_000
TOPICS = {"t": 6}


def parts(*ps: int) -> frozenset[int]:
    return frozenset(ps)


class Harness:
    """A coordinator and a fake clock; `topics` is what exists on the broker."""

    def __init__(self, **settings: int) -> None:
        self.cc = ConsumerCoordinator(**settings)
        self.now = 1_000
        self.topics: dict[str, int] = dict(TOPICS)

    def join(
        self,
        member_id: str,
        subscribed: Iterable[str] = ("t",),
        *,
        instance_id: str | None = None,
        assignor: str | None = None,
        rebalance: int = REBALANCE,
        require_member_id: bool = False,
        group: str = "g",
    ) -> ConsumerHeartbeatResponse:
        return self.cc.heartbeat(
            self.now,
            group_id=group,
            member_id=member_id,
            member_epoch=0,
            topics=self.topics,
            instance_id=instance_id,
            rebalance_timeout_ms=rebalance,
            subscribed_topic_names=list(subscribed),
            server_assignor=assignor,
            owned={},
            require_member_id=require_member_id,
        )

    def beat(
        self,
        member_id: str,
        epoch: int,
        owned: Mapping[str, frozenset[int]] | None = None,
        *,
        instance_id: str | None = None,
        subscribed: Iterable[str] | None = None,
        group: str = "g",
    ) -> ConsumerHeartbeatResponse:
        return self.cc.heartbeat(
            self.now,
            group_id=group,
            member_id=member_id,
            member_epoch=epoch,
            topics=self.topics,
            instance_id=instance_id,
            subscribed_topic_names=None if subscribed is None else list(subscribed),
            owned=owned,
        )

    def state(self, group: str = "g") -> ConsumerGroupState:
        view = self.cc.describe(group)
        assert view is not None
        return view.state

    def member(self, member_id: str, group: str = "g") -> tuple[int, MemberState]:
        view = self.cc.describe(group)
        assert view is not None
        m = next(m for m in view.members if m.member_id == member_id)
        return m.member_epoch, m.state


# ------------------------------------------------------------------ joining and epochs


def test_first_member_gets_everything_at_epoch_one() -> None:
    """CG-5, CG-7, CG-12: the first join bumps the group epoch 0 -> 1; the lone member gets all
    six partitions at once and is Stable."""
    h = Harness()
    r = h.join("a")
    assert (r.error_code, r.member_id, r.member_epoch) == (0, "a", 1)
    assert r.heartbeat_interval_ms == 5_000
    assert r.assignment == {"t": parts(0, 1, 2, 3, 4, 5)}
    assert h.state() is ConsumerGroupState.STABLE


def test_server_generates_member_id_when_empty_in_v0() -> None:
    """CG-6: an empty member id at epoch 0 gets a fresh id from the coordinator; two such joins
    get different ids."""
    h = Harness()
    a = h.join("")
    b = h.join("")
    assert a.error_code == b.error_code == 0
    assert a.member_id and b.member_id and a.member_id != b.member_id


def test_v1_requires_a_client_generated_member_id() -> None:
    """CG-4: with require_member_id (ConsumerGroupHeartbeat v1) an empty member id is
    INVALID_REQUEST (42), and no group is created."""
    h = Harness()
    r = h.join("", require_member_id=True)
    assert r.error_code == 42
    assert h.cc.describe("g") is None


def test_second_member_waits_for_revocation_then_gets_its_half() -> None:
    """CG-10, CG-11, CG-12, CG-13: b joins (epoch 2); a must first revoke 3..5 (its epoch stays
    1); b is at epoch 2 but gets nothing until a says it revoked; then b gets 3..5."""
    h = Harness()
    h.join("a")
    h.now += 10
    b = h.join("b")
    assert (b.member_epoch, b.assignment) == (2, {})
    assert h.member("b") == (2, MemberState.UNRELEASED_PARTITIONS)
    assert h.state() is ConsumerGroupState.RECONCILING
    h.now += 10
    a = h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)})
    assert (a.member_epoch, a.assignment) == (1, {"t": parts(0, 1, 2)})
    assert h.member("a") == (1, MemberState.UNREVOKED_PARTITIONS)
    h.now += 10
    b = h.beat("b", 2, {})
    assert b.assignment is None  # still nothing new for b: a has not revoked
    h.now += 10
    a = h.beat("a", 1, {"t": parts(0, 1, 2)})
    assert (a.member_epoch, a.assignment) == (2, None)
    h.now += 10
    b = h.beat("b", 2, {})
    assert (b.member_epoch, b.assignment) == (2, {"t": parts(3, 4, 5)})
    h.now += 10
    h.beat("b", 2, {"t": parts(3, 4, 5)})
    assert h.state() is ConsumerGroupState.STABLE


def test_owned_none_means_not_yet_revoked() -> None:
    """CG-10: a heartbeat without owned partitions (unchanged) keeps the member revoking."""
    h = Harness()
    h.join("a")
    h.join("b")
    h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)})
    r = h.beat("a", 1, None)
    assert r.member_epoch == 1
    assert h.member("a") == (1, MemberState.UNREVOKED_PARTITIONS)


def test_subscription_change_bumps_group_epoch_once() -> None:
    """CG-5: a changed subscription bumps the group epoch by one; the same subscription again
    does not."""
    h = Harness()
    h.topics["u"] = 2
    h.join("a")
    r = h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)}, subscribed=["t", "u"])
    assert r.member_epoch == 2
    assert r.assignment == {"t": parts(0, 1, 2, 3, 4, 5), "u": parts(0, 1)}
    r = h.beat("a", 2, None, subscribed=["u", "t"])
    view = h.cc.describe("g")
    assert view is not None and view.group_epoch == 2


def test_new_partitions_bump_epoch_and_are_assigned() -> None:
    """CG-5, CG-7: a subscribed topic growing from 6 to 8 partitions bumps the group epoch at the
    next heartbeat, and the new partitions are assigned."""
    h = Harness()
    h.join("a")
    h.topics["t"] = 8
    r = h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)})
    assert r.member_epoch == 2
    assert r.assignment == {"t": parts(0, 1, 2, 3, 4, 5, 6, 7)}


def test_topic_created_after_subscribing_is_assigned() -> None:
    """CG-5, CG-7: subscribing to a topic that does not exist yet assigns nothing; its creation
    is noticed at the next heartbeat."""
    h = Harness()
    h.join("a", ["later"])
    assert h.member("a")[0] == 1
    h.topics["later"] = 2
    r = h.beat("a", 1, {})
    assert (r.member_epoch, r.assignment) == (2, {"later": parts(0, 1)})


# ------------------------------------------------------------------ errors and fencing


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"group_id": ""}, 42),
        ({"instance_id": ""}, 42),
        ({"rack_id": ""}, 42),
        ({"rebalance_timeout_ms": -1}, 42),
        ({"owned": None}, 42),
        ({"owned": {"t": parts(1)}}, 42),
        ({"subscribed_topic_names": None}, 42),
        ({"subscribed_topic_names": []}, 42),
        ({"member_epoch": -3}, 42),
        ({"server_assignor": "sticky"}, 112),
    ],
)
def test_invalid_joins(fields: dict[str, object], code: int) -> None:
    """CG-4: Kafka's validation of a join: INVALID_REQUEST (42) or UNSUPPORTED_ASSIGNOR (112),
    with a message, and nothing created."""
    cc = ConsumerCoordinator()
    request: dict[str, object] = {
        "group_id": "g",
        "member_id": "a",
        "member_epoch": 0,
        "topics": TOPICS,
        "rebalance_timeout_ms": REBALANCE,
        "subscribed_topic_names": ["t"],
        "owned": {},
    }
    request.update(fields)
    r = cc.heartbeat(0, **request)  # type: ignore[arg-type]
    assert r.error_code == code
    assert r.error_message
    assert cc.group_ids() == []


def test_unknown_group_and_member() -> None:
    """CG-6: a heartbeat at epoch > 0 to an unknown group (as after a broker restart) or from an
    unknown member of a known group is UNKNOWN_MEMBER_ID (25), so that the client rejoins."""
    h = Harness()
    assert h.beat("a", 3, {}).error_code == 25
    h.join("a")
    assert h.beat("zz", 1, {}).error_code == 25


def test_fenced_epochs() -> None:
    """CG-6: a greater epoch is FENCED_MEMBER_EPOCH (110); a smaller one too, unless it is the
    member's previous epoch and it owns a subset of its assignment (a lost response)."""
    h = Harness()
    h.join("a")
    h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)}, subscribed=["t"])
    h.topics["t"] = 7
    r = h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)})
    assert r.member_epoch == 2
    assert h.beat("a", 3, {}).error_code == 110
    # Previous epoch 1, owning a subset of its assignment: accepted (the answer was lost).
    assert h.beat("a", 1, {"t": parts(0, 1)}).error_code == 0
    # Previous epoch but owned not said: fenced.
    assert h.beat("a", 1, None).error_code == 110
    # Owning something it was never given: fenced.
    h.topics["u"] = 1
    assert h.beat("a", 1, {"u": parts(0)}).error_code == 110


def test_rejoin_at_epoch_zero_starts_over() -> None:
    """CG-6: a known member joining again at epoch 0 (after being fenced) owns nothing and is
    reconciled from scratch; it gets the current assignment epoch."""
    h = Harness()
    h.join("a")
    r = h.join("a")
    assert (r.error_code, r.member_epoch, r.assignment) == (0, 1, {"t": parts(0, 1, 2, 3, 4, 5)})


# ------------------------------------------------------------------ leaving and timers


def test_leave_bumps_epoch_and_frees_partitions() -> None:
    """CG-16, CG-5: a leave (epoch -1) is answered with epoch -1, the group epoch grows, and the
    remaining member gets everything at the next heartbeat."""
    h = Harness()
    h.join("a")
    h.join("b")
    h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)})
    h.beat("a", 1, {"t": parts(0, 1, 2)})
    h.beat("b", 2, {})
    r = h.beat("b", -1, None)
    assert (r.error_code, r.member_id, r.member_epoch) == (0, "b", -1)
    view = h.cc.describe("g")
    assert view is not None and view.group_epoch == 3
    assert h.state() is ConsumerGroupState.ASSIGNING
    r = h.beat("a", 2, {"t": parts(0, 1, 2)})
    assert (r.member_epoch, r.assignment) == (3, {"t": parts(0, 1, 2, 3, 4, 5)})


def test_leave_errors() -> None:
    """CG-16: leaving an unknown group, or as an unknown member, is 25."""
    h = Harness()
    assert h.beat("a", -1).error_code == 25
    h.join("a")
    assert h.beat("b", -1).error_code == 25


def test_last_leave_empties_the_group() -> None:
    """CG-3: without members the group is Empty (and kept)."""
    h = Harness()
    h.join("a")
    h.beat("a", -1)
    assert h.state() is ConsumerGroupState.EMPTY
    assert h.cc.group_ids() == ["g"]


def test_session_expires_strictly_after_deadline() -> None:
    """CG-17: a member is removed by tick only when now > last heartbeat + session timeout;
    next_deadline is that deadline plus one."""
    h = Harness(session_timeout_ms=10_000, heartbeat_interval_ms=1_000)
    h.join("a")
    deadline = h.now + 10_000
    assert h.cc.next_deadline() == deadline + 1
    assert h.cc.tick(deadline) == []
    assert h.state() is ConsumerGroupState.STABLE
    assert h.cc.tick(deadline + 1) == [("g", "a")]
    assert h.state() is ConsumerGroupState.EMPTY
    assert h.cc.next_deadline() is None


def test_heartbeat_restarts_session() -> None:
    """CG-17: each heartbeat moves the session deadline to now + session timeout."""
    h = Harness(session_timeout_ms=10_000, heartbeat_interval_ms=1_000)
    h.join("a")
    h.now += 9_000
    h.beat("a", 1, None)
    assert h.cc.tick(h.now + 10_000) == []
    assert h.cc.tick(h.now + 10_001) == [("g", "a")]


def test_member_that_does_not_revoke_is_removed_after_rebalance_timeout() -> None:
    """CG-18: a member asked to revoke that keeps heartbeating without revoking is removed once
    now > the time it was asked + its rebalance timeout; then the waiting member gets all."""
    h = Harness(session_timeout_ms=60_000, heartbeat_interval_ms=1_000)
    h.join("a", rebalance=5_000)
    h.join("b")
    h.now += 1
    asked = h.now
    h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)})
    h.now += 4_000
    h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)})
    assert h.cc.tick(asked + 5_000) == []
    assert h.cc.tick(asked + 5_001) == [("g", "a")]
    h.now = asked + 5_001
    r = h.beat("b", 2, {})  # epochs: a joined 1, b joined 2, a removed 3
    assert (r.member_epoch, r.assignment) == (3, {"t": parts(0, 1, 2, 3, 4, 5)})


def test_time_going_back_is_a_caller_error() -> None:
    """CG-1: now_ms smaller than an earlier one raises InvalidArgument."""
    h = Harness()
    h.join("a")
    with pytest.raises(InvalidArgument):
        h.cc.tick(h.now - 1)


# ------------------------------------------------------------------ static membership


def test_static_member_temporary_leave_and_replacement() -> None:
    """CG-16: a static member leaving with epoch -2 keeps its partitions; a new member id with the
    same instance id takes them over without a group epoch bump."""
    h = Harness()
    h.join("a", instance_id="i1")
    r = h.beat("a", -2, None, instance_id="i1")
    assert (r.error_code, r.member_epoch) == (0, -2)
    view = h.cc.describe("g")
    assert view is not None and view.group_epoch == 1
    r = h.join("a2", instance_id="i1")
    assert (r.error_code, r.member_id, r.member_epoch) == (0, "a2", 1)
    assert r.assignment == {"t": parts(0, 1, 2, 3, 4, 5)}
    view = h.cc.describe("g")
    assert view is not None and view.group_epoch == 1
    assert [m.member_id for m in view.members] == ["a2"]


def test_static_instance_in_use() -> None:
    """CG-16: joining with the instance id of a live member is UNRELEASED_INSTANCE_ID (111); a
    heartbeat naming that instance with another member id is FENCED_INSTANCE_ID (82)."""
    h = Harness()
    h.join("a", instance_id="i1")
    assert h.join("b", instance_id="i1").error_code == 111
    assert h.beat("b", 1, {}, instance_id="i1").error_code == 82


# ------------------------------------------------------------------ commits


def test_check_commit() -> None:
    """CG-19: a consumer-group commit needs a known member (25) at its current epoch (113), and
    OffsetCommit v9+ (35); epoch -1 commits only to a group without members."""
    h = Harness()
    assert h.cc.check_commit("g", "", -1) == 0
    h.join("a")
    assert h.cc.check_commit("g", "a", 1) == 0
    assert h.cc.check_commit("g", "a", 0) == 113
    assert h.cc.check_commit("g", "x", 1) == 25
    assert h.cc.check_commit("g", "", -1) == 25
    assert h.cc.check_commit("g", "a", 1, api_version=8) == 35
    assert h.cc.check_fetch("g", None, -1) == 0
    assert h.cc.check_fetch("g", "a", 2) == 113
    assert h.cc.check_fetch("g", "x", 1) == 25


# ------------------------------------------------------------------ assignors


def test_uniform_is_balanced_and_sticky() -> None:
    """CG-7: uniform with identical subscriptions: counts differ by at most one, and a member
    joining takes partitions only from the members above the new quota."""
    subs = {"a": ("t",), "b": ("t",)}
    first = uniform_assign(subs, {"t": 6}, {})
    assert sorted(len(first[m]["t"]) for m in subs) == [3, 3]
    subs3 = {"a": ("t",), "b": ("t",), "c": ("t",)}
    second = uniform_assign(subs3, {"t": 6}, first)
    assert sorted(len(second[m].get("t", frozenset())) for m in subs3) == [2, 2, 2]
    assert second["a"]["t"] <= first["a"]["t"]
    assert second["b"]["t"] <= first["b"]["t"]


def test_uniform_respects_subscriptions() -> None:
    """CG-7: a partition goes only to a member subscribed to its topic; every one is assigned."""
    subs = {"a": ("t",), "b": ("t", "u")}
    out = uniform_assign(subs, {"t": 2, "u": 4}, {})
    assert "u" not in out["a"]
    assert out["b"]["u"] == parts(0, 1, 2, 3)
    assert out["a"].get("t", frozenset()) | out["b"].get("t", frozenset()) == parts(0, 1)


def test_range_assignor_contiguous_ranges() -> None:
    """CG-7: range gives each subscriber sorted by member id a contiguous range, the first
    `7 % 3` members one more: a 0..2, b 3..4, c 5..6."""
    subs = {"c": ("t",), "a": ("t",), "b": ("t",)}
    out = range_assign(subs, {"t": 7}, {})
    assert out == {"a": {"t": parts(0, 1, 2)}, "b": {"t": parts(3, 4)}, "c": {"t": parts(5, 6)}}


def test_group_uses_range_when_asked() -> None:
    """CG-7: the group's assignor is the one its members ask for."""
    h = Harness()
    h.join("b", assignor="range")
    view = h.cc.describe("g")
    assert view is not None and view.assignor_name == "range"


def test_only_the_previous_epoch_is_forgiven() -> None:
    """CG-6: an epoch older than the member's previous one is 110 even when what it owns is
    within its assignment."""
    h = Harness()
    h.join("a")  # epoch 1
    for count in (7, 8):  # two growths: epoch 2 (previous 1), then 3 (previous 2)
        h.topics["t"] = count
        h.beat("a", count - 6, {"t": parts(0)})
    assert h.member("a")[0] == 3
    assert h.beat("a", 1, {"t": parts(0)}).error_code == 110
    assert h.beat("a", 2, {"t": parts(0)}).error_code == 0


def test_range_puts_static_members_first_by_instance_id() -> None:
    """CG-7: range orders members with an instance id first, by instance id: "z" (instance i1)
    takes 0..1 before "a" (instance i2) takes 2..3, then dynamic "b" takes 4..5."""
    subs = {"a": ("t",), "b": ("t",), "z": ("t",)}
    out = range_assign(subs, {"t": 6}, {}, {"a": "i2", "b": None, "z": "i1"})
    assert out == {"z": {"t": parts(0, 1)}, "a": {"t": parts(2, 3)}, "b": {"t": parts(4, 5)}}


def test_subscription_change_alone_bumps_the_epoch() -> None:
    """CG-5: a member changing its subscription bumps the group epoch even when the group's set
    of subscribed topics (and so its metadata) stays the same."""
    h = Harness()
    h.topics["u"] = 2
    h.join("a", ["t"])  # epoch 1
    h.join("b", ["t", "u"])  # epoch 2
    h.beat("a", 1, None, subscribed=["t", "u"])
    view = h.cc.describe("g")
    assert view is not None and view.group_epoch == 3


def test_member_that_already_let_go_skips_revoking() -> None:
    """CG-10: a member whose owned partitions already exclude what it must give up moves straight
    to the new epoch, without passing through unrevoked partitions."""
    h = Harness()
    h.join("a")
    h.join("b")
    r = h.beat("a", 1, {"t": parts(0, 1, 2)})
    assert (r.member_epoch, r.assignment) == (2, {"t": parts(0, 1, 2)})
    assert h.member("a") == (2, MemberState.STABLE)


def test_assignor_tie_goes_to_uniform() -> None:
    """CG-7: one member asking for range and one for uniform: the tie goes to uniform."""
    h = Harness()
    h.join("a", assignor="range")
    h.join("b", assignor="uniform")
    view = h.cc.describe("g")
    assert view is not None and view.assignor_name == "uniform"


def test_full_heartbeat_always_carries_the_assignment() -> None:
    """CG-15: a heartbeat giving rebalance timeout, subscription and owned partitions gets the
    assignment even when nothing changed; one giving only the epoch gets none."""
    h = Harness()
    h.join("a")
    full = h.cc.heartbeat(
        h.now,
        group_id="g",
        member_id="a",
        member_epoch=1,
        topics=h.topics,
        rebalance_timeout_ms=REBALANCE,
        subscribed_topic_names=["t"],
        owned={"t": parts(0, 1, 2, 3, 4, 5)},
    )
    assert full.assignment == {"t": parts(0, 1, 2, 3, 4, 5)}
    assert h.beat("a", 1, None).assignment is None


def test_removal_bumps_once_even_when_a_topic_leaves_the_subscriptions() -> None:
    """CG-5: a member leaving bumps the group epoch once, also when it was the only subscriber of
    a topic (the metadata change is part of the same bump)."""
    h = Harness()
    h.topics["u"] = 2
    h.join("a", ["t"])  # 1
    h.join("b", ["u"])  # 2
    h.beat("b", -1)  # 3
    r = h.beat("a", 1, {"t": parts(0, 1, 2, 3, 4, 5)})
    assert r.member_epoch == 3
    view = h.cc.describe("g")
    assert view is not None and view.group_epoch == 3
