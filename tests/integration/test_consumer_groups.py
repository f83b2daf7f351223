"""Consumer groups over the classic protocol (spec/group-coordinator.md) with real clients against
a real `flyq broker` on 127.0.0.1: members that die, members removed but still committing (a raw
client driven through FlyQ's codec), the group flow with each Python client, cooperative-sticky
rounds, heartbeats and commits through the fault proxy, and the time a rebalance takes.

FlyQ's smallest session timeout is 6000 ms (Kafka's default `group.min.session.timeout.ms`), so
the tests that wait for a session to expire take about that long each.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import confluent_kafka
import confluent_kafka.admin
import pytest

from tests.integration._raw_client import RawClient
from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

SESSION_MS = 6000  # FlyQ's min session timeout
HEARTBEAT_MS = 300
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
REBALANCE_IN_PROGRESS = 27
TIMEOUT = 30.0


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.02) -> float:
    """Poll `condition` until it holds; the monotonic time it did. Fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(interval)


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([confluent_kafka.admin.NewTopic(name, partitions, 1)])[name].result(15)


def produce(bootstrap: str, topic: str, partitions: int, values: range) -> None:
    """Records `str(v)` for v in `values`, round robin over the partitions."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                                         "enable.idempotence": False})
    for value in values:
        producer.produce(topic, str(value).encode(), partition=value % partitions)
    assert producer.flush(15) == 0


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        return {partition: consumer.get_watermark_offsets(
            confluent_kafka.TopicPartition(topic, partition), timeout=15)[1]
            for partition in range(partitions)}
    finally:
        consumer.close()


def all_offsets(ends: dict[int, int]) -> set[tuple[int, int]]:
    return {(partition, offset) for partition, end in ends.items() for offset in range(end)}


# --- a removed member's commit is fenced (GC-12, GC-13) ---------------------------------------


def test_a_removed_members_commit_is_refused(broker: BrokerProcess) -> None:
    """GC-12/GC-13 with a raw client: a current member's commit with its previous generation gets
    22; after it stops heartbeating past its session it is removed, and its commit with its last
    generation and member id gets 25; neither changes the committed offset, while the live
    member's commit with the current generation is applied."""
    create_topic(broker.bootstrap, "fenced", 1)
    group, topics = "zombies", ["fenced"]
    zombie, live = RawClient(broker.bootstrap, "zombie"), RawClient(broker.bootstrap, "live")
    try:
        zombie_id = zombie.join_new(group, topics)
        joined = zombie.receive()
        assert joined["error_code"] == 0 and joined["leader"] == zombie_id
        first = joined["generation_id"]
        assert zombie.sync(group, first, zombie_id, {zombie_id: {"fenced": [0]}})[
            "error_code"] == 0
        assert zombie.commit(group, first, zombie_id, "fenced", 0, 5) == 0
        # A second member joins; the zombie rejoins too, so both are in the next generation.
        live_id = live.join_new(group, topics)
        assert zombie.heartbeat(group, first, zombie_id) == REBALANCE_IN_PROGRESS
        zombie.join(group, topics, member_id=zombie_id)
        answers = [zombie.receive(), live.receive()]
        assert [answer["error_code"] for answer in answers] == [0, 0]
        second = answers[0]["generation_id"]
        assert second == first + 1 == answers[1]["generation_id"]
        assert zombie.sync(group, second, zombie_id,
                           {zombie_id: {"fenced": [0]}, live_id: {}})["error_code"] == 0
        assert live.sync(group, second, live_id)["error_code"] == 0
        assert zombie.commit(group, first, zombie_id, "fenced", 0, 7) == ILLEGAL_GENERATION
        assert zombie.committed(group, "fenced", 0) == 5
        # The zombie stops heartbeating; the live member goes on, and rejoins when told to.
        stopped = time.monotonic()
        generation = second
        deadline = stopped + SESSION_MS / 1000 + 10
        while zombie_id in zombie.describe(group)["members"] or generation == second:
            assert time.monotonic() < deadline, "the silent member was never removed"
            code = live.heartbeat(group, generation, live_id)
            if code == REBALANCE_IN_PROGRESS:
                live.join(group, topics, member_id=live_id)
                rejoined = live.receive()
                assert rejoined["error_code"] == 0, rejoined
                generation = rejoined["generation_id"]
                assert live.sync(group, generation, live_id, {live_id: {"fenced": [0]}})[
                    "error_code"] == 0
            else:
                assert code == 0, code
            time.sleep(0.2)
        removed_after = time.monotonic() - stopped
        assert removed_after >= SESSION_MS / 1000 - 0.5, "removed before its session expired"
        described = zombie.describe(group)
        assert described["state"] == "Stable"
        assert set(described["members"]) == {live_id}
        assert generation == second + 1
        assert zombie.commit(group, second, zombie_id, "fenced", 0, 9) == UNKNOWN_MEMBER_ID
        assert zombie.committed(group, "fenced", 0) == 5
        assert live.commit(group, generation, live_id, "fenced", 0, 11) == 0
        assert live.committed(group, "fenced", 0) == 11
    finally:
        zombie.close()
        live.close()
