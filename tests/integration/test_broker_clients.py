"""Real Kafka clients (confluent-kafka, kafka-python, aiokafka, kcat) against a real `flyq broker`.

Each scenario that all three Python clients can express runs once per client through the small
adapters of `_clients.py`. The adapters' consumers use assign() and their producers have
idempotence off; the scenarios for subscribe() and idempotence name those settings themselves
(consumer groups in depth: test_consumer_groups.py and test_consumer_group_protocol.py).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import confluent_kafka
import confluent_kafka.admin
import pytest

from tests.integration._clients import (
    CLIENTS,
    ClientError,
    Rec,
    kafka,
    make_admin,
    make_consumer,
    make_producer,
)
from tests.integration.broker_process import BrokerProcess
from tests.integration.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

INVALID_CONFIG = 40
INVALID_REPLICATION_FACTOR = 38
TOPIC_ALREADY_EXISTS = 36
COUNT = 12
LONG_POLL_MS = 5000


def create_topic(broker: BrokerProcess, name: str, partitions: int = 1,
                 configs: dict[str, str] | None = None) -> None:
    """Create `name` with confluent-kafka's admin client."""
    admin = make_admin("confluent-kafka", broker.bootstrap)
    admin.create(name, partitions, configs)


def sample(count: int, base_timestamp: int) -> list[Rec]:
    """`count` records with keys (one null), values, two headers and distinct timestamps."""
    return [Rec(offset, None if offset == 3 else f"key-{offset}".encode(),
                f"value-{offset}".encode() * (1 + offset % 5),
                (("h1", b"one"), ("index", str(offset).encode())),
                base_timestamp + 1000 * offset)
            for offset in range(count)]


def produce(client: str, broker: BrokerProcess, topic: str, records: list[Rec],
            acks: int = -1, compression: str = "none") -> list[int]:
    """Produce `records` to partition 0 with `client`; the acknowledged offsets."""
    producer = make_producer(client, broker.bootstrap, acks, compression)
    try:
        for record in records:
            producer.send(topic, 0, record.key, record.value, record.headers, record.timestamp)
        return producer.flush()
    finally:
        producer.close()


# --- admin -----------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_admin_topic_lifecycle(broker: BrokerProcess, client: str) -> None:
    """Create with configs, describe them back, alter, grow, delete records, delete the topic."""
    admin = make_admin(client, broker.bootstrap)
    try:
        admin.create("lifecycle", 2, {"retention.ms": "3600000", "segment.bytes": "1048576"})
        assert admin.topics()["lifecycle"] == 2
        described = admin.describe("lifecycle")
        assert described["retention.ms"] == "3600000"
        assert described["segment.bytes"] == "1048576"

        admin.alter("lifecycle", {"retention.ms": "7200000"})
        described = admin.describe("lifecycle")
        assert described["retention.ms"] == "7200000"
        if admin.incremental:
            assert described["segment.bytes"] == "1048576"

        admin.create_partitions("lifecycle", 4)
        assert admin.topics()["lifecycle"] == 4

        offsets = produce("confluent-kafka", broker, "lifecycle", sample(5, int(time.time() * 1000)))
        assert offsets == [0, 1, 2, 3, 4]
        assert admin.delete_records("lifecycle", 0, 3) == 3
        consumer = make_consumer("confluent-kafka", broker.bootstrap)
        try:
            consumer.assign("lifecycle", 0, 0)
            low, high = consumer.client.get_watermark_offsets(
                confluent_kafka.TopicPartition("lifecycle", 0), timeout=10)
            assert (low, high) == (3, 5)
        finally:
            consumer.close()

        admin.delete("lifecycle")
        assert "lifecycle" not in admin.topics()
    finally:
        admin.close()


