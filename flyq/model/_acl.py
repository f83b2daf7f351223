"""The reference model of the ACL authorizer (spec/acl.md ACL-1..9), stated the other way round
from `flyq.auth`: each ACL that applies is expanded forward into the concrete operations it
denies or allows (All into every one, Read into Read and Describe, ...), and the request's
operation is then looked up in the two sets. It shares only the `Acl` value type with the
implementation."""

from __future__ import annotations

from collections.abc import Iterable

from flyq.auth import OPERATIONS, Acl

__all__ = ["model_authorize"]

_CONCRETE = frozenset(OPERATIONS) - {"All"}


def _covers(acl: Acl, resource_type: str, name: str) -> bool:
    if acl.resource_type != resource_type:
        return False
    if acl.pattern_type == "Literal":
        return acl.resource_name in {name, "*"}
    return name[:len(acl.resource_name)] == acl.resource_name


def _granted(operation: str) -> set[str]:
    """What an Allow of `operation` allows."""
    granted = set(_CONCRETE) if operation == "All" else {operation}
    if granted & {"Read", "Write", "Delete", "Alter"}:
        granted.add("Describe")
    if "AlterConfigs" in granted:
        granted.add("DescribeConfigs")
    return granted


def model_authorize(acls: Iterable[Acl], super_users: Iterable[str],
                    allow_everyone_if_no_acl_found: bool, principal: str, host: str,
                    operation: str, resource_type: str, name: str) -> bool:
    """Whether the request is authorized (the model of `AclAuthorizer.authorize`)."""
    if principal in set(super_users):
        return True
    on_resource = [acl for acl in acls if _covers(acl, resource_type, name)]
    if not on_resource:
        return allow_everyone_if_no_acl_found
    denied: set[str] = set()
    allowed: set[str] = set()
    for acl in on_resource:
        if acl.principal not in (principal, "User:*") or acl.host not in (host, "*"):
            continue
        if acl.permission == "Deny":
            denied |= set(_CONCRETE) if acl.operation == "All" else {acl.operation}
        else:
            allowed |= _granted(acl.operation)
    return operation in allowed and operation not in denied
