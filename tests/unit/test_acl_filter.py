"""ACL filters and wire codes on the cases Kafka's AclBindingFilter documents (spec/acl.md
ACL-10..12)."""

from __future__ import annotations

import pytest

from flyq.auth import (
    OPERATION_CODES,
    PATTERN_TYPE_CODES,
    PERMISSION_CODES,
    RESOURCE_TYPE_CODES,
    Acl,
    AclFilter,
    acl_from_codes,
    codes_of_acl,
    filter_from_codes,
)
from flyq.errors import InvalidArgument

ALICE = "User:alice"


def acl(name: str = "payments.received", pattern: str = "Literal", *,
        principal: str = ALICE, host: str = "*", operation: str = "Read",
        permission: str = "Allow", resource_type: str = "Topic") -> Acl:
    return Acl(principal, host, resource_type, pattern, name, operation, permission)


def _camel(kafka_name: str) -> str:
    """confluent-kafka's enum member name (TRANSACTIONAL_ID) as FlyQ spells it."""
    return "".join(part.capitalize() for part in kafka_name.split("_"))


@pytest.mark.parametrize(("ours", "enum_name", "renames"), [
    (RESOURCE_TYPE_CODES, "ResourceType", {"Broker": "Cluster"}),
    (PATTERN_TYPE_CODES, "ResourcePatternType", {}),
    (OPERATION_CODES, "AclOperation", {}),
    (PERMISSION_CODES, "AclPermissionType", {}),
])
def test_codes_agree_with_confluent_kafka(ours: dict[str, int], enum_name: str,
                                          renames: dict[str, str]) -> None:
    """ACL-10: every code equals the one librdkafka's Python binding uses for the same value
    (its BROKER resource type is Kafka's CLUSTER), and 0 (UNKNOWN) is not a value of ours."""
    admin = pytest.importorskip("confluent_kafka.admin")
    theirs = {renames.get(_camel(member.name), _camel(member.name)): member.value
              for member in getattr(admin, enum_name) if member.name != "UNKNOWN"}
    assert dict(ours) == theirs


def test_the_default_filter_passes_everything() -> None:
    """ACL-11: a filter with every field open passes any ACL."""
    assert AclFilter().matches(acl())
    assert AclFilter().matches(acl("x", "Prefixed", permission="Deny", resource_type="Group"))


def test_literal_and_any_filters_compare_the_name_as_spelled() -> None:
    """ACL-11: with pattern type Any or Literal, the name is compared exactly: a filter for
    `payments.received` does not pass the Literal `*` or a Prefixed `payments.` ACL."""
    wildcard, prefixed, exact = acl("*"), acl("payments.", "Prefixed"), acl()
    for pattern_type in ("Any", "Literal"):
        chosen = AclFilter("Topic", pattern_type, "payments.received")
        assert chosen.matches(exact)
        assert not chosen.matches(wildcard)
        assert not chosen.matches(prefixed)
    assert AclFilter("Topic", "Any", "payments.").matches(prefixed)
    assert not AclFilter("Topic", "Literal", "payments.").matches(prefixed)
    assert AclFilter("Topic", "Prefixed", "payments.").matches(prefixed)


def test_match_selects_every_pattern_that_covers_the_name() -> None:
    """ACL-11: Kafka's example, filter (TOPIC, "payments.received", MATCH) passes the literal
    name, the literal `*` and prefixes of it, not a longer prefix or another literal."""
    chosen = AclFilter("Topic", "Match", "payments.received")
    assert chosen.matches(acl())
    assert chosen.matches(acl("*"))
    assert chosen.matches(acl("payments.", "Prefixed"))
    assert chosen.matches(acl("payments.received", "Prefixed"))
    assert not chosen.matches(acl("payments.received.eu", "Prefixed"))
    assert not chosen.matches(acl("payments.", "Literal"))
    assert not chosen.matches(acl("*", "Prefixed"))  # the literal prefix "*" (ACL-2)
    assert AclFilter("Topic", "Match").matches(acl("x", "Prefixed"))  # no name: any pattern


def test_resource_type_principal_host_operation_permission() -> None:
    """ACL-11: each entry field is open or exact; `All` and `User:*` are values, not wildcards
    of a filter."""
    assert not AclFilter(resource_type="Group").matches(acl())
    assert AclFilter(resource_type="Topic").matches(acl())
    assert not AclFilter(principal="User:bob").matches(acl())
    assert not AclFilter(principal=ALICE).matches(acl(principal="User:*"))
    assert not AclFilter(host="10.0.0.1").matches(acl())
    assert AclFilter(host="*").matches(acl())
    assert not AclFilter(operation="Read").matches(acl(operation="All"))
    assert AclFilter(operation="All").matches(acl(operation="All"))
    assert not AclFilter(permission="Deny").matches(acl())
    assert AclFilter(permission="Allow", operation="Read", principal=ALICE,
                     host="*").matches(acl())


def test_exactly_passes_only_its_acl() -> None:
    """ACL-11: `AclFilter.exactly(acl)` passes that ACL and not one differing in any field."""
    one = acl()
    chosen = AclFilter.exactly(one)
    assert chosen.matches(one)
    for other in (acl(host="h"), acl(operation="Write"), acl(permission="Deny"),
                  acl("payments"), acl(pattern="Prefixed"), acl(principal="User:b"),
                  acl(resource_type="Group")):
        assert not chosen.matches(other)


def test_a_filter_refuses_values_outside_the_table() -> None:
    """ACL-11: a filter's enum fields take the ACL values plus Any (and Match for the pattern)."""
    with pytest.raises(InvalidArgument, match="pattern_type"):
        AclFilter(pattern_type="Glob")
    with pytest.raises(InvalidArgument, match="operation"):
        AclFilter(operation="Match")


def test_codes_round_trip_and_unknown_codes_name_their_field() -> None:
    """ACL-12: a stored ACL's codes decode back to it; an unknown code, or Any/Match in an ACL to
    create, is InvalidArgument naming the field."""
    one = acl("pay", "Prefixed", operation="IdempotentWrite", permission="Deny",
              resource_type="TransactionalId")
    resource_type, pattern_type, operation, permission = codes_of_acl(one)
    assert (resource_type, pattern_type, operation, permission) == (5, 4, 12, 2)
    assert acl_from_codes(resource_type, "pay", pattern_type, ALICE, "*", operation,
                          permission) == one
    with pytest.raises(InvalidArgument, match="operation"):
        acl_from_codes(2, "t", 3, ALICE, "*", 13, 3)  # CreateTokens: not served
    with pytest.raises(InvalidArgument, match="pattern_type"):
        acl_from_codes(2, "t", 2, ALICE, "*", 3, 3)  # Match: a filter's only
    with pytest.raises(InvalidArgument, match="resource_type"):
        acl_from_codes(1, "t", 3, ALICE, "*", 3, 3)  # Any
    with pytest.raises(InvalidArgument, match="permission"):
        acl_from_codes(2, "t", 3, ALICE, "*", 3, 0)  # Unknown
    with pytest.raises(InvalidArgument, match="principal"):
        acl_from_codes(2, "t", 3, "alice", "*", 3, 3)
    assert filter_from_codes(1, None, 2, None, None, 1, 1) == AclFilter(pattern_type="Match")
    with pytest.raises(InvalidArgument, match="resource_type_filter"):
        filter_from_codes(0, None, 1, None, None, 1, 1)
    with pytest.raises(InvalidArgument, match="pattern_type_filter"):
        filter_from_codes(1, None, 9, None, None, 1, 1)
