"""The ACL authorizer on the cases Kafka's documentation (Authorization and ACLs) spells out
(spec/acl.md ACL-1..9)."""

from __future__ import annotations

import pytest

from flyq.auth import Acl, AclAuthorizer
from flyq.errors import InvalidArgument

ALICE, BOB = "User:alice", "User:bob"


def acl(principal: str, operation: str, name: str = "orders", *, permission: str = "Allow",
        host: str = "*", pattern: str = "Literal", resource_type: str = "Topic") -> Acl:
    return Acl(principal, host, resource_type, pattern, name, operation, permission)


def allowed(authorizer: AclAuthorizer, principal: str, operation: str, name: str = "orders",
            host: str = "10.0.0.1", resource_type: str = "Topic") -> bool:
    return authorizer.authorize(principal, host, operation, resource_type, name)


def test_an_allow_grants_exactly_its_operation_to_its_principal() -> None:
    """ACL-3: Allow alice Read on orders lets alice read it, not write it, and not bob."""
    authorizer = AclAuthorizer(frozenset({acl(ALICE, "Read")}))
    assert allowed(authorizer, ALICE, "Read")
    assert not allowed(authorizer, ALICE, "Write")
    assert not allowed(authorizer, BOB, "Read")


def test_deny_beats_allow() -> None:
    """ACL-4: a Deny that applies wins over any Allow, also a Deny of All over an Allow."""
    authorizer = AclAuthorizer(frozenset({acl("User:*", "Read"),
                                          acl(ALICE, "Read", permission="Deny")}))
    assert not allowed(authorizer, ALICE, "Read")
    assert allowed(authorizer, BOB, "Read")
    everything_denied = AclAuthorizer(frozenset({acl(ALICE, "Read"),
                                                 acl(ALICE, "All", permission="Deny")}))
    assert not allowed(everything_denied, ALICE, "Read")


def test_describe_is_implied_by_read_write_delete_alter_but_not_by_a_deny() -> None:
    """ACL-5: Allow Read (Write, Delete, Alter) allows Describe; Allow AlterConfigs allows
    DescribeConfigs; a Deny of Read does not deny Describe."""
    for operation in ("Read", "Write", "Delete", "Alter"):
        assert allowed(AclAuthorizer(frozenset({acl(ALICE, operation)})), ALICE, "Describe")
    assert not allowed(AclAuthorizer(frozenset({acl(ALICE, "Create")})), ALICE, "Describe")
    configs = AclAuthorizer(frozenset({acl(ALICE, "AlterConfigs")}))
    assert allowed(configs, ALICE, "DescribeConfigs")
    assert not allowed(configs, ALICE, "Describe")
    deny_read = AclAuthorizer(frozenset({acl(ALICE, "Describe"),
                                         acl(ALICE, "Read", permission="Deny")}))
    assert allowed(deny_read, ALICE, "Describe") and not allowed(deny_read, ALICE, "Read")


def test_prefixed_and_wildcard_patterns() -> None:
    """ACL-2: a Prefixed pattern covers names starting with it; a Literal "*" covers every
    resource of its type, and no other type."""
    authorizer = AclAuthorizer(frozenset({acl(ALICE, "Write", "orders-", pattern="Prefixed"),
                                          acl(BOB, "Read", "*")}))
    assert allowed(authorizer, ALICE, "Write", "orders-eu")
    assert allowed(authorizer, ALICE, "Write", "orders-")
    assert not allowed(authorizer, ALICE, "Write", "order")
    assert allowed(authorizer, BOB, "Read", "anything")
    assert not allowed(authorizer, BOB, "Read", "anything", resource_type="Group")


def test_hosts_and_the_wildcard_principal() -> None:
    """ACL-3: an ACL for a host applies only to connections from it; User:* to everyone."""
    authorizer = AclAuthorizer(frozenset({acl(ALICE, "Read", host="10.0.0.1"),
                                          acl("User:*", "Describe")}))
    assert allowed(authorizer, ALICE, "Read", host="10.0.0.1")
    assert not allowed(authorizer, ALICE, "Read", host="10.0.0.2")
    assert allowed(authorizer, BOB, "Describe", host="10.0.0.9")


def test_super_users_may_do_anything_even_against_a_deny() -> None:
    """ACL-6: a super user is authorized whatever the ACLs say."""
    authorizer = AclAuthorizer(frozenset({acl(ALICE, "All", permission="Deny")}),
                               super_users=frozenset({ALICE}))
    assert allowed(authorizer, ALICE, "Alter", resource_type="Cluster", name="kafka-cluster")
    assert allowed(authorizer, ALICE, "Write")


def test_no_acl_on_a_resource_follows_allow_everyone_if_no_acl_found() -> None:
    """ACL-7: a resource no ACL covers is denied by default and allowed when
    allow.everyone.if.no.acl.found is on; once any ACL covers it (for anyone), only ACLs
    decide (ACL-8: nothing allows, so denied)."""
    assert not allowed(AclAuthorizer(), ALICE, "Read")
    open_broker = AclAuthorizer(allow_everyone_if_no_acl_found=True)
    assert allowed(open_broker, ALICE, "Read")
    covered = open_broker.with_acls([acl(BOB, "Read")])
    assert not allowed(covered, ALICE, "Read")
    assert allowed(covered.without_acls([acl(BOB, "Read")]), ALICE, "Read")


@pytest.mark.parametrize("fields", [
    {"resource_type": "Table"}, {"pattern_type": "Match"}, {"operation": "Fly"},
    {"permission": "Maybe"}, {"principal": "alice"}, {"resource_name": ""}])
def test_a_malformed_acl_is_refused_naming_the_field(fields: dict[str, str]) -> None:
    """ACL-1: an ACL with an unknown type, pattern, operation or permission, a principal
    without its type, or an empty name is InvalidArgument naming the field."""
    values = {"principal": ALICE, "host": "*", "resource_type": "Topic",
              "pattern_type": "Literal", "resource_name": "orders", "operation": "Read",
              "permission": "Allow", **fields}
    with pytest.raises(InvalidArgument, match=rf"\b{next(iter(fields))}\b"):
        Acl(**values)


def test_a_request_must_name_a_concrete_operation() -> None:
    """ACL-1: authorize() of All, or of an unknown resource type, is InvalidArgument."""
    with pytest.raises(InvalidArgument, match=r"\boperation\b.*not All"):
        AclAuthorizer().authorize(ALICE, "*", "All", "Topic", "orders")
    with pytest.raises(InvalidArgument, match=r"\bresource_type\b.*Topic \| Group"):
        AclAuthorizer().authorize(ALICE, "*", "Read", "Table", "orders")


def test_an_allow_of_all_allows_every_operation() -> None:
    """ACL-5: Allow All on a resource allows each concrete operation on it."""
    authorizer = AclAuthorizer(frozenset({acl(ALICE, "All")}))
    for operation in ("Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
                      "DescribeConfigs", "AlterConfigs", "IdempotentWrite"):
        assert allowed(authorizer, ALICE, operation)
