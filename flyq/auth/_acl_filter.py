"""ACL binding filters, as DescribeAcls and DeleteAcls use them, and the wire codes of the ACL
enums (spec/acl.md ACL-10..12).

A filter names each field of an ACL or leaves it open: `Any` for the enums, None for the resource
name, the principal and the host. Its pattern type may also be `Match`, which selects the stored
patterns that would cover a resource of that name (ACL-2), not the patterns spelled that way.
Pure: no clock, file or socket. `flyq.model._acl` states the same rule independently; the
property tests hold the two together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from flyq.auth._acl import (
    OPERATIONS,
    PATTERN_TYPES,
    PERMISSIONS,
    RESOURCE_TYPES,
    WILDCARD,
    Acl,
)
from flyq.errors import InvalidArgument

__all__ = [
    "ANY",
    "CLUSTER_NAME",
    "MATCH",
    "OPERATION_CODES",
    "PATTERN_TYPE_CODES",
    "PERMISSION_CODES",
    "RESOURCE_TYPE_CODES",
    "UNKNOWN_CODE",
    "AclFilter",
    "acl_from_codes",
    "codes_of_acl",
    "filter_from_codes",
    "name_of_code",
]

ANY: Final = "Any"
# The one name of the Cluster resource, as Kafka spells it (kafka-acls.sh --cluster).
CLUSTER_NAME: Final = "kafka-cluster"
MATCH: Final = "Match"

# ACL-10: the numeric codes of Kafka's enums (org.apache.kafka.common.resource.ResourceType,
# PatternType; org.apache.kafka.common.acl.AclOperation, AclPermissionType). 0 is UNKNOWN in each:
# a code this broker does not know, never valid. Only the values FlyQ serves are listed
# (no DelegationToken, User, CreateTokens, ...): their codes read as unknown.
UNKNOWN_CODE: Final = 0
RESOURCE_TYPE_CODES: Final[Mapping[str, int]] = {
    ANY: 1, "Topic": 2, "Group": 3, "Cluster": 4, "TransactionalId": 5}
PATTERN_TYPE_CODES: Final[Mapping[str, int]] = {ANY: 1, MATCH: 2, "Literal": 3, "Prefixed": 4}
OPERATION_CODES: Final[Mapping[str, int]] = {
    ANY: 1, "All": 2, "Read": 3, "Write": 4, "Create": 5, "Delete": 6, "Alter": 7, "Describe": 8,
    "ClusterAction": 9, "DescribeConfigs": 10, "AlterConfigs": 11, "IdempotentWrite": 12}
PERMISSION_CODES: Final[Mapping[str, int]] = {ANY: 1, "Deny": 2, "Allow": 3}

_FILTER_VALUES: Final = (
    ("resource_type", (ANY, *RESOURCE_TYPES)),
    ("pattern_type", (ANY, MATCH, *PATTERN_TYPES)),
    ("operation", (ANY, *OPERATIONS)),
    ("permission", (ANY, *PERMISSIONS)),
)


@attrs.frozen
class AclFilter:
    """Kafka's AclBindingFilter: which ACLs a DescribeAcls shows or a DeleteAcls removes.
    The default filter matches every ACL."""

    resource_type: str = ANY
    pattern_type: str = ANY  # Any | Match | Literal | Prefixed
    resource_name: str | None = None  # None: any name
    principal: str | None = None  # None: any principal (matched exactly, "User:*" is a name)
    host: str | None = None  # None: any host (matched exactly, "*" is a host)
    operation: str = ANY
    permission: str = ANY

    def __attrs_post_init__(self) -> None:
        for field, allowed in _FILTER_VALUES:
            value = getattr(self, field)
            if value not in allowed:
                raise InvalidArgument(field, value, " | ".join(allowed))

    @classmethod
    def exactly(cls, acl: Acl) -> AclFilter:
        """The filter matching `acl` and nothing else."""
        return cls(acl.resource_type, acl.pattern_type, acl.resource_name, acl.principal,
                   acl.host, acl.operation, acl.permission)

    def matches(self, acl: Acl) -> bool:
        """ACL-11: whether `acl` passes this filter."""
        return (self._matches_pattern(acl)
                and self.principal in (None, acl.principal)
                and self.host in (None, acl.host)
                and self.operation in (ANY, acl.operation)
                and self.permission in (ANY, acl.permission))

    def _matches_pattern(self, acl: Acl) -> bool:
        if self.resource_type not in (ANY, acl.resource_type):
            return False
        if self.pattern_type not in (ANY, MATCH, acl.pattern_type):
            return False
        if self.resource_name is None:
            return True
        if self.pattern_type != MATCH:  # Any, or the ACL's own pattern type: the name as spelled
            return self.resource_name == acl.resource_name
        if acl.pattern_type == "Prefixed":
            return self.resource_name.startswith(acl.resource_name)
        return acl.resource_name in (self.resource_name, WILDCARD)


def name_of_code(field: str, codes: Mapping[str, int], code: int) -> str:
    """The value whose wire code is `code`; `InvalidArgument` naming `field` for an unknown one."""
    for name, known in codes.items():
        if known == code:
            return name
    raise InvalidArgument(field, code, "one of " + ", ".join(
        f"{known} ({name})" for name, known in codes.items()))


def acl_from_codes(resource_type: int, resource_name: str, pattern_type: int, principal: str,
                   host: str, operation: int, permission: int) -> Acl:
    """ACL-12: an ACL as CreateAcls carries it; `InvalidArgument` naming the field for a code
    that is unknown, or one that only a filter may use (Any, Match), or a value ACL-1 refuses."""
    return Acl(principal=principal, host=host,
               resource_type=name_of_code("resource_type", RESOURCE_TYPE_CODES, resource_type),
               pattern_type=name_of_code("pattern_type", PATTERN_TYPE_CODES, pattern_type),
               resource_name=resource_name,
               operation=name_of_code("operation", OPERATION_CODES, operation),
               permission=name_of_code("permission", PERMISSION_CODES, permission))


def filter_from_codes(resource_type: int, resource_name: str | None, pattern_type: int,
                      principal: str | None, host: str | None, operation: int,
                      permission: int) -> AclFilter:
    """ACL-12: a filter as DescribeAcls and DeleteAcls carry it; `InvalidArgument` naming the
    field for an unknown code."""
    return AclFilter(
        resource_type=name_of_code("resource_type_filter", RESOURCE_TYPE_CODES, resource_type),
        pattern_type=name_of_code("pattern_type_filter", PATTERN_TYPE_CODES, pattern_type),
        resource_name=resource_name, principal=principal, host=host,
        operation=name_of_code("operation", OPERATION_CODES, operation),
        permission=name_of_code("permission_type", PERMISSION_CODES, permission))


def codes_of_acl(acl: Acl) -> tuple[int, int, int, int]:
    """(resource type, pattern type, operation, permission) codes of a stored ACL."""
    return (RESOURCE_TYPE_CODES[acl.resource_type], PATTERN_TYPE_CODES[acl.pattern_type],
            OPERATION_CODES[acl.operation], PERMISSION_CODES[acl.permission])
