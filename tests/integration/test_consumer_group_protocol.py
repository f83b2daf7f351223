"""The consumer group protocol (KIP-848, spec/consumer-group-protocol.md) with real confluent-kafka
consumers (`group.protocol=consumer`, librdkafka's ConsumerGroupHeartbeat) against a real broker.

The broker runs with a 500 ms consumer heartbeat interval (`group.consumer.heartbeat.interval.ms`;
Kafka's default is 5 000), so that reconciliations that wait for a heartbeat take a test-sized time.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

import confluent_kafka
import confluent_kafka.admin
import pytest

from tests.integration._timings import record_timing
from tests.integration.broker_process import (
    KIP848_HEARTBEAT_INTERVAL_MS,
    KIP848_SESSION_TIMEOUT_MS,
    BrokerProcess,
)

pytestmark = pytest.mark.integration

TOPIC = "kip848"
PARTITIONS = 6


class Member:
    """One confluent-kafka consumer with `group.protocol=consumer`, polled on its own thread.

    It records every value it reads and, after each poll, the partitions it is assigned (as the
    client itself sees them, read on the polling thread).
    """

    def __init__(self, broker: BrokerProcess, name: str, seen: set[int], lock: threading.Lock):
        self.name = name
        self.seen = seen
        self.lock = lock
        self.assigned: frozenset[int] = frozenset()
        self.error: str | None = None
        self._stop = threading.Event()
        self._config = {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "kip848-group",
            "group.protocol": "consumer",
            "client.id": name,
            "auto.offset.reset": "earliest",
        }
        self._thread = threading.Thread(target=self._run, name=name)

    def start(self) -> Member:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop polling and close the consumer (it leaves the group, epoch -1)."""
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), f"{self.name} did not close"

    def _run(self) -> None:
        consumer = confluent_kafka.Consumer(self._config)
        try:
            consumer.subscribe([TOPIC])
            while not self._stop.is_set():
                message = consumer.poll(0.05)
                assigned = frozenset(tp.partition for tp in consumer.assignment())
                with self.lock:
                    self.assigned = assigned
                    if message is None:
                        continue
                    if message.error() is not None:
                        self.error = str(message.error())
                    else:
                        self.seen.add(int(message.value()))
        finally:
            consumer.close()
            with self.lock:
                self.assigned = frozenset()


def produce(broker: BrokerProcess, values: range) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
    for value in values:
        producer.produce(TOPIC, str(value).encode(), key=str(value).encode())
    assert producer.flush(15) == 0


def create(broker: BrokerProcess) -> None:
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in admin.create_topics([confluent_kafka.admin.NewTopic(TOPIC, PARTITIONS, 1)]).values():
        future.result(15)


