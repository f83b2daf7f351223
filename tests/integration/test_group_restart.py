"""What a broker restart does to a consumer group (spec/group-coordinator.md, "Broker restart"):
membership is in memory, committed offsets are on disk. Real confluent-kafka consumers, one of them
static, keep consuming across a restart: they rejoin, resume from their commits, and every record
is delivered at least once."""

from __future__ import annotations

import threading
import time

import confluent_kafka
import confluent_kafka.admin
import pytest

from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TOPIC = "restarted"
GROUP = "survivors"
PARTITIONS = 4
BEFORE, AFTER = 300, 300


def produce(broker: BrokerProcess, first: int, count: int) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
    for index in range(first, first + count):
        producer.produce(TOPIC, str(index).encode(), key=str(index).encode())
    assert producer.flush(15) == 0


def group_members(broker: BrokerProcess) -> tuple[str, list[int]]:
    """The group's state and the partitions its members own, as DescribeGroups reports them."""
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    group = admin.describe_consumer_groups([GROUP])[GROUP].result(10)
    owned = sorted(tp.partition for member in group.members
                   for tp in member.assignment.topic_partitions)
    return str(group.state), owned


def test_consumers_rejoin_and_resume_after_a_broker_restart(broker: BrokerProcess) -> None:
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([confluent_kafka.admin.NewTopic(TOPIC, PARTITIONS)])[TOPIC].result(10)
    produce(broker, 0, BEFORE)
    seen: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []
    refused_commits: list[str] = []

    def consume(number: int, static: bool) -> None:
        config = {
            "bootstrap.servers": broker.bootstrap, "group.id": GROUP,
            "client.id": f"survivor-{number}", "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
            "enable.auto.commit": False,
            # Short reconnect backoff: the broker is away for about a second.
            "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500}
        if static:
            config["group.instance.id"] = f"survivor-static-{number}"
        consumer = confluent_kafka.Consumer(config)
        try:
            consumer.subscribe([TOPIC])
            while not stop.is_set():
                message = consumer.poll(0.2)
                if message is None:
                    continue
                if message.error() is not None:
                    errors.append(str(message.error()))
                    continue
                with lock:
                    seen.append(int(message.value()))
                try:  # commit what was processed; a commit refused during the rejoin is redone
                    consumer.commit(message, asynchronous=False)
                except confluent_kafka.KafkaException as exc:
                    refused_commits.append(str(exc))
        finally:
            consumer.close()

    threads = [threading.Thread(target=consume, args=(n, n == 1)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                done = len(set(seen)) == BEFORE
            if done and group_members(broker) == ("ConsumerGroupState.STABLE",
                                                  list(range(PARTITIONS))):
                break
            time.sleep(0.2)
        assert len(set(seen)) == BEFORE

        assert broker.restart(same_port=True) == 0
        produce(broker, BEFORE, AFTER)
        deadline = time.monotonic() + 45
        settled = None
        while time.monotonic() < deadline:
            with lock:
                done = len(set(seen)) == BEFORE + AFTER
            settled = group_members(broker)
            if done and settled == ("ConsumerGroupState.STABLE", list(range(PARTITIONS))):
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)
    assert sorted(set(seen)) == list(range(BEFORE + AFTER)), "a record was never delivered"
    assert settled == ("ConsumerGroupState.STABLE", list(range(PARTITIONS)))
    assert errors == []
    # Commits are durable and each record was committed after it was processed: a record is read
    # again only when its commit was refused (the old generation's, ILLEGAL_GENERATION after the
    # restart), never because the restart lost what had been committed.
    duplicates = len(seen) - (BEFORE + AFTER)
    assert duplicates <= len(refused_commits), (duplicates, refused_commits)
    assert all("ILLEGAL_GENERATION" in refused or "UNKNOWN_MEMBER_ID" in refused
               or "REBALANCE_IN_PROGRESS" in refused for refused in refused_commits)
