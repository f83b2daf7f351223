"""The classic group coordinator against its reference model, in lockstep (spec/group-coordinator.md).

The same random requests go to `flyq.groups.ClassicCoordinator` and to
`flyq.model.ModelClassicCoordinator`: mostly what Kafka consumers send (joins with and without a
member id, KIP-394's two-step join, the leader's sync with a round-robin assignment, heartbeats,
leaves, static members restarting while the old incarnation lives on as a zombie), some that no
well-behaved client sends (stale generations, unknown or fenced ids, wrong protocols, bad timeouts),
commits checked with `check_commit`, and a clock that creeps or jumps to just before, at and past
the next timer deadline (GC-10). After every step both must have given the same answers to the same
request ids, and show the same `describe()` of every group, the same `group_ids()` and the same
`next_deadline()`. `make_lockstep_machine` takes the implementation under test as a factory.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Protocol

import attrs
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from flyq.groups import (
    TRANSITIONS,
    ClassicCoordinator,
    GroupView,
    HeartbeatResponse,
    JoinGroupResponse,
    LeaveGroupResponse,
    Outcome,
    SyncGroupResponse,
)
from flyq.model import ModelClassicCoordinator
from flyq.model._classic_group import MODEL_TRANSITIONS

GROUPS = ("g", "h")
SESSIONS = (6_000, 8_000, 10_000)
REBALANCES = (-1, 7_000, 12_000)
# GC-6: overlapping preference lists, so the vote and the leader's tie-break both matter; the last
# has nothing in common with the others (23 while they are members).
PROTOCOL_SETS: tuple[tuple[tuple[str, bytes], ...], ...] = (
    (("range", b"r0"),),
    (("range", b"r1"), ("roundrobin", b"o1")),
    (("roundrobin", b"o2"), ("range", b"r2")),
    (("roundrobin", b"o3"),),
    (("sticky", b"s4"),),
)
# Clock steps: small ones, and ones past every session timeout and rebalance timeout.
STEPS = (1, 200, 2_999, 6_000, 10_001, 25_000)


class Coordinator(Protocol):
    """What the machine needs of an implementation: `ClassicCoordinator`'s calls."""

    def join(self, request_id: int, now_ms: int, **fields: object) -> list[Outcome]: ...
    def sync(self, request_id: int, now_ms: int, **fields: object) -> list[Outcome]: ...
    def heartbeat(self, request_id: int, now_ms: int, **fields: object) -> list[Outcome]: ...
    def leave(self, request_id: int, now_ms: int, **fields: object) -> list[Outcome]: ...
    def tick(self, now_ms: int) -> list[Outcome]: ...
    def next_deadline(self) -> int | None: ...
    def describe(self, group_id: str) -> GroupView | None: ...
    def group_ids(self) -> list[str]: ...
    def delete_group(self, group_id: str) -> bool: ...
    def check_commit(
        self, group_id: str, generation: int, member_id: str, group_instance_id: str | None
    ) -> int: ...


@attrs.define
class Client:
    """What one consumer believes about itself; it steers requests, the model judges answers."""

    name: str
    group_id: str
    instance_id: str | None
    member_id: str = ""
    pending_id: str = ""  # KIP-394: the id a 79 answer handed out
    generation: int = -1
    leader: bool = False
    members: tuple[str, ...] = ()  # the leader's member list from its join answer
    protocol: str | None = None


@attrs.frozen
class Zombie:
    """An earlier incarnation of a static client, replaced by a restart (GC-17, GC-20)."""

    group_id: str
    member_id: str
    instance_id: str
    generation: int


def _by_request(outcomes: list[Outcome]) -> dict[int, object]:
    answers = {o.request_id: o.response for o in outcomes}
    assert len(answers) == len(outcomes), f"a request answered twice in one call (GC-15): {outcomes}"
    return answers


