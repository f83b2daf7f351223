"""The classic group coordinator driven by protocol-following clients (spec/group-coordinator.md).

A few clients join, sync, heartbeat and leave as a Kafka consumer does (eager protocol: a client
gives up its partitions when it (re)joins; the leader assigns partitions 0..N-1 round robin), while
the clock jumps. After every step: only one generation's holders can commit (GC-13), no partition
has two owners among them (GC-14), every answered request was answered once (GC-15), sessions are
within their deadline (GC-10), generations only grow (GC-4), and each state's shape holds (GC-1).
"""

from __future__ import annotations

import attrs
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
        self.max_generation = 0
        self.last_state = ("Empty", 0)
        self.leader_sent: dict[int, dict[str, bytes]] = {}  # generation -> its leader's first sync

    @initialize(n=st.integers(1, 3))
    def make_clients(self, n: int) -> None:
        """Create the clients with their own timeouts."""
        self.clients = [Client(f"c{i}", SESSIONS[i % 3], REBALANCES[i % 3]) for i in range(n)]

    # ------------------------------------------------------------ plumbing

    def rid(self, client: Client, kind: str) -> int:
        self.next_rid += 1
        self.requests[self.next_rid] = (client, kind)
        return self.next_rid

    def deliver(self, outcomes: list[Outcome]) -> None:
        """Hand each answer to its client; called once after every coordinator call."""
        view = self.gc.describe(GROUP)
        if view is not None:
            if view.state is GroupState.STABLE:
                # Stable is entered only by the leader's sync, within one generation (GC-1, GC-8).
                assert self.last_state[0] in ("Stable", "CompletingRebalance"), self.last_state
                assert view.generation_id == self.last_state[1]
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
            client.joined_members = tuple(m.member_id for m in r.members)
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
        assert code in (0, 22, 25, 27), code
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
        self.deliver(
            self.gc.join(
                rid,
                self.now,
                group_id=GROUP,
                client_id=client.name,
                session_timeout_ms=client.session_ms,
                rebalance_timeout_ms=client.rebalance_ms,
                member_id=client.member_id,
                group_instance_id=None,
                protocol_type="consumer",
                protocols=PROTOCOLS,
                require_known_member_id=require_known,
            )
        )

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
            )
        )

    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        """A member leaves, giving up its partitions."""
        live = [c for c in self.clients if c.pending is None and c.member_id]
        if not live:
            return
        client = data.draw(st.sampled_from(live))
        rid = self.rid(client, "leave")
        member_id = client.member_id
        client.owned = frozenset()
        client.owned_generation = -1
        client.member_id = ""
        client.generation = -1
        client.joined_members = None
        client.needs_rejoin = True
        self.deliver(self.gc.leave(rid, self.now, group_id=GROUP, members=[(member_id, None)]))

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
            for c in self.clients
            if c.owned_generation >= 0
            and self.gc.check_commit(GROUP, c.owned_generation, c.member_id, None) == 0
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
        by_member = {c.member_id: c for c in self.clients if c.member_id}
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


TestGroupCoordinatorMachine = GroupCoordinatorMachine.TestCase
