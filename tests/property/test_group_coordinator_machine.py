"""The classic group coordinator driven by protocol-following clients (spec/group-coordinator.md).

A few clients join, sync, heartbeat and leave as a Kafka consumer does (eager protocol: a client
gives up its partitions when it (re)joins; the leader assigns partitions 0..N-1 round robin), while
the clock jumps. Some clients are static (a `group_instance_id`, KIP-345) and may restart: the
process dies without leaving and a new incarnation joins with the same instance id and no member
id; the dead incarnation (a zombie) keeps the partitions it thought it owned. After every step:
only one generation's holders can commit, zombies included (GC-13), no partition has two owners
among them (GC-14), every answered request was answered once (GC-15), sessions are within their
deadline (GC-10), generations only grow (GC-4), each state's shape holds (GC-1), an instance id
names at most one member and a member at most one instance id (GC-16), and a replaced member id
can never commit (GC-18).
"""

from __future__ import annotations

import attrs
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from flyq.groups import (
    ClassicCoordinator,
    GroupState,
    HeartbeatResponse,
    JoinGroupResponse,
    LeaveGroupResponse,
    Outcome,
    SyncGroupResponse,
)

GROUP = "g"
PARTITIONS = 6
SESSIONS = (6_000, 8_000, 10_000)
REBALANCES = (7_000, 12_000, 20_000)
PROTOCOLS = [("range", b"m")]


def encode(partitions: frozenset[int]) -> bytes:
    return bytes(sorted(partitions))


def decode(data: bytes) -> frozenset[int]:
    return frozenset(data)


@attrs.define
class Client:
    """What a consumer knows about itself."""

    name: str
    session_ms: int
    rebalance_ms: int
    member_id: str = ""
    generation: int = -1
    pending: int | None = None  # a join or sync waiting for its answer
    joined_members: tuple[str, ...] | None = None  # after a join answer: leader's member list
    synced: bool = False
    needs_rejoin: bool = True
    owned: frozenset[int] = frozenset()
    owned_generation: int = -1
    last_contact: int = 0
    instance_id: str | None = None  # static membership (KIP-345)
    supports_skip: bool = False  # speaks JoinGroup v9+ (skip_assignment)