def make_lockstep_machine(
    make_impl: Callable[[], Coordinator],
) -> type[RuleBasedStateMachine]:
    """A lockstep machine checking `make_impl()` against `ModelClassicCoordinator`."""

    class ClassicLockstep(RuleBasedStateMachine):
        """Same requests to the model and the implementation; same answers and views after each."""

        def __init__(self) -> None:
            super().__init__()
            self.impl = make_impl()
            self.model = ModelClassicCoordinator()
            self.now = 0
            self.next_rid = 0
            self.requests: dict[int, tuple[Client | None, str]] = {}
            self.clients: list[Client] = []
            self.zombies: list[Zombie] = []

        @initialize(
            n=st.integers(2, 4),
            statics=st.integers(0, 4),
            second_group=st.booleans(),
            # Hypothesis's simplest draw is the most warmed-up: 4 rounds.
            warmup=st.integers(0, 4).map(lambda k: 4 - k),
        )
        def make_clients(self, n: int, statics: int, second_group: bool, warmup: int) -> None:
            """Clients c0.. with their group; the first `statics` are static (KIP-345). Then a few
            rounds of protocol steps, in which most examples reach Stable before the rules start."""
            self.clients = [
                Client(
                    f"c{i}",
                    GROUPS[1] if second_group and i == n - 1 else GROUPS[0],
                    f"i{i}" if i < statics else None,
                )
                for i in range(n)
            ]
            for round_ in range(warmup):
                # Every other round the last client goes first, so a follower's sync may wait.
                for client in self.clients if round_ % 2 == 0 else self.clients[::-1]:
                    self.protocol_step(client)

        # ------------------------------------------------------------ plumbing

        def rid(self, client: Client | None, kind: str) -> int:
            self.next_rid += 1
            self.requests[self.next_rid] = (client, kind)
            return self.next_rid

        def both(self, call: str, *args: object, **fields: object) -> None:
            """Send one call to both; their answers must agree (same ids, same responses)."""
            got = getattr(self.impl, call)(*args, **fields)
            want = getattr(self.model, call)(*args, **fields)
            impl_answers, model_answers = _by_request(got), _by_request(want)
            assert impl_answers == model_answers, (call, args, fields, got, want)
            for response in impl_answers.values():
                event(f"{type(response).__name__} {getattr(response, 'error_code', '?')}")
            self.deliver(got)

        def deliver(self, outcomes: list[Outcome]) -> None:
            """Each client learns what a consumer would from its answers."""
            for outcome in outcomes:
                client, _ = self.requests[outcome.request_id]
                response = outcome.response
                if client is None:
                    continue
                if isinstance(response, JoinGroupResponse):
                    if response.error_code == 0:
                        client.member_id = response.member_id
                        client.generation = response.generation_id
                        client.leader = response.leader == response.member_id
                        client.members = tuple(m.member_id for m in response.members)
                        client.protocol = response.protocol_name
                    elif response.error_code == 79:
                        client.pending_id = response.member_id
                    elif response.error_code in (25, 82) and response.member_id == client.member_id:
                        client.member_id, client.generation = "", -1
                elif isinstance(response, SyncGroupResponse | HeartbeatResponse):
                    if response.error_code in (25, 82):
                        client.member_id, client.generation = "", -1
                elif isinstance(response, LeaveGroupResponse):
                    client.member_id, client.generation = "", -1

        def join_as(
            self,
            client: Client,
            member_id: str,
            *,
            protocols: int = 1,
            session: int = 0,
            rebalance: int = 1,
            require_known: bool = True,
            skip: bool = False,
            group_id: str | None = None,
            protocol_type: str = "consumer",
            instance_id: bool = True,
        ) -> None:
            self.both(
                "join",
                self.rid(client, "join"),
                self.now,
                group_id=client.group_id if group_id is None else group_id,
                client_id=client.name,
                session_timeout_ms=SESSIONS[session] if session >= 0 else 1_000,
                rebalance_timeout_ms=REBALANCES[rebalance],
                member_id=member_id,
                group_instance_id=client.instance_id if instance_id else None,
                protocol_type=protocol_type,
                protocols=PROTOCOL_SETS[protocols] if protocols >= 0 else (),
                require_known_member_id=require_known,
                supports_skip_assignment=skip,
            )

        # ------------------------------------------------------------ protocol-following requests

        @rule(
            data=st.data(),
            protocols=st.sampled_from([0, 1, 1, 2, 2, 3]),
            session=st.integers(0, 2),
            rebalance=st.integers(0, 2),
            require_known=st.booleans(),
            skip=st.booleans(),
        )
        def join(
            self,
            data: st.DataObject,
            protocols: int,
            session: int,
            rebalance: int,
            require_known: bool,
            skip: bool,
        ) -> None:
            """A client (re)joins with the member id it has, or a new one joins (GC-2, GC-7)."""
            client = data.draw(st.sampled_from(self.clients))
            self.join_as(
                client,
                client.member_id,
                protocols=protocols,
                session=session,
                rebalance=rebalance,
                require_known=require_known,
                skip=skip,
            )

        @rule(data=st.data())
        def next_protocol_step(self, data: st.DataObject) -> None:
            """A client does what a Kafka consumer does next: join (again, with a pending id if
            it has one), sync after a join answer, or heartbeat (drives groups to Stable)."""
            self.protocol_step(data.draw(st.sampled_from(self.clients)))

        def protocol_step(self, client: Client) -> None:
            view = self.model.describe(client.group_id)
            member = None
            if view is not None:
                member = next((m for m in view.members if m.member_id == client.member_id), None)
            if client.pending_id:
                pending, client.pending_id = client.pending_id, ""
                self.join_as(client, pending)
            elif member is None or view is None or view.generation_id != client.generation:
                self.join_as(client, client.member_id)
            elif member.awaiting_join or member.awaiting_sync:
                self.heartbeat_as(client, 0)
            elif view.state.value == "CompletingRebalance":
                self.sync_as(client, 0, extra=False, protocol_type=None, protocol_name=None)
            elif view.state.value == "PreparingRebalance":
                self.join_as(client, client.member_id)
            else:
                self.heartbeat_as(client, 0)

        @rule(order=st.permutations(range(4)), upto=st.integers(1, 4))
        def protocol_round(self, order: list[int], upto: int) -> None:
            """Several clients take their next protocol step in turn: a rebalance completes, or a
            follower's sync waits when something restarts the rebalance (GC-3, GC-8)."""
            for i in order[:upto]:
                if i < len(self.clients):
                    self.protocol_step(self.clients[i])

        @precondition(lambda self: any(c.pending_id for c in self.clients))
        @rule(data=st.data())
        def join_with_pending_id(self, data: st.DataObject) -> None:
            """KIP-394's second step: join with the id a 79 answer handed out (GC-2)."""
            client = data.draw(st.sampled_from([c for c in self.clients if c.pending_id]))
            pending, client.pending_id = client.pending_id, ""
            self.join_as(client, pending, protocols=data.draw(st.sampled_from([0, 1, 2])))

        @precondition(lambda self: any(c.instance_id and c.member_id for c in self.clients))
        @rule(data=st.data(), skip=st.booleans(), protocols=st.sampled_from([1, 1, 2, 3]))
        def static_restart(self, data: st.DataObject, skip: bool, protocols: int) -> None:
            """A static client restarts: empty member id, same instance id (GC-17); the old
            incarnation lives on as a zombie."""
            client = data.draw(
                st.sampled_from([c for c in self.clients if c.instance_id and c.member_id])
            )
            assert client.instance_id is not None
            self.zombies.append(
                Zombie(client.group_id, client.member_id, client.instance_id, client.generation)
            )
            client.member_id, client.generation = "", -1
            self.join_as(client, "", protocols=protocols, skip=skip)

        @precondition(lambda self: any(c.member_id for c in self.clients))
        @rule(data=st.data(), stale=st.sampled_from([0, 0, 0, 0, -1, 1]), extra=st.booleans())
        def sync(self, data: st.DataObject, stale: int, extra: bool) -> None:
            """A member syncs; a leader sends a round-robin assignment of partitions 0..5 over its
            member list, maybe with an entry for a non-member and a repeated one (GC-8, GC-23)."""
            client = data.draw(st.sampled_from([c for c in self.clients if c.member_id]))
            self.sync_as(
                client,
                stale,
                extra=extra,
                protocol_type=data.draw(st.sampled_from([None, "consumer", "consumer", "connect"])),
                protocol_name=data.draw(st.sampled_from([None, client.protocol, "sticky"])),
            )

        def sync_as(
            self,
            client: Client,
            stale: int,
            *,
            extra: bool,
            protocol_type: str | None,
            protocol_name: str | None,
        ) -> None:
            assignments: list[tuple[str, bytes]] = []
            if client.leader and client.members:
                owners = client.members
                assignments = [
                    (m, bytes(p for p in range(6) if p % len(owners) == i))
                    for i, m in enumerate(owners)
                ]
                if extra:
                    assignments += [("ghost-1", b"\x09"), (owners[0], b"\x07")]
            self.both(
                "sync",
                self.rid(client, "sync"),
                self.now,
                group_id=client.group_id,
                generation_id=client.generation + stale,
                member_id=client.member_id,
                assignments=assignments,
                group_instance_id=client.instance_id,
                protocol_type=protocol_type,
                protocol_name=protocol_name,
            )

        @precondition(lambda self: any(c.member_id for c in self.clients))
        @rule(data=st.data(), stale=st.sampled_from([0, 0, 0, -1, 1]))
        def heartbeat(self, data: st.DataObject, stale: int) -> None:
            """A member heartbeats with its generation, sometimes a stale one (GC-9)."""
            client = data.draw(st.sampled_from([c for c in self.clients if c.member_id]))
            self.heartbeat_as(client, stale)

        def heartbeat_as(self, client: Client, stale: int) -> None:
            self.both(
                "heartbeat",
                self.rid(client, "heartbeat"),
                self.now,
                group_id=client.group_id,
                generation_id=client.generation + stale,
                member_id=client.member_id,
                group_instance_id=client.instance_id,
            )

        @precondition(lambda self: any(c.member_id for c in self.clients))
        @rule(data=st.data(), by_instance=st.booleans())
        def leave(self, data: st.DataObject, by_instance: bool) -> None:
            """A member leaves, or an administrator removes a static one by instance id (GC-11)."""
            client = data.draw(st.sampled_from([c for c in self.clients if c.member_id]))
            entry = (client.member_id, client.instance_id)
            if by_instance and client.instance_id is not None:
                entry = ("", client.instance_id)
            self.both(
                "leave",
                self.rid(client, "leave"),
                self.now,
                group_id=client.group_id,
                members=[entry, ("nobody-9", None)][: data.draw(st.integers(1, 2))],
            )

        @rule(data=st.data(), stale=st.sampled_from([0, 0, -1, 1]), who=st.integers(0, 3))
        def commit(self, data: st.DataObject, stale: int, who: int) -> None:
            """OffsetCommit's check for a client, a zombie or an assign() consumer (GC-12, GC-20)."""
            group_id, generation, member_id, instance_id = (
                data.draw(st.sampled_from(GROUPS)),
                -1,
                "",
                None,
            )
            if who == 0 and self.zombies:
                zombie = data.draw(st.sampled_from(self.zombies))
                group_id, generation = zombie.group_id, zombie.generation + stale
                member_id, instance_id = zombie.member_id, zombie.instance_id
            elif who < 3:
                client = data.draw(st.sampled_from(self.clients))
                group_id, generation = client.group_id, client.generation + stale
                member_id, instance_id = client.member_id, client.instance_id
            got = self.impl.check_commit(group_id, generation, member_id, instance_id)
            want = self.model.check_commit(group_id, generation, member_id, instance_id)
            assert got == want, (group_id, generation, member_id, instance_id, got, want)

        # ------------------------------------------------------------ misbehaving requests

        @rule(
            data=st.data(),
            kind=st.sampled_from(
                [
                    "no-group",
                    "bad-session",
                    "wrong-type",
                    "no-protocols",
                    "twice",
                    "alien",
                    "unknown-id",
                    "sync-unknown",
                    "heartbeat-unknown",
                    "zombie",
                ]
            ),
        )
        def misbehave(self, data: st.DataObject, kind: str) -> None:
            """A request no well-behaved client sends (GC-2, GC-6, GC-7, GC-18)."""
            client = data.draw(st.sampled_from(self.clients))
            if kind == "no-group":
                self.join_as(client, client.member_id, group_id="")
            elif kind == "bad-session":
                self.join_as(client, client.member_id, session=-1)
            elif kind == "wrong-type":
                self.join_as(client, client.member_id, protocol_type="connect")
            elif kind == "no-protocols":
                self.join_as(client, client.member_id, protocols=-1)
            elif kind == "twice":
                self.both(
                    "join",
                    self.rid(client, "join"),
                    self.now,
                    group_id=client.group_id,
                    client_id=client.name,
                    session_timeout_ms=6_000,
                    rebalance_timeout_ms=7_000,
                    member_id=client.member_id,
                    group_instance_id=client.instance_id,
                    protocol_type="consumer",
                    protocols=[("range", b"a"), ("range", b"b")],
                    require_known_member_id=True,
                )
            elif kind == "alien":
                self.join_as(client, client.member_id, protocols=4)
            elif kind == "unknown-id":
                self.join_as(
                    client, "stranger-7", instance_id=data.draw(st.sampled_from([True, False]))
                )
            elif kind == "sync-unknown":
                self.both(
                    "sync",
                    self.rid(None, "sync"),
                    self.now,
                    group_id=data.draw(st.sampled_from([*GROUPS, "nowhere"])),
                    generation_id=data.draw(st.integers(-1, 3)),
                    member_id="stranger-7",
                    assignments=[],
                    group_instance_id=data.draw(st.sampled_from([None, "i0"])),
                )
            elif kind == "heartbeat-unknown":
                self.both(
                    "heartbeat",
                    self.rid(None, "heartbeat"),
                    self.now,
                    group_id=data.draw(st.sampled_from([*GROUPS, "nowhere", ""])),
                    generation_id=data.draw(st.integers(-1, 3)),
                    member_id=client.member_id,
                    group_instance_id=data.draw(st.sampled_from([None, "i0", "i1"])),
                )
            elif self.zombies:
                zombie = data.draw(st.sampled_from(self.zombies))
                call = data.draw(st.sampled_from(["join", "sync", "heartbeat", "leave"]))
                rid = self.rid(None, call)
                if call == "join":
                    self.both(
                        "join",
                        rid,
                        self.now,
                        group_id=zombie.group_id,
                        client_id="zombie",
                        session_timeout_ms=6_000,
                        rebalance_timeout_ms=7_000,
                        member_id=zombie.member_id,
                        group_instance_id=zombie.instance_id,
                        protocol_type="consumer",
                        protocols=PROTOCOL_SETS[1],
                        require_known_member_id=True,
                    )
                elif call == "sync":
                    self.both(
                        "sync",
                        rid,
                        self.now,
                        group_id=zombie.group_id,
                        generation_id=zombie.generation,
                        member_id=zombie.member_id,
                        assignments=[],
                        group_instance_id=zombie.instance_id,
                    )
                elif call == "heartbeat":
                    self.both(
                        "heartbeat",
                        rid,
                        self.now,
                        group_id=zombie.group_id,
                        generation_id=zombie.generation,
                        member_id=zombie.member_id,
                        group_instance_id=zombie.instance_id,
                    )
                else:
                    self.both(
                        "leave",
                        rid,
                        self.now,
                        group_id=zombie.group_id,
                        members=[(zombie.member_id, zombie.instance_id)],
                    )

        # ------------------------------------------------------------ time

        @rule(step=st.sampled_from(STEPS), tick=st.booleans())
        def advance(self, step: int, tick: bool) -> None:
            """The clock moves on; the timer may or may not run yet (GC-10)."""
            self.now += step
            if tick:
                self.both("tick", self.now)

        @precondition(lambda self: self.model.next_deadline() is not None)
        @rule(offset=st.sampled_from([-1, 0, 0, 1, 5_000]))
        def jump_to_deadline(self, offset: int) -> None:
            """The clock jumps to just before, exactly at, or past `next_deadline()`, and the
            timer runs (GC-10: a timer fires only strictly after its deadline)."""
            deadline = self.model.next_deadline()
            assert deadline is not None
            self.now = max(self.now, deadline + offset)
            self.both("tick", self.now)

        @rule(group_id=st.sampled_from(GROUPS))
        def delete_group(self, group_id: str) -> None:
            """Deleting a group succeeds only when it is Empty (GC-1)."""
            assert self.impl.delete_group(group_id) == self.model.delete_group(group_id)

        # ------------------------------------------------------------ agreement

        @invariant()
        def same_views(self) -> None:
            """Both hold the same groups, describe each the same way, and have the same next
            deadline."""
            assert self.impl.group_ids() == self.model.group_ids()
            for group_id in {*self.model.group_ids(), *GROUPS}:
                got, want = self.impl.describe(group_id), self.model.describe(group_id)
                assert got == want, (group_id, got, want)
                if got is not None:
                    event(f"state {got.state.value}")
            assert self.impl.next_deadline() == self.model.next_deadline()

    return ClassicLockstep


def test_model_imports_no_implementation() -> None:
    """The model is independent: importing it loads no flyq.impl, flyq.server or flyq.broker."""
    probe = (
        "import sys, flyq.model._classic_group\n"
        "print(sorted(m for m in sys.modules if m.startswith(('flyq.impl', 'flyq.server', "
        "'flyq.broker'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]", loaded


def test_transition_tables_agree() -> None:
    """GC-1: the model's transition table (the spec's) is the implementation's."""
    assert MODEL_TRANSITIONS == TRANSITIONS


ClassicVsModel = make_lockstep_machine(ClassicCoordinator)
TestClassicVsModel = ClassicVsModel.TestCase
