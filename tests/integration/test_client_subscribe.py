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
from flyq.client._consumer import ConsumerRecord
from flyq.errors import IllegalGeneration, InvalidArgument, UnknownMemberId
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