class GroupCoordinatorMachine(RuleBasedStateMachine):
    """Random protocol-following clients against one ClassicCoordinator."""

    def __init__(self) -> None:
        super().__init__()
        self.gc = ClassicCoordinator()
        self.now = 0
        self.next_rid = 0
        self.requests: dict[int, tuple[Client, str]] = {}
        self.answered: set[int] = set()
        self.clients: list[Client] = []
        self.zombies: list[Client] = []  # incarnations of static clients that were restarted
        self.max_generation = 0
        self.last_state = ("Empty", 0)
        self.leader_sent: dict[int, dict[str, bytes]] = {}  # generation -> its leader's first sync

    @initialize(n=st.integers(1, 3), statics=st.integers(0, 3))
    def make_clients(self, n: int, statics: int) -> None:
        """Create the clients with their own timeouts; the first `statics` are static members."""
        self.clients = [
            Client(
                f"c{i}",
                SESSIONS[i % 3],
                REBALANCES[i % 3],
                instance_id=f"i{i}" if i < statics else None,
            )
            for i in range(n)
        ]

    # ------------------------------------------------------------ plumbing

    def rid(self, client: Client, kind: str) -> int:
        self.next_rid += 1
        self.requests[self.next_rid] = (client, kind)
        return self.next_rid

    def incarnations(self) -> list[Client]:
        return self.clients + self.zombies

    def deliver(self, outcomes: list[Outcome]) -> None:
        """Hand each answer to its client; called once after every coordinator call."""
        view = self.gc.describe(GROUP)
        if view is not None:
            if view.state is GroupState.STABLE:
                # Stable is entered only by the leader's sync, within one generation (GC-1, GC-8).
                assert self.last_state[0] in ("Stable", "CompletingRebalance"), self.last_state
                assert view.generation_id == self.last_state[1]
            if view.generation_id > self.last_state[1]:
                # A rebalance completed: every member's session restarted, an absent static
                # member's too (GC-19).
                members = {m.member_id for m in view.members}
                for client in self.incarnations():
                    if client.member_id in members:
                        client.last_contact = self.now
            self.last_state = (view.state.value, view.generation_id)
        for outcome in outcomes:
            assert outcome.request_id in self.requests, outcome
            assert outcome.request_id not in self.answered, f"answered twice: {outcome}"
            self.answered.add(outcome.request_id)
            client, kind = self.requests[outcome.request_id]
            response = outcome.response
            if client.pending == outcome.request_id:
                client.pending = None
            if kind in ("join", "sync") and client.member_id in self.view_members():
                client.last_contact = self.now  # an answered wait restarts the session (GC-9)
            if kind == "join":
                assert isinstance(response, JoinGroupResponse)
                self.on_join(client, response)
            elif kind == "sync":
                assert isinstance(response, SyncGroupResponse)
                self.on_sync(client, response)
            elif kind == "heartbeat":
                assert isinstance(response, HeartbeatResponse)
                self.on_error(client, response.error_code)
            else:
                assert isinstance(response, LeaveGroupResponse)

    def on_join(self, client: Client, r: JoinGroupResponse) -> None:
        if r.error_code == 0:
            client.member_id = r.member_id
            client.generation = r.generation_id
            if r.skip_assignment:  # GC-17: a restarted leader of a Stable group does not assign
                assert client.supports_skip and r.leader == r.member_id and r.members
                event("restarted leader told to skip assignment")
            client.joined_members = () if r.skip_assignment else tuple(m.member_id for m in r.members)
            client.synced = False
            client.needs_rejoin = False
            client.last_contact = self.now
            assert r.generation_id >= self.max_generation
        elif r.error_code == 79:
            client.member_id = r.member_id
        else:
            self.on_error(client, r.error_code)

    def on_sync(self, client: Client, r: SyncGroupResponse) -> None:
        if r.error_code == 0:
            # GC-14: the answer is the leader's assignment for this member in this generation.
            assert r.assignment == self.leader_sent[client.generation].get(client.member_id, b"")
            client.owned = decode(r.assignment)
            client.owned_generation = client.generation
            client.synced = True
            client.last_contact = self.now
        else:
            self.on_error(client, r.error_code)

    def on_error(self, client: Client, code: int) -> None:
        assert code in (0, 22, 25, 27, 82), code
        if code == 82:  # GC-18: only a replaced incarnation is ever fenced
            assert any(client is zombie for zombie in self.zombies), client
            event("a zombie's waiting request was fenced")
        if code == 25:
            client.member_id = ""
            client.generation = -1
        if code != 0:
            client.needs_rejoin = True

    def view_members(self) -> set[str]:
        view = self.gc.describe(GROUP)
        return set() if view is None else {m.member_id for m in view.members}

    # ------------------------------------------------------------ rules

    @rule(data=st.data(), require_known=st.booleans())
    def join(self, data: st.DataObject, require_known: bool) -> None:
        """A client (re)joins, giving up its partitions first (eager protocol)."""
        idle = [c for c in self.clients if c.pending is None]
        if not idle:
            return
        self.do_join(data.draw(st.sampled_from(idle)), require_known)

    def do_join(self, client: Client, require_known: bool) -> None:
        client.owned = frozenset()
        client.owned_generation = -1
        rid = self.rid(client, "join")
        client.pending = rid
        if client.member_id in self.view_members():
            client.last_contact = self.now
        replaced = self.static_members().get(client.instance_id or "")
        outcomes = self.gc.join(
            rid,
            self.now,
            group_id=GROUP,
            client_id=client.name,
            session_timeout_ms=client.session_ms,
            rebalance_timeout_ms=client.rebalance_ms,
            member_id=client.member_id,
            group_instance_id=client.instance_id,
            protocol_type="consumer",
            protocols=PROTOCOLS,
            require_known_member_id=require_known,
            supports_skip_assignment=client.supports_skip,
        )
        successor = self.static_members().get(client.instance_id or "")
        if replaced is not None and successor != replaced:
            # GC-17: a restart takes over the replaced id's assignment in this generation.
            assert not client.member_id and successor is not None
            view = self.gc.describe(GROUP)
            assert view is not None
            sent = self.leader_sent.get(view.generation_id, {})
            if replaced in sent:
                sent[successor] = sent.pop(replaced)
            answered = any(o.request_id == rid for o in outcomes)
            event(f"static restart answered {'at once' if answered else 'after a rebalance'}")
        self.deliver(outcomes)

    @rule(data=st.data())
    def sync(self, data: st.DataObject) -> None:
        """A client with a join answer syncs; the leader assigns partitions round robin."""
        ready = [
            c
            for c in self.clients
            if c.pending is None and c.joined_members is not None and not c.synced
        ]
        if not ready:
            return
        self.do_sync(data.draw(st.sampled_from(ready)))

    def do_sync(self, client: Client) -> None:
        assert client.joined_members is not None
        assignments: list[tuple[str, bytes]] = []
        if client.joined_members:
            members = client.joined_members
            shares: dict[str, set[int]] = {m: set() for m in members}
            for p in range(PARTITIONS):
                shares[members[p % len(members)]].add(p)
            assignments = [(m, encode(frozenset(s))) for m, s in shares.items()]
            self.leader_sent.setdefault(client.generation, dict(assignments))
        rid = self.rid(client, "sync")
        client.pending = rid
        if client.member_id in self.view_members():
            client.last_contact = self.now
        self.deliver(
            self.gc.sync(
                rid,
                self.now,
                group_id=GROUP,
                generation_id=client.generation,
                member_id=client.member_id,
                assignments=assignments,
                group_instance_id=client.instance_id,
            )
        )

    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        """A member heartbeats; a REBALANCE_IN_PROGRESS answer makes it rejoin later."""
        live = [c for c in self.clients if c.pending is None and c.member_id]
        if not live:
            return
        self.do_heartbeat(data.draw(st.sampled_from(live)))

    def do_heartbeat(self, client: Client) -> None:
        if client.member_id in self.view_members():
            client.last_contact = self.now
        rid = self.rid(client, "heartbeat")
        self.deliver(
            self.gc.heartbeat(
                rid,
                self.now,
                group_id=GROUP,
                generation_id=client.generation,
                member_id=client.member_id,
                group_instance_id=client.instance_id,
            )
        )

    @rule(data=st.data(), by_instance=st.booleans())
    def leave(self, data: st.DataObject, by_instance: bool) -> None:
        """A member leaves, giving up its partitions (a static one maybe by instance id alone)."""
        live = [c for c in self.clients if c.pending is None and c.member_id]
        if not live:
            return
        client = data.draw(st.sampled_from(live))
        rid = self.rid(client, "leave")
        member_id = client.member_id
        named = "" if by_instance and client.instance_id is not None else member_id
        client.owned = frozenset()
        client.owned_generation = -1
        client.member_id = ""
        client.generation = -1
        client.joined_members = None
        client.needs_rejoin = True
        self.deliver(
            self.gc.leave(rid, self.now, group_id=GROUP, members=[(named, client.instance_id)])
        )

    @precondition(lambda self: any(c.instance_id is not None for c in self.clients))
    @rule(data=st.data(), supports_skip=st.booleans())
    def restart(self, data: st.DataObject, supports_skip: bool) -> None:
        """A static client's process dies without leaving (it becomes a zombie that still thinks
        it owns its partitions) and a new incarnation joins with the same instance id."""
        client = data.draw(st.sampled_from([c for c in self.clients if c.instance_id is not None]))
        self.zombies.append(client)
        fresh = Client(
            client.name,
            client.session_ms,
            client.rebalance_ms,
            instance_id=client.instance_id,
            supports_skip=supports_skip,
        )
        self.clients[self.clients.index(client)] = fresh
        self.do_join(fresh, require_known=True)

    def static_members(self) -> dict[str, str]:
        view = self.gc.describe(GROUP)
        return {} if view is None else dict(view.static_members)

    def tick(self, now: int) -> None:
        """Run the timers at `now`; a member removed by them was past its deadline (GC-10/11)."""
        before = self.gc.describe(GROUP)
        self.now = now
        self.deliver(self.gc.tick(now))
        if before is None:
            return
        after = self.view_members()
        rebalance_expired = (
            before.rebalance_deadline_ms is not None and now > before.rebalance_deadline_ms
        )
        for m in before.members:
            if m.member_id not in after and not rebalance_expired:
                assert not (m.awaiting_join or m.awaiting_sync), m
                assert now > m.session_deadline_ms, f"removed early at {now}: {m}"

    @rule(ms=st.integers(0, 3_000))
    def advance(self, ms: int) -> None:
        """The clock jumps forward and the coordinator's timers run."""
        self.tick(self.now + ms)

    @precondition(lambda self: self.gc.next_deadline() is not None)
    @rule(offset=st.sampled_from([-1, 0]))
    def to_next_deadline(self, offset: int) -> None:
        """The clock jumps to the coordinator's next deadline exactly, or one ms before it."""
        deadline = self.gc.next_deadline()
        assert deadline is not None
        self.tick(max(self.now, deadline + offset))

    def natural_step(self, client: Client) -> None:
        if client.pending is not None:
            return
        if client.needs_rejoin or not client.member_id:
            self.do_join(client, require_known=True)
        elif client.joined_members is not None and not client.synced:
            self.do_sync(client)
        else:
            self.do_heartbeat(client)

    @rule(data=st.data())
    def follow_protocol(self, data: st.DataObject) -> None:
        """A client does what a consumer would do next: rejoin, sync, or heartbeat."""
        self.natural_step(data.draw(st.sampled_from(self.clients)))

    @rule()
    def everyone_follows_protocol(self) -> None:
        """Every client does its next protocol step, in order."""
        for client in self.clients:
            self.natural_step(client)

    # ------------------------------------------------------------ invariants

    @invariant()
    def one_committing_generation_and_no_double_owner(self) -> None:
        """GC-13/GC-14: holders that may commit share one generation and own disjoint partitions."""
        holders = [
            c
            for c in self.incarnations()
            if c.owned_generation >= 0
            and self.gc.check_commit(GROUP, c.owned_generation, c.member_id, c.instance_id) == 0
        ]
        assert len({c.owned_generation for c in holders}) <= 1
        seen: set[int] = set()
        for c in holders:
            assert not (seen & c.owned), f"partition owned twice: {holders}"
            seen |= c.owned

    @invariant()
    def sessions_within_deadline(self) -> None:
        """GC-9/GC-10: a member not waiting for an answer was heard from within its session."""
        view = self.gc.describe(GROUP)
        if view is None:
            return
        by_member = {c.member_id: c for c in self.incarnations() if c.member_id}
        for m in view.members:
            if m.awaiting_join or m.awaiting_sync:
                continue
            assert self.now <= m.session_deadline_ms
            client = by_member.get(m.member_id)
            assert client is not None, f"member {m.member_id} has no client"
            assert m.session_deadline_ms == client.last_contact + client.session_ms

    @invariant()
    def generation_grows_and_state_shape(self) -> None:
        """GC-1/GC-4: generations never fall; each state has its shape."""
        view = self.gc.describe(GROUP)
        if view is None:
            return
        assert view.generation_id >= self.max_generation
        self.max_generation = view.generation_id
        members = {m.member_id for m in view.members}
        if view.state is GroupState.EMPTY:
            assert not members and view.leader is None
        elif members:
            assert view.leader in members
        else:  # only while KIP-394 pending ids hold a rebalance open (GC-2)
            assert view.state is GroupState.PREPARING_REBALANCE and view.leader is None
        if view.state is GroupState.PREPARING_REBALANCE:
            assert view.rebalance_deadline_ms is not None
        else:
            assert view.rebalance_deadline_ms is None
            assert not any(m.awaiting_join for m in view.members)
        if view.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            assert view.protocol_name == "range"
        assert (view.assignments is not None) == (view.state is GroupState.STABLE)
        if view.assignments is not None:
            assert dict(view.assignments) == self.leader_sent[view.generation_id]
        if view.state is not GroupState.COMPLETING_REBALANCE:
            assert not any(m.awaiting_sync for m in view.members)

    @invariant()
    def no_request_is_lost(self) -> None:
        """GC-15: the requests not answered yet are exactly the ones the coordinator holds, one
        per member awaiting a join or sync answer (so a replaced id's wait was answered too)."""
        view = self.gc.describe(GROUP)
        held = 0 if view is None else sum(m.awaiting_join + m.awaiting_sync for m in view.members)
        assert len(self.requests) - len(self.answered) == held

    @invariant()
    def instance_ids_name_one_member_each(self) -> None:
        """GC-16: the instance-id map is one-to-one and agrees with the members' instance ids."""
        view = self.gc.describe(GROUP)
        if view is None:
            return
        mapping = dict(view.static_members)
        assert len(set(mapping.values())) == len(mapping), mapping
        members = {m.member_id: m.group_instance_id for m in view.members}
        for instance_id, member_id in mapping.items():
            assert members.get(member_id) == instance_id, (instance_id, member_id, members)
        statics = [i for i in members.values() if i is not None]
        assert sorted(statics) == sorted(mapping), (statics, mapping)

    @invariant()
    def replaced_member_ids_never_commit(self) -> None:
        """GC-18: a zombie whose instance id names another member is fenced (82) whatever
        generation it names; once its instance id names nobody, it is unknown (25)."""
        view = self.gc.describe(GROUP)
        mapping = {} if view is None else dict(view.static_members)
        current = -1 if view is None else view.generation_id
        for zombie in self.zombies:
            assert zombie.instance_id is not None
            successor = mapping.get(zombie.instance_id)
            if not zombie.member_id or successor == zombie.member_id:
                continue  # not replaced yet: it is still the member (absent, GC-19)
            # Generations >= 0: a commit naming none is an assign() consumer's (GC-12).
            generations = {zombie.generation, zombie.owned_generation, current} - {-1}
            for generation in generations:
                code = self.gc.check_commit(GROUP, generation, zombie.member_id, zombie.instance_id)
                if view is None:
                    assert code != 0
                else:
                    assert code == (25 if successor is None else 82), (zombie, code)


TestGroupCoordinatorMachine = GroupCoordinatorMachine.TestCase