def test_topic_ids_reach_confluent_kafka(broker: BrokerProcess) -> None:
    """TOPIC-6: librdkafka's describe_topics reports the id stored in topic.json."""
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([confluent_kafka.admin.NewTopic("ids", 3)])["ids"].result(10)
    request = confluent_kafka.TopicCollection(["ids"])
    described = admin.describe_topics(request, request_timeout=10)["ids"].result(10)
    stored = json.loads((broker.data_dir / "ids" / "topic.json").read_text())["topic_id"]
    # librdkafka prints a Uuid as Kafka's Uuid.toString does: base64 of the 16 bytes, unpadded.
    assert base64.b64decode(str(described.topic_id) + "==") == uuid.UUID(stored).bytes
    assert len(described.partitions) == 3


@pytest.mark.parametrize("client", CLIENTS)
def test_admin_invalid_requests(broker: BrokerProcess, client: str) -> None:
    """Unknown config key -> INVALID_CONFIG naming it; RF 3 -> INVALID_REPLICATION_FACTOR;
    an existing name -> TOPIC_ALREADY_EXISTS."""
    admin = make_admin(client, broker.bootstrap)
    try:
        with pytest.raises(ClientError) as unknown:
            admin.create("bad-config", 1, {"no.such.config": "1"})
        assert unknown.value.code == INVALID_CONFIG
        assert "no.such.config" in unknown.value.message

        with pytest.raises(ClientError) as replicated:
            admin.create("replicated", 1, replication_factor=3)
        assert replicated.value.code == INVALID_REPLICATION_FACTOR

        admin.create("exists", 1)
        with pytest.raises(ClientError) as exists:
            admin.create("exists", 1)
        assert exists.value.code == TOPIC_ALREADY_EXISTS
        assert set(admin.topics()) == {"exists"}
    finally:
        admin.close()


# --- produce and consume -------------------------------------------------------------------------


@pytest.mark.parametrize(("acks", "compression"),
                         [(0, "none"), (1, "none"), (-1, "none"), (-1, "gzip")])
@pytest.mark.parametrize("client", CLIENTS)
def test_produce_consume_round_trip(broker: BrokerProcess, client: str, acks: int,
                                    compression: str) -> None:
    """Every record comes back with key, value, headers and timestamp intact, offsets dense."""
    create_topic(broker, "round-trip")
    records = sample(COUNT, int(time.time() * 1000) - 60_000)
    offsets = produce(client, broker, "round-trip", records, acks, compression)
    if acks != 0:
        assert offsets == list(range(COUNT))
    consumer = make_consumer(client, broker.bootstrap)
    try:
        consumer.assign("round-trip", 0, 0)
        assert consumer.read(COUNT) == records
        assert consumer.read(1, timeout=0.5) == []
    finally:
        consumer.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_consume_positions(broker: BrokerProcess, client: str) -> None:
    """assign() at an offset, at the offset for a timestamp, and at the end reads from there."""
    create_topic(broker, "positions")
    base = int(time.time() * 1000) - 60_000
    records = sample(COUNT, base)
    produce(client, broker, "positions", records)
    consumer = make_consumer(client, broker.bootstrap)
    try:
        consumer.assign("positions", 0, 5)
        assert consumer.read(COUNT - 5) == records[5:]

        assert consumer.offset_for_time(base + 7000) == 7
        assert consumer.offset_for_time(base + 6500) == 7
        assert consumer.offset_for_time(base + 10**9) == -1
        consumer.assign("positions", 0, consumer.offset_for_time(base + 9000))
        assert consumer.read(COUNT - 9) == records[9:]

        assert consumer.end_offset() == COUNT
        consumer.assign("positions", 0, -1)
        assert consumer.read(1, timeout=1.5) == []  # the end offset is resolved meanwhile
        late = sample(COUNT + 1, base)[COUNT:]
        produce(client, broker, "positions", late)
        assert consumer.read(1) == late
    finally:
        consumer.close()