def balanced(members: list[Member], lock: threading.Lock) -> bool:
    """Each member holds its share (6 // n, the same for all when n divides 6), no partition is
    held twice, and together they hold all six: what the uniform assignor's target is."""
    with lock:
        held = [m.assigned for m in members]
    share = PARTITIONS // len(members)
    every = [p for partitions in held for p in partitions]
    return all(len(h) == share for h in held) and sorted(every) == list(range(PARTITIONS))


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition()` every 10 ms; the seconds it took. Fails the test after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.01)
    pytest.fail(f"not within {timeout} s: {what}")


def test_three_consumers_share_six_partitions_and_take_over_on_close(
    kip848_broker: BrokerProcess,
) -> None:
    """CG-13, CG-14, CG-16: three consumer-protocol consumers read every record of a six-partition
    topic, holding two disjoint partitions each; when one closes (leaves with epoch -1), its
    partitions move to the other two (three each) and records produced afterwards are all read.
    The broker's ConsumerGroupDescribe, through the admin client, agrees."""
    create(kip848_broker)
    produce(kip848_broker, range(600))
    seen: set[int] = set()
    lock = threading.Lock()
    members = [Member(kip848_broker, f"m{i}", seen, lock).start() for i in range(3)]
    try:
        wait_until(lambda: balanced(members, lock) and len(seen) == 600, 60, "three members, 2 each")
        admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": kip848_broker.bootstrap})
        group = admin.describe_consumer_groups(["kip848-group"])["kip848-group"].result(15)
        assert len(group.members) == 3
        described = sorted(tp.partition for m in group.members for tp in m.assignment.topic_partitions)
        assert described == list(range(PARTITIONS))

        leaving = members.pop(1)
        leaving.close()
        produce(kip848_broker, range(600, 900))
        wait_until(lambda: balanced(members, lock) and len(seen) == 900, 60, "two members, 3 each")
    finally:
        for member in members:
            member.close()
    assert seen == set(range(900))
    everyone = [*members, leaving]
    assert all(m.error is None for m in everyone), [m.error for m in everyone]


def test_rebalance_time_when_a_member_joins(kip848_broker: BrokerProcess) -> None:
    """CG-10..12: with two members settled (3 partitions each), a third joins; measured from its
    subscribe to the moment all three hold their target (2 each, disjoint, all six), over ten
    rounds (the third closes between rounds, and the two settle back to 3 each)."""
    create(kip848_broker)
    produce(kip848_broker, range(60))
    seen: set[int] = set()
    lock = threading.Lock()
    members = [Member(kip848_broker, f"steady{i}", seen, lock).start() for i in range(2)]
    times: list[float] = []
    try:
        wait_until(lambda: balanced(members, lock), 60, "two members settle")
        for round_number in range(10):
            joiner = Member(kip848_broker, f"joiner{round_number}", seen, lock).start()
            group = [*members, joiner]
            try:
                times.append(wait_until(lambda g=group: balanced(g, lock), 60, "three settle"))
            finally:
                joiner.close()
            wait_until(lambda: balanced(members, lock), 60, "two settle back")
    finally:
        for member in members:
            member.close()
    assert len(times) == 10
    record_timing(
        f"KIP-848 rebalance, a 3rd member joins (heartbeat interval {KIP848_HEARTBEAT_INTERVAL_MS} ms)",
        times)


def test_consumer_rejoins_after_broker_restart(kip848_broker: BrokerProcess) -> None:
    """CG-6, CG-19: group membership does not survive a broker restart; the consumer's next
    heartbeat is told UNKNOWN_MEMBER_ID (not librdkafka-fatal GROUP_ID_NOT_FOUND), it rejoins at
    epoch 0, and reads on from its committed offsets: every record, none lost."""
    create(kip848_broker)
    produce(kip848_broker, range(60))
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": kip848_broker.bootstrap,
            "group.id": "restarted",
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    seen: list[int] = []
    errors: list[str] = []

    def pump(until: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(set(seen)) < until:
            message = consumer.poll(0.1)
            if message is None:
                continue
            if message.error() is not None:
                errors.append(str(message.error()))
            else:
                seen.append(int(message.value()))
                consumer.commit(message, asynchronous=False)

    try:
        consumer.subscribe([TOPIC])
        pump(60, 30)
        assert set(seen) == set(range(60))
        kip848_broker.restart()
        produce(kip848_broker, range(60, 120))
        pump(120, 60)
    finally:
        consumer.close()
    assert set(seen) == set(range(120))
    assert not [e for e in errors if "FATAL" in e.upper()], errors


_CRASHING_CONSUMER = """
import sys, confluent_kafka
consumer = confluent_kafka.Consumer({"bootstrap.servers": sys.argv[1], "group.id": "kip848-group",
    "group.protocol": "consumer", "client.id": "doomed", "auto.offset.reset": "earliest"})
consumer.subscribe([sys.argv[2]])
while True:
    consumer.poll(0.05)
"""


def test_killed_consumer_partitions_move_after_its_session(kip848_broker: BrokerProcess) -> None:
    """CG-17: a consumer process killed with SIGKILL (no leave) keeps its partitions until its
    session is over, then the two others take them (3 each); not before the session timeout
    less one heartbeat interval has passed since the kill."""
    create(kip848_broker)
    produce(kip848_broker, range(60))
    seen: set[int] = set()
    lock = threading.Lock()
    members = [Member(kip848_broker, f"survivor{i}", seen, lock).start() for i in range(2)]
    doomed = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_CONSUMER, kip848_broker.bootstrap, TOPIC],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def two_each() -> bool:
            with lock:
                held = [m.assigned for m in members]
            return all(len(h) == 2 for h in held) and not (held[0] & held[1])

        wait_until(two_each, 60, "three members, the survivors with 2 each")
        doomed.kill()
        doomed.wait(10)
        took = wait_until(lambda: balanced(members, lock), 60, "survivors take over")
    finally:
        if doomed.poll() is None:
            doomed.kill()
        for member in members:
            member.close()
    assert took >= (KIP848_SESSION_TIMEOUT_MS - KIP848_HEARTBEAT_INTERVAL_MS) / 1000, took
