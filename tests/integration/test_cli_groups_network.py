"""`flyq groups ... --bootstrap` (flyq/cli/groups.py over flyq.client) and the group admin APIs
(spec/protocol.md GADM-1..4) against a real `flyq broker`, with a real confluent-kafka consumer
in the group (classic, or two with `group.protocol=consumer`: KIP-848), and Kafka's own admin
clients deleting groups."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import confluent_kafka
import confluent_kafka.admin
import pytest

from flyq.client import AsyncAdmin
from flyq.errors import (
    ConnectionBroken,
    GroupSubscribedToTopic,
    UnknownGroup,
    UnknownMemberId,
)
from tests.integration.broker_process import BrokerProcess
from tests.integration.test_cli import fails, ok, run

with warnings.catch_warnings():
    # kafka-python 3.x's package import uses the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka.admin

pytestmark = pytest.mark.integration

TOPIC = "orders"
GROUP = "billing"
GROUP_SUBSCRIBED_TO_TOPIC = 86
REFUSED = ("Assignments can only be reset if the group is inactive, but the current state is "
           "Stable.")


def produce(broker: BrokerProcess, counts: dict[int, int]) -> None:
    """Create TOPIC with len(counts) partitions and produce counts[p] records to partition p."""
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([confluent_kafka.admin.NewTopic(TOPIC, len(counts), 1)])[TOPIC].result(10)
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
    for partition, count in counts.items():
        for index in range(count):
            producer.produce(TOPIC, f"{partition}-{index}".encode(), partition=partition)
    assert producer.flush(15) == 0


@pytest.fixture
def consumer(broker: BrokerProcess) -> Iterator[confluent_kafka.Consumer]:
    """A confluent-kafka consumer subscribed in GROUP, polled until it owns both partitions."""
    produce(broker, {0: 5, 1: 3})
    member = confluent_kafka.Consumer({
        "bootstrap.servers": broker.bootstrap, "group.id": GROUP, "client.id": "billing-app",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
        "session.timeout.ms": 10000})
    member.subscribe([TOPIC])
    deadline = time.monotonic() + 20
    while len(member.assignment()) < 2 and time.monotonic() < deadline:
        member.poll(0.2)
    assert sorted(tp.partition for tp in member.assignment()) == [0, 1]
    try:
        yield member
    finally:
        with contextlib.suppress(RuntimeError):  # a test may have closed it already
            member.close()


def flyq(broker: BrokerProcess, *args: str) -> str:
    """`flyq groups ARGS --bootstrap` must succeed; its stdout."""
    return ok("groups", *args, "--bootstrap", broker.bootstrap)


def describe(broker: BrokerProcess) -> dict[str, object]:
    return describe_group(broker, GROUP)


def describe_group(broker: BrokerProcess, group: str) -> dict[str, Any]:
    """`flyq groups describe GROUP --bootstrap --format json`, parsed."""
    return dict(json.loads(flyq(broker, "describe", group, "--format", "json")))


def lags(document: dict[str, object]) -> dict[int, tuple[int | None, int | None, int | None]]:
    """partition -> (committed_offset, log_end_offset, lag) of a describe document."""
    rows = document["partitions"]
    assert isinstance(rows, list)
    return {row["partition"]: (row["committed_offset"], row["log_end_offset"], row["lag"])
            for row in rows}


def test_describe_shows_the_live_member_its_assignment_and_the_lag(
        broker: BrokerProcess, consumer: confluent_kafka.Consumer) -> None:
    """GRP-CLI-6: describe --bootstrap: state, protocol, the member's client id, host and partitions,
    and per partition what the test committed, the log end it produced and their difference."""
    consumer.commit(offsets=[confluent_kafka.TopicPartition(TOPIC, 0, 2),
                             confluent_kafka.TopicPartition(TOPIC, 1, 3)], asynchronous=False)
    document = describe(broker)
    assert (document["group_type"], document["state"], document["protocol_type"],
            document["protocol"]) == ("classic", "Stable", "consumer", "range")
    assert (document["group_epoch"], document["assignment_epoch"]) == (None, None)
    members = document["members"]
    assert isinstance(members, list) and len(members) == 1
    member = members[0]
    assert member["client_id"] == "billing-app"
    assert member["member_epoch"] is None and member["target_assignment"] is None
    assert "127.0.0.1" in member["client_host"]
    assert member["assignment"] == [{"topic": TOPIC, "partition": 0},
                                    {"topic": TOPIC, "partition": 1}]
    assert lags(document) == {0: (2, 5, 3), 1: (3, 3, 0)}
    rows = document["partitions"]
    assert isinstance(rows, list)
    assert {row["member_id"] for row in rows} == {member["member_id"]}
    text = flyq(broker, "describe", GROUP)
    assert "Type: classic  State: Stable  Protocol type: consumer  Protocol: range  Members: 1" in text
    assert "billing-app" in text and f"{TOPIC}-0,{TOPIC}-1" in text


def test_reset_and_delete_are_refused_while_live_then_work(
        broker: BrokerProcess, consumer: confluent_kafka.Consumer) -> None:
    """GRP-CLI-7, GRP-CLI-6, GADM-2: reset-offsets is refused while the group is Stable (Kafka's
    message), delete gets NON_EMPTY_GROUP; once the consumer closed, reset prints the plan, --execute
    applies it, delete removes the group and `list` no longer shows it."""
    consumer.commit(offsets=[confluent_kafka.TopicPartition(TOPIC, 0, 4),
                             confluent_kafka.TopicPartition(TOPIC, 1, 1)], asynchronous=False)
    args = ("groups", "reset-offsets", GROUP, "--topic", TOPIC, "--to-earliest",
            "--bootstrap", broker.bootstrap)
    assert REFUSED in fails(*args, "--execute")
    assert "NON_EMPTY_GROUP" in fails("groups", "delete", GROUP, "--bootstrap", broker.bootstrap)
    listed = json.loads(flyq(broker, "list", "--format", "json"))
    assert listed == [{"group_id": GROUP, "state": "Stable", "protocol_type": "consumer",
                       "group_type": "classic"}]
    consumer.close()

    planned = run(*args)
    assert planned.returncode == 0, planned.stderr.decode()
    assert planned.stdout.decode().splitlines() == [f"{GROUP} {TOPIC}-0: 4 -> 0",
                                                    f"{GROUP} {TOPIC}-1: 1 -> 0"]
    assert b"--execute" in planned.stderr
    assert lags(describe(broker)) == {0: (4, 5, 1), 1: (1, 3, 2)}
    ok(*args, "--execute")
    document = describe(broker)
    assert document["state"] == "Empty" and document["members"] == []
    assert lags(document) == {0: (0, 5, 5), 1: (0, 3, 3)}
    ok("groups", "reset-offsets", GROUP, "--topic", TOPIC, "--partition", "1", "--to-offset",
       "2", "--execute", "--bootstrap", broker.bootstrap)
    assert lags(describe(broker)) == {0: (0, 5, 5), 1: (2, 3, 1)}
    assert "out of range" in fails("groups", "reset-offsets", GROUP, "--topic", TOPIC,
                                   "--to-offset", "9", "--execute",
                                   "--bootstrap", broker.bootstrap)

    ok("groups", "delete", GROUP, "--bootstrap", broker.bootstrap)
    assert json.loads(flyq(broker, "list", "--format", "json")) == []
    assert "has no committed offsets" in fails("groups", "describe", GROUP,
                                               "--bootstrap", broker.bootstrap)


def test_bootstrap_comes_from_the_environment_and_a_dead_broker_is_one_line(
        broker: BrokerProcess) -> None:
    """GRP-CLI-6, CLIENT-2: FLYQ_BOOTSTRAP stands for --bootstrap; nobody listening is a one-line error,
    exit 1."""
    listed = run("groups", "list", env={"FLYQ_BOOTSTRAP": broker.bootstrap})
    assert listed.returncode == 0 and listed.stdout.decode().split() == [
        "GROUP_ID", "STATE", "PROTOCOL_TYPE", "GROUP_TYPE"]
    port = broker.port
    broker.stop()
    assert "cannot connect" in fails("groups", "list", "--bootstrap", f"127.0.0.1:{port}")


def test_kafka_admin_clients_delete_groups(broker: BrokerProcess) -> None:
    """GADM-1, GADM-2 through Kafka's clients: confluent-kafka's and kafka-python's
    delete_consumer_groups / delete_groups remove a group with only committed offsets, and a
    live group is refused with NON_EMPTY_GROUP."""
    produce(broker, {0: 2})
    committer = confluent_kafka.Consumer({"bootstrap.servers": broker.bootstrap,
                                          "group.id": "offsets-only"})
    committer.commit(offsets=[confluent_kafka.TopicPartition(TOPIC, 0, 1)], asynchronous=False)
    committer.close()
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.delete_consumer_groups(["offsets-only"])["offsets-only"].result(10)
    assert json.loads(flyq(broker, "list", "--format", "json")) == []

    member = confluent_kafka.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "live",
                                       "session.timeout.ms": 10000})
    member.subscribe([TOPIC])
    try:
        deadline = time.monotonic() + 20
        while not member.assignment() and time.monotonic() < deadline:
            member.poll(0.2)
        with pytest.raises(confluent_kafka.KafkaException) as refused:
            admin.delete_consumer_groups(["live"])["live"].result(10)
        assert refused.value.args[0].code() == confluent_kafka.KafkaError.NON_EMPTY_GROUP
    finally:
        member.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = kafka.admin.KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            assert client.delete_groups(["live", "nobody"]) == {
                "live": "OK", "nobody": "GroupIdNotFoundError"}
        finally:
            client.close()
    assert json.loads(flyq(broker, "list", "--format", "json")) == []


def test_kafka_python_deletes_group_offsets(broker: BrokerProcess,
                                            consumer: confluent_kafka.Consumer) -> None:
    """GADM-3 through kafka-python's delete_group_offsets: refused per partition with
    GROUP_SUBSCRIBED_TO_TOPIC while the subscribed consumer lives, done once it closed."""
    consumer.commit(offsets=[confluent_kafka.TopicPartition(TOPIC, 0, 1),
                             confluent_kafka.TopicPartition(TOPIC, 1, 2)], asynchronous=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = kafka.admin.KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            partition = kafka.TopicPartition(TOPIC, 0)
            refused = client.delete_group_offsets(GROUP, [partition])
            assert refused[partition].errno == GROUP_SUBSCRIBED_TO_TOPIC
            consumer.close()
            assert client.delete_group_offsets(GROUP, [partition])[partition].errno == 0
        finally:
            client.close()
    assert lags(describe(broker)) == {1: (2, 3, 1)}


def test_async_admin_offset_delete_and_errors(broker: BrokerProcess,
                                              consumer: confluent_kafka.Consumer) -> None:
    """CLIENT-2, CLIENT-4, CLIENT-5, GADM-3: AsyncAdmin over a real socket: OffsetDelete keeps a
    subscribed topic's offsets while the consumer lives (GADM-3), errors are FlyQErrors with Kafka's
    codes (ConsumerGroupDescribe of a classic group: GROUP_ID_NOT_FOUND with the broker's
    message), and a closed broker connection is ConnectionBroken."""
    consumer.commit(offsets=[confluent_kafka.TopicPartition(TOPIC, 0, 1),
                             confluent_kafka.TopicPartition(TOPIC, 1, 1)], asynchronous=False)

    async def scenario() -> None:
        async with await AsyncAdmin.connect(broker.bootstrap) as admin:
            assert await admin.list_topics() == {TOPIC: 2}
            assert list(await admin.list_topic_ids()) == [TOPIC]
            assert [g.group_type for g in await admin.list_groups()] == ["classic"]
            with pytest.raises(UnknownGroup, match="not a consumer group"):
                await admin.describe_consumer_groups([GROUP])  # a classic group
            with pytest.raises(GroupSubscribedToTopic):
                await admin.delete_group_offsets(GROUP, [(TOPIC, 0)])
            with pytest.raises(UnknownMemberId):  # GC-12, as Kafka
                await admin.alter_group_offsets(GROUP, {(TOPIC, 0): 0})
            assert await admin.list_group_offsets(GROUP) == {(TOPIC, 0): 1, (TOPIC, 1): 1}
            assert await admin.list_end_offsets([(TOPIC, 0), (TOPIC, 1)]) == {
                (TOPIC, 0): 5, (TOPIC, 1): 3}
            assert isinstance((await admin.delete_groups(["nobody"]))["nobody"], UnknownGroup)
            consumer.close()
            await admin.delete_group_offsets(GROUP, [(TOPIC, 0)])
            assert await admin.list_group_offsets(GROUP) == {(TOPIC, 1): 1}
            broker.stop()
            with pytest.raises(ConnectionBroken):
                await admin.list_groups()

    asyncio.run(scenario())


def test_a_data_dir_on_the_command_line_beats_flyq_bootstrap(tmp_path: Path) -> None:
    """$FLYQ_BOOTSTRAP chooses the network only when the command line names no data directory;
    naming both --bootstrap and --data-dir is a usage error (exit 2) naming both."""
    data = tmp_path / "data"
    ok("topic", "create", "t", data_dir=data)
    ok("groups", "reset-offsets", "g", "--topic", "t", "--to-earliest", data_dir=data)
    nowhere = {"FLYQ_BOOTSTRAP": "127.0.0.1:1"}  # nothing listens there
    offline = run("groups", "list", data_dir=data, env=nowhere)
    assert (offline.returncode, offline.stdout.decode().split()) == (0, ["g"])
    networked = run("groups", "list", env=nowhere)
    assert networked.returncode == 1
    both = run("groups", "list", "--bootstrap", "127.0.0.1:1", data_dir=data)
    assert both.returncode == 2
    assert b"--bootstrap" in both.stderr and b"--data-dir" in both.stderr


# --- consumer-protocol (KIP-848) groups ------------------------------------------------------

KIP848_GROUP = "billing-848"


class Kip848Member:
    """A confluent-kafka consumer with `group.protocol=consumer` in KIP848_GROUP, polled on its own
    thread, which also makes the commits `commit` hands it (the consumer stays on one thread)."""

    def __init__(self, broker: BrokerProcess, client_id: str) -> None:
        self.client_id = client_id
        self.assigned: frozenset[int] = frozenset()
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._commits: queue.Queue[tuple[list[confluent_kafka.TopicPartition], threading.Event]] = (
            queue.Queue())
        self._config = {"bootstrap.servers": broker.bootstrap, "group.id": KIP848_GROUP,
                        "group.protocol": "consumer", "client.id": client_id,
                        "auto.offset.reset": "earliest", "enable.auto.commit": False}
        self._thread = threading.Thread(target=self._run, name=client_id)
        self._thread.start()

    def held(self) -> frozenset[int]:
        with self._lock:
            return self.assigned

    def commit(self, offsets: dict[int, int]) -> None:
        """Commit `offsets` (partition of TOPIC -> offset) on the polling thread; wait for it."""
        done = threading.Event()
        self._commits.put(([confluent_kafka.TopicPartition(TOPIC, p, o) for p, o in offsets.items()],
                           done))
        assert done.wait(20), f"{self.client_id} did not commit"
        assert self.error is None, self.error

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), f"{self.client_id} did not close"

    def _run(self) -> None:
        consumer = confluent_kafka.Consumer(self._config)
        try:
            consumer.subscribe([TOPIC])
            while not self._stop.is_set():
                consumer.poll(0.05)
                with self._lock:
                    self.assigned = frozenset(tp.partition for tp in consumer.assignment())
                try:
                    offsets, done = self._commits.get_nowait()
                except queue.Empty:
                    continue
                try:
                    consumer.commit(offsets=offsets, asynchronous=False)
                except confluent_kafka.KafkaException as exc:
                    self.error = exc
                done.set()
        finally:
            consumer.close()


def settled(members: list[Kip848Member]) -> bool:
    """Each member holds 2 partitions, together all 4, none twice."""
    held = [member.held() for member in members]
    return all(len(h) == 2 for h in held) and sorted(p for h in held for p in h) == [0, 1, 2, 3]


def test_describe_shows_a_consumer_protocol_group_with_its_epochs(
        kip848_broker: BrokerProcess) -> None:
    """GRP-CLI-6, CLIENT-5: two KIP-848 consumers on a 4-partition topic hold 2 partitions each;
    describe --bootstrap (ConsumerGroupDescribe) shows the group type, the group and assignment
    epochs, both members at the group epoch with disjoint assignments covering the topic, and the
    committed offsets and lag of what the members committed; list shows the type `consumer`."""
    broker = kip848_broker
    produce(broker, {0: 5, 1: 3, 2: 4, 3: 2})
    members = [Kip848Member(broker, "billing-a"), Kip848Member(broker, "billing-b")]
    try:
        deadline = time.monotonic() + 60
        while not settled(members) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert settled(members), [sorted(m.held()) for m in members]

        async def reconciled() -> int:
            """The group epoch, once every member is at it (the broker's view of the settling
            the clients already saw)."""
            async with await AsyncAdmin.connect(broker.bootstrap) as admin:
                with pytest.raises(UnknownGroup):
                    await admin.describe_consumer_groups(["nobody"])
                for _ in range(200):
                    group = (await admin.describe_consumer_groups([KIP848_GROUP]))[0]
                    if group.state == "Stable" and all(
                            m.member_epoch == group.group_epoch
                            and m.assignment == m.target_assignment for m in group.members):
                        return group.group_epoch
                    await asyncio.sleep(0.05)
            pytest.fail(f"members never reached the group epoch: {group}")

        group_epoch = asyncio.run(reconciled())
        wanted = {0: 2, 1: 3, 2: 1, 3: 2}
        for member in members:
            member.commit({p: wanted[p] for p in member.held()})

        document = describe_group(broker, KIP848_GROUP)
        assert (document["group_type"], document["state"], document["protocol_type"]) == (
            "consumer", "Stable", "consumer")
        assert document["protocol"]  # the server-side assignor's name
        assert document["group_epoch"] == document["assignment_epoch"] == group_epoch
        described = document["members"]
        assert isinstance(described, list)
        assert sorted(m["client_id"] for m in described) == ["billing-a", "billing-b"]
        by_client = {member.client_id: member.held() for member in members}
        for m in described:
            assert m["member_epoch"] == group_epoch
            assert m["subscribed_topics"] == [TOPIC]
            assert "127.0.0.1" in m["client_host"]
            assert {a["topic"] for a in m["assignment"]} == {TOPIC}
            assert {a["partition"] for a in m["assignment"]} == by_client[m["client_id"]]
            assert m["target_assignment"] == m["assignment"]
        assert lags(document) == {0: (2, 5, 3), 1: (3, 3, 0), 2: (1, 4, 3), 3: (2, 2, 0)}
        holders = {a["partition"]: m["member_id"] for m in described for a in m["assignment"]}
        rows = document["partitions"]
        assert isinstance(rows, list)
        assert {row["partition"]: row["member_id"] for row in rows} == holders

        text = flyq(broker, "describe", KIP848_GROUP)
        assert (f"Type: consumer  State: Stable  Protocol type: consumer  "
                f"Protocol: {document['protocol']}  Members: 2  Group epoch: {group_epoch}  "
                f"Assignment epoch: {group_epoch}") in text
        assert "MEMBER_EPOCH" in text and "TARGET_ASSIGNMENT" in text

        listed = json.loads(flyq(broker, "list", "--format", "json"))
        assert listed == [{"group_id": KIP848_GROUP, "state": "Stable",
                           "protocol_type": "consumer", "group_type": "consumer"}]
        assert flyq(broker, "list").splitlines()[1].split() == [
            KIP848_GROUP, "Stable", "consumer", "consumer"]
    finally:
        for member in members:
            member.close()
    assert all(member.error is None for member in members)