# --- committed offsets -------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_commit_survives_restart(broker: BrokerProcess, client: str) -> None:
    """A committed offset is read back, and again by a new consumer after a broker restart."""
    create_topic(broker, "committed", 2)
    produce(client, broker, "committed", sample(COUNT, int(time.time() * 1000)))
    consumer = make_consumer(client, broker.bootstrap, group=f"group-{client}")
    try:
        consumer.assign("committed", 0, 0)
        assert consumer.committed() is None
        assert len(consumer.read(4)) == 4
        consumer.commit(4)
        assert consumer.committed() == 4
        consumer.commit(7)
        assert consumer.committed() == 7
    finally:
        consumer.close()

    assert broker.restart(same_port=False) == 0
    consumer = make_consumer(client, broker.bootstrap, group=f"group-{client}")
    try:
        consumer.assign("committed", 0, 7)
        assert consumer.committed() == 7
        assert [record.offset for record in consumer.read(COUNT - 7)] == list(range(7, COUNT))
    finally:
        consumer.close()
    other = make_consumer(client, broker.bootstrap, group="another-group")
    try:
        other.assign("committed", 0, 0)
        assert other.committed() is None
    finally:
        other.close()


# --- long poll -----------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_long_poll_wakes_on_append(broker: BrokerProcess, client: str) -> None:
    """A fetch waiting up to 5 s is answered soon after another client appends (< 2.5 s)."""
    create_topic(broker, "long-poll")
    producer = make_producer("confluent-kafka", broker.bootstrap, acks=1)
    consumer = make_consumer(client, broker.bootstrap, fetch_wait_ms=LONG_POLL_MS)
    sent_at: list[float] = []

    def append_later() -> None:
        time.sleep(1.0)
        sent_at.append(time.monotonic())
        producer.send("long-poll", 0, b"k", b"wake up")
        producer.flush()

    try:
        consumer.assign("long-poll", 0, 0)
        assert consumer.read(1, timeout=1.5) == []  # connected, fetching, nothing there yet
        thread = threading.Thread(target=append_later, daemon=True)
        thread.start()
        records = consumer.read(1, timeout=12.0)
        received_at = time.monotonic()
        thread.join(10)
        assert [record.value for record in records] == [b"wake up"]
        delay = received_at - sent_at[0]
        print(f"{client}: record received {delay:.3f} s after the produce started")
        assert delay < 2.5, f"record arrived {delay:.2f} s after the produce (max wait 5 s)"
    finally:
        consumer.close()
        producer.close()


# --- kill -9 -------------------------------------------------------------------------------------


def test_kill_during_acks_all_stream(broker: BrokerProcess) -> None:
    """After kill -9 mid-stream and a restart, every acks=all-acknowledged record is there and
    the offsets are dense; client retries may only duplicate, never lose."""
    create_topic(broker, "durable", configs={"flush.messages": "1"})
    acknowledged: dict[int, int] = {}  # sequence number -> offset
    failed: list[int] = []

    def delivered(error: confluent_kafka.KafkaError | None,
                  message: confluent_kafka.Message) -> None:
        sequence = int(message.value())
        if error is None:
            acknowledged[sequence] = message.offset()
        else:
            failed.append(sequence)

    producer = confluent_kafka.Producer({
        "bootstrap.servers": broker.bootstrap, "client.id": "kill-9", "acks": "all",
        "enable.idempotence": False, "linger.ms": 2, "batch.num.messages": 50,
        "message.timeout.ms": 20_000, "retry.backoff.ms": 100,
        "reconnect.backoff.max.ms": 500})
    sent = 0
    deadline = time.monotonic() + 30
    while len(acknowledged) < 500 and time.monotonic() < deadline:
        producer.produce("durable", str(sent).encode(), partition=0, on_delivery=delivered)
        sent += 1
        producer.poll(0.001 if sent % 20 == 0 else 0)
    assert len(acknowledged) >= 500, "the stream did not get going"
    # Keep sending while the broker dies: some records are in flight at the kill.
    for _ in range(200):
        producer.produce("durable", str(sent).encode(), partition=0, on_delivery=delivered)
        sent += 1
    producer.poll(0)
    broker.kill()
    acknowledged_before_kill = dict(acknowledged)
    broker.restart(same_port=True)
    assert producer.flush(30) == 0

    consumer = make_consumer("confluent-kafka", broker.bootstrap)
    try:
        consumer.assign("durable", 0, 0)
        end = consumer.end_offset()
        records = consumer.read(end, timeout=30)
    finally:
        consumer.close()
    offsets = [record.offset for record in records]
    assert offsets == list(range(end)), "offsets are not dense"
    values = Counter(int(record.value or b"-1") for record in records)
    missing = sorted(set(acknowledged_before_kill) - set(values))
    assert not missing, f"acknowledged before the kill but lost: {missing[:20]}"
    missing_after = sorted(set(acknowledged) - set(values))
    assert not missing_after, f"acknowledged after the restart but lost: {missing_after[:20]}"
    for sequence, offset in acknowledged.items():
        assert int(records[offset].value or b"-1") == sequence, (sequence, offset)
    duplicates = {value: count for value, count in values.items() if count > 1}
    print(f"sent {sent}, acknowledged {len(acknowledged_before_kill)} before the kill and "
          f"{len(acknowledged)} in all, failed {len(failed)}, stored {end}, "
          f"duplicated by retries {len(duplicates)}")


