"""`AsyncConsumer.subscribe` / `Consumer.subscribe` (spec/client.md CLIENT-30..39) against a real
`flyq broker`: flyq.client members sharing a 4-partition topic, members joining and leaving,
a confluent-kafka member in the same group (wire compatibility of the classic protocol and the
ConsumerProtocol payloads), commits in on_revoke, and a fenced member's commit."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import confluent_kafka
import pytest

from flyq.client import AsyncAdmin, AsyncConsumer, AsyncProducer, BrokerConnection, Consumer
from flyq.errors import IllegalGeneration, InvalidArgument, RemoteError, UnknownMemberId
from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TOPIC = "events"
PARTITIONS = 4
ALL = {(TOPIC, number) for number in range(PARTITIONS)}
GROUP = "readers"
WAIT = 15.0
# Short group timings so rebalances take a few hundred milliseconds.
MEMBER = {"group_id": GROUP, "auto_offset_reset": "earliest", "heartbeat_interval_ms": 100,
          "session_timeout_ms": 6000, "fetch_max_wait_ms": 100}
Key = tuple[str, int, int]  # topic, partition, offset


async def create_topic(broker: BrokerProcess) -> None:
    async with await AsyncAdmin.connect(broker.bootstrap) as admin:
        await admin.create_topic(TOPIC, PARTITIONS)


async def produce(broker: BrokerProcess, per_partition: int, tag: str) -> set[Key]:
    """`per_partition` records into each partition (flyq's producer); their keys."""
    producer = await AsyncProducer.connect(broker.bootstrap)
    try:
        futures = [await producer.send(TOPIC, f"{tag}-{number}-{index}".encode(),
                                       partition=number)
                   for number in range(PARTITIONS) for index in range(per_partition)]
        await producer.flush()
        return {(TOPIC, meta.partition, meta.offset)
                for meta in [await future for future in futures]}
    finally:
        await producer.close()


async def end_and_committed(broker: BrokerProcess) -> tuple[dict[Any, int], dict[Any, int]]:
    async with await AsyncAdmin.connect(broker.bootstrap) as admin:
        return (await admin.list_end_offsets(sorted(ALL)),
                await admin.list_group_offsets(GROUP))


async def connect(broker: BrokerProcess, **config: Any) -> AsyncConsumer:
    return await AsyncConsumer.connect(broker.bootstrap, **{**MEMBER, **config})


class Log:
    """What one member's callbacks saw and what its polls handed out."""

    def __init__(self, name: str, events: list[tuple[str, str, frozenset[Any]]]) -> None:
        self.name = name
        self.events = events
        self.records: list[Key] = []

    def on_assign(self, partitions: set[Any]) -> None:
        self.events.append((self.name, "assign", frozenset(partitions)))

    async def on_revoke(self, partitions: set[Any]) -> None:  # a coroutine callback
        self.events.append((self.name, "revoke", frozenset(partitions)))

    def mine(self) -> list[tuple[str, frozenset[Any]]]:
        return [(kind, parts) for name, kind, parts in self.events if name == self.name]


async def poll_until(members: dict[AsyncConsumer, Log], done: Callable[[], bool]) -> None:
    """Poll every member in turn until `done()` (bounded by WAIT)."""
    deadline = time.monotonic() + WAIT
    while not done():
        assert time.monotonic() < deadline, {log.name: log.mine() for log in members.values()}
        for consumer, log in members.items():
            log.records += [(r.topic, r.partition, r.offset) for r in await consumer.poll(0.05)]


def owners_cover_all(consumers: list[AsyncConsumer]) -> bool:
    assignments = [consumer.assignment() for consumer in consumers]
    return (all(assignments) and set().union(*assignments) == ALL
            and sum(map(len, assignments)) == PARTITIONS)


def test_two_members_split_the_partitions(broker: BrokerProcess) -> None:
    """CLIENT-30/32/33/38: two members get disjoint assignments covering the topic (range: two
    partitions each); every record is handed out once, by its partition's owner; closing
    commits, so the committed offsets are the end offsets."""
    async def scenario() -> None:
        await create_topic(broker)
        events: list[tuple[str, str, frozenset[Any]]] = []
        a, b = await connect(broker), await connect(broker)
        logs = {a: Log("a", events), b: Log("b", events)}
        for consumer, log in logs.items():
            consumer.subscribe([TOPIC], on_assign=log.on_assign, on_revoke=log.on_revoke)
        await poll_until(logs, lambda: owners_cover_all([a, b]))
        assert len(a.assignment()) == len(b.assignment()) == 2
        produced = await produce(broker, 10, "one")
        await poll_until(logs, lambda: sum(len(log.records) for log in logs.values())
                         >= len(produced))
        assert sorted(logs[a].records + logs[b].records) == sorted(produced)
        for consumer, log in logs.items():
            assert {(topic, number) for topic, number, _ in log.records} <= consumer.assignment()
        await a.close()
        await b.close()
        end, committed = await end_and_committed(broker)
        assert committed == end
    asyncio.run(scenario())


def test_members_join_and_leave_without_losing_or_repeating_records(
        broker: BrokerProcess) -> None:
    """CLIENT-33/35/38: a third member joining and a member closing rebalance the group;
    each member's callbacks alternate assign/revoke (revoking exactly what was assigned),
    every record is handed out exactly once across the members, and at the end the committed
    offsets are the end offsets."""
    async def scenario() -> None:
        await create_topic(broker)
        events: list[tuple[str, str, frozenset[Any]]] = []
        a, b = await connect(broker), await connect(broker)
        logs = {a: Log("a", events), b: Log("b", events)}
        for consumer, log in logs.items():
            consumer.subscribe([TOPIC], on_assign=log.on_assign, on_revoke=log.on_revoke)
        produced = await produce(broker, 15, "one")
        handed_out = lambda: sum(len(log.records) for log in logs.values())  # noqa: E731
        await poll_until(logs, lambda: handed_out() >= 20 and owners_cover_all([a, b]))
        c = await connect(broker)
        logs[c] = Log("c", events)
        c.subscribe([TOPIC], on_assign=logs[c].on_assign, on_revoke=logs[c].on_revoke)
        produced |= await produce(broker, 5, "two")
        await poll_until(logs, lambda: owners_cover_all([a, b, c]) and handed_out() >= 50)
        await a.close()
        log_a = logs.pop(a)
        assert log_a.mine()[-1][0] == "revoke"
        produced |= await produce(broker, 5, "three")
        await poll_until(logs, lambda: owners_cover_all([b, c])
                         and handed_out() + len(log_a.records) >= len(produced))
        await b.close()
        await c.close()
        everything = log_a.records + [record for log in logs.values() for record in log.records]
        assert sorted(everything) == sorted(produced)  # once each: nothing lost or repeated
        for log in [log_a, *logs.values()]:
            owned: frozenset[Any] = frozenset()
            for kind, partitions in log.mine():  # assigned only when owning nothing; revoked
                assert partitions == owned if kind == "revoke" else not owned  # what it owned
                owned = partitions if kind == "assign" else frozenset()
            assert not owned  # closed: everything revoked
        end, committed = await end_and_committed(broker)
        assert committed == end
    asyncio.run(scenario())


def test_nothing_is_handed_out_while_partitions_are_revoked(broker: BrokerProcess) -> None:
    """CLIENT-33/36: from the start of on_revoke (here slow, with records still buffered) until
    on_assign, poll hands out nothing, so the revocation's commit covers every record handed
    out and each record is read once across the two members."""
    async def scenario() -> None:
        await create_topic(broker)
        produced = await produce(broker, 25, "one")
        a = await connect(broker, max_poll_records=1)
        revoking: list[bool] = []  # the last is True from on_revoke's start to on_assign
        handed_out_while_revoking: list[Any] = []

        async def on_revoke(partitions: set[Any]) -> None:
            revoking.append(True)
            await asyncio.sleep(0.3)
        a.subscribe([TOPIC], on_assign=lambda parts: revoking.append(False),
                    on_revoke=on_revoke)
        log_a, log_b = Log("a", []), Log("b", [])
        await poll_until({a: log_a}, lambda: len(log_a.records) >= 10)
        b = await connect(broker)
        b.subscribe([TOPIC])
        deadline = time.monotonic() + WAIT
        while not (owners_cover_all([a, b])
                   and len(log_a.records) + len(log_b.records) >= len(produced)):
            assert time.monotonic() < deadline
            records = [(r.topic, r.partition, r.offset) for r in await a.poll(0.01)]
            if records and revoking[-1]:
                handed_out_while_revoking += records
            log_a.records += records
            log_b.records += [(r.topic, r.partition, r.offset) for r in await b.poll(0.01)]
        assert True in revoking and handed_out_while_revoking == []
        assert sorted(log_a.records + log_b.records) == sorted(produced)
        await a.close()
        await b.close()
    asyncio.run(scenario())


@pytest.mark.parametrize("flyq_first", [True, False], ids=["flyq-leads", "confluent-leads"])
def test_a_confluent_member_and_a_flyq_member_share_a_group(broker: BrokerProcess,
                                                            flyq_first: bool) -> None:
    """CLIENT-31/32: a flyq.client member and a confluent-kafka member (range) in one group
    split the partitions two and two, whichever leads (each decodes the other's
    ConsumerProtocol bytes), and each reads the records of its own partitions."""
    asyncio.run(create_topic(broker))
    produced = asyncio.run(produce(broker, 3, "one"))
    confluent_assigned: list[set[Any]] = []
    other = confluent_kafka.Consumer({
        "bootstrap.servers": broker.bootstrap, "group.id": GROUP,
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 100, "fetch.wait.max.ms": 100,
        "partition.assignment.strategy": "range"})
    flyq = Consumer(broker.bootstrap, **MEMBER)
    read: dict[str, list[Key]] = {"flyq": [], "confluent": []}

    def poll_both(until: Callable[[], bool], confluent_joined: bool = True) -> None:
        deadline = time.monotonic() + WAIT
        while not until():
            assert time.monotonic() < deadline, (flyq.assignment(), confluent_assigned, read)
            read["flyq"] += [(r.topic, r.partition, r.offset) for r in flyq.poll(0.05)]
            message = other.poll(0.05) if confluent_joined else None
            if message is not None and message.error() is None:
                read["confluent"].append((message.topic(), message.partition(),
                                          message.offset()))
    try:
        def join_confluent() -> None:
            other.subscribe([TOPIC], on_assign=lambda _, parts: confluent_assigned.append(
                {(tp.topic, tp.partition) for tp in parts}))
        if not flyq_first:
            join_confluent()
            poll_both(lambda: bool(confluent_assigned))
        flyq.subscribe([TOPIC])
        if flyq_first:
            poll_both(lambda: bool(flyq.assignment()), confluent_joined=False)
            join_confluent()
        poll_both(lambda: bool(confluent_assigned) and len(confluent_assigned[-1]) == 2
                  and len(flyq.assignment()) == 2
                  and len(read["flyq"]) + len(read["confluent"]) >= len(produced))
        assert flyq.assignment() | confluent_assigned[-1] == ALL
        assert not flyq.assignment() & confluent_assigned[-1]
        # Whoever read a partition before the split, the final owners read their own.
        assert sorted(read["flyq"] + read["confluent"]) == sorted(produced)
    finally:
        flyq.close()
        other.close()


def test_commit_in_on_revoke(broker: BrokerProcess) -> None:
    """CLIENT-33/34: without auto-commit, a member that commits its positions in on_revoke
    (an async callback, during the rebalance a second member starts) commits with its
    generation, which the coordinator accepts; the second member then starts after them."""
    async def scenario() -> None:
        await create_topic(broker)
        produced = await produce(broker, 5, "one")
        a = await connect(broker, enable_auto_commit=False)
        revoked_with: list[dict[Any, int]] = []

        async def commit_on_revoke(partitions: set[Any]) -> None:
            await a.commit()
            revoked_with.append({tp: await a.position(tp) for tp in partitions})
        a.subscribe([TOPIC], on_revoke=commit_on_revoke)
        log_a = Log("a", [])
        await poll_until({a: log_a}, lambda: len(log_a.records) == len(produced))
        b = await connect(broker, enable_auto_commit=False)
        b.subscribe([TOPIC])
        log_b = Log("b", [])
        await poll_until({a: log_a, b: log_b}, lambda: owners_cover_all([a, b]))
        assert revoked_with == [{tp: 5 for tp in ALL}]
        end, committed = await end_and_committed(broker)
        assert committed == end
        for _ in range(5):
            assert await b.poll(0.05) == []  # b starts at the committed offsets
        await a.close()
        await b.close()
    asyncio.run(scenario())


def test_sync_facade_subscribe(broker: BrokerProcess) -> None:
    """CLIENT-37: `Consumer.subscribe` reads every record; its sync callbacks run on the
    consumer's loop thread, where calling the facade back raises InvalidArgument;
    `unsubscribe` revokes and leaves, after which `assign` is allowed."""
    asyncio.run(create_topic(broker))
    produced = asyncio.run(produce(broker, 4, "one"))
    calls: list[tuple[str, str, set[Any]]] = []
    facade_errors: list[Exception] = []
    with Consumer(broker.bootstrap, **MEMBER) as consumer:
        def on_assign(partitions: set[Any]) -> None:
            calls.append(("assign", threading.current_thread().name, partitions))
            try:
                consumer.assignment()
            except InvalidArgument as exc:
                facade_errors.append(exc)
        consumer.subscribe([TOPIC], on_assign=on_assign,
                           on_revoke=lambda parts: calls.append(
                               ("revoke", threading.current_thread().name, parts)))
        assert consumer.subscription() == {TOPIC}
        read: list[Key] = []
        deadline = time.monotonic() + WAIT
        while len(read) < len(produced):
            assert time.monotonic() < deadline, read
            read += [(r.topic, r.partition, r.offset) for r in consumer.poll(0.1)]
        assert sorted(read) == sorted(produced)
        consumer.unsubscribe()
        assert consumer.assignment() == set() and consumer.subscription() == set()
        consumer.assign([(TOPIC, 0)])
    assert calls == [("assign", "flyq-consumer", ALL), ("revoke", "flyq-consumer", ALL)]
    assert len(facade_errors) == 1
    end, committed = asyncio.run(end_and_committed(broker))
    assert committed == end


def test_a_fenced_members_commit_is_refused(broker: BrokerProcess) -> None:
    """CLIENT-34/35: once the coordinator has removed a member (a LeaveGroup naming it), the
    member's commit with its old generation is refused with the Kafka error rather than
    accepted; its next heartbeat makes it rejoin and it gets its partitions back."""
    async def scenario() -> None:
        await create_topic(broker)
        a = await connect(broker, heartbeat_interval_ms=1000)
        a.subscribe([TOPIC])
        await poll_until({a: Log("a", [])}, lambda: a.assignment() == ALL)
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            [group] = await admin.describe_groups([GROUP])
        [member] = group.members
        async with await BrokerConnection.open(broker.bootstrap) as raw:
            body = (await raw.request(13, {"group_id": GROUP, "members": [
                {"member_id": member.member_id}]}, (3, 5))).body
        assert body["error_code"] == 0 and body["members"][0]["error_code"] == 0
        with pytest.raises((UnknownMemberId, IllegalGeneration)):
            await a.commit({(TOPIC, 0): 0})
        await poll_until({a: Log("a", [])}, lambda: a.assignment() == ALL
                         and a._member is not None and a._member.stable
                         and a._member.member_id != member.member_id)
        await a.commit({(TOPIC, 0): 0})  # the new generation's commit is accepted
        await a.close()
    asyncio.run(scenario())


def test_subscribe_and_assign_exclude_each_other(broker: BrokerProcess) -> None:
    """CLIENT-30: subscribe needs a group id; subscribe after assign, or assign after
    subscribe, without unsubscribe() in between, is InvalidArgument."""
    async def scenario() -> None:
        await create_topic(broker)
        async with await connect(broker, group_id=None) as lone:
            with pytest.raises(InvalidArgument):
                lone.subscribe([TOPIC])
        async with await connect(broker) as consumer:
            consumer.assign([(TOPIC, 0)])
            with pytest.raises(InvalidArgument):
                consumer.subscribe([TOPIC])
            await consumer.unsubscribe()
            consumer.subscribe([TOPIC])
            with pytest.raises(InvalidArgument):
                consumer.assign([(TOPIC, 0)])
            with pytest.raises(InvalidArgument):
                consumer.subscribe([])
    asyncio.run(scenario())


def test_a_coordinator_at_another_address(broker: BrokerProcess) -> None:
    """CLIENT-31: bootstrapped by `localhost:PORT`, the member finds the coordinator at the
    broker's advertised 127.0.0.1 address; commits and committed offsets then go over the
    coordinator connection, and the group works as through the bootstrap address."""
    async def scenario() -> None:
        await create_topic(broker)
        produced = await produce(broker, 3, "one")
        consumer = await AsyncConsumer.connect(f"localhost:{broker.port}", **MEMBER)
        consumer.subscribe([TOPIC])
        log = Log("a", [])
        await poll_until({consumer: log}, lambda: len(log.records) >= len(produced))
        member = consumer._member
        assert member is not None and member.coordinator is not None
        assert member.coordinator_address == ("127.0.0.1", broker.port)
        assert await consumer._coordinator_connection() is member.coordinator
        await consumer.commit()
        assert {tp: await consumer.committed(tp) for tp in ALL} == {tp: 3 for tp in ALL}
        await consumer.close()
        assert sorted(log.records) == sorted(produced)
    asyncio.run(scenario())


def test_a_member_that_stops_polling_leaves_and_rejoins(broker: BrokerProcess) -> None:
    """CLIENT-37: a member not polled for max_poll_interval_ms leaves the group (on_revoke
    called for its lost partitions), so the other member gets every partition; its next poll
    rejoins and the two split the topic again."""
    async def scenario() -> None:
        await create_topic(broker)
        events: list[tuple[str, str, frozenset[Any]]] = []
        a = await connect(broker, max_poll_interval_ms=1000)
        b = await connect(broker)
        logs = {a: Log("a", events), b: Log("b", events)}
        for consumer, log in logs.items():
            consumer.subscribe([TOPIC], on_assign=log.on_assign, on_revoke=log.on_revoke)
        await poll_until(logs, lambda: owners_cover_all([a, b]))
        await poll_until({b: logs[b]}, lambda: b.assignment() == ALL)  # a is not polled
        assert logs[a].mine()[-1][0] == "revoke" and a.assignment() == set()
        await poll_until(logs, lambda: owners_cover_all([a, b]))
        await a.close()
        await b.close()
    asyncio.run(scenario())


def test_group_and_callback_errors_reach_poll(broker: BrokerProcess) -> None:
    """CLIENT-36: an exception of on_assign is raised once, from the next poll; a member whose
    protocols share none with the group's (INCONSISTENT_GROUP_PROTOCOL, 23) has its membership
    ended, and every later poll raises that error."""
    async def scenario() -> None:
        await create_topic(broker)

        def boom(partitions: set[Any]) -> None:
            raise ValueError("on_assign failed")
        async with await connect(broker, partition_assignment_strategy="range") as a, \
                await connect(broker, partition_assignment_strategy=["roundrobin"]) as b:
            a.subscribe([TOPIC], on_assign=boom)
            with pytest.raises(ValueError, match="on_assign failed"):
                await poll_until({a: Log("a", [])}, lambda: False)
            assert a.assignment() == ALL and await a.poll(0.05) == []
            b.subscribe([TOPIC])
            for _ in range(2):
                with pytest.raises(RemoteError) as caught:
                    await poll_until({b: Log("b", [])}, lambda: False)
                assert caught.value.error_code == 23
    asyncio.run(scenario())
