"""`flyq acl add|list|remove`, offline on a data directory and with --bootstrap on a running
broker (spec/acl.md ACL-21..23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flyq.auth import Acl
from flyq.auth._directory import lock_security
from flyq.client import Admin
from tests.integration.broker_process import BrokerProcess
from tests.integration.test_acl_apis import secured_broker
from tests.integration.test_cli import fails, ok, run

pytestmark = pytest.mark.integration


def listed(*args: str, data_dir: Path | None = None) -> list[dict[str, str]]:
    document: list[dict[str, str]] = json.loads(
        ok("acl", "list", "--format", "json", *args, data_dir=data_dir))
    return document


def row(principal: str, operation: str, name: str, *, permission: str = "Allow",
        host: str = "*", resource_type: str = "Topic", pattern: str = "Literal") -> dict[str, str]:
    return {"principal": principal, "host": host, "resource_type": resource_type,
            "pattern_type": pattern, "resource_name": name, "operation": operation,
            "permission": permission}


def test_offline_add_list_remove(tmp_path: Path) -> None:
    """ACL-21..23: add makes the cross product of principals, hosts, operations and resources;
    list filters by resource (literal, match) and principal; remove asks first, then removes
    what its filter passes; the broker started afterwards enforces the set it finds."""
    data = tmp_path / "data"
    out = ok("acl", "add", "--allow-principal", "User:alice", "--allow-principal", "User:bob",
             "--operation", "read", "--operation", "Describe", "--topic", "orders",
             "--group", "g", data_dir=data)
    assert "Added 8 ACL(s)" in out
    ok("acl", "add", "--deny-principal", "User:bob", "--deny-host", "10.0.0.9", "--operation",
       "All", "--topic", "ord", "--resource-pattern-type", "prefixed", data_dir=data)
    assert len(listed(data_dir=data)) == 9
    assert listed("--topic", "orders", "--principal", "User:alice", data_dir=data) == [
        row("User:alice", "Describe", "orders"), row("User:alice", "Read", "orders")]
    matched = listed("--topic", "orders", "--resource-pattern-type", "match",
                     "--principal", "User:bob", data_dir=data)
    assert row("User:bob", "All", "ord", permission="Deny", host="10.0.0.9",
               pattern="Prefixed") in matched and len(matched) == 3
    text = ok("acl", "list", "--group", "g", data_dir=data)
    assert text.splitlines()[0].split() == ["PRINCIPAL", "HOST", "PERMISSION", "OPERATION",
                                            "RESOURCE_TYPE", "PATTERN_TYPE", "RESOURCE_NAME"]
    assert len(text.splitlines()) == 5

    declined = run("acl", "remove", "--topic", "orders", data_dir=data, stdin=b"n\n")
    assert declined.returncode == 1 and len(listed(data_dir=data)) == 9
    out = ok("acl", "remove", "--topic", "orders", "--allow-principal", "User:bob",
             "--operation", "Read", "--yes", data_dir=data)
    assert "Removed 1 ACL(s)" in out
    ok("acl", "remove", "--group", "g", "--yes", data_dir=data)
    assert sorted(r["principal"] + r["operation"] for r in listed(data_dir=data)) == [
        "User:aliceDescribe", "User:aliceRead", "User:bobAll", "User:bobDescribe"]

    assert "principal" in fails("acl", "add", "--allow-principal", "alice", "--operation",
                                "Read", "--topic", "t", data_dir=data)
    usage = run("acl", "add", "--allow-principal", "User:a", "--operation", "Read",
                data_dir=data)
    assert usage.returncode == 2 and b"name a resource" in usage.stderr

    config = tmp_path / "broker.toml"
    config.write_text('[server]\n"authorizer.enabled" = true\n')
    broker = BrokerProcess(data, extra_args=("--config", str(config))).start()
    try:
        # The set on disk is in force: ANONYMOUS is no super user here and has no Describe on
        # the cluster, so even listing is refused.
        refused = fails("acl", "list", "--bootstrap", broker.bootstrap)
        assert "CLUSTER_AUTHORIZATION_FAILED" in refused
    finally:
        assert broker.stop() == 0


def test_network_add_list_remove(tmp_path: Path) -> None:
    """ACL-21..23 with --bootstrap: the commands act on the running broker's set, which FlyQ's
    Admin sees."""
    broker = secured_broker(tmp_path)
    try:
        where = ("--bootstrap", broker.bootstrap)
        ok("acl", "add", "--allow-principal", "User:alice", "--operation", "Write",
           "--transactional-id", "tx", "--cluster", *where)
        with Admin(broker.bootstrap) as admin:
            assert admin.describe_acls() == [
                Acl("User:alice", "*", "Cluster", "Literal", "kafka-cluster", "Write", "Allow"),
                Acl("User:alice", "*", "TransactionalId", "Literal", "tx", "Write", "Allow")]
        assert listed("--cluster", *where) == [
            row("User:alice", "Write", "kafka-cluster", resource_type="Cluster")]
        out = ok("acl", "remove", "--transactional-id", "tx", "--cluster", "--yes", *where)
        assert "Removed 2 ACL(s)" in out
        assert listed(*where) == []
    finally:
        assert broker.stop() == 0


def test_offline_commands_refuse_a_held_store(tmp_path: Path) -> None:
    """ACL-24: while another process holds the ACL lock (as a running broker does), offline
    `flyq acl` commands fail with one line pointing to --bootstrap and change nothing; once it
    is released they work."""
    data = tmp_path / "data"
    ok("acl", "add", "--allow-principal", "User:a", "--operation", "Read", "--topic", "t",
       data_dir=data)
    held = lock_security(str(data))
    try:
        for command in (("list",), ("add", "--allow-principal", "User:b", "--operation", "Read",
                                    "--topic", "t"), ("remove", "--topic", "t", "--yes")):
            assert "--bootstrap" in fails("acl", *command, data_dir=data)
    finally:
        held.release()
    assert [r["principal"] for r in listed(data_dir=data)] == ["User:a"]
