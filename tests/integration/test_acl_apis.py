"""CreateAcls, DescribeAcls and DeleteAcls against a real broker: confluent-kafka's AdminClient
and FlyQ's own Admin (spec/acl.md ACL-16..20)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from flyq.auth import Acl, AclFilter
from flyq.client import Admin
from flyq.errors import SecurityDisabled
from tests.integration._clients import kafka  # kafka-python, imported without its warnings
from tests.integration.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TIMEOUT = 15
AUTHORIZER_CONFIG = '[server]\n"authorizer.enabled" = true\n"super.users" = "User:ANONYMOUS"\n'


def secured_broker(tmp_path: Path) -> BrokerProcess:
    """A broker with the authorizer on; the PLAINTEXT principal (User:ANONYMOUS) is a super user."""
    config = tmp_path / "broker.toml"
    config.write_text(AUTHORIZER_CONFIG)
    return BrokerProcess(tmp_path / "data", extra_args=("--config", str(config))).start()


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[BrokerProcess]:
    """A started broker with the authorizer on; it must stop cleanly."""
    process = secured_broker(tmp_path)
    try:
        yield process
    finally:
        code = process.stop() if process.running else 0
        if process.running:
            process.kill()
        assert code == 0, process.stderr_text(current_only=True)


def confluent(broker: BrokerProcess) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": "acl-test"})


def binding(principal: str, name: str, operation: AclOperation,
            permission: AclPermissionType = AclPermissionType.ALLOW,
            pattern: ResourcePatternType = ResourcePatternType.LITERAL) -> AclBinding:
    return AclBinding(ResourceType.TOPIC, name, pattern, principal, "*", operation, permission)


def test_confluent_admin_creates_describes_and_deletes(secured: BrokerProcess,
                                                       tmp_path: Path) -> None:
    """ACL-16..19: AdminClient.create_acls / describe_acls / delete_acls work against FlyQ; the
    ACLs persist across a restart; FlyQ's Admin sees the same set."""
    admin = confluent(secured)
    created = [binding("User:alice", "orders", AclOperation.READ),
               binding("User:bob", "pay", AclOperation.WRITE, AclPermissionType.DENY,
                       ResourcePatternType.PREFIXED)]
    for future in admin.create_acls(created, request_timeout=TIMEOUT).values():
        assert future.result() is None
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    described = admin.describe_acls(everything, request_timeout=TIMEOUT).result()
    assert sorted(map(str, described)) == sorted(map(str, created))
    match = AclBindingFilter(ResourceType.TOPIC, "payments", ResourcePatternType.MATCH, None,
                             None, AclOperation.ANY, AclPermissionType.ANY)
    assert [str(b) for b in admin.describe_acls(match, request_timeout=TIMEOUT).result()] == [
        str(created[1])]

    with Admin(secured.bootstrap) as flyq_admin:
        assert flyq_admin.describe_acls() == [
            Acl("User:alice", "*", "Topic", "Literal", "orders", "Read", "Allow"),
            Acl("User:bob", "*", "Topic", "Prefixed", "pay", "Write", "Deny")]

    secured.restart()
    admin = confluent(secured)
    alice = AclBindingFilter(ResourceType.TOPIC, None, ResourcePatternType.ANY, "User:alice",
                             None, AclOperation.ANY, AclPermissionType.ANY)
    results = admin.delete_acls([alice], request_timeout=TIMEOUT)
    assert [str(b) for b in results[alice].result()] == [str(created[0])]
    remaining = admin.describe_acls(everything, request_timeout=TIMEOUT).result()
    assert [str(b) for b in remaining] == [str(created[1])]


def test_an_invalid_binding_is_refused_with_a_message(secured: BrokerProcess) -> None:
    """ACL-19: a binding whose principal has no type fails alone, with the broker's message."""
    admin = confluent(secured)
    bad = binding("alice", "orders", AclOperation.READ)
    good = binding("User:alice", "orders", AclOperation.READ)
    futures = admin.create_acls([bad, good], request_timeout=TIMEOUT)
    with pytest.raises(KafkaException, match="principal"):
        futures[bad].result()
    assert futures[good].result() is None


def test_flyq_admin_round_trip(secured: BrokerProcess) -> None:
    """ACL-20: FlyQ's Admin creates, describes with a filter and deletes, returning Acl values."""
    group_read = Acl("User:carol", "10.0.0.9", "Group", "Literal", "g1", "Read", "Allow")
    cluster = Acl("User:carol", "*", "Cluster", "Literal", "kafka-cluster", "Describe", "Allow")
    with Admin(secured.bootstrap) as admin:
        admin.create_acls([group_read, cluster])
        assert admin.describe_acls(AclFilter(resource_type="Group")) == [group_read]
        assert admin.delete_acls([AclFilter(host="10.0.0.9"), AclFilter()]) == sorted(
            [group_read, cluster], key=repr)
        assert admin.describe_acls() == []


def test_a_broker_without_authorizer_answers_security_disabled(broker: BrokerProcess) -> None:
    """ACL-16: without authorizer.enabled every ACL API answers SECURITY_DISABLED: to
    confluent-kafka (CreateAcls, DeleteAcls), to kafka-python (DescribeAcls: librdkafka 2.x drops
    DescribeAcls' top-level error and reports an empty list) and to FlyQ's Admin."""
    admin = confluent(broker)
    acl = binding("User:alice", "orders", AclOperation.READ)
    futures = admin.create_acls([acl], request_timeout=TIMEOUT)
    with pytest.raises(KafkaException, match="SECURITY_DISABLED"):
        futures[acl].result()
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    deleted = admin.delete_acls([everything], request_timeout=TIMEOUT)
    with pytest.raises(KafkaException, match="SECURITY_DISABLED"):
        deleted[everything].result()
    python_admin = kafka.admin.KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        with pytest.raises(kafka.errors.SecurityDisabledError):
            python_admin.describe_acls(kafka.admin.ACLFilter(
                principal=None, host=None, operation=kafka.admin.ACLOperation.ANY,
                permission_type=kafka.admin.ACLPermissionType.ANY,
                resource_pattern=kafka.admin.ResourcePatternFilter(
                    kafka.admin.ResourceType.ANY, None, kafka.admin.ACLResourcePatternType.ANY)))
    finally:
        python_admin.close()
    with Admin(broker.bootstrap) as flyq_admin:
        with pytest.raises(SecurityDisabled):
            flyq_admin.describe_acls()
        with pytest.raises(SecurityDisabled):
            flyq_admin.create_acls([Acl("User:a", "*", "Topic", "Literal", "t", "Read", "Allow")])
        with pytest.raises(SecurityDisabled):
            flyq_admin.delete_acls([AclFilter()])
