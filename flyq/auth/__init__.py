"""Who may do what: Kafka's ACL authorizer as a pure function over an ACL set (spec/acl.md).

Authentication (SASL, TLS) and the broker's wiring of the authorizer come with issue 11's
later parts; this package is their pure core. The ACL store (`flyq.auth._acl_store.AclStore`,
the set on disk) is imported from its module, not from here: the client imports this package and
must not load `flyq.impl` (tests/unit/test_client_layering.py).
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
from flyq.auth._acl_filter import (
    ANY,
    CLUSTER_NAME,
    MATCH,
    OPERATION_CODES,
    PATTERN_TYPE_CODES,
    PERMISSION_CODES,
    RESOURCE_TYPE_CODES,
    AclFilter,
    acl_from_codes,
    codes_of_acl,
    filter_from_codes,
)

__all__ = [
    "ANY",
    "CLUSTER_NAME",
    "MATCH",
    "OPERATION_CODES",
    "PATTERN_TYPE_CODES",
    "PERMISSION_CODES",
    "RESOURCE_TYPE_CODES",
    "AclFilter",
    "acl_from_codes",
    "codes_of_acl",
    "filter_from_codes",
    "OPERATIONS",
    "PATTERN_TYPES",
    "PERMISSIONS",
    "RESOURCE_TYPES",
    "Acl",
    "AclAuthorizer",
    "implied_by",
    "pattern_matches",
]
