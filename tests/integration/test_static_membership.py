"""Static membership (KIP-345, spec/group-coordinator.md GC-16..GC-20) with real confluent-kafka
consumers against a real `flyq broker`.

DescribeGroups carries no generation, so the generation is read by probing: a Heartbeat v0,
encoded here by hand, is answered ILLEGAL_GENERATION (22) for any generation but the current one.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import confluent_kafka
import confluent_kafka.admin
import pytest

from tests.integration._clients import make_admin
from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TOPIC = "static4"
GROUP = "statics"
PARTITIONS = 4
SESSION_MS = 10_000
ILLEGAL_GENERATION = 22
HEARTBEAT = 12


def heartbeat_v0(bootstrap: str, group: str, generation: int, member_id: str) -> int:
    """The error code of one Heartbeat v0 (api 12): header v1, then group_id, generation_id and
    member_id, each string an int16 length and UTF-8 bytes (Kafka protocol guide)."""

    def string(text: str) -> bytes:
        data = text.encode()
        return struct.pack(">h", len(data)) + data

    body = struct.pack(">hhi", HEARTBEAT, 0, 7) + string("probe")
    body += string(group) + struct.pack(">i", generation) + string(member_id)
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(struct.pack(">i", len(body)) + body)
        data = b""
        while len(data) < 10:
            chunk = connection.recv(10 - len(data))
            assert chunk, "connection closed before the Heartbeat answer"
            data += chunk
    _size, correlation_id, error_code = struct.unpack(">iih", data)
    assert correlation_id == 7
    return int(error_code)


def current_generation(bootstrap: str, member_id: str) -> int:
    """The one generation in 1..50 the coordinator does not answer 22 for `member_id`."""
    codes = {g: heartbeat_v0(bootstrap, GROUP, g, member_id) for g in range(1, 51)}
    current = [g for g, code in codes.items() if code != ILLEGAL_GENERATION]
    assert len(current) == 1, codes
    assert codes[current[0]] == 0, codes
    return current[0]


def wait_until(condition: Callable[[], bool], poll: Callable[[], None], seconds: float) -> None:
    """Call `poll` until `condition()` holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        poll()


class StaticConsumer:
    """A confluent-kafka consumer with a `group.instance.id` that records what it reads and how
    many assignments it was given."""

    def __init__(self, bootstrap: str, instance_id: str, seen: set[int]) -> None:
        self.assignments = 0
        self.seen = seen
        self.consumer = confluent_kafka.Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": GROUP,
                "client.id": instance_id,
                "group.instance.id": instance_id,
                "session.timeout.ms": SESSION_MS,
                "heartbeat.interval.ms": 500,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.consumer.subscribe([TOPIC], on_assign=self._on_assign)

    def _on_assign(self, _consumer: confluent_kafka.Consumer, _partitions: list[object]) -> None:
        self.assignments += 1

    def poll(self) -> None:
        message = self.consumer.poll(0.05)
        if message is not None and message.error() is None:
            self.seen.add(int(message.value()))

    def partitions(self) -> set[int]:
        return {tp.partition for tp in self.consumer.assignment()}


def produce(bootstrap: str, values: range) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(TOPIC, str(value).encode(), partition=value % PARTITIONS)
    assert producer.flush(15) == 0


def describe(admin: confluent_kafka.admin.AdminClient) -> tuple[str, dict[str, str]]:
    """The group's state and its members as instance id -> member id."""
    group = admin.describe_consumer_groups([GROUP])[GROUP].result(10)
    members = {member.group_instance_id: member.member_id for member in group.members}
    return str(group.state), members


def test_static_member_restart_keeps_partitions_and_generation(broker: BrokerProcess) -> None:
    """GC-17: a static consumer closed without leaving and restarted with the same
    group.instance.id within session.timeout.ms gets the same partitions back; the group keeps
    its generation (no rebalance: the other consumer is not reassigned), and every record,
    including those produced while it was down, is read."""
    make_admin("confluent-kafka", broker.bootstrap).create(TOPIC, PARTITIONS)
    produce(broker.bootstrap, range(40))
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    seen: set[int] = set()
    # The first consumer is alone in generation 1, so it leads; its restart is a leader's.
    first = StaticConsumer(broker.bootstrap, "static-a", seen)
    wait_until(lambda: bool(first.partitions()), first.poll, 15)
    second = StaticConsumer(broker.bootstrap, "static-b", seen)

    def poll_both() -> None:
        first.poll()
        second.poll()

    def settled() -> bool:
        owned = [first.partitions(), second.partitions()]
        return (
            all(owned)
            and owned[0] | owned[1] == set(range(PARTITIONS))
            and len(seen) == 40
            and describe(admin)[0].endswith("STABLE")
        )

    wait_until(settled, poll_both, 20)
    state, members = describe(admin)
    assert set(members) == {"static-a", "static-b"}
    generation = current_generation(broker.bootstrap, members["static-b"])
    first_partitions = first.partitions()
    second_assignments = second.assignments
    first.consumer.commit(asynchronous=False)
    first.consumer.close()  # a static member sends no LeaveGroup: it stays in the group

    produce(broker.bootstrap, range(40, 80))
    state_while_down, members_while_down = describe(admin)
    assert state_while_down.endswith("STABLE")
    assert members_while_down == members
    restarted = StaticConsumer(broker.bootstrap, "static-a", seen)

    def poll_restarted() -> None:
        restarted.poll()
        second.poll()

    wait_until(lambda: bool(restarted.partitions()) and len(seen) == 80, poll_restarted, 15)
    try:
        assert restarted.partitions() == first_partitions
        state, members_after = describe(admin)
        assert state.endswith("STABLE")
        assert members_after["static-b"] == members["static-b"]
        assert members_after["static-a"] != members["static-a"]  # a new member id, same instance
        assert current_generation(broker.bootstrap, members_after["static-b"]) == generation
        assert second.assignments == second_assignments
        assert seen == set(range(80))
    finally:
        restarted.consumer.close()
        second.consumer.close()
