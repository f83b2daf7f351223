"""Kafka's ACL authorizer as a pure function over an ACL set (spec/acl.md ACL-1..9).

Nothing here reads a clock, a file or a socket: the broker keeps the ACL set (and persists it)
and asks `authorize` per request. The reference model in `flyq.model._acl` states the same
rules another way; the property tests hold the two together.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import attrs

from flyq.errors import InvalidArgument

__all__ = [
    "OPERATIONS",
    "PATTERN_TYPES",
    "PERMISSIONS",
    "RESOURCE_TYPES",
    "Acl",
    "AclAuthorizer",
    "implied_by",
    "pattern_matches",
]

RESOURCE_TYPES: Final = ("Topic", "Group", "Cluster", "TransactionalId")
PATTERN_TYPES: Final = ("Literal", "Prefixed")
OPERATIONS: Final = ("All", "Read", "Write", "Create", "Delete", "Alter", "Describe",
                     "ClusterAction", "DescribeConfigs", "AlterConfigs", "IdempotentWrite")
PERMISSIONS: Final = ("Allow", "Deny")
WILDCARD: Final = "*"
WILDCARD_PRINCIPAL: Final = "User:*"

# ACL-5: an Allow of one of these operations also allows the key (never a Deny).
_IMPLYING: Final = {
    "Describe": frozenset({"Describe", "Read", "Write", "Delete", "Alter"}),
    "DescribeConfigs": frozenset({"DescribeConfigs", "AlterConfigs"}),
}


def implied_by(operation: str) -> frozenset[str]:
    """The operations whose Allow allows `operation` (itself included, and All)."""
    return _IMPLYING.get(operation, frozenset({operation})) | {"All"}


@attrs.frozen
class Acl:
    """One access control entry bound to a resource pattern, as Kafka's CreateAcls takes it."""

    principal: str  # "User:alice", or "User:*" for every principal
    host: str  # an address, or "*" for every host
    resource_type: str
    pattern_type: str
    resource_name: str  # with Literal, "*" matches every resource of the type
    operation: str
    permission: str

    def __attrs_post_init__(self) -> None:
        for field, value, allowed in (("resource_type", self.resource_type, RESOURCE_TYPES),
                                      ("pattern_type", self.pattern_type, PATTERN_TYPES),
                                      ("operation", self.operation, OPERATIONS),
                                      ("permission", self.permission, PERMISSIONS)):
            if value not in allowed:
                raise InvalidArgument(field, value, " | ".join(allowed))
        if ":" not in self.principal:
            raise InvalidArgument("principal", self.principal, "TYPE:NAME, e.g. User:alice")
        if not self.resource_name:
            raise InvalidArgument("resource_name", self.resource_name, "a non-empty name")


def pattern_matches(acl: Acl, resource_type: str, name: str) -> bool:
    """ACL-2: whether `acl`'s resource pattern covers the resource (`resource_type`, `name`)."""
    if acl.resource_type != resource_type:
        return False
    if acl.pattern_type == "Prefixed":
        return name.startswith(acl.resource_name)
    return acl.resource_name in (WILDCARD, name)


@attrs.frozen
class AclAuthorizer:
    """The ACL set, the super users and `allow.everyone.if.no.acl.found` (false by default)."""

    acls: frozenset[Acl] = frozenset()
    super_users: frozenset[str] = frozenset()
    allow_everyone_if_no_acl_found: bool = False

    def with_acls(self, acls: Iterable[Acl]) -> AclAuthorizer:
        """This authorizer with `acls` added."""
        return attrs.evolve(self, acls=self.acls | frozenset(acls))

    def without_acls(self, acls: Iterable[Acl]) -> AclAuthorizer:
        """This authorizer with `acls` removed."""
        return attrs.evolve(self, acls=self.acls - frozenset(acls))

    def authorize(self, principal: str, host: str, operation: str, resource_type: str,
                  name: str) -> bool:
        """Whether `principal` connecting from `host` may do `operation` on the resource
        (ACL-1..9)."""
        if operation not in OPERATIONS or operation == "All":
            raise InvalidArgument("operation", operation, "a concrete operation, not All")
        if resource_type not in RESOURCE_TYPES:
            raise InvalidArgument("resource_type", resource_type, " | ".join(RESOURCE_TYPES))
        if principal in self.super_users:  # ACL-6
            return True
        on_resource = [acl for acl in self.acls if pattern_matches(acl, resource_type, name)]
        if not on_resource:  # ACL-7
            return self.allow_everyone_if_no_acl_found
        applying = [acl for acl in on_resource
                    if acl.principal in (principal, WILDCARD_PRINCIPAL)
                    and acl.host in (host, WILDCARD)]
        if any(acl.permission == "Deny" and acl.operation in (operation, "All")
               for acl in applying):  # ACL-4
            return False
        allowing = implied_by(operation)
        return any(acl.permission == "Allow" and acl.operation in allowing
                   for acl in applying)  # ACL-3, ACL-5, ACL-8
