"""Per-API authorization: what each Kafka API asks the live authorizer (spec/authorization.md).

The handlers ask through `Access`, so each rule has one home: which topics of a request the
principal may act on, whether it may act on the cluster, the `*_authorized_operations` bit sets,
and KIP-679's "may write to some topic". `Access` reads whichever `Authorization` is in force when
it is asked (the ACL handlers replace its ACL set at run time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from flyq.auth import CLUSTER_NAME, OPERATION_CODES, Acl
from flyq.errors import AuthorizationFailed, kafka_error
from flyq.server._authorization import Authorization
from flyq.server._context import REQUEST

__all__ = [
    "OPERATIONS_OMITTED",
    "SUPPORTED_OPERATIONS",
    "Access",
    "allowed_on_some",
    "operation_bits",
]

# Kafka's one Cluster resource (ACLs on the cluster name it).
# AUTHZ-20: an `*_authorized_operations` field that was not asked for (Integer.MIN_VALUE).
OPERATIONS_OMITTED: Final = -2147483648


# AUTHZ-20: the operations a resource type supports, whose authorized subset is reported
# (Kafka's AclEntry.supportedOperations).
SUPPORTED_OPERATIONS: Final[dict[str, tuple[str, ...]]] = {
    "Topic": ("Read", "Write", "Create", "Describe", "Delete", "Alter", "DescribeConfigs",
              "AlterConfigs"),
    "Group": ("Read", "Describe", "Delete", "DescribeConfigs", "AlterConfigs"),
    "Cluster": ("Create", "ClusterAction", "DescribeConfigs", "AlterConfigs", "IdempotentWrite",
                "Alter", "Describe"),
    "TransactionalId": ("Describe", "Write"),
}

_WILDCARD = "*"
_EVERY_PRINCIPAL = "User:*"
# The resource name Kafka asks about first in authorizeByResourceType: super users, and
# allow.everyone.if.no.acl.found on a resource no ACL covers, are allowed through it.
_PROBE_NAME = "hardcode"


def operation_bits(operations: Iterable[str]) -> int:
    """The `*_authorized_operations` bit set of `operations` (bit n: AclOperation code n)."""
    bits = 0
    for operation in operations:
        bits |= 1 << OPERATION_CODES[operation]
    return bits


def allowed_on_some(acls: Iterable[Acl], principal: str, host: str, operation: str,
                    resource_type: str) -> bool:
    """AUTHZ-17 (KIP-679, Kafka's `Authorizer.authorizeByResourceType` after its probe): whether
    an Allow of `operation` (or All) applying to the sender covers some resource of the type that
    no applying Deny covers as a whole: a Literal `*` Deny refuses everything; an allowed literal
    name survives unless denied by name or by a prefix of it; an allowed prefix survives unless a
    denied prefix is a prefix of it."""
    applying = [acl for acl in acls
                if acl.resource_type == resource_type
                and acl.principal in (principal, _EVERY_PRINCIPAL)
                and acl.host in (host, _WILDCARD)
                and acl.operation in (operation, "All")]
    denied_names = {acl.resource_name for acl in applying
                    if acl.permission == "Deny" and acl.pattern_type == "Literal"}
    if _WILDCARD in denied_names:
        return False
    denied_prefixes = {acl.resource_name for acl in applying
                       if acl.permission == "Deny" and acl.pattern_type == "Prefixed"}
    for acl in applying:
        if acl.permission != "Allow":
            continue
        if acl.pattern_type == "Literal" and acl.resource_name == _WILDCARD:
            return True
        if acl.pattern_type == "Literal" and acl.resource_name in denied_names:
            continue
        if not any(acl.resource_name.startswith(prefix) for prefix in denied_prefixes):
            return True
    return False


class Access:
    """The authorization questions the handlers ask, over the `Authorization` in force."""

    def __init__(self, authorization: Callable[[], Authorization]) -> None:
        self._authorization = authorization

    def allowed(self, operation: str, resource_type: str, name: str, *,
                log_denial: bool = True) -> bool:
        """Whether the request's principal may do `operation` on the resource."""
        return self._authorization().allowed(operation, resource_type, name,
                                             log_denial=log_denial)

    def cluster(self, operation: str, *, log_denial: bool = True) -> bool:
        """Whether the principal may do `operation` on the cluster."""
        return self.allowed(operation, "Cluster", CLUSTER_NAME, log_denial=log_denial)

    def topics(self, operation: str, names: Iterable[str], *,
               log_denial: bool = True) -> set[str]:
        """The names among `names` the principal may do `operation` on (each asked once)."""
        return {name for name in dict.fromkeys(names)
                if self.allowed(operation, "Topic", name, log_denial=log_denial)}

    def operations(self, resource_type: str, name: str) -> int:
        """AUTHZ-20: the bit set of the resource type's operations the principal may do on the
        resource (every one with the authorizer off); asking logs nothing."""
        return operation_bits(
            operation for operation in SUPPORTED_OPERATIONS[resource_type]
            if self.allowed(operation, resource_type, name, log_denial=False))

    def on_some(self, operation: str, resource_type: str) -> bool:
        """AUTHZ-17: whether the principal may do `operation` on some resource of the type
        (Kafka's authorizeByResourceType); asking logs nothing."""
        authorization = self._authorization()
        if authorization.allowed(operation, resource_type, _PROBE_NAME, log_denial=False):
            return True
        sender = REQUEST.get()
        return allowed_on_some(authorization.acls, sender.principal, sender.host, operation,
                               resource_type)

    @staticmethod
    def refusal(error: type[AuthorizationFailed], operation: str, name: str) -> tuple[int, str]:
        """(Kafka code, message) answering a denied `operation` on the resource `name`."""
        exc = error(REQUEST.get().principal, operation, name)
        return kafka_error(exc).code, str(exc)
