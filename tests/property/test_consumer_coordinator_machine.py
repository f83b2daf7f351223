"""The consumer group protocol coordinator driven by KIP-848 clients (spec/consumer-group-protocol.md).

A few clients, some static (with an instance id), join, heartbeat, apply what they are told
(possibly late, as a slow revocation callback would), change their subscriptions, leave (static
ones also for a while, epoch -2, coming back under a new member id), crash and restart, while the
clock moves in small steps and big jumps and topics grow partitions. After every step: no
partition is held by two members in the coordinator's view (CG-13), no partition is owned by two
clients that are still members, each member owns only what the coordinator assigned to it or has
yet to revoke (CG-10), epochs never go backwards (CG-5, CG-12), and no member outlives its
deadlines, nor is removed before them (CG-17, CG-18). `settle` keeps every live client
heartbeating until the group must be Stable, then checks that every subscribed partition is
assigned to exactly one member, which owns it (CG-14).
"""

from __future__ import annotations

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from flyq.groups import (
    ConsumerCoordinator,
    ConsumerGroupState,
    ConsumerHeartbeatResponse,
    MemberState,
)

GROUP = "g"
SESSION = 6_000
INTERVAL = 1_000
REBALANCES = (3_000, 5_000, 8_000)
SUBSCRIPTIONS = (("t",), ("t", "u"), ("u",))

Owned = dict[str, frozenset[int]]


@attrs.define
class Client:
    """What a consumer knows about itself."""

    name: str
    subscribed: tuple[str, ...]
    rebalance_ms: int
    generates_id: bool  # v1: the client makes its member id; v0: the coordinator does
    instance_id: str | None = None  # a static member's group.instance.id
    assignor: str | None = None  # group.remote.assignor
    incarnation: int = 0
    member_id: str = ""
    epoch: int = 0
    active: bool = False  # wants to be in the group (joined, not left)
    crashed: bool = False
    owned: Owned = attrs.Factory(dict)
    told: Owned | None = None  # the latest assignment, not yet applied
    sent_owned: Owned | None = None
    last_ok: int = 0  # when the coordinator last accepted a heartbeat from this member

    def release(self) -> None:
        self.owned = {}
        self.told = None
        self.sent_owned = None
        self.epoch = 0


def _flat(owned: Owned) -> set[tuple[str, int]]:
    return {(t, p) for t, ps in owned.items() for p in ps}