# --- kcat ----------------------------------------------------------------------------------------


def kcat(*args: str, stdin: bytes = b"") -> str:
    """Run kcat with a bounded wait; its stdout (it must exit 0)."""
    result = subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=30,
                            check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat not installed: apt-get install kcat")
def test_kcat_metadata_and_round_trip(broker: BrokerProcess, tmp_path: Path) -> None:
    """`kcat -L` lists the broker and topics; `-P -K:` then `-C -e -K:` round-trips keyed lines."""
    create_topic(broker, "kcat", 2)
    listing = kcat("-b", broker.bootstrap, "-L")
    assert f"broker 0 at {broker.bootstrap}" in listing
    assert 'topic "kcat" with 2 partitions' in listing

    lines = [f"key-{i}:value {i}" for i in range(50)]
    kcat("-b", broker.bootstrap, "-P", "-t", "kcat", "-p", "1", "-K:",
         stdin="".join(line + "\n" for line in lines).encode())
    consumed = kcat("-b", broker.bootstrap, "-C", "-t", "kcat", "-p", "1", "-o", "beginning",
                    "-e", "-K:", "-f", "%o %k:%s\n")
    assert consumed.splitlines() == [f"{i} {line}" for i, line in enumerate(lines)]


# --- which api versions each client uses ---------------------------------------------------------

API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
             9: "OffsetFetch", 10: "FindCoordinator", 18: "ApiVersions", 19: "CreateTopics",
             20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId",
             32: "DescribeConfigs", 33: "AlterConfigs", 37: "CreatePartitions",
             44: "IncrementalAlterConfigs", 60: "DescribeCluster"}
REQUIRED_APIS = {18, 3, 0, 1, 2}  # ApiVersions, Metadata, Produce, Fetch, ListOffsets


def exercise(client: str, broker: BrokerProcess) -> None:
    """Drive every API `client` can use against FlyQ today: admin, produce, consume, commit."""
    topic = f"versions-{client}"
    admin = make_admin(client, broker.bootstrap)
    try:
        admin.create(topic, 1, {"retention.ms": "3600000"})
        admin.describe(topic)
        admin.alter(topic, {"retention.ms": "7200000"})
        admin.create_partitions(topic, 2)
        produce(client, broker, topic, sample(4, int(time.time() * 1000)))
        admin.delete_records(topic, 0, 1)
        consumer = make_consumer(client, broker.bootstrap, group=f"versions-{client}")
        try:
            consumer.assign(topic, 0, 1)
            assert len(consumer.read(3)) == 3
            consumer.offset_for_time(0)
            consumer.end_offset()
            consumer.commit(4)
            assert consumer.committed() == 4
        finally:
            consumer.close()
        admin.delete(topic)
    finally:
        admin.close()


