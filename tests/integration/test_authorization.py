"""A real `flyq broker` with the ACL authorizer on (spec/authorization.md), driven by
confluent-kafka over PLAINTEXT, whose principal is User:ANONYMOUS: as a super user everything
works; with no ACL nothing is visible or writable, and the client reports Kafka's errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka
import confluent_kafka.admin
import pytest

from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

SECRET = "secret"


def authorizing_broker(tmp_path: Path, name: str, super_users: str | None) -> BrokerProcess:
    """A broker over tmp_path/data with authorizer.enabled and the given super.users."""
    lines = ["[server]", '"authorizer.enabled" = true']
    if super_users is not None:
        lines.append(f'"super.users" = "{super_users}"')
    config = tmp_path / f"{name}.toml"
    config.write_text("\n".join(lines) + "\n")
    return BrokerProcess(tmp_path / "data", extra_args=("--config", str(config)))


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A broker that a super user filled (topic SECRET with 3 records), restarted with no super
    user and no ACL."""
    admin_run = authorizing_broker(tmp_path, "admin", "User:ANONYMOUS").start()
    try:
        admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": admin_run.bootstrap})
        admin.create_topics([confluent_kafka.admin.NewTopic(SECRET, 1)])[SECRET].result(10)
        producer = confluent_kafka.Producer({"bootstrap.servers": admin_run.bootstrap})
        for value in (b"a", b"b", b"c"):
            producer.produce(SECRET, value)
        assert producer.flush(10) == 0
    finally:
        assert admin_run.stop() == 0
    locked = authorizing_broker(tmp_path, "locked", None).start()
    try:
        yield locked
    finally:
        if locked.running:
            locked.stop()


def test_super_user_produces_consumes_and_sees_every_operation(tmp_path: Path) -> None:
    """ACL-6, AUTHZ-20: User:ANONYMOUS as super user creates, produces and reads back; its
    cluster authorized operations are all seven of Kafka's cluster operations."""
    broker = authorizing_broker(tmp_path, "super", "User:ANONYMOUS").start()
    try:
        admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([confluent_kafka.admin.NewTopic("open", 1)])["open"].result(10)
        producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
        producer.produce("open", b"hello")
        assert producer.flush(10) == 0
        consumer = confluent_kafka.Consumer({"bootstrap.servers": broker.bootstrap,
                                             "group.id": "g", "enable.auto.commit": False})
        try:
            consumer.assign([confluent_kafka.TopicPartition("open", 0, 0)])
            message = None
            deadline = time.monotonic() + 10
            while message is None and time.monotonic() < deadline:
                message = consumer.poll(0.5)
            assert message is not None and message.error() is None
            assert message.value() == b"hello"
        finally:
            consumer.close()
        described = admin.describe_cluster(include_authorized_operations=True).result(10)
        assert {op.name for op in described.authorized_operations} == {
            "CREATE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
            "ALTER", "DESCRIBE"}
    finally:
        assert broker.stop() == 0


def test_no_acl_hides_the_topic_and_refuses_produce_create_and_group(
        seeded: BrokerProcess) -> None:
    """AUTHZ-3, AUTHZ-8, AUTHZ-13: without ACLs the existing topic is not listed, a produce to
    it fails with TOPIC_AUTHORIZATION_FAILED (librdkafka learns it from Metadata and sends no
    Produce), creating a topic too, and a group member gets GROUP_AUTHORIZATION_FAILED."""
    bootstrap = seeded.bootstrap
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": bootstrap})
    assert SECRET not in admin.list_topics(timeout=10).topics
    failures: list[confluent_kafka.KafkaError] = []
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap,
                                         "message.timeout.ms": 5000})
    producer.produce(SECRET, b"x", on_delivery=lambda error, _: failures.append(error))
    producer.flush(10)
    assert [error.code() for error in failures] == [
        confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED]
    created = admin.create_topics([confluent_kafka.admin.NewTopic("mine", 1)])["mine"]
    with pytest.raises(confluent_kafka.KafkaException) as refused:
        created.result(10)
    assert refused.value.args[0].code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED
    # A group member: its coordinator lookup is refused first (AUTHZ-8), so it reads nothing.
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "g",
                                         "enable.auto.commit": False})
    try:
        consumer.subscribe([SECRET])
        codes: set[int] = set()
        deadline = time.monotonic() + 10
        while not codes and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                assert message.error() is not None, "a record was read without Read"
                codes.add(message.error().code())
        assert codes == {confluent_kafka.KafkaError.GROUP_AUTHORIZATION_FAILED}
    finally:
        consumer.close()
    assert SECRET not in admin.list_topics(timeout=10).topics