class ConsumerCoordinatorMachine(RuleBasedStateMachine):
    """Random KIP-848 clients against one ConsumerCoordinator."""

    def __init__(self) -> None:
        super().__init__()
        self.cc = ConsumerCoordinator(session_timeout_ms=SESSION, heartbeat_interval_ms=INTERVAL)
        self.now = 0
        self.topics = {"t": 3, "u": 2}
        self.clients: list[Client] = []
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.member_epochs: dict[str, int] = {}

    @initialize(
        specs=st.lists(
            st.tuples(
                st.sampled_from(SUBSCRIPTIONS),
                st.sampled_from(REBALANCES),
                st.booleans(),
                st.booleans(),
                st.sampled_from((None, "uniform", "range")),
            ),
            min_size=1,
            max_size=4,
        )
    )
    def make_clients(self, specs: list[tuple[tuple[str, ...], int, bool, bool, str | None]]) -> None:
        """Create the clients: subscriptions, timeouts, maybe an instance id and an assignor."""
        self.clients = [
            Client(f"c{i}", s, r, g, f"instance-{i}" if static else None, assignor)
            for i, (s, r, g, static, assignor) in enumerate(specs)
        ]

    # ------------------------------------------------------------ plumbing

    def members(self) -> set[str]:
        view = self.cc.describe(GROUP)
        return set() if view is None else {m.member_id for m in view.members}

    def send(self, client: Client, epoch: int, full: bool) -> ConsumerHeartbeatResponse:
        owned: Owned | None = dict(client.owned)
        if not full and epoch != 0 and owned == client.sent_owned:
            owned = None
        joining = epoch == 0
        r = self.cc.heartbeat(
            self.now,
            group_id=GROUP,
            member_id=client.member_id,
            member_epoch=epoch,
            topics=self.topics,
            instance_id=client.instance_id,
            rebalance_timeout_ms=client.rebalance_ms if (joining or full) else -1,
            subscribed_topic_names=client.subscribed if (joining or full) else None,
            server_assignor=client.assignor if (joining or full) else None,
            owned={} if joining else owned,
            require_member_id=client.generates_id,
        )
        if epoch == 0:
            self.member_epochs.pop(r.member_id or client.member_id, None)
        if r.error_code == 0:
            if owned is not None:
                client.sent_owned = owned
            if epoch >= 0:
                assert r.member_id is not None
                if client.epoch > 0 and epoch != 0:
                    assert r.member_epoch >= client.epoch, (r, client)  # CG-12
                client.member_id = r.member_id
                client.epoch = r.member_epoch
                client.last_ok = self.now
                if r.assignment is not None:
                    client.told = dict(r.assignment)
        else:
            # CG-6, CG-16: fenced or forgotten: give up everything and join again; a static
            # member whose instance is still held (111) tries again later.
            assert r.error_code in (25, 110, 82, 111), r
            assert r.error_code != 111 or epoch == 0, r
            client.release()
        return r

    def join(self, client: Client, new_id: bool = False) -> None:
        if new_id:
            client.member_id = ""
        if client.generates_id and not client.member_id:
            client.incarnation += 1
            client.member_id = f"{client.name}-{client.incarnation}"
        client.release()
        client.active = True
        self.send(client, 0, True)

    def apply(self, client: Client) -> None:
        if client.told is not None:
            client.owned = client.told
            client.told = None

    def advance(self, ms: int) -> None:
        """Move the clock and fire the timers; check who went and who stayed (CG-17, CG-18)."""
        self.now += ms
        before = self.cc.describe(GROUP)
        removed = set(m for _, m in self.cc.tick(self.now))
        if before is None:
            assert not removed
            return
        for m in before.members:
            due = self.now > m.session_deadline_ms or (
                m.revocation_deadline_ms is not None and self.now > m.revocation_deadline_ms
            )
            assert (m.member_id in removed) == due, (m, self.now)
            if due:
                # The client learns of it at its next heartbeat; until then it is a zombie that
                # the checks below no longer count as a member.
                self.member_epochs.pop(m.member_id, None)

    # ------------------------------------------------------------ rules

    @rule(data=st.data())
    def join_rule(self, data: st.DataObject) -> None:
        """A client that is not in the group joins (epoch 0)."""
        idle = [c for c in self.clients if not c.active and not c.crashed]
        if idle:
            self.join(data.draw(st.sampled_from(idle)))

    @rule(data=st.data(), full=st.booleans(), apply_first=st.booleans())
    def heartbeat(self, data: st.DataObject, full: bool, apply_first: bool) -> None:
        """An active client heartbeats with what it owns, maybe after applying what it was told."""
        active = [c for c in self.clients if c.active and not c.crashed]
        if not active:
            return
        client = data.draw(st.sampled_from(active))
        if apply_first:
            self.apply(client)
        if client.epoch <= 0:
            self.join(client)
        else:
            self.send(client, client.epoch, full)

    @rule(data=st.data())
    def apply_rule(self, data: st.DataObject) -> None:
        """A client finishes its rebalance callback: it now owns what it was last told."""
        told = [c for c in self.clients if c.told is not None and not c.crashed]
        if told:
            self.apply(data.draw(st.sampled_from(told)))

    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        """An active client leaves (epoch -1), giving up its partitions."""
        active = [c for c in self.clients if c.active and not c.crashed and c.epoch > 0]
        if not active:
            return
        client = data.draw(st.sampled_from(active))
        r = self.cc.heartbeat(
            self.now,
            group_id=GROUP,
            member_id=client.member_id,
            member_epoch=-1,
            topics=self.topics,
        )
        assert r.error_code in (0, 25), r
        assert r.error_code == 25 or r.member_epoch == -1
        self.member_epochs.pop(client.member_id, None)
        client.release()
        client.active = False
        if client.generates_id:
            client.member_id = ""

    @rule(data=st.data())
    def static_leave(self, data: st.DataObject) -> None:
        """CG-16: a static client leaves for a while (epoch -2); it will come back as a new member
        id with the same instance id."""
        active = [
            c
            for c in self.clients
            if c.active and not c.crashed and c.epoch > 0 and c.instance_id is not None
        ]
        if not active:
            return
        client = data.draw(st.sampled_from(active))
        r = self.cc.heartbeat(
            self.now,
            group_id=GROUP,
            member_id=client.member_id,
            member_epoch=-2,
            topics=self.topics,
            instance_id=client.instance_id,
        )
        assert r.error_code in (0, 25, 82), r
        assert r.error_code != 0 or r.member_epoch == -2
        self.member_epochs.pop(client.member_id, None)
        client.release()
        client.active = False

    @rule(data=st.data())
    def static_return(self, data: st.DataObject) -> None:
        """A static client that left for a while comes back under a new member id."""
        away = [c for c in self.clients if not c.active and not c.crashed and c.instance_id is not None]
        if away:
            self.join(data.draw(st.sampled_from(away)), new_id=True)

    @rule(data=st.data(), subscribed=st.sampled_from(SUBSCRIPTIONS))
    def resubscribe(self, data: st.DataObject, subscribed: tuple[str, ...]) -> None:
        """An active client changes its subscription (a full heartbeat)."""
        active = [c for c in self.clients if c.active and not c.crashed and c.epoch > 0]
        if active:
            client = data.draw(st.sampled_from(active))
            client.subscribed = subscribed
            self.send(client, client.epoch, full=True)

    @rule(data=st.data())
    def crash(self, data: st.DataObject) -> None:
        """A client dies: it stops heartbeating and consuming."""
        alive = [c for c in self.clients if not c.crashed]
        if alive:
            client = data.draw(st.sampled_from(alive))
            client.crashed = True
            client.release()

    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        """A crashed client comes back as a new process (a new member id)."""
        dead = [c for c in self.clients if c.crashed]
        if dead:
            client = data.draw(st.sampled_from(dead))
            client.crashed = False
            client.active = False
            client.member_id = ""

    @rule(ms=st.integers(0, INTERVAL))
    def small_step(self, ms: int) -> None:
        """Time passes a little."""
        self.advance(ms)

    @rule(ms=st.integers(INTERVAL, 2 * SESSION))
    def jump(self, ms: int) -> None:
        """The clock jumps (a GC pause, a suspended laptop)."""
        self.advance(ms)

    @rule(topic=st.sampled_from(("t", "u")), more=st.integers(1, 2))
    def grow(self, topic: str, more: int) -> None:
        """A topic gets more partitions."""
        self.topics[topic] += more

    @rule()
    def settle(self) -> None:
        """CG-14: live clients keep heartbeating and applying; the group becomes Stable with every
        subscribed partition assigned once and owned by its member."""
        for _ in range(SESSION // INTERVAL + 12):
            self.advance(INTERVAL)
            for client in self.clients:
                if client.crashed:
                    continue
                self.apply(client)
                if not client.active:
                    continue
                if client.epoch <= 0:
                    self.join(client)
                else:
                    self.send(client, client.epoch, full=False)
        view = self.cc.describe(GROUP)
        live = [c for c in self.clients if c.active and not c.crashed]
        if view is None or not live:
            return
        assert view.state is ConsumerGroupState.STABLE, view
        assert {m.member_id for m in view.members} == {c.member_id for c in live}
        subscribed = {t for c in live for t in c.subscribed if t in self.topics}
        expected = {(t, p) for t in subscribed for p in range(self.topics[t])}
        seen: list[tuple[str, int]] = []
        by_id = {c.member_id: c for c in live}
        for m in view.members:
            assert m.state is MemberState.STABLE and m.member_epoch == view.assignment_epoch
            assert m.assigned == m.target
            assert set(m.assigned) <= set(by_id[m.member_id].subscribed)
            assert by_id[m.member_id].owned == {t: ps for t, ps in m.assigned.items() if ps}
            seen.extend(_flat(m.assigned))
        assert sorted(seen) == sorted(expected)

    # ------------------------------------------------------------ invariants

    @invariant()
    def no_partition_held_twice(self) -> None:
        """CG-13: no partition in two members' assigned-or-revoking sets."""
        view = self.cc.describe(GROUP)
        if view is None:
            return
        held: set[tuple[str, int]] = set()
        for m in view.members:
            mine = _flat(dict(m.assigned)) | _flat(dict(m.pending_revocation))
            assert not (held & mine), (m, held)
            held |= mine

    @invariant()
    def no_partition_owned_twice(self) -> None:
        """CG-10, CG-13: clients that are members own disjoint sets, within their holdings."""
        view = self.cc.describe(GROUP)
        if view is None:
            return
        holdings = {
            m.member_id: _flat(dict(m.assigned)) | _flat(dict(m.pending_revocation))
            for m in view.members
        }
        owned: set[tuple[str, int]] = set()
        for client in self.clients:
            if client.crashed or client.member_id not in holdings or client.epoch <= 0:
                continue
            mine = _flat(client.owned)
            assert mine <= holdings[client.member_id], (client, holdings)
            assert not (owned & mine), (client, owned)
            owned |= mine

    @invariant()
    def epochs_never_go_back(self) -> None:
        """CG-5, CG-8, CG-12: group and assignment epochs grow; a member's epoch grows within
        one incarnation and never passes the assignment epoch."""
        view = self.cc.describe(GROUP)
        if view is None:
            return
        assert view.group_epoch >= self.group_epoch
        assert view.assignment_epoch >= self.assignment_epoch
        assert view.assignment_epoch <= view.group_epoch
        self.group_epoch = view.group_epoch
        self.assignment_epoch = view.assignment_epoch
        for m in view.members:
            assert m.member_epoch <= view.assignment_epoch
            # A new incarnation (or a static member away, -2) starts the record over.
            assert m.member_epoch >= self.member_epochs.get(m.member_id, -2), m
            self.member_epochs[m.member_id] = m.member_epoch

    @invariant()
    def members_within_their_session(self) -> None:
        """CG-17: every member's session deadline is its last accepted heartbeat + the session
        timeout; after a tick none is past it."""
        view = self.cc.describe(GROUP)
        if view is None:
            return
        last = {c.member_id: c.last_ok for c in self.clients if not c.crashed}
        for m in view.members:
            if m.member_id in last:
                assert m.session_deadline_ms == last[m.member_id] + SESSION, (m, last)
            if m.state is MemberState.UNREVOKED_PARTITIONS:
                assert m.revocation_deadline_ms is not None
            else:
                assert m.revocation_deadline_ms is None


TestConsumerCoordinatorMachine = ConsumerCoordinatorMachine.TestCase