def version_table(used: dict[str | None, dict[int, set[int]]]) -> str:
    """Markdown table: one row per api, one column per client, the versions it sent."""
    clients = sorted(used, key=str)
    keys = sorted({key for apis in used.values() for key in apis})
    lines = ["| api | " + " | ".join(str(client) for client in clients) + " |",
             "|---|" + "---|" * len(clients)]
    for key in keys:
        cells = [",".join(f"v{v}" for v in sorted(used[client].get(key, ()))) or "-"
                 for client in clients]
        lines.append(f"| {API_NAMES.get(key, key)} ({key}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_api_versions_used_per_client(broker: BrokerProcess) -> None:
    """Each client (and kcat when installed) uses at least ApiVersions, Metadata, Produce, Fetch
    and ListOffsets; the versions each one sent are printed as a table."""
    for client in CLIENTS:
        exercise(client, broker)
    clients = list(CLIENTS)
    if shutil.which("kcat") is not None:
        create_topic(broker, "versions-kcat")
        kcat("-b", broker.bootstrap, "-X", "client.id=kcat", "-P", "-t", "versions-kcat",
             "-K:", stdin=b"k:v\n")
        kcat("-b", broker.bootstrap, "-X", "client.id=kcat", "-C", "-t", "versions-kcat",
             "-o", "beginning", "-e")
        clients.append("kcat")
    used = broker.versions_used()
    print(version_table({client: used.get(client, {}) for client in clients}))
    for client in clients:
        missing = REQUIRED_APIS - set(used.get(client, {}))
        assert not missing, f"{client} never used {sorted(API_NAMES[key] for key in missing)}"


# --- not built yet -------------------------------------------------------------------------------


def test_idempotent_producer_confluent(broker: BrokerProcess) -> None:
    """confluent-kafka with enable.idempotence=true gets every record acknowledged, in order."""
    create_topic(broker, "idempotent")
    producer = confluent_kafka.Producer({
        "bootstrap.servers": broker.bootstrap, "client.id": "idempotent",
        "enable.idempotence": True, "message.timeout.ms": 5000})
    results: list[object] = []
    for index in range(COUNT):
        producer.produce("idempotent", str(index).encode(), partition=0, on_delivery=lambda
                         error, message: results.append(error or message.offset()))
    producer.flush(10)
    assert results == list(range(COUNT))


def test_idempotent_producer_kafka_python(broker: BrokerProcess) -> None:
    """kafka-python 3 with enable_idempotence=True gets every record acknowledged, in order."""
    create_topic(broker, "idempotent")
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="idempotent",
                                   enable_idempotence=True, max_block_ms=5000,
                                   request_timeout_ms=5000, delivery_timeout_ms=8000)
    try:
        futures = [producer.send("idempotent", str(index).encode(), partition=0)
                   for index in range(COUNT)]
        assert [future.get(10).offset for future in futures] == list(range(COUNT))
    finally:
        producer.close(5)


