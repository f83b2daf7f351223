"""The reference model of the ACL authorizer (spec/acl.md ACL-1..9), stated the other way round
from `flyq.auth`: each ACL that applies is expanded forward into the concrete operations it
denies or allows (All into every one, Read into Read and Describe, ...), and the request's
operation is then looked up in the two sets. It shares only the `Acl` value type with the
implementation."""

from __future__ import annotations

from collections.abc import Iterable

from flyq.auth import OPERATIONS, Acl

__all__ = ["model_authorize", "model_filter_matches"]

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


def _covering_patterns(name: str) -> set[tuple[str, str]]:
    """Every (pattern type, name) that covers a resource called `name` (ACL-2), spelled out."""
    return ({("Literal", name), ("Literal", "*")}
            | {("Prefixed", name[:end]) for end in range(1, len(name) + 1)})


def model_filter_matches(resource_type: str, pattern_type: str, resource_name: str | None,
                         principal: str | None, host: str | None, operation: str,
                         permission: str, acl: Acl) -> bool:
    """Whether `acl` passes the filter given field by field (the model of `AclFilter.matches`,
    ACL-11): each field either open ("Any", None) or equal, except a Match pattern type, which
    selects the patterns in the expanded set that covers the named resource."""
    if pattern_type == "Match":
        pattern_ok = (resource_name is None
                      or (acl.pattern_type, acl.resource_name) in _covering_patterns(resource_name))
    else:
        pattern_ok = (pattern_type in ("Any", acl.pattern_type)
                      and resource_name in (None, acl.resource_name))
    enums = ((resource_type, acl.resource_type), (operation, acl.operation),
             (permission, acl.permission))
    strings = ((principal, acl.principal), (host, acl.host))
    return (pattern_ok
            and all(wanted in ("Any", value) for wanted, value in enums)
            and all(wanted is None or wanted == value for wanted, value in strings))
