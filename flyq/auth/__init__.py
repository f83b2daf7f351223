"""Who may do what: Kafka's ACL authorizer as a pure function over an ACL set (spec/acl.md).

Authentication (SASL, TLS) and the broker's wiring of the authorizer come with issue 11's
later parts; this package is their pure core.
"""

from flyq.auth._acl import (
    OPERATIONS,
    PATTERN_TYPES,
    PERMISSIONS,
    RESOURCE_TYPES,
    Acl,
    AclAuthorizer,
    implied_by,
    pattern_matches,
)

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