def test_idempotent_retries_across_a_kill_store_each_record_once(broker: BrokerProcess) -> None:
    """IDEM-11: an idempotent producer streams on while the broker is killed -9 and restarted;
    the producer table rebuilt at open accepts its next sequences, and every record is stored
    exactly once, in order."""
    create_topic(broker, "idem-kill")
    delivered: dict[int, int] = {}
    errors: list[str] = []

    def on_delivery(error: confluent_kafka.KafkaError | None,
                    message: confluent_kafka.Message) -> None:
        if error is None:
            delivered[int(message.value())] = message.offset()
        else:
            errors.append(str(error))

    producer = confluent_kafka.Producer({
        "bootstrap.servers": broker.bootstrap, "client.id": "idem-kill",
        "enable.idempotence": True, "linger.ms": 2, "batch.num.messages": 50,
        "message.timeout.ms": 30_000, "retry.backoff.ms": 100, "reconnect.backoff.max.ms": 500})
    total = 3000
    for sequence in range(total):
        producer.produce("idem-kill", str(sequence).encode(), partition=0,
                         on_delivery=on_delivery)
        producer.poll(0)
        if sequence == total // 2:
            producer.poll(0.05)  # some batches acknowledged, more in flight
            broker.kill()
            broker.restart(same_port=True)
    assert producer.flush(30) == 0
    assert errors == []
    consumer = make_consumer("confluent-kafka", broker.bootstrap)
    try:
        consumer.assign("idem-kill", 0, 0)
        end = consumer.end_offset()
        records = consumer.read(end, timeout=30)
    finally:
        consumer.close()
    assert end == total, f"{end - total} records stored twice" if end > total else "records lost"
    assert [int(record.value or b"-1") for record in records] == list(range(total))
    assert delivered == {sequence: sequence for sequence in range(total)}


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_lost_produce_answer_is_retried(tmp_path: Path, idempotent: bool) -> None:
    """PRODUCE-5, IDEM-5: the broker appends a batch but its answer is lost on the way (a proxy
    cuts the connection); the client retries it. Idempotent: stored once, every record once, in
    order. Not idempotent: the retry is stored again, which shows the test sees duplicates."""
    proxy = FaultProxy(lambda: ("127.0.0.1", broker.port or 0))
    broker = BrokerProcess(tmp_path / "data", ("--advertised", proxy.address)).start()
    try:
        admin = make_admin("confluent-kafka", proxy.address)
        try:
            admin.create("lost", 1)
        finally:
            admin.close()
        proxy.drop_answer(0, 3)  # the third Produce's answer never reaches the client
        errors: list[str] = []
        producer = confluent_kafka.Producer({
            "bootstrap.servers": proxy.address, "client.id": "lost-answer",
            "enable.idempotence": idempotent, "acks": "all", "linger.ms": 5,
            "batch.num.messages": 100, "max.in.flight": 1, "retries": 10,
            "message.timeout.ms": 30_000, "retry.backoff.ms": 100,
            "reconnect.backoff.max.ms": 200})
        total = 1000
        for sequence in range(total):
            producer.produce("lost", str(sequence).encode(), partition=0, on_delivery=lambda
                             error, _message: errors.append(str(error)) if error else None)
            producer.poll(0)
        assert producer.flush(30) == 0
        assert errors == []
        assert len(proxy.dropped) == 1, "no answer was lost: the test did not force a retry"
        consumer = make_consumer("confluent-kafka", proxy.address)
        try:
            consumer.assign("lost", 0, 0)
            end = consumer.end_offset()
            values = [int(record.value or b"-1") for record in consumer.read(end, timeout=30)]
        finally:
            consumer.close()
    finally:
        proxy.close()
        assert broker.stop() == 0
    if idempotent:
        assert values == list(range(total))
    else:
        assert len(values) > total
        assert sorted(set(values)) == list(range(total))


def test_subscribe_consumer_group(broker: BrokerProcess) -> None:
    """A confluent-kafka consumer that subscribe()s to a topic gets its records."""
    create_topic(broker, "subscribed")
    produce("confluent-kafka", broker, "subscribed", sample(3, int(time.time() * 1000)))
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": broker.bootstrap, "group.id": "subscribers",
        "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    try:
        consumer.subscribe(["subscribed"])
        values = []
        deadline = time.monotonic() + 8
        while len(values) < 3 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                values.append(message.value())
        assert values == [f"value-{i}".encode() * (1 + i % 5) for i in range(3)]
    finally:
        consumer.close()


def test_config_file_server_table(tmp_path: Path) -> None:
    """`flyq broker --config FILE`: the [server] table's Kafka names apply (num.partitions for
    auto-created topics) and [log] gives new topics their config."""
    config = tmp_path / "broker.toml"
    config.write_text('[server]\nnum.partitions = 3\n[log]\nsegment_bytes = 1048576\n')
    process = BrokerProcess(tmp_path / "data", ("--config", str(config))).start()
    try:
        admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": process.bootstrap})
        producer = confluent_kafka.Producer({"bootstrap.servers": process.bootstrap})
        producer.produce("auto-created", b"x")
        assert producer.flush(10) == 0
        assert len(admin.list_topics("auto-created", timeout=10).topics["auto-created"]
                   .partitions) == 3
        resource = confluent_kafka.admin.ConfigResource("topic", "auto-created")
        configs = admin.describe_configs([resource])[resource].result(10)
        assert configs["segment.bytes"].value == "1048576"
    finally:
        assert process.stop() == 0


def test_three_subscribers_share_six_partitions(broker: BrokerProcess) -> None:
    """The classic group protocol (spec/group-coordinator.md): three confluent-kafka consumers
    subscribed in one group over six partitions read every record, and the group settles Stable
    with all three as members owning disjoint partitions that cover the topic (as the broker's
    DescribeGroups reports it)."""
    create_topic(broker, "shared", partitions=6)
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
    for index in range(600):
        producer.produce("shared", str(index).encode(), key=str(index).encode())
    assert producer.flush(15) == 0
    seen: set[int] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def consume(number: int) -> None:
        consumer = confluent_kafka.Consumer({
            "bootstrap.servers": broker.bootstrap, "group.id": "sharers",
            "client.id": f"sharer-{number}", "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000, "enable.auto.commit": False})
        try:
            consumer.subscribe(["shared"])
            while not stop.is_set():
                message = consumer.poll(0.2)
                if message is not None and message.error() is None:
                    with lock:
                        seen.add(int(message.value()))
        finally:
            consumer.close()

    threads = [threading.Thread(target=consume, args=(number,)) for number in range(3)]
    for thread in threads:
        thread.start()
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    settled = None
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            with lock:
                all_read = len(seen) == 600
            group = admin.describe_consumer_groups(["sharers"])["sharers"].result(10)
            owned = sorted(tp.partition for member in group.members
                           for tp in member.assignment.topic_partitions)
            if all_read and str(group.state).endswith("STABLE") and len(group.members) == 3:
                settled = owned
                if owned == list(range(6)):
                    break
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)
    assert len(seen) == 600
    assert settled == list(range(6))


@pytest.mark.parametrize("client", ["kafka-python", "aiokafka"])
def test_subscribe_with_python_clients(broker: BrokerProcess, client: str) -> None:
    """kafka-python and aiokafka consumers that subscribe() join the group, read every record of
    a three-partition topic and commit through the coordinator."""
    create_topic(broker, "subscribed3", partitions=3)
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
    for index in range(90):
        producer.produce("subscribed3", str(index).encode(), partition=index % 3)
    assert producer.flush(15) == 0
    if client == "kafka-python":
        consumer = kafka.KafkaConsumer(
            "subscribed3", bootstrap_servers=broker.bootstrap, group_id="kp-group",
            auto_offset_reset="earliest", consumer_timeout_ms=8000, enable_auto_commit=False)
        try:
            values = sorted(int(message.value) for message in consumer)
            consumer.commit()
            committed = consumer.committed(kafka.TopicPartition("subscribed3", 0))
        finally:
            consumer.close()
    else:
        import asyncio  # noqa: PLC0415 - only this case runs a loop

        import aiokafka  # noqa: PLC0415

        async def run() -> tuple[list[int], int | None]:
            consumer = aiokafka.AIOKafkaConsumer(
                "subscribed3", bootstrap_servers=broker.bootstrap, group_id="aio-group",
                auto_offset_reset="earliest", enable_auto_commit=False)
            await consumer.start()
            try:
                got: list[int] = []
                stop = time.monotonic() + 10
                while len(got) < 90 and time.monotonic() < stop:
                    batches = await consumer.getmany(timeout_ms=500)
                    got += [int(m.value) for ms in batches.values() for m in ms]
                await consumer.commit()
                return sorted(got), await consumer.committed(
                    aiokafka.TopicPartition("subscribed3", 0))
            finally:
                await consumer.stop()
        values, committed = asyncio.run(run())
    assert values == list(range(90))
    assert committed == 30
